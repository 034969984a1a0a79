import { fieldAllOnes, oxmField, oxmValueToBigInt, type Instruction, type Match, type MatchEntry } from '@dragonflow/openflow';

/** One compiled match field: the packet matches when (packet & mask) == value. */
export interface FieldTest {
  readonly field: string;
  readonly value: bigint;
  readonly mask: bigint;
}

/** A flow installed in the FakeSwitch. */
export interface FlowEntry {
  readonly table: number;
  readonly priority: number;
  readonly match: Match;
  readonly identity: string;
  readonly tests: readonly FieldTest[];
  instructions: readonly Instruction[];
  cookie: bigint;
  readonly idleTimeout: number;
  readonly hardTimeout: number;
  readonly flags: number;
  /** Clock time (ms) when installed / last hit. */
  created: number;
  lastUsed: number;
  packets: bigint;
  bytes: bigint;
  /** Install order, to break priority ties deterministically. */
  readonly seq: number;
  cancelTimer?: () => void;
}

/** Compiles a match into field tests (value bits outside the mask dropped; zero masks ignored). */
export function compileMatch(m: Match): FieldTest[] {
  const out: FieldTest[] = [];
  for (const [name, e] of Object.entries(m)) {
    if (name === 'unknownOxm' || e === undefined) continue;
    const spec = oxmField(name);
    if (!spec) continue;
    const entry = e as MatchEntry<unknown>;
    const mask = entry.mask === undefined ? fieldAllOnes(spec) : oxmValueToBigInt(spec, entry.mask);
    if (mask === 0n) continue;
    out.push({ field: name, value: oxmValueToBigInt(spec, entry.value) & mask, mask });
  }
  return out;
}

/** Whether flow `f`'s match is at least as specific as `req` (OpenFlow non-strict modify/delete). */
export function coveredBy(f: FlowEntry, req: readonly FieldTest[]): boolean {
  for (const r of req) {
    const t = f.tests.find((x) => x.field === r.field);
    if (!t) return false;
    if ((t.mask & r.mask) !== r.mask) return false;
    if ((t.value & r.mask) !== r.value) return false;
  }
  return true;
}

/** One OpenFlow table: flows by identity, searched by priority. */
export class FlowTable {
  private readonly flows = new Map<string, FlowEntry>();
  /** By priority (earliest installed first on a tie), split into ordinary and conjunctive flows; rebuilt after a change. */
  private ordered: { ordinary: FlowEntry[]; conjunctive: FlowEntry[] } | undefined;

  constructor(readonly id: number) {}

  get size(): number {
    return this.flows.size;
  }

  get(identity: string): FlowEntry | undefined {
    return this.flows.get(identity);
  }

  put(e: FlowEntry): FlowEntry | undefined {
    const old = this.flows.get(e.identity);
    this.flows.set(e.identity, e);
    this.ordered = undefined;
    return old;
  }

  delete(identity: string): FlowEntry | undefined {
    const e = this.flows.get(identity);
    if (e) {
      this.flows.delete(identity);
      this.ordered = undefined;
    }
    return e;
  }

  /** A flow's instructions changed (a modify): whether it is conjunctive may have too. */
  changed(): void {
    this.ordered = undefined;
  }

  entries(): FlowEntry[] {
    return [...this.flows.values()];
  }

  /**
   * Highest-priority flow matching `get` (earliest installed wins a tie), with Open
   * vSwitch's conjunctive matches: a flow whose only actions are `conjunction` never
   * matches itself; when, above the best ordinary match, every clause 1..n of a
   * conjunction id has a matching flow at one priority, the table is looked up again
   * with conj_id set to that id (the `conj_id=id` flow, or a better ordinary one, wins).
   */
  lookup(get: (field: string) => bigint | undefined): FlowEntry | undefined {
    if (!this.ordered) {
      const sorted = [...this.flows.values()].sort((a, b) => b.priority - a.priority || a.seq - b.seq);
      this.ordered = { ordinary: sorted.filter((f) => !conjunctions(f)), conjunctive: sorted.filter((f) => conjunctions(f)) };
    }
    const { ordinary, conjunctive } = this.ordered;
    const hard = first(ordinary, get, 0);
    if (conjunctive.length === 0) return hard;
    // clauses matched, by conjunction id and priority
    const clauses = new Map<string, { id: number; priority: number; n: number; seen: Set<number> }>();
    for (const f of conjunctive) {
      if (hard && f.priority <= hard.priority) break;
      if (!matches(f, get, 0)) continue;
      for (const c of conjunctions(f)!) {
        const k = `${c.id}/${f.priority}`;
        let e = clauses.get(k);
        if (!e) clauses.set(k, (e = { id: c.id, priority: f.priority, n: c.nClauses, seen: new Set() }));
        e.seen.add(c.clause);
      }
    }
    const satisfied = [...clauses.values()].filter((c) => c.seen.size === c.n).sort((a, b) => b.priority - a.priority || a.id - b.id);
    for (const c of satisfied) {
      const r = first(ordinary, get, c.id);
      if (r) return r;
    }
    return hard;
  }
}

function first(flows: readonly FlowEntry[], get: (field: string) => bigint | undefined, conjId: number): FlowEntry | undefined {
  for (const f of flows) if (matches(f, get, conjId)) return f;
  return undefined;
}

function matches(f: FlowEntry, get: (field: string) => bigint | undefined, conjId: number): boolean {
  for (const t of f.tests) {
    const v = t.field === 'conj_id' ? BigInt(conjId) : get(t.field);
    if (v === undefined || (v & t.mask) !== t.value) return false;
  }
  return true;
}

/** The conjunction actions of a flow made of nothing else, or undefined for an ordinary flow. */
export function conjunctions(f: FlowEntry): readonly Conjunction[] | undefined {
  let c = conjCache.get(f.instructions);
  if (c === undefined) conjCache.set(f.instructions, (c = findConjunctions(f.instructions)));
  return c ?? undefined;
}

type Conjunction = { readonly id: number; readonly clause: number; readonly nClauses: number };
const conjCache = new WeakMap<readonly Instruction[], readonly Conjunction[] | null>();

function findConjunctions(instructions: readonly Instruction[]): readonly Conjunction[] | null {
  if (instructions.length === 0) return null;
  const out: Conjunction[] = [];
  for (const i of instructions) {
    if (i.type !== 'apply_actions') return null;
    for (const a of i.actions) {
      if (a.type !== 'conjunction') return null;
      out.push(a);
    }
  }
  return out.length ? out : null;
}
