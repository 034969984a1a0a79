import l2 from '@dragonflow/app-l2';
import { packet } from '@dragonflow/core';
import { TUNNEL_PORT, dualStackCloud, ip6Packet, ipPacket, ipv4Of, ipv6Of, routerMac, routerMac6, vmMac, type DualStackCloud } from '@dragonflow/l3/testing';
import { afterEach, describe, expect, it } from 'vitest';
import l3 from './index.js';

let c: DualStackCloud | undefined;
afterEach(async () => {
  await c?.h.stop();
  c = undefined;
});

const cloud = async () => (c = await dualStackCloud([l2, l3]));
const vm1To = (dst: string, extra: { hopLimit?: number; udp?: boolean } = {}) => ip6Packet({ srcMac: vmMac(0x11), dstMac: routerMac6(1), src: 'fd00:1::11', dst, ...extra });

describe('l3-proactive: IPv6 routed as IPv4', () => {
  it('vm1 → vm2 and vm1 → vm3 (other chassis): router MAC as source, the VM MAC as destination, hop limit − 1, the destination network', async () => {
    const { h } = await cloud();
    const local = h.trace(vm1To('fd00:2::12'), 1);
    expect(local.ports).toEqual([2]);
    const out = local.only(2);
    expect([out.src.toString(), out.dst.toString(), ipv6Of(out).hopLimit, ipv6Of(out).dst.toString()]).toEqual([routerMac6(2), vmMac(0x12), 63, 'fd00:2::12']);
    expect(packet.checksumErrors(packet.encodeEthernet(out))).toEqual([]);
    expect(local.packetIns).toEqual([]);
    const remote = h.trace(vm1To('fd00:2::13'), 1);
    expect(remote.outputs.map((o) => [o.port, o.tunnel?.id])).toEqual([[TUNNEL_PORT, 1002n]]);
    expect(ipv6Of(remote.only(TUNNEL_PORT)).hopLimit).toBe(63);
  });

  it('dual stack: vm1 reaches vm2 over both families at once', async () => {
    const { h } = await cloud();
    expect(h.trace(vm1To('fd00:2::12'), 1).ports).toEqual([2]);
    const v4 = h.trace(ipPacket({ srcMac: vmMac(0x11), dstMac: routerMac(1), src: '10.0.1.11', dst: '10.0.2.12' }), 1);
    expect(v4.ports).toEqual([2]);
    expect(ipv4Of(v4.only(2)).ttl).toBe(63);
  });

  it('the router answers echo requests to its IPv6 addresses; hop limit 1 → time exceeded; no route or no port → unreachable', async () => {
    const { h } = await cloud();
    const exchange = async (frame: packet.EthernetFrame) => {
      const before = h.fakeSwitch.delivered.length;
      await h.inject(frame, 1);
      return h.fakeSwitch.delivered.slice(before);
    };
    const icmp = (f: packet.EthernetFrame) => {
      const ip = ipv6Of(f);
      return ip.payload.kind === 'icmpv6' ? [ip.src.toString(), ip.dst.toString(), ip.payload.type, ip.payload.code] : [];
    };
    const echo = await exchange(vm1To('fd00:2::1'));
    expect(echo.map((d) => d.port)).toEqual([1]);
    expect(echo[0]!.frame.src.toString()).toBe(routerMac6(1));
    expect(icmp(echo[0]!.frame)).toEqual(['fd00:2::1', 'fd00:1::11', 129, 0]);
    expect(packet.checksumErrors(echo[0]!.bytes)).toEqual([]);
    const ttl = await exchange(vm1To('fd00:2::12', { hopLimit: 1, udp: true }));
    expect(icmp(ttl[0]!.frame)).toEqual(['fd00:1::1', 'fd00:1::11', 3, 0]);
    expect(packet.checksumErrors(ttl[0]!.bytes)).toEqual([]);
    expect(icmp((await exchange(vm1To('fd00:9::1', { udp: true })))[0]!.frame)).toEqual(['fd00:1::1', 'fd00:1::11', 1, 0]);
    expect(icmp((await exchange(vm1To('fd00:2::99', { udp: true })))[0]!.frame)).toEqual(['fd00:1::1', 'fd00:1::11', 1, 3]);
  });

  it('an IPv6 extra route sends its prefix to the port holding the next hop', async () => {
    const { h, router } = await cloud();
    await h.nb.modify('logical_router', router.id, (r) => ({ ...r, routes: [{ destination: 'fd00:77::/48', nexthop: 'fd00:2::12' }] }));
    await h.settle();
    const t = h.trace(vm1To('fd00:77::5'), 1);
    expect(t.ports).toEqual([2]);
    expect([t.only(2).dst.toString(), ipv6Of(t.only(2)).hopLimit]).toEqual([vmMac(0x12), 63]);
  });

  it('a port IPv6 address added later is routed; removed, it is not', async () => {
    const { h, sub6 } = await cloud();
    await h.nb.modify('logical_port', c!.vm.vm2.id, (p) => ({ ...p, fixedIps: [...p.fixedIps, { subnetId: sub6.sub2.id, ipAddress: 'fd00:2::22' }] }));
    await h.settle();
    expect(h.trace(vm1To('fd00:2::22'), 1).ports).toEqual([2]);
    await h.nb.modify('logical_port', c!.vm.vm2.id, (p) => ({ ...p, fixedIps: p.fixedIps.filter((f) => f.ipAddress !== 'fd00:2::22') }));
    await h.settle();
    const gone = h.trace(vm1To('fd00:2::22'), 1);
    expect(gone.ports).toEqual([]);
    expect(gone.packetIns).toHaveLength(1);
  });
});
