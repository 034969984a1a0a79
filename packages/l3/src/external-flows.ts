import { FLAG_ROUTED, METADATA_NETWORK_MASK, REG_DST_PORT, REG_FLAGS, REG_ROUTER, act, flow, type Action, type DesiredFlow } from '@dragonflow/core';
import type { L3TableRefs } from './flows.js';
import { PRIORITY } from './flows.js';
import type { RouterGateway } from './gateway.js';
import type { L3Model, Router } from './model.js';

const ETH_IPV4 = 0x0800;

/**
 * The actions of a packet routed out through the gateway: source MAC := the gateway
 * port's, TTL−1, no destination port (reg7 := 0: the NAT apps put it on the provider
 * network, nothing switches it), ROUTED. The destination MAC is left to the NAT
 * apps, which know the next hop's (docs/nat.md); reg5 stays the router key.
 */
export function externalActions(gw: RouterGateway): Action[] {
  return [{ type: 'set_field', field: 'eth_src', value: gw.mac }, act.decNwTtl(), act.setField(REG_DST_PORT, 0), act.load(REG_FLAGS, FLAG_ROUTED, FLAG_ROUTED)];
}

/**
 * The routing flows of a router's routes through its gateway (the external
 * subnet, extra routes via a next hop there, the default route): reg5 + prefix →
 * the external rewrite, metadata := the external network, on to the table after
 * the L3 app's (the NAT apps' `l3` tables). Both L3 apps install them up front:
 * whatever leaves through the gateway is decided by prefix alone, so the reactive
 * app has nothing to learn per destination (docs/l3.md, "The external gateway").
 */
export function externalRouteFlows(t: L3TableRefs, model: Pick<L3Model, 'routeTable'>, router: Router): DesiredFlow[] {
  const gw = router.gateway;
  if (!gw) return [];
  const out: DesiredFlow[] = [];
  for (const route of model.routeTable(router)) {
    if (route.kind !== 'external') continue;
    out.push(
      flow(t.routing, {
        priority: PRIORITY.PREFIX_BASE + route.prefix.prefixLength,
        match: { [REG_ROUTER]: router.key, eth_type: ETH_IPV4, ...(route.prefix.prefixLength > 0 ? { ipv4_dst: route.prefix.toString() } : {}) },
        actions: externalActions(gw),
        writeMetadata: { value: BigInt(gw.networkKey), mask: METADATA_NETWORK_MASK },
        goto: t.afterRouting,
      }),
    );
  }
  return out;
}
