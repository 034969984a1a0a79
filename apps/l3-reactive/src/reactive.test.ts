import l2 from '@dragonflow/app-l2';
import proactive from '@dragonflow/app-l3-proactive';
import { REG_ROUTER } from '@dragonflow/core';
import { requestMessage, validateApps } from '@dragonflow/testing';
import { PRIORITY } from '@dragonflow/l3';
import { TUNNEL_PORT, addRouterInterface, contractScenario, contractTeardown, ipPacket, ipv4Of, removeRouterInterface, routedCloud, routerMac, vmMac, type RoutedCloud } from '@dragonflow/l3/testing';
import type { HarnessApp } from '@dragonflow/testing';
import { describeAppContract } from '@dragonflow/testing/contract';
import { afterEach, describe, expect, it } from 'vitest';
import l3 from './index.js';
import type { ReactiveRouter } from './reactive-router.js';

let c: RoutedCloud | undefined;
afterEach(async () => {
  await c?.h.stop();
  c = undefined;
});

async function cloud(options: object = {}): Promise<RoutedCloud> {
  c = await routedCloud([l2, { descriptor: l3, options }]);
  return c;
}

const app = (cc: RoutedCloud) => cc.h.runtime.app('l3-reactive').instance as ReactiveRouter;
const vm1To = (dst: string, extra: { ttl?: number; udp?: boolean; seq?: number } = {}) => ipPacket({ srcMac: vmMac(0x11), dstMac: routerMac(1), src: '10.0.1.11', dst, ...extra });
const packetIns = async (cc: RoutedCloud) => (await cc.h.metrics.packetIns.get()).values.find((v) => v.labels['app'] === 'l3-reactive')?.value ?? 0;

/** Records every request the switch receives, in order (flow-mods, packet-outs), as message objects. */
function recordRequests(cc: RoutedCloud): ReturnType<typeof requestMessage>[] {
  const seen: ReturnType<typeof requestMessage>[] = [];
  const sw = cc.h.fakeSwitch;
  const handle = sw.handle.bind(sw);
  sw.handle = (request, xid) => {
    seen.push(requestMessage(request));
    return handle(request, xid);
  };
  return seen;
}

describe('l3-reactive: the first packet of a new flow', () => {
  it('is punted once; the exact flow (idle timeout) goes in, then the packet itself, routed; later packets never reach the controller', async () => {
    const cc = await cloud();
    const { h } = cc;
    const requests = recordRequests(cc);
    const first = await h.inject(vm1To('10.0.2.12', { seq: 1 }), 1);
    // punted from the l3 punt table, nowhere else
    expect(first.ports).toEqual([]);
    expect(first.packetIns).toHaveLength(1);
    expect(h.runtime.pipeline.tableById(first.packetIns[0]!.tableId)?.qualifiedName).toBe('l3-reactive.punt');
    // one flow-mod (the exact flow), then the packet-out of the punted packet, in that order
    expect(requests.map((r) => (r.type === 'flow_mod' ? `${r.type} ${r.command} table ${h.runtime.pipeline.tableById(r.tableId)?.qualifiedName}` : r.type))).toEqual([
      'flow_mod add table l3-reactive.routing',
      'packet_out',
    ]);
    const mod = requests[0]!;
    expect(mod.type === 'flow_mod' && [mod.idleTimeout, mod.hardTimeout, mod.priority]).toEqual([60, 0, PRIORITY.EXACT]);
    // the first packet was not lost: it left on vm2's port, routed
    const delivered = h.fakeSwitch.delivered.filter((d) => d.port === 2);
    expect(delivered).toHaveLength(1);
    const out = delivered[0]!.frame;
    expect([out.src.toString(), out.dst.toString(), ipv4Of(out).ttl]).toEqual([routerMac(2), vmMac(0x12), 63]);
    expect(ipv4Of(out).payload).toMatchObject({ kind: 'icmp', rest: (7 << 16) | 1 });
    // later packets: in the switch only
    for (let seq = 2; seq <= 5; seq++) {
      const t = await h.inject(vm1To('10.0.2.12', { seq }), 1);
      expect(t.packetIns).toEqual([]);
      expect(t.ports).toEqual([2]);
      expect(ipv4Of(t.only(2)).ttl).toBe(63);
    }
    expect(await packetIns(cc)).toBe(1);
    expect(app(cc).reactive.installs).toBe(1);
    expect(app(cc).exactFlows).toEqual([`flow:${cc.router.id}:${cc.net.net1.id}:10.0.2.12`]);
  });

  it('the exact flow matches (router, source network, destination) only: another destination or source network is punted on its own', async () => {
    const cc = await cloud();
    const { h } = cc;
    await h.inject(vm1To('10.0.2.12'), 1);
    expect((await h.inject(vm1To('10.0.2.13'), 1)).packetIns).toHaveLength(1);
    // vm2 on net2 to vm1: its own flow, punted once
    expect((await h.inject(ipPacket({ srcMac: vmMac(0x12), dstMac: routerMac(2), src: '10.0.2.12', dst: '10.0.1.11' }), 2)).packetIns).toHaveLength(1);
    expect(app(cc).exactFlows).toHaveLength(3);
    const exact = h.fakeSwitch.flowsIn(h.runtime.pipeline.app('l3-reactive').tables.find((t) => t.name === 'routing')!.id).filter((f) => f.priority === PRIORITY.EXACT);
    expect(exact).toHaveLength(3);
    for (const f of exact) expect(Object.keys(f.match).sort()).toEqual(['eth_type', 'ipv4_dst', 'metadata', REG_ROUTER].sort());
  });

  it('to another chassis: the first packet and the later ones leave on the tunnel with net2’s VNI', async () => {
    const cc = await cloud();
    const { h } = cc;
    await h.inject(vm1To('10.0.2.13'), 1);
    const first = h.fakeSwitch.delivered.filter((d) => d.port === TUNNEL_PORT);
    expect(first.map((d) => [d.tunnel?.id, d.tunnel?.dst, d.frame.src.toString(), d.frame.dst.toString(), ipv4Of(d.frame).ttl])).toEqual([[1002n, '192.0.2.2', routerMac(2), vmMac(0x13), 63]]);
    const t = h.trace(vm1To('10.0.2.13'), 1);
    expect(t.outputs.map((o) => [o.port, o.tunnel?.id])).toEqual([[TUNNEL_PORT, 1002n]]);
  });

  it('idle timeout: the switch removes the flow, the app forgets it, and the next packet is punted again', async () => {
    const cc = await cloud({ idleTimeout: 30 });
    const { h } = cc;
    await h.inject(vm1To('10.0.2.12'), 1);
    h.clock.advance(20_000);
    await h.inject(vm1To('10.0.2.12', { seq: 2 }), 1); // traffic keeps it alive
    h.clock.advance(20_000);
    await h.settle();
    expect(app(cc).exactFlows).toHaveLength(1);
    h.clock.advance(31_000);
    await h.settle();
    expect(app(cc).exactFlows).toEqual([]);
    expect(app(cc).reactive.expired).toBe(1);
    expect(h.runtime.reconciler.ownersOf('l3-reactive').filter((o) => o.startsWith('flow:'))).toEqual([]);
    const again = await h.inject(vm1To('10.0.2.12', { seq: 3 }), 1);
    expect(again.packetIns).toHaveLength(1);
    expect(h.fakeSwitch.delivered.filter((d) => d.port === 2)).toHaveLength(3);
    expect(app(cc).reactive.installs).toBe(2);
  });

  it('echo to the router addresses and TTL exceeded work as in the proactive mode', async () => {
    const { h } = await cloud();
    const echo = h.trace(vm1To('10.0.2.1'), 1);
    expect(echo.ports).toEqual([1]);
    expect(ipv4Of(echo.only(1)).payload).toMatchObject({ kind: 'icmp', type: 0 });
    const t = await h.inject(vm1To('10.0.2.12', { ttl: 1 }), 1);
    expect(t.ports).toEqual([]);
    const reply = h.fakeSwitch.delivered.find((d) => d.port === 1)!;
    expect(ipv4Of(reply.frame).payload).toMatchObject({ kind: 'icmp', type: 11, code: 0 });
    expect(ipv4Of(reply.frame).src.toString()).toBe('10.0.1.1');
    // no exact flow came of it
    expect(app(c!).exactFlows).toEqual([]);
  });

  it('no port for the destination: ICMP host unreachable, no flow; no route: dropped, no flow', async () => {
    const cc = await cloud();
    const { h } = cc;
    await h.inject(vm1To('10.0.2.99'), 1);
    const reply = h.fakeSwitch.delivered.find((d) => d.port === 1)!;
    expect(ipv4Of(reply.frame).payload).toMatchObject({ kind: 'icmp', type: 3, code: 1 });
    await h.inject(vm1To('8.8.8.8'), 1);
    expect(h.fakeSwitch.delivered.filter((d) => d.port === 1)).toHaveLength(1);
    expect(app(cc).exactFlows).toEqual([]);
  });

  it('extra route: the first packet to the prefix installs an exact flow to the next hop', async () => {
    const cc = await cloud();
    const { h, router } = cc;
    await h.nb.modify('logical_router', router.id, (r) => ({ ...r, routes: [{ destination: '192.168.50.0/24', nexthop: '10.0.2.12' }] }));
    await h.settle();
    await h.inject(vm1To('192.168.50.7'), 1);
    const out = h.fakeSwitch.delivered.filter((d) => d.port === 2).map((d) => d.frame);
    expect(out.map((f) => [f.src.toString(), f.dst.toString(), ipv4Of(f).dst.toString(), ipv4Of(f).ttl])).toEqual([[routerMac(2), vmMac(0x12), '192.168.50.7', 63]]);
    expect(h.trace(vm1To('192.168.50.7'), 1).ports).toEqual([2]);
    // the route goes: its exact flows go with it
    await h.nb.modify('logical_router', router.id, (r) => ({ ...r, routes: [] }));
    await h.settle();
    expect(app(cc).exactFlows).toEqual([]);
    expect(h.trace(vm1To('192.168.50.7'), 1).packetIns).toHaveLength(1);
  });
  it('an extra route more specific than a connected subnet takes its addresses (longest prefix match, as in proactive mode)', async () => {
    const { h, router } = await cloud();
    await h.nb.modify('logical_router', router.id, (r) => ({ ...r, routes: [{ destination: '10.0.2.12/32', nexthop: '10.0.2.13' }] }));
    await h.settle();
    await h.inject(vm1To('10.0.2.12'), 1);
    expect(h.fakeSwitch.delivered.filter((d) => d.port === 2)).toEqual([]);
    expect(h.trace(vm1To('10.0.2.12'), 1).outputs.map((o) => [o.port, o.tunnel?.id, o.frame.dst.toString()])).toEqual([[TUNNEL_PORT, 1002n, vmMac(0x13)]]);
  });
});

describe('l3-reactive: exact flows go away when the topology under them changes', () => {
  it('the destination port is deleted, or changes its MAC', async () => {
    const cc = await cloud();
    const { h, vm } = cc;
    await h.inject(vm1To('10.0.2.13'), 1);
    await h.inject(vm1To('10.0.2.12'), 1);
    expect(app(cc).exactFlows).toHaveLength(2);
    await h.nb.modify('logical_port', vm.vm3.id, (p) => ({ ...p, macAddress: vmMac(0x33) }));
    await h.settle();
    expect(app(cc).exactFlows).toEqual([`flow:${cc.router.id}:${cc.net.net1.id}:10.0.2.12`]);
    // the new MAC is used from the next packet on
    await h.inject(vm1To('10.0.2.13'), 1);
    expect(h.trace(vm1To('10.0.2.13'), 1).only(TUNNEL_PORT).dst.toString()).toBe(vmMac(0x33));
    await h.unplug(vm.vm2);
    await h.nb.delete('logical_port', vm.vm2.id);
    await h.settle();
    expect(app(cc).exactFlows).toEqual([`flow:${cc.router.id}:${cc.net.net1.id}:10.0.2.13`]);
    expect(app(cc).reactive.invalidated).toBe(2);
  });

  it('an unrelated change keeps the flows (no churn)', async () => {
    const cc = await cloud();
    const { h, vm, sub } = cc;
    await h.inject(vm1To('10.0.2.12'), 1);
    h.fakeSwitch.resetStats();
    await h.nb.modify('logical_port', vm.vm2.id, (p) => ({ ...p, name: 'renamed' }));
    await h.port(sub.sub2, '10.0.2.40', vmMac(0x40));
    await h.settle();
    expect(app(cc).exactFlows).toHaveLength(1);
    expect(h.fakeSwitch.stats.deletes).toBe(0);
  });

  it('a port change re-decides only the exact flows to that port’s addresses', async () => {
    const cc = await cloud();
    const { h, vm } = cc;
    await h.inject(vm1To('10.0.2.12'), 1);
    await h.inject(vm1To('10.0.2.13'), 1);
    const model = app(cc).model;
    const decided: string[] = [];
    const decide = model.decide.bind(model);
    model.decide = (router, dst) => {
      decided.push(dst.toString());
      return decide(router, dst);
    };
    await h.nb.modify('logical_port', vm.vm3.id, (p) => ({ ...p, name: 'renamed' }));
    await h.settle();
    expect(decided).toEqual(['10.0.2.13']);
    expect(app(cc).exactFlows).toHaveLength(2);
  });

  it('the router interface is removed (and routing to net2 stops); added back, the next packet installs again', async () => {
    const cc = await cloud();
    const { h, router, sub } = cc;
    await h.inject(vm1To('10.0.2.12'), 1);
    await removeRouterInterface(h, router, sub.sub2);
    expect(app(cc).exactFlows).toEqual([]);
    expect(h.trace(vm1To('10.0.2.12'), 1).ports).toEqual([]);
    expect((await h.inject(vm1To('10.0.2.12'), 1)).packetIns).toHaveLength(1);
    expect(app(cc).exactFlows).toEqual([]);
    await addRouterInterface(h, router, sub.sub2, routerMac(2));
    const t = await h.inject(vm1To('10.0.2.12'), 1);
    expect(t.packetIns).toHaveLength(1);
    expect(h.trace(vm1To('10.0.2.12'), 1).ports).toEqual([2]);
  });

  it('the router is deleted: every flow of the app goes, routed traffic is cut', async () => {
    const cc = await cloud();
    const { h, router, sub } = cc;
    await h.inject(vm1To('10.0.2.12'), 1);
    await removeRouterInterface(h, router, sub.sub1);
    await removeRouterInterface(h, router, sub.sub2);
    await h.nb.delete('logical_router', router.id);
    await h.settle();
    expect(h.runtime.reconciler.ownersOf('l3-reactive')).toEqual([]);
    expect(h.trace(vm1To('10.0.2.12'), 1).ports).not.toContain(2);
  });
});

describe('l3-reactive: a controller restart', () => {
  const owner = (cc: RoutedCloud, net: 'net1' | 'net2', dst: string) => `flow:${cc.router.id}:${cc.net[net].id}:${dst}`;

  it('takes the exact flows back: zero flow-mods, the flows keep their age and counters, later packets stay in the switch', async () => {
    const cc = await cloud();
    const { h } = cc;
    await h.inject(vm1To('10.0.2.12'), 1);
    await h.inject(vm1To('10.0.2.13'), 1);
    await h.inject(vm1To('10.0.2.12', { seq: 2 }), 1);
    h.clock.advance(5_000);
    const before = h.fakeSwitch.flowStats();
    h.fakeSwitch.resetStats();
    await h.restart();
    expect(h.fakeSwitch.stats.flowMods).toBe(0);
    expect(h.fakeSwitch.flowStats()).toEqual(before);
    expect(app(cc).exactFlows.sort()).toEqual([owner(cc, 'net1', '10.0.2.12'), owner(cc, 'net1', '10.0.2.13')].sort());
    expect(app(cc).reactive.adopted).toBe(2);
    const t = await h.inject(vm1To('10.0.2.12', { seq: 3 }), 1);
    expect([t.packetIns, t.ports]).toEqual([[], [2]]);
    expect(await packetIns(cc)).toBe(0);
  });

  it('adopted flows are managed as before: invalidated when their target changes, forgotten at their idle timeout', async () => {
    const cc = await cloud({ idleTimeout: 30 });
    const { h, vm } = cc;
    await h.inject(vm1To('10.0.2.12'), 1);
    await h.inject(vm1To('10.0.2.13'), 1);
    await h.restart();
    await h.nb.modify('logical_port', vm.vm3.id, (p) => ({ ...p, macAddress: vmMac(0x33) }));
    await h.settle();
    expect(app(cc).exactFlows).toEqual([owner(cc, 'net1', '10.0.2.12')]);
    expect(app(cc).reactive.invalidated).toBe(1);
    h.clock.advance(31_000);
    await h.settle();
    expect(app(cc).exactFlows).toEqual([]);
    expect(app(cc).reactive.expired).toBe(1);
    expect((await h.inject(vm1To('10.0.2.12', { seq: 4 }), 1)).packetIns).toHaveLength(1);
  });

  it('what changed while no controller ran: a flow whose target moved is corrected in place, one without a target is deleted, the rest untouched', async () => {
    const cc = await cloud();
    const { h, vm } = cc;
    await h.inject(vm1To('10.0.2.12'), 1);
    await h.inject(vm1To('10.0.2.13'), 1);
    await h.inject(ipPacket({ srcMac: vmMac(0x12), dstMac: routerMac(2), src: '10.0.2.12', dst: '10.0.1.14' }), 2);
    const requests = recordRequests(cc);
    await h.restart(async () => {
      await h.nb.modify('logical_port', vm.vm3.id, (p) => ({ ...p, macAddress: vmMac(0x33) }));
      await h.nb.delete('logical_port', vm.vm4.id);
    });
    const routing = h.runtime.pipeline.app('l3-reactive').tables.find((t) => t.name === 'routing')!.id;
    const exactMods = requests.flatMap((r) => (r.type === 'flow_mod' && r.tableId === routing && r.priority === PRIORITY.EXACT ? [`${r.command} ${String(r.match.ipv4_dst?.value)}`] : []));
    expect(exactMods.sort()).toEqual(['delete_strict 10.0.1.14', 'modify_strict 10.0.2.13']);
    expect(app(cc).exactFlows.sort()).toEqual([owner(cc, 'net1', '10.0.2.12'), owner(cc, 'net1', '10.0.2.13')].sort());
    expect(h.trace(vm1To('10.0.2.13'), 1).only(TUNNEL_PORT).dst.toString()).toBe(vmMac(0x33));
  });

  it('a port whose punts are suppressed stays suppressed across the restart, until the suppression expires', async () => {
    const cc = await cloud({ punt: { rate: 10, burst: 5, suppressSeconds: 10 } });
    const { h } = cc;
    for (let i = 0; i < 20; i++) h.fakeSwitch.inject(vm1To(`10.0.2.${100 + i}`, { seq: i }), 1);
    await h.settle();
    expect(h.runtime.puntStats()['l3-reactive']!.suppressions).toBe(1);
    h.fakeSwitch.resetStats();
    await h.restart();
    expect(h.fakeSwitch.stats.flowMods).toBe(0);
    for (let i = 0; i < 5; i++) h.fakeSwitch.inject(vm1To(`10.0.2.${150 + i}`), 1);
    await h.settle();
    expect(await packetIns(cc)).toBe(0);
    h.clock.advance(10_000);
    await h.settle();
    expect((await h.inject(vm1To('10.0.2.12'), 1)).packetIns).toHaveLength(1);
    expect(h.trace(vm1To('10.0.2.12'), 1).ports).toEqual([2]);
  });
});

describe('l3-reactive: tenant isolation', () => {
  it('a network on no router never gets a flow, and punts nothing', async () => {
    const cc = await cloud();
    const { h } = cc;
    const t = await h.inject(ipPacket({ srcMac: vmMac(0x15), dstMac: routerMac(1), src: '10.0.3.15', dst: '10.0.1.11' }), 5);
    expect([t.ports, t.packetIns]).toEqual([[], []]);
    await h.inject(vm1To('10.0.3.15'), 1);
    expect(h.fakeSwitch.delivered.filter((d) => d.port === 5)).toEqual([]);
    expect(app(cc).exactFlows).toEqual([]);
  });
});

describe('l3-reactive: the punt path is protected', () => {
  it('a flood of new destinations from one port is rate limited, then dropped in the switch; other ports still get through; it recovers', async () => {
    const cc = await cloud({ punt: { rate: 10, burst: 20, suppressSeconds: 3 } });
    const { h } = cc;
    // 200 new destinations at once: the switch punts each one
    for (let i = 0; i < 200; i++) h.fakeSwitch.inject(vm1To(`10.0.2.${100 + (i % 150)}`, { seq: i }), 1);
    await h.settle();
    expect(h.runtime.puntStats()['l3-reactive']).toEqual({ punts: 20, rateLimited: 180, suppressions: 1 });
    // the port is cut off in the switch: its new destinations no longer reach the controller
    const before = await packetIns(cc);
    for (let i = 0; i < 50; i++) h.fakeSwitch.inject(vm1To(`10.0.2.${200 + (i % 50)}`), 1);
    await h.settle();
    expect(await packetIns(cc)).toBe(before);
    // another port is not affected: vm2's first packet to vm1 is routed
    await h.inject(ipPacket({ srcMac: vmMac(0x12), dstMac: routerMac(2), src: '10.0.2.12', dst: '10.0.1.11' }), 2);
    expect(h.fakeSwitch.delivered.filter((d) => d.port === 1 && ipv4Of(d.frame).src.toString() === '10.0.2.12')).toHaveLength(1);
    // after the suppression (hard timeout) and a refill, vm1's new flows work again
    h.clock.advance(3_000);
    await h.settle();
    await h.inject(vm1To('10.0.2.12'), 1);
    expect(h.trace(vm1To('10.0.2.12'), 1).ports).toEqual([2]);
  });
});

describe('l3-reactive: one mode per deployment', () => {
  it('the loader refuses both L3 apps together, naming the conflict', () => {
    expect(() =>
      validateApps([
        { package: '@dragonflow/app-l2', descriptor: l2 },
        { package: '@dragonflow/app-l3-proactive', descriptor: proactive },
        { package: '@dragonflow/app-l3-reactive', descriptor: l3 },
      ]),
    ).toThrow(/conflicts with app 'l3-(reactive|proactive)'.*enable only one of them/);
    expect(() => validateApps([{ package: '@dragonflow/app-l2', descriptor: l2 }, { package: '@dragonflow/app-l3-reactive', descriptor: l3 }])).not.toThrow();
  });

  it('refuses bad options, naming the key', () => {
    expect(() => validateApps([{ package: '@dragonflow/app-l3-reactive', descriptor: l3, options: { idleTimeout: 0 } }])).toThrow(/idleTimeout: must be at least 1/);
    expect(() => validateApps([{ package: '@dragonflow/app-l3-reactive', descriptor: l3, options: { punt: { rate: -1 } } }])).toThrow(/punt\.rate: must be > 0/);
  });
});

describeAppContract({
  app: l3 as HarnessApp,
  with: [l2 as HarnessApp],
  minFlows: 10,
  scenario: (h) => contractScenario(h),
  teardown: contractTeardown,
});
