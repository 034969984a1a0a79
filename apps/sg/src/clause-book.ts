import { act, type Action, type AppFlows, type MatchSpec } from '@dragonflow/core';
import { clauseFlow, type SgLayout } from './flows.js';
import type { Direction } from './rules.js';

/** One clause a contributor wants: in the rules table of `dir`, `match` → conjunction(id, clause/clauses). */
export interface ClauseEntry {
  readonly dir: Direction;
  readonly match: MatchSpec;
  readonly conjId: number;
  readonly clause: number;
  readonly clauses: number;
}

interface Slot {
  readonly dir: Direction;
  readonly match: MatchSpec;
  /** contributor → its conjunction actions on this match, keyed `id/clause`. */
  readonly by: Map<string, Map<string, ClauseEntry>>;
}

/** A stable text for a match whose values are numbers, strings or [value, mask] pairs. */
export function matchKey(m: MatchSpec): string {
  return Object.keys(m)
    .sort()
    .map((k) => `${k}=${String((m as Record<string, unknown>)[k])}`)
    .join(',');
}

/**
 * The clause flows of every rule (protocol/port, remote prefix) and of every
 * remote-group member address, merged by match: Open vSwitch keeps one flow per
 * table, priority and match, so two rules (or two groups, or a rule and a member
 * address) wanting the same match share one flow carrying all their
 * `conjunction` actions. Contributors (`group:<id>`, `member:<port id>`) set their
 * entries; `flush` replaces only the flows whose set of actions changed. A merged
 * flow's owner is its match (`sg:clause:<direction>:<match>`): it belongs to every
 * rule that names it, and the verdict flow (`conj_id`) names the rule.
 */
export class ClauseBook {
  private readonly slots = new Map<string, Slot>();
  private readonly byContributor = new Map<string, Set<string>>();
  private readonly dirty = new Set<string>();

  set(contributor: string, entries: readonly ClauseEntry[]): void {
    const before = this.byContributor.get(contributor) ?? new Set<string>();
    const after = new Set<string>();
    const grouped = new Map<string, Map<string, ClauseEntry>>();
    for (const e of entries) {
      const k = `${e.dir}|${matchKey(e.match)}`;
      after.add(k);
      let g = grouped.get(k);
      if (!g) grouped.set(k, (g = new Map()));
      g.set(`${e.conjId}/${e.clause}/${e.clauses}`, e);
      if (!this.slots.has(k)) this.slots.set(k, { dir: e.dir, match: e.match, by: new Map() });
    }
    for (const k of before) {
      if (after.has(k)) continue;
      this.slots.get(k)?.by.delete(contributor);
      this.dirty.add(k);
    }
    for (const [k, g] of grouped) {
      const slot = this.slots.get(k)!;
      const old = slot.by.get(contributor);
      if (!old || !sameKeys(old, g)) this.dirty.add(k);
      slot.by.set(contributor, g);
    }
    if (after.size > 0) this.byContributor.set(contributor, after);
    else this.byContributor.delete(contributor);
  }

  /** Hands the changed merged flows to the core (all of them with `all`: a resync). */
  flush(l: SgLayout, flows: AppFlows, all = false): void {
    const keys = all ? [...this.slots.keys()] : [...this.dirty];
    this.dirty.clear();
    for (const k of keys) {
      const slot = this.slots.get(k);
      if (!slot) continue;
      const owner = `sg:clause:${k.replace('|', ':')}`;
      const actions = new Map<string, Action>();
      for (const g of slot.by.values()) for (const [ak, e] of g) actions.set(ak, act.conjunction(e.conjId, e.clause, e.clauses));
      if (actions.size === 0) {
        this.slots.delete(k);
        flows.remove(owner);
        continue;
      }
      const sorted = [...actions.entries()].sort(([a], [b]) => compareConj(a, b)).map(([, a]) => a);
      flows.replace(owner, [clauseFlow(l, slot.dir, slot.match, sorted)]);
    }
  }

  clear(): void {
    this.slots.clear();
    this.byContributor.clear();
    this.dirty.clear();
  }
}

function sameKeys(a: Map<string, unknown>, b: Map<string, unknown>): boolean {
  if (a.size !== b.size) return false;
  for (const k of a.keys()) if (!b.has(k)) return false;
  return true;
}

function compareConj(a: string, b: string): number {
  const [ai, ac] = a.split('/').map(Number) as [number, number];
  const [bi, bc] = b.split('/').map(Number) as [number, number];
  return ai - bi || ac - bc;
}
