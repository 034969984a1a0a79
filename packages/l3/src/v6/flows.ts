import { FLAG_ROUTED, IpProto, METADATA_NETWORK_MASK, REG_DST_PORT, REG_FLAGS, REG_ROUTER, act, flow, type DesiredFlow, type MatchSpec } from '@dragonflow/core';
import { PRIORITY, type L3TableRefs } from '../flows.js';
import type { V6Delivery, V6Router } from './model.js';

const ETH_IPV6 = 0x86dd;
const ICMPV6_ECHO_REQUEST = 128;

const onNetwork = (key: number): MatchSpec => ({ metadata: [BigInt(key), METADATA_NETWORK_MASK] });

/**
 * The IPv6 flows of a router, installed up front in both modes (the reactive mode's
 * first-packet path is IPv4's; docs/ipv6.md):
 *
 * - ingress, per IPv6 interface: echo requests to any of the router's IPv6
 *   addresses and hop limit ≤ 1 go to the punt table (the controller answers: an
 *   echo reply, time exceeded); other IPv6 to the router MAC is tagged with the
 *   router key and goes to routing;
 * - routing: a host route per port address on a connected subnet and each extra
 *   route (MAC rewrite, hop limit − 1, destination network and port); the router's
 *   own addresses are dropped; everything else goes to the punt table, where the
 *   controller answers destination unreachable.
 */
export function v6RouterFlows(t: L3TableRefs, router: V6Router, deliveries: readonly { destination: { prefixLength: number; toString(): string }; delivery: V6Delivery }[]): DesiredFlow[] {
  if (router.interfaces.length === 0) return [];
  const out: DesiredFlow[] = [];
  const tag = act.setField(REG_ROUTER, router.key);
  const networks = new Map<string, (typeof router.interfaces)[number]>();
  for (const iface of router.interfaces) networks.set(`${iface.networkKey}/${iface.mac.toString()}`, iface);
  for (const iface of networks.values()) {
    const here = { ...onNetwork(iface.networkKey), eth_dst: iface.mac, eth_type: ETH_IPV6 };
    for (const target of router.interfaces) {
      out.push(flow(t.ingress, { priority: PRIORITY.ECHO, match: { ...here, ip_proto: IpProto.ICMPV6, icmpv6_type: ICMPV6_ECHO_REQUEST, ipv6_dst: target.ip }, actions: [tag], goto: t.punt }));
    }
    for (const ttl of [0, 1]) out.push(flow(t.ingress, { priority: PRIORITY.TTL, match: { ...here, nw_ttl: ttl }, actions: [tag], goto: t.punt }));
    out.push(flow(t.ingress, { priority: PRIORITY.CLASSIFY, match: here, actions: [tag], goto: t.routing }));
  }
  const seen = new Set<string>();
  for (const iface of router.interfaces) {
    if (seen.has(iface.ip.toString())) continue;
    seen.add(iface.ip.toString());
    out.push(flow(t.routing, { priority: PRIORITY.ROUTER_IP, match: { [REG_ROUTER]: router.key, eth_type: ETH_IPV6, ipv6_dst: iface.ip } }));
  }
  for (const { destination, delivery } of deliveries) {
    out.push(
      flow(t.routing, {
        priority: PRIORITY.PREFIX_BASE + destination.prefixLength,
        match: { [REG_ROUTER]: router.key, eth_type: ETH_IPV6, ipv6_dst: destination.toString() },
        actions: [
          { type: 'set_field', field: 'eth_src', value: delivery.egress.mac },
          { type: 'set_field', field: 'eth_dst', value: delivery.portMac },
          act.decNwTtl(),
          act.setField(REG_DST_PORT, delivery.port.key),
          act.load(REG_FLAGS, FLAG_ROUTED, FLAG_ROUTED),
        ],
        writeMetadata: { value: BigInt(delivery.egress.networkKey), mask: METADATA_NETWORK_MASK },
        goto: t.afterRouting,
      }),
    );
  }
  // No host route: the controller says why (no port on a connected subnet, or no route at all).
  out.push(flow(t.routing, { priority: PRIORITY.ROUTE_PUNT, match: { [REG_ROUTER]: router.key, eth_type: ETH_IPV6 }, goto: t.punt }));
  return out;
}
