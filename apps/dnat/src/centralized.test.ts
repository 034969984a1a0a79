import { packet } from '@dragonflow/core';
import type { Harness } from '@dragonflow/testing';
import l2 from '@dragonflow/app-l2';
import l3 from '@dragonflow/app-l3-proactive';
import { afterEach, describe, expect, it } from 'vitest';
import { INTERNET_IP, PATCH_PUBLIC, TUNNEL_PORT, UPSTREAM_IP, UPSTREAM_MAC, associate, fipMac, floatingIp, fromOutside, ipv4Of, natCloud, routerMac, vmMac, type NatCloud } from '../test/cloud.js';
import { answerNextHop } from '../test/neighbors.js';
import dnat from './index.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const FIP1 = '172.24.4.101';
const FIP3 = '172.24.4.103';

/** The dnat app in centralized mode; this chassis is the router's active gateway chassis when `gatewayHere`. */
async function cloud(gatewayHere: boolean): Promise<NatCloud> {
  const c = await natCloud([l2, l3, { descriptor: dnat, options: { mode: 'centralized' } }], { gatewayHere });
  h = c.h;
  return c;
}

const echo = (seq = 1): packet.IpPayload => packet.icmpEchoRequest({ id: 9, seq, data: 'ping' });
const arpFor = (ip: string) => packet.arpRequest({ srcMac: UPSTREAM_MAC, srcIp: UPSTREAM_IP, targetIp: ip });

describe('dnat (centralized) on the router’s gateway chassis', () => {
  it('answers ARP for a floating IP of a port on another chassis, DNATs to it and tunnels it there, routed', async () => {
    const c = await cloud(true);
    await floatingIp(c, 3, FIP3, c.vm.vm3);
    expect(c.h.trace(arpFor(FIP3), PATCH_PUBLIC).only(PATCH_PUBLIC).src.toString()).toBe(fipMac(3));
    const t = await c.h.inject(fromOutside(fipMac(3), INTERNET_IP, FIP3, echo()), PATCH_PUBLIC);
    expect(t.ports).toEqual([TUNNEL_PORT]);
    const out = t.outputs[0]!;
    expect(out.tunnel).toMatchObject({ id: 1001n, dst: '192.0.2.2' });
    expect(out.frame.src.toString()).toBe(routerMac(1));
    expect(out.frame.dst.toString()).toBe(vmMac(0x13));
    expect(ipv4Of(out.frame)).toMatchObject({ src: packet.ip4(INTERNET_IP), dst: packet.ip4('10.0.1.13'), ttl: 63 });
  });

  it('translates the outbound traffic of a local port with a floating IP like the distributed mode does', async () => {
    const c = await cloud(true);
    await floatingIp(c, 1, FIP1, c.vm.vm1);
    await answerNextHop(c, UPSTREAM_IP, UPSTREAM_MAC);
    const frame = packet.ethernet({ src: vmMac(0x11), dst: routerMac(1), payload: packet.ipv4({ src: '10.0.1.11', dst: INTERNET_IP, payload: echo() }) });
    const out = (await c.h.inject(frame, 1)).only(PATCH_PUBLIC);
    expect(out.src.toString()).toBe(fipMac(1));
    expect(ipv4Of(out)).toMatchObject({ src: packet.ip4(FIP1), dst: packet.ip4(INTERNET_IP) });
  });

  it('follows the association: moved to a port elsewhere it is still translated here; disassociated it is gone', async () => {
    const c = await cloud(true);
    const f = await floatingIp(c, 1, FIP1, c.vm.vm1);
    expect(c.h.trace(fromOutside(fipMac(1), INTERNET_IP, FIP1, echo()), PATCH_PUBLIC).ports).toEqual([1]);
    await associate(c, f, c.vm.vm3);
    expect(c.h.trace(fromOutside(fipMac(1), INTERNET_IP, FIP1, echo()), PATCH_PUBLIC).ports).toEqual([TUNNEL_PORT]);
    await associate(c, f, null);
    expect(c.h.trace(arpFor(FIP1), PATCH_PUBLIC).outputOn(PATCH_PUBLIC)).toEqual([]);
    expect(c.h.trace(fromOutside(fipMac(1), INTERNET_IP, FIP1, echo()), PATCH_PUBLIC).ports).toEqual([]);
  });
});

describe('dnat (centralized) on a chassis that is not the router’s gateway', () => {
  it('leaves a local port’s floating IP to the gateway chassis: no ARP answer, no DNAT, no SNAT here', async () => {
    const c = await cloud(false);
    await floatingIp(c, 1, FIP1, c.vm.vm1);
    expect(c.h.trace(arpFor(FIP1), PATCH_PUBLIC).outputOn(PATCH_PUBLIC)).toEqual([]);
    expect(c.h.trace(fromOutside(fipMac(1), INTERNET_IP, FIP1, echo()), PATCH_PUBLIC).ports).toEqual([]);
    const frame = packet.ethernet({ src: vmMac(0x11), dst: routerMac(1), payload: packet.ipv4({ src: '10.0.1.11', dst: INTERNET_IP, payload: echo() }) });
    const t = c.h.trace(frame, 1);
    expect(t.hops.filter((x) => x.flow?.app === 'dnat' && x.flow.owner?.startsWith('fip:'))).toEqual([]);
    expect(t.outputOn(PATCH_PUBLIC)).toEqual([]);
  });
});
