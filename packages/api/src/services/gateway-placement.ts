import type { NbTransaction } from '@dragonflow/nb';

/** Where a router's gateway goes: gateway chassis ids in order of preference (the active one first) and the active one's name. */
export interface GatewayPlacement {
  readonly chassisIds: string[];
  /** The active gateway chassis' name (the gateway port's binding:host_id); '' when there is none. */
  readonly host: string;
}

/**
 * Chooses the gateway chassis of a router's gateway: among the chassis registered
 * as gateways whose controller is alive (a chassis_liveness record), the one
 * active for the fewest routers first, ties broken by name — so the same state gives
 * the same choice, and routers spread over the gateways. The others follow in the
 * same order as the fallback list (used when gateways fail over; docs/nat.md).
 * No live gateway chassis: an empty placement (the router has no NAT until its
 * gateway is set again; df-api says so in its log).
 */
export async function placeGateway(tx: Pick<NbTransaction, 'list' | 'get'>, routerId: string): Promise<GatewayPlacement> {
  const gateways = [];
  for (const c of await tx.list('chassis')) if (c.gateway && (await tx.get('chassis_liveness', c.id))) gateways.push(c);
  if (gateways.length === 0) return { chassisIds: [], host: '' };
  const load = new Map<string, number>();
  for (const r of await tx.list('logical_router')) {
    const active = r.id === routerId ? undefined : r.externalGateway?.chassisIds[0];
    if (active !== undefined) load.set(active, (load.get(active) ?? 0) + 1);
  }
  gateways.sort((a, b) => (load.get(a.id) ?? 0) - (load.get(b.id) ?? 0) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { chassisIds: gateways.map((c) => c.id), host: gateways[0]!.name };
}
