import type { ChassisLiveness, LogicalRouter } from './tables.js';

/** What the choice of a router's active gateway chassis reads of its gateway. */
export interface GatewayPlacement {
  /** The gateway chassis in order of preference (df-api's placement). */
  readonly chassisIds: readonly string[];
  /** true: the first live chassis always wins; false: a live chassis that took the gateway over keeps it. */
  readonly preempt?: boolean;
}

/** The liveness record of a chassis, undefined when it has none (its lease expired, or it never ran). */
export type LivenessOf = (chassisId: string) => (Pick<ChassisLiveness, 'activeGateways'> & Partial<Pick<ChassisLiveness, 'gatewayEpochs'>>) | undefined;

/** The epoch of a chassis' claim on a router (0: no epoch recorded), undefined when it does not claim the router. */
export function claimEpoch(record: ReturnType<LivenessOf>, routerId: string): number | undefined {
  if (!record?.activeGateways.includes(routerId)) return undefined;
  return record.gatewayEpochs?.[routerId] ?? 0;
}

/** The highest epoch of the live claims on a router (−1: nobody claims it); a new claim takes this + 1. */
export function highestClaimEpoch(routerId: string, chassisIds: readonly string[], liveness: LivenessOf): number {
  let max = -1;
  for (const id of chassisIds) {
    const e = claimEpoch(liveness(id), routerId);
    if (e !== undefined && e > max) max = e;
  }
  return max;
}

/**
 * The active gateway chassis of a router: the one where centralized NAT translates
 * for it and where every other chassis sends its external traffic. Computed the same
 * way on every chassis from the NB (the placement and the liveness records):
 *
 * - a live chassis of the list whose liveness record claims the router keeps it (it
 *   took the gateway over; no pre-emption) — when several do, the claim with the
 *   highest epoch (a takeover on BFD evidence overrides the dead holder's claim
 *   while its lease runs out), equal epochs (a race the claim's compare-and-set
 *   prevents): the first in order of preference;
 * - otherwise the first live chassis in order of preference;
 * - no live chassis at all: the first of the list (nothing translates until one
 *   lives; this is also what a chassis sees before the liveness records reach it).
 *
 * With `preempt`, claims are ignored: the first live chassis in order of preference.
 */
export function activeGatewayChassis(routerId: string, gateway: GatewayPlacement, liveness: LivenessOf): string | undefined {
  const live = gateway.chassisIds.filter((id) => liveness(id) !== undefined);
  if (live.length === 0) return gateway.chassisIds[0];
  if (!gateway.preempt) {
    let holder: string | undefined;
    let best = -1;
    for (const id of live) {
      const e = claimEpoch(liveness(id), routerId);
      if (e !== undefined && e > best) {
        best = e;
        holder = id;
      }
    }
    if (holder !== undefined) return holder;
  }
  return live[0];
}

/** The active gateway chassis of a router (activeGatewayChassis), or undefined when it has no gateway. */
export function activeGatewayOf(router: Pick<LogicalRouter, 'id' | 'externalGateway'>, liveness: LivenessOf): string | undefined {
  const gw = router.externalGateway;
  return gw ? activeGatewayChassis(router.id, gw, liveness) : undefined;
}
