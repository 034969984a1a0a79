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
  private sorted: FlowEntry[] | undefined;

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
    this.sorted = undefined;
    return old;
  }

  delete(identity: string): FlowEntry | undefined {
    const e = this.flows.get(identity);
    if (e) {
      this.flows.delete(identity);
      this.sorted = undefined;
    }
    return e;
  }

  entries(): FlowEntry[] {
    return [...this.flows.values()];
  }

  /** Highest-priority flow matching `get` (earliest installed wins a tie). */
  lookup(get: (field: string) => bigint | undefined): FlowEntry | undefined {
    if (!this.sorted) this.sorted = [...this.flows.values()].sort((a, b) => b.priority - a.priority || a.seq - b.seq);
    outer: for (const f of this.sorted) {
      for (const t of f.tests) {
        const v = get(t.field);
        if (v === undefined || (v & t.mask) !== t.value) continue outer;
      }
      return f;
    }
    return undefined;
  }
}
