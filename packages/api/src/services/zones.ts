import type { NbApi, NbTransaction } from '@dragonflow/nb';
import { NeutronError } from '../neutron/errors.js';

/*
 * Availability zones are the zones of the chassis (df-controller's
 * chassis.availabilityZone). A zone is available while one of its chassis is alive.
 */

/** Chassis registered before zones existed are in the default zone. */
const DEFAULT_ZONE = 'nova';

/** zone → whether a chassis of it is alive. */
export async function zoneStates(nb: NbApi): Promise<Map<string, boolean>> {
  const alive = new Set((await nb.list('chassis_liveness')).map((l) => l.id));
  const zones = new Map<string, boolean>();
  for (const c of await nb.list('chassis')) {
    const zone = c.availabilityZone ?? DEFAULT_ZONE;
    zones.set(zone, (zones.get(zone) ?? false) || alive.has(c.id));
  }
  return zones;
}

/** The names of the zones, sorted. */
export async function zoneNames(nb: Pick<NbTransaction, 'list'> | NbApi): Promise<string[]> {
  const names = new Set<string>();
  for (const c of await nb.list('chassis')) names.add(c.availabilityZone ?? DEFAULT_ZONE);
  return [...names].sort();
}

/** Hints must name zones that exist (Neutron's AvailabilityZoneNotFound). */
export async function checkZoneHints(tx: Pick<NbTransaction, 'list'>, hints: readonly string[] | undefined): Promise<string[]> {
  if (hints === undefined || hints.length === 0) return [];
  const known = new Set(await zoneNames(tx));
  for (const h of hints) {
    if (!known.has(h)) throw new NeutronError(404, 'AvailabilityZoneNotFound', `AvailabilityZone ${h} could not be found.`, { field: 'availability_zone_hints', zone: h });
  }
  return [...new Set(hints)];
}

/**
 * Where a network or router is: a distributed one is on every chassis that needs it,
 * so in every zone — or in the zones its hints name.
 */
export function zonesOf(hints: readonly string[] | undefined, zones: readonly string[]): string[] {
  return hints && hints.length > 0 ? [...hints] : [...zones];
}
