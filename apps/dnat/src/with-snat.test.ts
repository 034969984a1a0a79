import { NAT_REDIRECT_TUNNEL_KEY, packet } from '@dragonflow/core';
import type { Harness } from '@dragonflow/testing';
import l2 from '@dragonflow/app-l2';
import l3 from '@dragonflow/app-l3-proactive';
import snat from '@dragonflow/app-snat';
import { afterEach, describe, expect, it } from 'vitest';
import { GATEWAY_IP, GATEWAY_MAC, INTERNET_IP, PATCH_PUBLIC, TUNNEL_PORT, UPSTREAM_IP, UPSTREAM_MAC, fipMac, floatingIp, ipv4Of, natCloud, routerMac, vmMac, type NatCloud } from '../test/cloud.js';
import { answerNextHop } from '../test/neighbors.js';
import dnat, { type DnatMode } from './index.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const FIP1 = '172.24.4.101';
const FIP3 = '172.24.4.103';

/** dnat in `mode` before snat (centralized), as the sandbox lists them. */
async function cloud(mode: DnatMode, gatewayHere: boolean): Promise<NatCloud> {
  const c = await natCloud([l2, l3, { descriptor: dnat, options: { mode } }, snat], { gatewayHere });
  h = c.h;
  return c;
}

const toInternet = (n: number, src: string, router = 1): packet.EthernetFrame =>
  packet.ethernet({ src: vmMac(n), dst: routerMac(router), payload: packet.ipv4({ src, dst: INTERNET_IP, payload: packet.udp({ srcPort: 40000 + n, dstPort: 80, payload: 'GET' }) }) });

describe('dnat with snat (centralized SNAT on chassis-3)', () => {
  it('distributed floating IP: its port’s traffic leaves here from the floating IP; a port without one is redirected to the gateway chassis', async () => {
    const c = await cloud('distributed', false);
    await floatingIp(c, 1, FIP1, c.vm.vm1);
    await answerNextHop(c, UPSTREAM_IP, UPSTREAM_MAC);
    const withFip = (await c.h.inject(toInternet(0x11, '10.0.1.11'), 1)).only(PATCH_PUBLIC);
    expect([withFip.src.toString(), ipv4Of(withFip).src.toString()]).toEqual([fipMac(1), FIP1]);
    const t = await c.h.inject(toInternet(0x12, '10.0.2.12', 2), 2);
    expect(t.ports).toEqual([TUNNEL_PORT]);
    expect(t.outputs[0]!.tunnel).toMatchObject({ id: BigInt(NAT_REDIRECT_TUNNEL_KEY), dst: '192.0.2.3' });
    expect(ipv4Of(t.outputs[0]!.frame).src.toString()).toBe('10.0.2.12');
  });

  it('centralized floating IP, elsewhere: its port’s traffic is redirected to the gateway chassis untranslated', async () => {
    const c = await cloud('centralized', false);
    await floatingIp(c, 1, FIP1, c.vm.vm1);
    const t = await c.h.inject(toInternet(0x11, '10.0.1.11'), 1);
    expect(t.ports).toEqual([TUNNEL_PORT]);
    expect(t.outputs[0]!.tunnel).toMatchObject({ id: BigInt(NAT_REDIRECT_TUNNEL_KEY), dst: '192.0.2.3' });
    expect([t.outputs[0]!.frame.src.toString(), ipv4Of(t.outputs[0]!.frame).src.toString()]).toEqual([GATEWAY_MAC, '10.0.1.11']);
  });

  it('centralized floating IP, on the gateway chassis: a redirected packet from its port leaves from the floating IP, one from another port from the gateway IP', async () => {
    const c = await cloud('centralized', true);
    await floatingIp(c, 3, FIP3, c.vm.vm3);
    await answerNextHop(c, UPSTREAM_IP, UPSTREAM_MAC);
    // what chassis-2's redirect puts on the tunnel: routed (gateway MAC, TTL−1), the reserved key
    const redirected = (n: number, src: string) => ({ ...toInternet(n, src), src: packet.mac(GATEWAY_MAC), dst: packet.mac(routerMac(1)) });
    const tunnel = { id: BigInt(NAT_REDIRECT_TUNNEL_KEY) };
    const fromFip = (await c.h.inject(redirected(0x13, '10.0.1.13'), TUNNEL_PORT, tunnel)).only(PATCH_PUBLIC);
    expect([fromFip.src.toString(), fromFip.dst.toString(), ipv4Of(fromFip).src.toString()]).toEqual([fipMac(3), UPSTREAM_MAC, FIP3]);
    const other = (await c.h.inject(redirected(0x14, '10.0.1.14'), TUNNEL_PORT, tunnel)).only(PATCH_PUBLIC);
    expect(ipv4Of(other).src.toString()).toBe(GATEWAY_IP);
  });
});
