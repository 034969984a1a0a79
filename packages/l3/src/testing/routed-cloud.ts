import { packet, type Chassis, type LogicalPort, type LogicalRouter, type LogicalSwitch, type Subnet } from '@dragonflow/core';
import { startHarness, type Harness, type HarnessApp } from '@dragonflow/testing';

/** br-int's VXLAN tunnel port in these tests. */
export const TUNNEL_PORT = 100;

export const vmMac = (n: number): string => `fa:16:3e:00:00:${n.toString(16).padStart(2, '0')}`;
/** The router's MAC on network N (its interface port's MAC). */
export const routerMac = (n: number): string => `fa:16:3e:00:0${n}:01`;

export interface RoutedCloud {
  readonly h: Harness;
  readonly c2: Chassis;
  readonly net: Record<'net1' | 'net2' | 'net3', LogicalSwitch>;
  readonly sub: Record<'sub1' | 'sub2' | 'sub3', Subnet>;
  readonly router: LogicalRouter;
  /**
   * vm1 10.0.1.11 (net1, ofport 1), vm2 10.0.2.12 (net2, ofport 2), vm5 10.0.3.15
   * (net3, not routed, ofport 5) on this chassis; vm3 10.0.2.13 (net2) and vm4
   * 10.0.1.14 (net1) on chassis-2.
   */
  readonly vm: Record<'vm1' | 'vm2' | 'vm3' | 'vm4' | 'vm5', LogicalPort>;
}

/**
 * Adds a router interface the way df-api does: a port with the subnet's gateway IP
 * (device owner network:router_interface, bound nowhere) and the router's entry for it.
 */
export async function addRouterInterface(h: Harness, router: LogicalRouter | string, subnet: Subnet, mac: string, ip = subnet.gatewayIp ?? undefined): Promise<LogicalPort> {
  return (await h.routerInterface(router, subnet, mac, ip)).port;
}

/** Removes a router interface as df-api does: the router's entry, then its port. */
export async function removeRouterInterface(h: Harness, router: LogicalRouter | string, subnet: Subnet): Promise<void> {
  const id = typeof router === 'string' ? router : router.id;
  const r = await h.nb.require('logical_router', id);
  const rp = r.ports.find((p) => p.subnetId === subnet.id);
  if (!rp) throw new Error(`router ${id} has no interface on ${subnet.cidr}`);
  await h.nb.update('logical_router', { ...r, ports: r.ports.filter((p) => p !== rp) });
  await h.nb.delete('logical_port', rp.portId);
  await h.settle();
}

/**
 * Two routed networks and one that is not, on this chassis (chassis-1, 192.0.2.1)
 * and chassis-2 (192.0.2.2): net1 10.0.1.0/24 (VXLAN 1001) and net2 10.0.2.0/24
 * (VXLAN 1002) behind one router (10.0.1.1 and 10.0.2.1, MACs routerMac(1/2));
 * net3 10.0.3.0/24 (VXLAN 1003) on no router.
 */
export async function routedCloud(apps: readonly HarnessApp[]): Promise<RoutedCloud> {
  const h = await startHarness({ apps, infraPorts: { tunnels: { vxlan: TUNNEL_PORT }, providers: {} } });
  const c2 = await h.addChassis('chassis-2', { tunnelIp: '192.0.2.2' });
  const net = {
    net1: await h.network('net1', { networkType: 'vxlan', segmentationId: 1001 }),
    net2: await h.network('net2', { networkType: 'vxlan', segmentationId: 1002 }),
    net3: await h.network('net3', { networkType: 'vxlan', segmentationId: 1003 }),
  };
  const sub = {
    sub1: await h.subnet(net.net1, '10.0.1.0/24', { gatewayIp: '10.0.1.1' }),
    sub2: await h.subnet(net.net2, '10.0.2.0/24', { gatewayIp: '10.0.2.1' }),
    sub3: await h.subnet(net.net3, '10.0.3.0/24', { gatewayIp: '10.0.3.1' }),
  };
  const vm = {
    vm1: await h.port(sub.sub1, '10.0.1.11', vmMac(0x11)),
    vm2: await h.port(sub.sub2, '10.0.2.12', vmMac(0x12)),
    vm3: await h.port(sub.sub2, '10.0.2.13', vmMac(0x13), { chassisId: c2.id }),
    vm4: await h.port(sub.sub1, '10.0.1.14', vmMac(0x14), { chassisId: c2.id }),
    vm5: await h.port(sub.sub3, '10.0.3.15', vmMac(0x15)),
  };
  const router = await h.nb.create('logical_router', { name: 'router1' });
  await addRouterInterface(h, router, sub.sub1, routerMac(1));
  await addRouterInterface(h, router, sub.sub2, routerMac(2));
  await h.plug(vm.vm1, 1);
  await h.plug(vm.vm2, 2);
  await h.plug(vm.vm5, 5);
  return { h, c2, net, sub, router: await h.nb.require('logical_router', router.id), vm };
}

/**
 * The app contract's scenario for an L3 app (run with l2): net1 10.0.1.0/24 and net2
 * 10.0.2.0/24 behind router `r` (with `routes`), vm1 10.0.1.11 on ofport 1 and vm2
 * 10.0.2.12 on ofport 2, all on this chassis.
 */
export async function contractScenario(h: Harness, routes: LogicalRouter['routes'] = []): Promise<void> {
  const net1 = await h.network('net1');
  const net2 = await h.network('net2');
  const sub1 = await h.subnet(net1, '10.0.1.0/24', { gatewayIp: '10.0.1.1' });
  const sub2 = await h.subnet(net2, '10.0.2.0/24', { gatewayIp: '10.0.2.1' });
  const router = await h.nb.create('logical_router', { name: 'r', routes });
  await addRouterInterface(h, router, sub1, routerMac(1));
  await addRouterInterface(h, router, sub2, routerMac(2));
  await h.plug(await h.port(sub1, '10.0.1.11', vmMac(0x11)), 1);
  await h.plug(await h.port(sub2, '10.0.2.12', vmMac(0x12)), 2);
}

/** The contract's teardown: every router (its interfaces first, as df-api requires), then every port. */
export async function contractTeardown(h: Harness): Promise<void> {
  for (const r of await h.nb.reader.list('logical_router')) {
    await h.nb.update('logical_router', { ...r, ports: [] });
    await h.nb.delete('logical_router', r.id);
  }
  for (const p of await h.nb.reader.list('logical_port')) {
    await h.unplug(p.id);
    await h.nb.delete('logical_port', p.id);
  }
}

/** An echo request (or, with `udp`, a UDP datagram) from one address to another. */
export function ipPacket(o: { srcMac: string; dstMac: string; src: string; dst: string; ttl?: number; udp?: boolean; seq?: number }): packet.EthernetFrame {
  return packet.ethernet({
    src: o.srcMac,
    dst: o.dstMac,
    payload: packet.ipv4({
      src: o.src,
      dst: o.dst,
      ttl: o.ttl ?? 64,
      payload: o.udp ? packet.udp({ srcPort: 40000, dstPort: 5001, payload: 'hello' }) : packet.icmpEchoRequest({ id: 7, seq: o.seq ?? 1, data: 'abcdefgh' }),
    }),
  });
}

/** The IPv4 header of a frame (throws when it is not IPv4). */
export function ipv4Of(f: packet.EthernetFrame): packet.Ipv4Packet {
  if (f.payload.kind !== 'ipv4') throw new Error(`not IPv4: ${packet.describeFrame(f)}`);
  return f.payload;
}
