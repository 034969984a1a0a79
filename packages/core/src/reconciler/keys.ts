import type { Match } from '@dragonflow/openflow';

/**
 * Canonical keys come from the codec (`flowIdentity`, `matchKey`,
 * `instructionsKey`, `actionsKey` in @dragonflow/openflow): their rules are proven
 * against flows read back from real Open vSwitch, so a flow we desire and the same
 * flow dumped by the switch get the same key.
 */
export { actionsKey, flowIdentity, instructionsKey, matchKey } from '@dragonflow/openflow';

/** Fields a match uses (for the declared-fields check). */
export function matchFields(m: Match): string[] {
  const out: string[] = [];
  for (const k in m) if (k !== 'unknownOxm' && (m as Record<string, unknown>)[k] !== undefined) out.push(k);
  return out;
}
