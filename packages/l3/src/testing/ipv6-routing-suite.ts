import { packet } from '@dragonflow/core';
import type { HarnessApp } from '@dragonflow/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { dualStackCloud, ip6Packet, ipv6Of, routerMac6, type DualStackCloud } from './dual-stack.js';
import { TUNNEL_PORT, ipPacket, ipv4Of, routerMac, vmMac } from './routed-cloud.js';

export interface Ipv6RoutingSuiteOptions {
  /** The describe block's title, naming the app. */
  readonly title: string;
  /** The apps to run, in config order (l2, then the l3 app under test). */
  readonly apps: readonly HarnessApp[];
  /**
   * How the app routes IPv4: `reactive` installs the exact flow on the first
   * packet's punt, so the dual-stack case injects the IPv4 packet once before
   * tracing it. IPv6 is routed up front in both modes.
   */
  readonly ipv4: 'proactive' | 'reactive';
}

/**
 * IPv6 routing on the dual-stack cloud, the same for every L3 app: forwarding
 * (local and tunnelled, hop limit − 1), both families at once, the router's own
 * ICMPv6 answers, extra routes and addresses added and removed later.
 */
export function describeIpv6Routing(o: Ipv6RoutingSuiteOptions): void {
  let c: DualStackCloud | undefined;
  afterEach(async () => {
    await c?.h.stop();
    c = undefined;
  });

  const cloud = async () => (c = await dualStackCloud(o.apps));
  const vm1To = (dst: string, extra: { hopLimit?: number; udp?: boolean } = {}) => ip6Packet({ srcMac: vmMac(0x11), dstMac: routerMac6(1), src: 'fd00:1::11', dst, ...extra });

  describe(o.title, () => {
    it('vm1 → vm2 and vm1 → vm3 (other chassis): router MAC as source, the VM MAC as destination, hop limit − 1, the destination network', async () => {
      const { h } = await cloud();
      const local = h.trace(vm1To('fd00:2::12'), 1);
      expect(local.ports).toEqual([2]);
      const out = local.only(2);
      expect([out.src.toString(), out.dst.toString(), ipv6Of(out).hopLimit, ipv6Of(out).dst.toString()]).toEqual([routerMac6(2), vmMac(0x12), 63, 'fd00:2::12']);
      expect(packet.checksumErrors(packet.encodeEthernet(out))).toEqual([]);
      expect(local.packetIns).toEqual([]);
      const remote = h.trace(vm1To('fd00:2::13'), 1);
      expect(remote.outputs.map((x) => [x.port, x.tunnel?.id])).toEqual([[TUNNEL_PORT, 1002n]]);
      expect(ipv6Of(remote.only(TUNNEL_PORT)).hopLimit).toBe(63);
    });

    it('dual stack: vm1 reaches vm2 over both families at once', async () => {
      const { h } = await cloud();
      expect(h.trace(vm1To('fd00:2::12'), 1).ports).toEqual([2]);
      const v4frame = ipPacket({ srcMac: vmMac(0x11), dstMac: routerMac(1), src: '10.0.1.11', dst: '10.0.2.12' });
      if (o.ipv4 === 'reactive') await h.inject(v4frame, 1); // the reactive first packet installs the exact flow
      const v4 = h.trace(v4frame, 1);
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
      const { h, sub6, vm } = await cloud();
      await h.nb.modify('logical_port', vm.vm2.id, (p) => ({ ...p, fixedIps: [...p.fixedIps, { subnetId: sub6.sub2.id, ipAddress: 'fd00:2::22' }] }));
      await h.settle();
      expect(h.trace(vm1To('fd00:2::22'), 1).ports).toEqual([2]);
      await h.nb.modify('logical_port', vm.vm2.id, (p) => ({ ...p, fixedIps: p.fixedIps.filter((f) => f.ipAddress !== 'fd00:2::22') }));
      await h.settle();
      const gone = h.trace(vm1To('fd00:2::22'), 1);
      expect(gone.ports).toEqual([]);
      expect(gone.packetIns).toHaveLength(1);
    });
  });
}
