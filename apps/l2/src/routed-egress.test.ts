import { type Chassis, type LogicalPort, type LogicalRouter, type LogicalSwitch, type Subnet } from '@dragonflow/core';
import { startHarness, type Harness } from '@dragonflow/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { INFRA, PATCH_PHYSNET1, TUN, icmp, mac, routingStandIn, tunnelCopies } from '../test/fixtures.js';
import l2 from './index.js';

/**
 * Routing happens on the source chassis: a packet a router here sends to a remote
 * port on a network that has no local port must still leave towards that port's
 * chassis, on that network's segment. l2 installs the egress of such a network's
 * remote ports (and nothing else of it) while a router connects it to a network
 * switched here. The routing itself is a stand-in (test/fixtures.ts) that "routes"
 * to every port it knows, so what gets anywhere is l2's decision alone.
 */

const R1 = 'fa:16:3e:00:01:01';
const R2 = 'fa:16:3e:00:02:01';

interface Routed {
  readonly h: Harness;
  readonly c2: Chassis;
  readonly c3: Chassis;
  readonly net: Record<'net1' | 'net2' | 'net3', LogicalSwitch>;
  readonly sub: Record<'sub1' | 'sub2' | 'sub3', Subnet>;
  readonly router: LogicalRouter;
  /** vm1 10.0.1.11 local (ofport 1); far22 10.0.2.22 on chassis-2, far23 10.0.2.23 on chassis-3; far33 10.0.3.33 on chassis-2 (net3: on no router); near14 10.0.1.14 (net1) on chassis-2. */
  readonly vm: Record<'vm1' | 'far22' | 'far23' | 'far33' | 'near14', LogicalPort>;
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

type Net2Kind = 'vxlan' | 'geneve' | 'gre' | 'vlan';

/**
 * net1 (VXLAN 5001, 10.0.1.0/24) with a local VM; net2 (10.0.2.0/24; VXLAN 5002 unless
 * told) with ports on chassis-2 and chassis-3 only; one router between them; net3
 * (VXLAN 5003, 10.0.3.0/24) on no router, with a port on chassis-2.
 * `selective: false` makes this chassis' topology hold everything (net3 included).
 */
async function routed(o: { net2?: Net2Kind; selective?: boolean } = {}): Promise<Routed> {
  const hh = await startHarness({ apps: [l2, routingStandIn], infraPorts: INFRA, selective: o.selective ?? true });
  h = hh;
  const c2 = await hh.addChassis('chassis-2', { tunnelIp: '192.0.2.2', bridgeMappings: { physnet1: 'br-ex' } });
  const c3 = await hh.addChassis('chassis-3', { tunnelIp: '192.0.2.3', bridgeMappings: { physnet1: 'br-ex' } });
  const kind = o.net2 ?? 'vxlan';
  const net = {
    net1: await hh.network('net1', { networkType: 'vxlan', segmentationId: 5001 }),
    net2: await hh.network('net2', kind === 'vlan' ? { networkType: 'vlan', segmentationId: 102, physicalNetwork: 'physnet1' } : { networkType: kind, segmentationId: 5002 }),
    net3: await hh.network('net3', { networkType: 'vxlan', segmentationId: 5003 }),
  };
  const sub = {
    sub1: await hh.subnet(net.net1, '10.0.1.0/24', { gatewayIp: '10.0.1.1' }),
    sub2: await hh.subnet(net.net2, '10.0.2.0/24', { gatewayIp: '10.0.2.1' }),
    sub3: await hh.subnet(net.net3, '10.0.3.0/24', { gatewayIp: '10.0.3.1' }),
  };
  const vm = {
    vm1: await hh.port(sub.sub1, '10.0.1.11', mac(0x11)),
    near14: await hh.port(sub.sub1, '10.0.1.14', mac(0x14), { chassisId: c2.id }),
    far22: await hh.port(sub.sub2, '10.0.2.22', mac(0x22), { chassisId: c2.id }),
    far23: await hh.port(sub.sub2, '10.0.2.23', mac(0x23), { chassisId: c3.id }),
    far33: await hh.port(sub.sub3, '10.0.3.33', mac(0x33), { chassisId: c2.id }),
  };
  let router = await hh.nb.create('logical_router', { name: 'router1' });
  router = (await hh.routerInterface(router, sub.sub1, R1, '10.0.1.1')).router;
  router = (await hh.routerInterface(router, sub.sub2, R2, '10.0.2.1')).router;
  await hh.plug(vm.vm1, 1);
  return { h: hh, c2, c3, net, sub, router, vm };
}

/** vm1 sends to its gateway's MAC (the router's on net1) for `dst`. */
const fromVm1 = (dst: string) => icmp(mac(0x11), R1, '10.0.1.11', dst);

describe('l2: egress for networks a local router routes to', () => {
  it('a packet routed here to a remote port on a network with no local port leaves on the tunnel with that network’s VNI, to that port’s chassis', async () => {
    const c = await routed();
    const t = c.h.trace(fromVm1('10.0.2.22'), 1);
    expect(t.ports).toEqual([TUN.vxlan]);
    expect(t.outputs[0]!.tunnel).toMatchObject({ id: 5002n, dst: '192.0.2.2' });
    expect(t.hops.find((x) => x.tableName === 'l2.egress')?.flow?.owner).toBe(`port:${c.vm.far22.id}`);
    expect(tunnelCopies(c.h.trace(fromVm1('10.0.2.23'), 1).outputs)).toEqual([`${TUN.vxlan} 5002→192.0.2.3`]);
    // the frame is left as the router made it (l2 only picks the way out)
    const out = t.only(TUN.vxlan);
    expect([out.src.toString(), out.dst.toString()]).toEqual([mac(0x11), R1]);
  });

  for (const [kind, port] of [
    ['geneve', TUN.geneve],
    ['gre', TUN.gre],
  ] as const) {
    it(`a routed-to ${kind} network is reached over the ${kind} tunnel port (net1 is VXLAN)`, async () => {
      const c = await routed({ net2: kind });
      const t = c.h.trace(fromVm1('10.0.2.22'), 1);
      expect(t.ports).toEqual([port]);
      expect(t.outputs[0]!.tunnel).toMatchObject({ id: 5002n, dst: '192.0.2.2' });
    });
  }

  it('a routed-to VLAN provider network: tagged with its VLAN and out of the provider patch port', async () => {
    const c = await routed({ net2: 'vlan' });
    const t = c.h.trace(fromVm1('10.0.2.22'), 1);
    expect(t.ports).toEqual([PATCH_PHYSNET1]);
    expect(t.only(PATCH_PHYSNET1).vlans.map((v) => v.vid)).toEqual([102]);
  });

  it('a routed-to network gets one egress flow per remote port and nothing else: no lookup, ARP, flood or tunnel ingress', async () => {
    const c = await routed();
    const rec = c.h.runtime.reconciler;
    for (const p of [c.vm.far22, c.vm.far23]) {
      const flows = rec.flowsOf('l2', `port:${p.id}`);
      expect(flows).toHaveLength(1);
      expect(c.h.runtime.pipeline.tableById(flows[0]!.table)?.qualifiedName).toBe('l2.egress');
    }
    expect(rec.flowsOf('l2', `network:${c.net.net2.id}`)).toEqual([]);
    expect(rec.ownersOf('l2').filter((o) => o.startsWith(`flood:${c.net.net2.id}`))).toEqual([]);
    const r2 = c.router.ports.find((p) => p.networkId === c.net.net2.id)!;
    expect(rec.flowsOf('l2', `port:${r2.portId}`)).toEqual([]);
    // nothing arriving on net2's VNI is taken in (routed replies come back on the sender's network, switched here)
    expect(c.h.trace(icmp(mac(0x22), mac(0x11), '10.0.2.22', '10.0.1.11'), TUN.vxlan, { id: 5002n }).ports).toEqual([]);
    // net1 is switched as before: the remote net1 port has its three flows
    expect(rec.flowsOf('l2', `port:${c.vm.near14.id}`)).toHaveLength(3);
  });

  it('split horizon: a packet that came from a tunnel is never sent back into one, routed or not', async () => {
    const c = await routed();
    const t = c.h.trace(icmp(mac(0x14), R1, '10.0.1.14', '10.0.2.22'), TUN.vxlan, { id: 5001n });
    expect(t.hops.some((x) => x.tableName === 'routing-stand-in.route')).toBe(true);
    expect(t.ports).toEqual([]);
  });
});

describe('l2: routed egress and tenant isolation', () => {
  for (const selective of [true, false]) {
    it(`a network on no router gets nothing, even with its port's key in reg7 (${selective ? 'selective topology' : 'whole topology held'})`, async () => {
      const c = await routed({ selective });
      expect(c.h.topology.get('logical_switch', c.net.net3.id) !== undefined).toBe(!selective);
      expect(c.h.trace(fromVm1('10.0.3.33'), 1).ports).toEqual([]);
      expect(c.h.runtime.reconciler.flowsOf('l2', `port:${c.vm.far33.id}`)).toEqual([]);
      // the routed-to network works alongside
      expect(c.h.trace(fromVm1('10.0.2.22'), 1).ports).toEqual([TUN.vxlan]);
    });
  }

  it('the networks of a router with no interface on a network switched here get nothing (whole topology held)', async () => {
    const c = await routed({ selective: false });
    const sub4 = await c.h.subnet(await c.h.network('net4', { networkType: 'vxlan', segmentationId: 5004 }), '10.0.4.0/24', { gatewayIp: '10.0.4.1' });
    await c.h.port(sub4, '10.0.4.44', mac(0x44), { chassisId: c.c2.id });
    let other = await c.h.nb.create('logical_router', { name: 'router2' });
    other = (await c.h.routerInterface(other, c.sub.sub3, 'fa:16:3e:00:03:01', '10.0.3.1')).router;
    await c.h.routerInterface(other, sub4, 'fa:16:3e:00:04:01', '10.0.4.1');
    expect(c.h.trace(fromVm1('10.0.3.33'), 1).ports).toEqual([]);
    expect(c.h.trace(fromVm1('10.0.4.44'), 1).ports).toEqual([]);
    // router2 gets an interface on net1: its networks are routed to from here now
    await c.h.routerInterface(other, c.sub.sub1, 'fa:16:3e:00:01:02', '10.0.1.2');
    expect(tunnelCopies(c.h.trace(fromVm1('10.0.4.44'), 1).outputs)).toEqual([`${TUN.vxlan} 5004→192.0.2.2`]);
    expect(tunnelCopies(c.h.trace(fromVm1('10.0.3.33'), 1).outputs)).toEqual([`${TUN.vxlan} 5003→192.0.2.2`]);
  });
});

describe('l2: routed egress follows routers, networks and ports', () => {
  for (const selective of [true, false]) {
    it(`router down, interface removed, router deleted: the egress goes; back: it returns (${selective ? 'selective' : 'whole topology'})`, async () => {
      const c = await routed({ selective });
      const reach = () => c.h.trace(fromVm1('10.0.2.22'), 1).ports;
      await c.h.nb.modify('logical_router', c.router.id, (r) => ({ ...r, adminStateUp: false }));
      await c.h.settle();
      expect(reach()).toEqual([]);
      expect(c.h.runtime.reconciler.flowsOf('l2', `port:${c.vm.far22.id}`)).toEqual([]);
      await c.h.nb.modify('logical_router', c.router.id, (r) => ({ ...r, adminStateUp: true }));
      await c.h.settle();
      expect(reach()).toEqual([TUN.vxlan]);

      const r2 = c.router.ports.find((p) => p.networkId === c.net.net2.id)!;
      await c.h.nb.modify('logical_router', c.router.id, (r) => ({ ...r, ports: r.ports.filter((p) => p.portId !== r2.portId) }));
      await c.h.nb.delete('logical_port', r2.portId);
      await c.h.settle();
      expect(reach()).toEqual([]);
      expect(c.h.runtime.reconciler.flowsOf('l2', `port:${c.vm.far22.id}`)).toEqual([]);
      const back = (await c.h.routerInterface(c.router.id, c.sub.sub2, R2, '10.0.2.1')).router;
      expect(reach()).toEqual([TUN.vxlan]);

      await c.h.nb.modify('logical_router', back.id, (r) => ({ ...r, ports: [] }));
      await c.h.nb.delete('logical_router', back.id);
      await c.h.settle();
      expect(reach()).toEqual([]);
      expect(c.h.runtime.reconciler.ownersOf('l2').filter((o) => o === `port:${c.vm.far22.id}` || o === `port:${c.vm.far23.id}`)).toEqual([]);
    });
  }

  it('the routed-to network going down or losing its segment takes its egress away', async () => {
    const c = await routed({ selective: false });
    await c.h.nb.modify('logical_switch', c.net.net2.id, (n) => ({ ...n, adminStateUp: false }));
    await c.h.settle();
    expect(c.h.trace(fromVm1('10.0.2.22'), 1).ports).toEqual([]);
    await c.h.nb.modify('logical_switch', c.net.net2.id, (n) => ({ ...n, adminStateUp: true }));
    await c.h.settle();
    expect(c.h.trace(fromVm1('10.0.2.22'), 1).ports).toEqual([TUN.vxlan]);
  });

  it('the last local port of the router’s networks leaving takes the egress away; a local port on the routed-to network makes it switched', async () => {
    const c = await routed({ selective: false });
    // a VM of net2 comes to this chassis: net2 is switched here now (lookup, ARP, flood …)
    const near = await c.h.port(c.sub.sub2, '10.0.2.2', mac(0x02));
    await c.h.plug(near, 2);
    expect(c.h.trace(fromVm1('10.0.2.2'), 1).ports).toEqual([2]);
    expect(c.h.runtime.reconciler.flowsOf('l2', `port:${c.vm.far22.id}`)).toHaveLength(3);
    expect(c.h.runtime.reconciler.flowsOf('l2', `network:${c.net.net2.id}`).length).toBeGreaterThan(0);
    // it leaves again: only the egress of net2's remote ports stays
    await c.h.unplug(near);
    expect(c.h.runtime.reconciler.flowsOf('l2', `port:${c.vm.far22.id}`)).toHaveLength(1);
    expect(c.h.runtime.reconciler.flowsOf('l2', `network:${c.net.net2.id}`)).toEqual([]);
    expect(c.h.trace(fromVm1('10.0.2.22'), 1).ports).toEqual([TUN.vxlan]);
    // vm1, the last local port on a network of the router, goes: nothing of net2 stays
    await c.h.unplug(c.vm.vm1);
    expect(c.h.runtime.reconciler.ownersOf('l2')).toEqual([]);
  });

  it('remote ports of a routed-to network come, move and go; a chassis that moves its tunnel IP is reached there', async () => {
    const c = await routed();
    const copies = (dst: string) => tunnelCopies(c.h.trace(fromVm1(dst), 1).outputs);
    await c.h.bindRemote(c.vm.far22, c.c3);
    expect(copies('10.0.2.22')).toEqual([`${TUN.vxlan} 5002→192.0.2.3`]);
    await c.h.bindRemote(c.vm.far22, null);
    expect(copies('10.0.2.22')).toEqual([]);
    expect(c.h.runtime.reconciler.flowsOf('l2', `port:${c.vm.far22.id}`)).toEqual([]);
    const late = await c.h.port(c.sub.sub2, '10.0.2.29', mac(0x29), { chassisId: c.c2.id });
    await c.h.settle();
    expect(copies('10.0.2.29')).toEqual([`${TUN.vxlan} 5002→192.0.2.2`]);
    await c.h.nb.modify('chassis', c.c2.id, (ch) => ({ ...ch, tunnelIp: '192.0.2.42' }));
    await c.h.settle();
    expect(copies('10.0.2.29')).toEqual([`${TUN.vxlan} 5002→192.0.2.42`]);
    await c.h.nb.delete('logical_port', late.id);
    await c.h.settle();
    expect(copies('10.0.2.29')).toEqual([]);
    expect(c.h.runtime.reconciler.flowsOf('l2', `port:${late.id}`)).toEqual([]);
  });

  it('a full recompute (restart) yields the same flows: the routed egress is a pure function of the topology', async () => {
    const c = await routed();
    const before = c.h.fakeSwitch.flowCount();
    await c.h.restart();
    expect(c.h.fakeSwitch.flowCount()).toBe(before);
    expect(c.h.trace(fromVm1('10.0.2.22'), 1).ports).toEqual([TUN.vxlan]);
  });
});
