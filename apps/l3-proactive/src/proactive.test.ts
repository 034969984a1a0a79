import l2 from '@dragonflow/app-l2';
import { packet } from '@dragonflow/core';
import { TUNNEL_PORT, addRouterInterface, contractScenario, contractTeardown, ipPacket, ipv4Of, removeRouterInterface, routedCloud, routerMac, vmMac, type RoutedCloud } from '@dragonflow/l3/testing';
import { describeAppContract } from '@dragonflow/testing/contract';
import type { HarnessApp } from '@dragonflow/testing';
import { afterEach, describe, expect, it } from 'vitest';
import l3 from './index.js';
import type { ProactiveRouter } from './proactive-router.js';

let c: RoutedCloud | undefined;
afterEach(async () => {
  await c?.h.stop();
  c = undefined;
});

async function cloud(options: object = {}): Promise<RoutedCloud> {
  c = await routedCloud([l2, { descriptor: l3, options }]);
  return c;
}

const app = (cc: RoutedCloud) => cc.h.runtime.app('l3-proactive').instance as ProactiveRouter;

const vm1To = (dst: string, extra: { ttl?: number; udp?: boolean; dstMac?: string } = {}) => ipPacket({ srcMac: vmMac(0x11), dstMac: extra.dstMac ?? routerMac(1), src: '10.0.1.11', dst, ...extra });

describe('l3-proactive: routing on the source chassis', () => {
  it('vm1 → vm2 (same chassis, other network): leaves on vm2’s port with the router’s net2 MAC as source, vm2’s MAC as destination, TTL−1', async () => {
    const { h } = await cloud();
    const sent = vm1To('10.0.2.12');
    const t = h.trace(sent, 1);
    expect(t.ports).toEqual([2]);
    const out = t.only(2);
    expect(out.src.toString()).toBe(routerMac(2));
    expect(out.dst.toString()).toBe(vmMac(0x12));
    const ip = ipv4Of(out);
    expect(ip.ttl).toBe(63);
    expect(ip.src.toString()).toBe('10.0.1.11');
    expect(ip.dst.toString()).toBe('10.0.2.12');
    expect(ip.payload).toEqual(ipv4Of(sent).payload);
    expect(packet.checksumErrors(packet.encodeEthernet(out))).toEqual([]);
    // no controller on the way: a flow of the port's own owner did it
    expect(t.packetIns).toEqual([]);
    expect(t.hops.find((x) => x.tableName === 'l3-proactive.routing')?.flow?.owner).toBe(`route:${c!.router.id}:${c!.vm.vm2.id}`);
  });

  it('vm1 → vm3 (other chassis): leaves on the tunnel with net2’s VNI towards chassis-2, rewritten once, here', async () => {
    const { h } = await cloud();
    const t = h.trace(vm1To('10.0.2.13'), 1);
    expect(t.ports).toEqual([TUNNEL_PORT]);
    expect(t.outputs[0]!.tunnel).toMatchObject({ id: 1002n, dst: '192.0.2.2' });
    const out = t.only(TUNNEL_PORT);
    expect([out.src.toString(), out.dst.toString(), ipv4Of(out).ttl]).toEqual([routerMac(2), vmMac(0x13), 63]);
  });

  it('the way back: vm2 → vm1 and vm2 → vm4 (net1 on chassis-2, VNI 1001)', async () => {
    const { h } = await cloud();
    const back = h.trace(ipPacket({ srcMac: vmMac(0x12), dstMac: routerMac(2), src: '10.0.2.12', dst: '10.0.1.11' }), 2);
    expect(back.ports).toEqual([1]);
    expect(back.only(1).src.toString()).toBe(routerMac(1));
    const far = h.trace(ipPacket({ srcMac: vmMac(0x12), dstMac: routerMac(2), src: '10.0.2.12', dst: '10.0.1.14' }), 2);
    expect(far.outputs.map((o) => [o.port, o.tunnel?.id])).toEqual([[TUNNEL_PORT, 1001n]]);
  });

  it('a packet routed on chassis-2 arrives on net1’s VNI already rewritten and is only switched here', async () => {
    const { h } = await cloud();
    const routedThere = ipPacket({ srcMac: routerMac(1), dstMac: vmMac(0x11), src: '10.0.2.13', dst: '10.0.1.11', ttl: 63 });
    const t = h.trace(routedThere, TUNNEL_PORT, { id: 1001n });
    expect(t.ports).toEqual([1]);
    expect(ipv4Of(t.only(1)).ttl).toBe(63);
    expect(t.apps).not.toContain('l3-proactive');
  });

  it('every router address answers an echo request, from the MAC it was sent to', async () => {
    const { h } = await cloud();
    for (const address of ['10.0.1.1', '10.0.2.1']) {
      const t = h.trace(vm1To(address), 1);
      expect(t.ports).toEqual([1]);
      const reply = t.only(1);
      expect([reply.src.toString(), reply.dst.toString()]).toEqual([routerMac(1), vmMac(0x11)]);
      const ip = ipv4Of(reply);
      expect([ip.src.toString(), ip.dst.toString(), ip.ttl]).toEqual([address, '10.0.1.11', 64]);
      expect(ip.payload).toMatchObject({ kind: 'icmp', type: 0, code: 0 });
      expect(ip.payload.kind === 'icmp' && ip.payload.data).toEqual(new TextEncoder().encode('abcdefgh'));
      expect(packet.checksumErrors(packet.encodeEthernet(reply))).toEqual([]);
      expect(t.packetIns).toEqual([]);
    }
    // from net2 as well
    const t2 = h.trace(ipPacket({ srcMac: vmMac(0x12), dstMac: routerMac(2), src: '10.0.2.12', dst: '10.0.1.1' }), 2);
    expect(t2.ports).toEqual([2]);
    expect(ipv4Of(t2.only(2)).src.toString()).toBe('10.0.1.1');
  });

  it('other traffic to a router address is dropped, not routed', async () => {
    const { h } = await cloud();
    const t = h.trace(vm1To('10.0.2.1', { udp: true }), 1);
    expect(t.ports).toEqual([]);
    expect(t.packetIns).toEqual([]);
  });

  it('TTL 1: not forwarded; the sender gets ICMP time exceeded from the router port it sent to, quoting its packet', async () => {
    const { h } = await cloud();
    const sent = vm1To('10.0.2.12', { ttl: 1 });
    const t = await h.inject(sent, 1);
    expect(t.ports).toEqual([]);
    expect(t.packetIns).toHaveLength(1);
    const replies = h.fakeSwitch.delivered.filter((d) => d.port === 1);
    expect(replies).toHaveLength(1);
    const ip = ipv4Of(replies[0]!.frame);
    expect([replies[0]!.frame.src.toString(), replies[0]!.frame.dst.toString()]).toEqual([routerMac(1), vmMac(0x11)]);
    expect([ip.src.toString(), ip.dst.toString()]).toEqual(['10.0.1.1', '10.0.1.11']);
    expect(ip.payload).toMatchObject({ kind: 'icmp', type: 11, code: 0 });
    const quoted = ip.payload.kind === 'icmp' ? ip.payload.data : new Uint8Array();
    const original = packet.encodeEthernet(sent).slice(14, 14 + 28);
    expect(quoted).toEqual(original);
    expect(packet.checksumErrors(packet.encodeEthernet(replies[0]!.frame))).toEqual([]);
    expect(app(c!).stats.timeExceeded).toBe(1);
    // TTL 2 still goes through, with TTL 1
    const t2 = h.trace(vm1To('10.0.2.12', { ttl: 2 }), 1);
    expect(ipv4Of(t2.only(2)).ttl).toBe(1);
  });

  it('a destination with no port on a connected subnet: ICMP host unreachable from the router port', async () => {
    const { h } = await cloud();
    const t = await h.inject(vm1To('10.0.2.99'), 1);
    expect(t.ports).toEqual([]);
    expect(t.packetIns).toHaveLength(1);
    const reply = h.fakeSwitch.delivered.find((d) => d.port === 1)!;
    expect(ipv4Of(reply.frame).payload).toMatchObject({ kind: 'icmp', type: 3, code: 1 });
    expect(ipv4Of(reply.frame).src.toString()).toBe('10.0.1.1');
  });

  it('with unreachable: drop, such a packet is dropped in the switch (no controller), also behind an extra route whose next hop has no port', async () => {
    const { h, router } = await cloud({ unreachable: 'drop' });
    const t = h.trace(vm1To('10.0.2.99'), 1);
    expect([t.ports, t.packetIns]).toEqual([[], []]);
    await h.nb.modify('logical_router', router.id, (r) => ({ ...r, routes: [{ destination: '172.16.0.0/16', nexthop: '10.0.2.77' }] }));
    await h.settle();
    const behind = h.trace(vm1To('172.16.3.4'), 1);
    expect([behind.ports, behind.packetIns]).toEqual([[], []]);
  });

  it('no route (not a connected subnet, no extra route): dropped in the switch', async () => {
    const { h } = await cloud();
    const t = h.trace(vm1To('8.8.8.8'), 1);
    expect([t.ports, t.packetIns]).toEqual([[], []]);
  });

  it('a port created later on a routed network is reachable at once; deleted, it is not', async () => {
    const { h, sub, c2 } = await cloud();
    const vm6 = await h.port(sub.sub2, '10.0.2.16', vmMac(0x16), { chassisId: c2.id });
    await h.settle();
    expect(h.trace(vm1To('10.0.2.16'), 1).outputs.map((o) => [o.port, o.tunnel?.id, o.frame.dst.toString()])).toEqual([[TUNNEL_PORT, 1002n, vmMac(0x16)]]);
    await h.nb.delete('logical_port', vm6.id);
    await h.settle();
    expect(h.trace(vm1To('10.0.2.16'), 1).outputs.filter((o) => o.port === TUNNEL_PORT)).toEqual([]);
  });
});

describe('l3-proactive: with what l2 switches here', () => {
  async function net4Cloud() {
    const cc = await cloud();
    const net4 = await cc.h.network('net4', { networkType: 'vxlan', segmentationId: 1004 });
    const sub4 = await cc.h.subnet(net4, '10.0.4.0/24', { gatewayIp: '10.0.4.1' });
    const far = await cc.h.port(sub4, '10.0.4.40', vmMac(0x40), { chassisId: cc.c2.id });
    await addRouterInterface(cc.h, cc.router, sub4, routerMac(4));
    return { ...cc, far };
  }

  it('routes to a remote port on a network without local ports (the routing flow is there)', async () => {
    const { h, router, far } = await net4Cloud();
    const t = h.trace(vm1To('10.0.4.40'), 1);
    const hop = t.hops.find((x) => x.tableName === 'l3-proactive.routing');
    expect(hop?.flow?.owner).toBe(`route:${router.id}:${far.id}`);
    expect(hop?.did).toContain(`set_field:${vmMac(0x40)}->eth_dst`);
  });

  // The destination network has no local port: l2 still installs its remote ports'
  // egress because a local router routes to it (docs/l3.md, "Depends on L2").
  it('delivers it over the tunnel with that network’s VNI', async () => {
    const { h } = await net4Cloud();
    expect(h.trace(vm1To('10.0.4.40'), 1).outputs.map((o) => [o.port, o.tunnel?.id])).toEqual([[TUNNEL_PORT, 1004n]]);
  });
});

describe('l3-proactive: extra routes', () => {
  it('a route to a prefix via a next hop port: rewritten to the next hop’s MAC, destination address kept; removed, dropped again', async () => {
    const { h, router } = await cloud();
    await h.nb.modify('logical_router', router.id, (r) => ({ ...r, routes: [{ destination: '192.168.50.0/24', nexthop: '10.0.2.12' }] }));
    await h.settle();
    const t = h.trace(vm1To('192.168.50.7'), 1);
    expect(t.ports).toEqual([2]);
    const out = t.only(2);
    expect([out.src.toString(), out.dst.toString(), ipv4Of(out).dst.toString(), ipv4Of(out).ttl]).toEqual([routerMac(2), vmMac(0x12), '192.168.50.7', 63]);
    // the connected host route is more specific than any extra route
    expect(h.trace(vm1To('10.0.2.13'), 1).ports).toEqual([TUNNEL_PORT]);
    await h.nb.modify('logical_router', router.id, (r) => ({ ...r, routes: [] }));
    await h.settle();
    expect(h.trace(vm1To('192.168.50.7'), 1).ports).toEqual([]);
  });

  it('an extra route more specific than a connected subnet takes its addresses, as longest prefix match says (no host route competes with it)', async () => {
    const { h, router } = await cloud();
    await h.nb.modify('logical_router', router.id, (r) => ({ ...r, routes: [{ destination: '10.0.2.12/32', nexthop: '10.0.2.13' }] }));
    await h.settle();
    const t = h.trace(vm1To('10.0.2.12'), 1);
    expect(t.outputs.map((o) => [o.port, o.tunnel?.id, o.frame.dst.toString(), ipv4Of(o.frame).dst.toString()])).toEqual([[TUNNEL_PORT, 1002n, vmMac(0x13), '10.0.2.12']]);
    expect((await h.metrics.conflicts.get()).values.reduce((n, v) => n + v.value, 0)).toBe(0);
    expect(h.runtime.reconciler.ownersOf('l3-proactive')).not.toContain(`route:${router.id}:${c!.vm.vm2.id}`);
    await h.nb.modify('logical_router', router.id, (r) => ({ ...r, routes: [] }));
    await h.settle();
    expect(h.trace(vm1To('10.0.2.12'), 1).ports).toEqual([2]);
  });

  it('a next hop with no port yet is unreachable (ICMP host unreachable, as reactive) until the port appears (to a remote next hop: the tunnel)', async () => {
    const { h, router, sub, c2 } = await cloud();
    await h.nb.modify('logical_router', router.id, (r) => ({ ...r, routes: [{ destination: '172.16.0.0/16', nexthop: '10.0.2.77' }] }));
    await h.settle();
    const punted = await h.inject(vm1To('172.16.3.4'), 1);
    expect([punted.ports, punted.packetIns.length]).toEqual([[], 1]);
    const reply = h.fakeSwitch.delivered.find((d) => d.port === 1)!;
    expect(ipv4Of(reply.frame).payload).toMatchObject({ kind: 'icmp', type: 3, code: 1 });
    await h.port(sub.sub2, '10.0.2.77', vmMac(0x77), { chassisId: c2.id });
    await h.settle();
    const t = h.trace(vm1To('172.16.3.4'), 1);
    expect(t.outputs.map((o) => [o.port, o.tunnel?.id, o.frame.dst.toString()])).toEqual([[TUNNEL_PORT, 1002n, vmMac(0x77)]]);
  });
});

describe('l3-proactive: interfaces and routers change', () => {
  it('removing the net2 interface cuts routing to net2 and its address; adding it back restores both', async () => {
    const { h, router, sub } = await cloud();
    await removeRouterInterface(h, router, sub.sub2);
    expect(h.trace(vm1To('10.0.2.12'), 1).ports).toEqual([]);
    expect(h.trace(vm1To('10.0.2.1'), 1).ports).toEqual([]);
    expect(h.trace(vm1To('10.0.1.1'), 1).ports).toEqual([1]);
    await addRouterInterface(h, router, sub.sub2, routerMac(2));
    expect(h.trace(vm1To('10.0.2.12'), 1).ports).toEqual([2]);
    expect(h.trace(vm1To('10.0.2.1'), 1).ports).toEqual([1]);
  });

  it('deleting the router removes every flow of the app and cuts routed traffic', async () => {
    const { h, router, sub } = await cloud();
    await removeRouterInterface(h, router, sub.sub1);
    await removeRouterInterface(h, router, sub.sub2);
    await h.nb.delete('logical_router', router.id);
    await h.settle();
    expect(h.runtime.reconciler.ownersOf('l3-proactive')).toEqual([]);
    // What is left is L2 flooding an unknown MAC on net1 (to chassis-2, which has net1 ports), unrouted.
    const t = h.trace(vm1To('10.0.2.12'), 1);
    expect(t.ports).not.toContain(2);
    for (const o of t.outputs) expect([o.tunnel?.id, o.frame.dst.toString(), ipv4Of(o.frame).ttl]).toEqual([1001n, routerMac(1), 64]);
    expect(t.apps).not.toContain('l3-proactive');
  });

  it('an administratively down router routes nothing', async () => {
    const { h, router } = await cloud();
    await h.nb.modify('logical_router', router.id, (r) => ({ ...r, adminStateUp: false }));
    await h.settle();
    expect(h.trace(vm1To('10.0.2.12'), 1).ports).toEqual([]);
  });

  it('a chassis with no port on the router’s networks has none of its flows', async () => {
    const { h, vm } = await cloud();
    await h.unplug(vm.vm1);
    expect(h.runtime.reconciler.ownersOf('l3-proactive').length).toBeGreaterThan(0);
    await h.unplug(vm.vm2);
    expect(h.runtime.reconciler.ownersOf('l3-proactive')).toEqual([]);
    await h.plug(vm.vm2, 2);
    // Routing is back (delivery to vm4 on chassis-2 is L2's egress, for networks it switches here).
    const t = h.trace(ipPacket({ srcMac: vmMac(0x12), dstMac: routerMac(2), src: '10.0.2.12', dst: '10.0.1.14' }), 2);
    expect(t.hops.find((x) => x.tableName === 'l3-proactive.routing')?.flow?.owner).toBe(`route:${c!.router.id}:${vm.vm4.id}`);
  });
});

describe('l3-proactive: tenant isolation', () => {
  it('a network on no router is never routed to or from', async () => {
    const { h } = await cloud();
    // vm5 (net3) sends to net1's router MAC: net3 has no such router port, so nothing is routed
    const fromNet3 = h.trace(ipPacket({ srcMac: vmMac(0x15), dstMac: routerMac(1), src: '10.0.3.15', dst: '10.0.1.11' }), 5);
    expect(fromNet3.ports).toEqual([]);
    expect(fromNet3.apps).not.toContain('l3-proactive');
    // vm1 asks the router for net3's address: no route
    expect(h.trace(vm1To('10.0.3.15'), 1).ports).toEqual([]);
  });

  it('overlapping subnets behind two routers stay apart: each router reaches only its own', async () => {
    const { h, sub } = await cloud();
    // router2 joins net3 and net4, whose subnet has the same CIDR as net2's
    const net4 = await h.network('net4', { networkType: 'vxlan', segmentationId: 1004 });
    const sub4 = await h.subnet(net4, '10.0.2.0/24', { gatewayIp: '10.0.2.1' });
    const vm7 = await h.port(sub4, '10.0.2.12', vmMac(0x17));
    await h.plug(vm7, 7);
    const router2 = await h.nb.create('logical_router', { name: 'router2' });
    await addRouterInterface(h, router2, sub.sub3, routerMac(3));
    await addRouterInterface(h, router2, sub4, routerMac(4));
    // 10.0.2.12 from net1 is vm2 (net2), from net3 it is vm7 (net4)
    expect(h.trace(vm1To('10.0.2.12'), 1).ports).toEqual([2]);
    const t = h.trace(ipPacket({ srcMac: vmMac(0x15), dstMac: routerMac(3), src: '10.0.3.15', dst: '10.0.2.12' }), 5);
    expect(t.ports).toEqual([7]);
    expect(t.only(7).src.toString()).toBe(routerMac(4));
    // and net3 still cannot reach net1 (router2 is not on it)
    expect(h.trace(ipPacket({ srcMac: vmMac(0x15), dstMac: routerMac(3), src: '10.0.3.15', dst: '10.0.1.11' }), 5).ports).toEqual([]);
  });
});

describe('l3-proactive: the punt path is protected', () => {
  it('a port flooding the controller is rate limited, then cut off in the switch; other ports are not; it recovers', async () => {
    const { h } = await cloud({ punt: { rate: 10, burst: 5, suppressSeconds: 2 } });
    for (let i = 0; i < 20; i++) h.fakeSwitch.inject(vm1To('10.0.2.12', { ttl: 1 }), 1);
    await h.settle();
    const a = app(c!);
    expect(a.stats.timeExceeded).toBe(5);
    const guard = h.runtime.puntStats()['l3-proactive']!;
    expect(guard.rateLimited).toBeGreaterThanOrEqual(1);
    expect(guard.suppressions).toBe(1);
    // now dropped in the switch: no packet-in at all
    const cut = h.trace(vm1To('10.0.2.12', { ttl: 1 }), 1);
    expect(cut.packetIns).toEqual([]);
    expect(cut.hops.at(-1)?.tableName).toBe('l3-proactive.punt');
    // routed traffic of the same port still flows, and another port still gets its replies
    expect(h.trace(vm1To('10.0.2.12'), 1).ports).toEqual([2]);
    expect(h.trace(ipPacket({ srcMac: vmMac(0x12), dstMac: routerMac(2), src: '10.0.2.12', dst: '10.0.1.11', ttl: 1 }), 2).packetIns).toHaveLength(1);
    // the suppression expires (hard timeout) and the bucket refills
    h.clock.advance(2_000);
    await h.settle();
    expect(h.trace(vm1To('10.0.2.12', { ttl: 1 }), 1).packetIns).toHaveLength(1);
    await h.inject(vm1To('10.0.2.12', { ttl: 1 }), 1);
    expect(a.stats.timeExceeded).toBe(6);
  });
});

describeAppContract({
  app: l3 as HarnessApp,
  with: [l2 as HarnessApp],
  minFlows: 10,
  scenario: (h) => contractScenario(h, [{ destination: '192.168.0.0/16', nexthop: '10.0.2.12' }]),
  teardown: contractTeardown,
});
