import { DfError } from '@dragonflow/base';

/**
 * Conntrack zones, handed out by the core as it hands out registers, so that
 * overlapping tenant addresses never share conntrack state and no two apps pick the
 * same zone by accident. A zone is 16 bits; zone 0 (the datapath's default) is never
 * given out. The space is cut in four blocks, one per kind of zone:
 *
 * | kind | zones | for |
 * |---|---|---|
 * | port | 1 – 32767 | per logical port (e.g. a stateful firewall per VM) |
 * | network | 32768 – 49151 | per network (e.g. security groups per network) |
 * | router | 49152 – 65279 | per router (e.g. SNAT/DNAT) |
 * | shared | 65280 – 65535 | fixed zones an app declares by name (`zones: ['…']`) |
 *
 * A scoped zone is the object's unique key folded into its block, so it is the same
 * on every chassis and after every controller restart (conntrack entries in the
 * switch survive a restart and must keep meaning the same thing). Two objects whose
 * keys fold to the same zone on one chassis (keys a multiple of the block size
 * apart) get the next free zone instead: rare, and then stable while both live;
 * `ZoneTable.collisions` counts it. Apps asking for the same kind and key share the
 * zone: the zone belongs to the object, not to the app.
 */
export type ZoneScope = 'port' | 'network' | 'router';

export const ZONE_BLOCKS: Readonly<Record<ZoneScope | 'shared', { readonly first: number; readonly last: number }>> = Object.freeze({
  port: { first: 1, last: 0x7fff },
  network: { first: 0x8000, last: 0xbfff },
  router: { first: 0xc000, last: 0xfeff },
  shared: { first: 0xff00, last: 0xffff },
});

/** The shared zones of the apps, in config order: the first declared gets 65280, and so on. */
export function allocateSharedZones(requests: readonly { readonly app: string; readonly zones?: readonly string[] }[]): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  let next = ZONE_BLOCKS.shared.first;
  for (const r of requests) {
    const zones: Record<string, number> = {};
    for (const name of r.zones ?? []) {
      if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new DfError('PIPELINE_INVALID', `app '${r.app}': zone name '${name}' must be lower-case letters, digits and dashes`, { context: { app: r.app, zone: name } });
      if (zones[name] !== undefined) throw new DfError('PIPELINE_INVALID', `app '${r.app}': declares zone '${name}' twice`, { context: { app: r.app, zone: name } });
      if (next > ZONE_BLOCKS.shared.last) throw new DfError('PIPELINE_INVALID', `app '${r.app}': zone '${name}' does not fit: the ${ZONE_BLOCKS.shared.last - ZONE_BLOCKS.shared.first + 1} shared zones are taken`, { context: { app: r.app, zone: name } });
      zones[name] = next++;
    }
    out.set(r.app, zones);
  }
  return out;
}

/** The chassis' scoped zones: one per (kind, object key) in use, shared by every app. */
export class ZoneTable {
  private readonly byObject = new Map<string, { zone: number; holders: Set<string> }>();
  private readonly taken = new Map<number, string>();
  /** How many objects did not get their folded zone (another object on this chassis had it). */
  collisions = 0;

  /** The zone of an object (a port, network or router, by its unique key), held by `holder` (an app); the same for every app. */
  zone(scope: ZoneScope, key: number, holder: string): number {
    const block = ZONE_BLOCKS[scope];
    if (!block || scope === ('shared' as string)) throw new DfError('ZONE_INVALID', `zone scope '${String(scope)}' is not port, network or router`, { context: { scope } });
    if (!Number.isInteger(key) || key < 1) throw new DfError('ZONE_INVALID', `a ${scope} zone needs the object's unique key (an integer ≥ 1), got ${String(key)}`, { context: { scope, key } });
    const id = `${scope}/${key}`;
    const have = this.byObject.get(id);
    if (have !== undefined) {
      have.holders.add(holder);
      return have.zone;
    }
    const size = block.last - block.first + 1;
    const home = block.first + ((key - 1) % size);
    for (let i = 0; i < size; i++) {
      const z = block.first + ((home - block.first + i) % size);
      if (this.taken.has(z)) continue;
      if (i > 0) this.collisions++;
      this.taken.set(z, id);
      this.byObject.set(id, { zone: z, holders: new Set([holder]) });
      return z;
    }
    throw new DfError('ZONE_EXHAUSTED', `all ${size} ${scope} zones are in use on this chassis`, { context: { scope } });
  }

  /** `holder` no longer uses the object's zone; the last holder frees it. */
  release(scope: ZoneScope, key: number, holder: string): void {
    const id = `${scope}/${key}`;
    const have = this.byObject.get(id);
    if (!have) return;
    have.holders.delete(holder);
    if (have.holders.size > 0) return;
    this.byObject.delete(id);
    this.taken.delete(have.zone);
  }

  /** Zones in use (for diagnostics). */
  get size(): number {
    return this.byObject.size;
  }
}
