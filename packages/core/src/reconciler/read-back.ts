import type { FlowStats, GroupDesc, MeterConfig } from '@dragonflow/openflow';
import type { DesiredTable } from './desired-table.js';
import type { InstalledState } from './diff.js';
import { isEphemeral } from './flow.js';
import { ReadBackFlow, type DesiredEntry } from './flow-state.js';
import { groupKey } from './groups.js';
import { flowIdentity } from './keys.js';
import { meterKey } from './meters.js';

/** What a switch reported at a connect. */
export interface SwitchContents {
  readonly flows: readonly FlowStats[];
  readonly groups: readonly GroupDesc[];
  readonly meters: readonly MeterConfig[];
}

/**
 * Makes what the switch reported the installed state and marks everything desired
 * or installed for the next diff. An ephemeral desired flow the switch no longer
 * has expired while we were away (`expire`). Timeout flows nobody desires in a
 * table an app can adopt are offered to that app (`offers`, by app) and held back
 * from deletion until it answered: the returned map (app → flow keys) says which.
 */
export function loadInstalled(
  table: DesiredTable,
  installed: InstalledState,
  contents: SwitchContents,
  adoptableBy: ((tableId: number) => string | undefined) | undefined,
  offers: Map<string, FlowStats[]>,
  expire: (key: string, e: DesiredEntry) => void,
): Map<string, Set<string>> {
  const { flows, groups, meters } = contents;
  const awaiting = new Map<string, Set<string>>();
  const flowMap = new Map<string, ReadBackFlow | DesiredEntry>();
  installed.flows = flowMap;
  const flowKeys: string[] = new Array<string>(flows.length);
  for (let i = 0; i < flows.length; i++) {
    const f = flows[i]!;
    const key = flowIdentity(f.tableId, f.priority, f.match);
    flowKeys[i] = key;
    // Until the first comparison shows it is the desired flow (then the desired entry stands for it).
    flowMap.set(key, new ReadBackFlow(f));
  }
  installed.groups = new Map(groups.map((g) => [g.groupId, groupKey(g.groupType, g.buckets)]));
  installed.meters = new Map(meters.map((m) => [m.meterId, meterKey(m)]));
  for (const [key, e] of [...table.flows]) {
    if (e.ephemeral && !flowMap.has(key)) expire(key, e);
  }
  const dirty = new Set([...table.flows.keys(), ...flowMap.keys()]);
  table.dirty = dirty;
  if (adoptableBy) {
    for (let i = 0; i < flows.length; i++) {
      const f = flows[i]!;
      if (!isEphemeral(f)) continue;
      const app = adoptableBy(f.tableId);
      if (app === undefined) continue;
      const key = flowKeys[i]!;
      if (table.flows.has(key)) continue;
      let keys = awaiting.get(app);
      if (!keys) {
        keys = new Set();
        awaiting.set(app, keys);
        offers.set(app, []);
      }
      if (keys.has(key)) continue;
      keys.add(key);
      offers.get(app)!.push(f);
      dirty.delete(key);
    }
  }
  table.groups.dirty = new Set([...table.groups.desired.keys(), ...installed.groups.keys()]);
  table.meters.dirty = new Set([...table.meters.desired.keys(), ...installed.meters.keys()]);
  return awaiting;
}
