import { IpNetwork, Ipv4Address, MacAddress } from '@dragonflow/base';
import { activeGatewayChassis, type LogicalRouter, type TopologyReader } from '@dragonflow/core';
import type { RouterInterface, StaticRoute } from './model.js';

/** Neutron's device owner of a router's gateway port on an external network. */
export const ROUTER_GATEWAY_OWNER = 'network:router_gateway';

/**
 * A router's external gateway as routing and NAT see it: its port on the external
 * network (an interface of the router there, with its MAC and IPv4 address), the
 * external subnet's gateway (the default next hop), whether SNAT is on, and the
 * chassis df-api placed it on and the active one among them (activeGatewayChassis:
 * the one that holds it while it lives, docs/ha.md).
 */
export interface RouterGateway extends RouterInterface {
  /** The external subnet's gateway IP: the next hop of the default route (none: no default route). */
  readonly nextHop: Ipv4Address | undefined;
  readonly enableSnat: boolean;
  /** The active gateway chassis (where centralized NAT translates for the router, activeGatewayChassis), if any. */
  readonly chassisId: string | undefined;
  /** Every gateway chassis chosen for the router, in order of preference. */
  readonly candidates: readonly string[];
}

/**
 * The gateway of a router, when it has one on an external network this chassis
 * knows, with an IPv4 address on a subnet this chassis knows. IPv6 gateway
 * addresses are ignored (IPv4 only, docs/l3.md).
 */
export function gatewayOf(topology: TopologyReader, r: LogicalRouter): RouterGateway | undefined {
  const gw = r.externalGateway;
  if (!gw) return undefined;
  const network = topology.get('logical_switch', gw.networkId);
  const port = topology.get('logical_port', gw.portId);
  if (!network || !port) return undefined;
  for (const f of port.fixedIps) {
    if (f.ipAddress.includes(':')) continue;
    const subnet = topology.get('subnet', f.subnetId);
    if (!subnet || subnet.cidr.includes(':')) continue;
    return {
      routerId: r.id,
      routerKey: r.key,
      portId: port.id,
      networkId: network.id,
      networkKey: network.key,
      subnetId: subnet.id,
      mac: MacAddress.parse(port.macAddress),
      ip: Ipv4Address.parse(f.ipAddress),
      cidr: IpNetwork.parse(subnet.cidr),
      nextHop: subnet.gatewayIp !== null && !subnet.gatewayIp.includes(':') ? Ipv4Address.parse(subnet.gatewayIp) : undefined,
      enableSnat: gw.enableSnat,
      chassisId: activeGatewayChassis(r.id, gw, (id) => topology.get('chassis_liveness', id)),
      candidates: gw.chassisIds,
    };
  }
  return undefined;
}

/**
 * One route that leaves the router through its gateway: the external subnet itself
 * (next hop: the destination), an extra route whose next hop is on the external
 * subnet, or the default route via the external subnet's gateway.
 */
export interface ExternalRoute {
  readonly prefix: IpNetwork;
  /** The next hop's address; undefined: the destination itself (the external subnet's connected route). */
  readonly nextHop: Ipv4Address | undefined;
}

const DEFAULT_ROUTE = IpNetwork.parse('0.0.0.0/0');

/**
 * The routes a router sends through its gateway, in no particular order (the route
 * table orders them with the others by prefix length). An extra route whose next
 * hop is on the external subnet is one; the default route exists when the external
 * subnet has a gateway IP and no extra route is for 0.0.0.0/0.
 */
export function externalRoutes(gateway: RouterGateway, routes: readonly StaticRoute[]): ExternalRoute[] {
  const out: ExternalRoute[] = [{ prefix: gateway.cidr, nextHop: undefined }];
  const statics = routes.filter((rt) => gateway.cidr.contains(rt.nexthop) && !rt.nexthop.equals(gateway.ip)).sort((a, b) => a.nexthop.value - b.nexthop.value);
  const seen = new Set<string>([gateway.cidr.toString()]);
  for (const rt of statics) {
    const k = rt.destination.toString();
    if (seen.has(k)) continue;
    seen.add(k);
    out.push({ prefix: rt.destination, nextHop: rt.nexthop });
  }
  if (gateway.nextHop && !seen.has(DEFAULT_ROUTE.toString())) out.push({ prefix: DEFAULT_ROUTE, nextHop: gateway.nextHop });
  return out;
}
