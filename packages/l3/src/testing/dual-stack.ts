import { packet, type Subnet } from '@dragonflow/core';
import type { HarnessApp } from '@dragonflow/testing';
import { addRouterInterface, routedCloud, routerMac, vmMac, type RoutedCloud } from './routed-cloud.js';

/** The router's MAC on network N's IPv6 subnet (its own interface port). */
export const routerMac6 = (n: number): string => `fa:16:3e:00:0${n}:06`;

export interface DualStackCloud extends RoutedCloud {
  readonly sub6: Record<'sub1' | 'sub2', Subnet>;
}

/**
 * The routed cloud made dual stack: net1 also fd00:1::/64 and net2 fd00:2::/64 on
 * the router (fd00:1::1 and fd00:2::1, MACs routerMac6(1/2)); vm1 fd00:1::11,
 * vm2 fd00:2::12, vm3 fd00:2::13 (chassis-2), vm4 fd00:1::14 (chassis-2).
 */
export async function dualStackCloud(apps: readonly HarnessApp[]): Promise<DualStackCloud> {
  const c = await routedCloud(apps);
  const { h } = c;
  const sub6 = {
    sub1: await h.subnet(c.net.net1, 'fd00:1::/64', { gatewayIp: 'fd00:1::1', ipv6RaMode: 'slaac', ipv6AddressMode: 'slaac' }),
    sub2: await h.subnet(c.net.net2, 'fd00:2::/64', { gatewayIp: 'fd00:2::1', ipv6RaMode: 'slaac', ipv6AddressMode: 'slaac' }),
  };
  const add = async (name: 'vm1' | 'vm2' | 'vm3' | 'vm4', sub: Subnet, ip: string) =>
    h.nb.modify('logical_port', c.vm[name].id, (p) => ({ ...p, fixedIps: [...p.fixedIps, { subnetId: sub.id, ipAddress: ip }] }));
  await add('vm1', sub6.sub1, 'fd00:1::11');
  await add('vm2', sub6.sub2, 'fd00:2::12');
  await add('vm3', sub6.sub2, 'fd00:2::13');
  await add('vm4', sub6.sub1, 'fd00:1::14');
  // A router interface per IPv6 subnet: its own port and MAC, as df-api makes them.
  await addRouterInterface(h, c.router, sub6.sub1, routerMac6(1));
  await addRouterInterface(h, c.router, sub6.sub2, routerMac6(2));
  await h.settle();
  return { ...c, router: await h.nb.require('logical_router', c.router.id), sub6, vm: { ...c.vm, ...Object.fromEntries(await Promise.all(Object.entries(c.vm).map(async ([k, v]) => [k, await h.nb.require('logical_port', v.id)]))) } };
}

/** An ICMPv6 echo request (or, with `udp`, a UDP datagram) between two IPv6 addresses. */
export function ip6Packet(o: { srcMac: string; dstMac: string; src: string; dst: string; hopLimit?: number; udp?: boolean }): packet.EthernetFrame {
  return packet.ethernet({
    src: o.srcMac,
    dst: o.dstMac,
    payload: packet.ipv6({
      src: o.src,
      dst: o.dst,
      hopLimit: o.hopLimit ?? 64,
      payload: o.udp ? packet.udp({ srcPort: 40000, dstPort: 5001, payload: 'hello' }) : packet.icmpv6Echo({ id: 7, seq: 1, data: 'abcdefgh' }),
    }),
  });
}

export function ipv6Of(frame: packet.EthernetFrame): packet.Ipv6Packet {
  if (frame.payload.kind !== 'ipv6') throw new Error(`not IPv6: ${packet.describeFrame(frame)}`);
  return frame.payload;
}

export { vmMac, routerMac };
