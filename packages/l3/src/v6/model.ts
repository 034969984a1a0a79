import { IpNetwork, Ipv6Address, MacAddress } from '@dragonflow/base';
import type { LogicalPort, LogicalRouter, TopologyReader } from '@dragonflow/core';

/** One IPv6 interface of a router: its port on a network, with that subnet's gateway MAC and address. */
export interface V6Interface {
  readonly portId: string;
  readonly networkId: string;
  readonly networkKey: number;
  readonly subnetId: string;
  readonly mac: MacAddress;
  readonly ip: Ipv6Address;
  readonly cidr: IpNetwork;
}

/** A router's IPv6 side: the interfaces and extra routes the IPv4 model leaves out. */
export interface V6Router {
  readonly id: string;
  readonly key: number;
  readonly interfaces: readonly V6Interface[];
  readonly routes: readonly { readonly destination: IpNetwork; readonly nexthop: Ipv6Address }[];
}

/** Where the router sends a packet to one address: out of `egress` to `port`. */
export interface V6Delivery {
  readonly prefix: IpNetwork;
  readonly egress: V6Interface;
  readonly port: LogicalPort;
  readonly portMac: MacAddress;
}

export type V6Decision =
  | ({ readonly kind: 'forward' } & V6Delivery)
  | { readonly kind: 'router-ip'; readonly iface: V6Interface }
  | { readonly kind: 'unreachable'; readonly reason: 'no-port' | 'no-route' };

const v6 = (text: string): Ipv6Address | undefined => (text.includes(':') ? Ipv6Address.parse(text) : undefined);

/** The IPv6 view of a router (undefined when it is down): routed the way the IPv4 model routes, by longest prefix. */
export function v6Router(topology: TopologyReader, r: LogicalRouter): V6Router | undefined {
  if (!r.adminStateUp) return undefined;
  const interfaces: V6Interface[] = [];
  for (const p of r.ports) {
    const ip = v6(p.ipAddress);
    const network = ip ? topology.get('logical_switch', p.networkId) : undefined;
    if (!ip || !network) continue;
    interfaces.push({ portId: p.portId, networkId: p.networkId, networkKey: network.key, subnetId: p.subnetId, mac: MacAddress.parse(p.macAddress), ip, cidr: IpNetwork.parse(p.cidr) });
  }
  const routes = r.routes.flatMap((rt) => {
    const nexthop = v6(rt.nexthop);
    const destination = IpNetwork.parse(rt.destination, 'destination', false);
    return nexthop && destination.family === 6 ? [{ destination, nexthop }] : [];
  });
  return { id: r.id, key: r.key, interfaces, routes };
}

/** The port of `networkId` holding `ip` as a fixed IP, when it can receive traffic. */
function portWithIp(topology: TopologyReader, networkId: string, ip: Ipv6Address): LogicalPort | undefined {
  return topology.lookup('logical_port', 'ip', `${networkId}/${ip.toString()}`).find((p) => p.adminStateUp);
}

/** The router's routes, longest prefix first: connected subnets (which win a tie), then extra routes. */
export function v6RouteTable(router: V6Router): ({ kind: 'connected'; prefix: IpNetwork; iface: V6Interface } | { kind: 'static'; prefix: IpNetwork; nexthop: Ipv6Address })[] {
  const seen = new Set<string>();
  const out: ({ kind: 'connected'; prefix: IpNetwork; iface: V6Interface } | { kind: 'static'; prefix: IpNetwork; nexthop: Ipv6Address })[] = [];
  for (const iface of router.interfaces) {
    if (seen.has(iface.cidr.toString())) continue;
    seen.add(iface.cidr.toString());
    out.push({ kind: 'connected', prefix: iface.cidr, iface });
  }
  for (const rt of [...router.routes].sort((a, b) => (a.nexthop.value < b.nexthop.value ? -1 : a.nexthop.value > b.nexthop.value ? 1 : 0))) {
    if (seen.has(rt.destination.toString())) continue;
    seen.add(rt.destination.toString());
    out.push({ kind: 'static', prefix: rt.destination, nexthop: rt.nexthop });
  }
  return out.sort((a, b) => b.prefix.prefixLength - a.prefix.prefixLength);
}

/** What the router does with a packet to `dst`. */
export function decideV6(topology: TopologyReader, router: V6Router, dst: Ipv6Address): V6Decision {
  const own = router.interfaces.find((i) => i.ip.equals(dst));
  if (own) return { kind: 'router-ip', iface: own };
  const route = v6RouteTable(router).find((r) => r.prefix.contains(dst));
  if (!route) return { kind: 'unreachable', reason: 'no-route' };
  const target = route.kind === 'connected' ? { iface: route.iface, ip: dst } : resolveNexthop(router, route.nexthop);
  const port = target && portWithIp(topology, target.iface.networkId, target.ip);
  if (!target || !port || router.interfaces.some((i) => i.portId === port.id)) return { kind: 'unreachable', reason: 'no-port' };
  return { kind: 'forward', prefix: route.prefix, egress: target.iface, port, portMac: MacAddress.parse(port.macAddress) };
}

function resolveNexthop(router: V6Router, nexthop: Ipv6Address): { iface: V6Interface; ip: Ipv6Address } | undefined {
  const iface = router.interfaces.find((i) => i.cidr.contains(nexthop) && !i.ip.equals(nexthop));
  return iface ? { iface, ip: nexthop } : undefined;
}

/**
 * Every delivery the router makes, for proactive flows: a host route per IPv6
 * address of a port on a connected subnet (unless a longer extra route takes it),
 * and each extra route whose next hop resolves to a port.
 */
export function v6Deliveries(topology: TopologyReader, router: V6Router): { destination: IpNetwork; delivery: V6Delivery }[] {
  const own = new Set(router.interfaces.map((i) => i.portId));
  const out: { destination: IpNetwork; delivery: V6Delivery }[] = [];
  for (const iface of router.interfaces) {
    for (const port of topology.lookup('logical_port', 'subnet', iface.subnetId)) {
      if (own.has(port.id) || port.networkId !== iface.networkId) continue;
      for (const f of port.fixedIps) {
        const ip = f.subnetId === iface.subnetId ? v6(f.ipAddress) : undefined;
        if (!ip) continue;
        const d = decideV6(topology, router, ip);
        if (d.kind === 'forward' && d.port.id === port.id) out.push({ destination: IpNetwork.parse(`${ip.toString()}/128`), delivery: d });
      }
    }
  }
  for (const route of v6RouteTable(router)) {
    if (route.kind !== 'static') continue;
    const d = decideV6(topology, router, route.prefix.first as Ipv6Address);
    if (d.kind === 'forward' && d.prefix.equals(route.prefix)) out.push({ destination: route.prefix, delivery: d });
  }
  return out;
}
