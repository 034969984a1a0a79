import { randomUUID } from 'node:crypto';
import { type Clock, DfError, systemClock } from '@dragonflow/base';
import { type ConflictDetail, NbErrorCode, commitConflict } from '../../errors.js';
import type { ChangeBatch, ChangeEvent, CommitResult, Revision, Snapshot, StoredRecord, TxnOp } from '../driver.js';
import { assertDistinctKeys, closedError, compactedError, keysExhausted, leaseExpired } from '../errors.js';
import { Journal } from './journal.js';

export interface MemoryStoreOptions {
  clock?: Clock;
  /** Persist to this file (loaded when it exists). Without it the store lives in memory only. */
  file?: string;
  /** Batches kept for resuming watchers (default 20,000); older ones are compacted away. */
  retainBatches?: number;
}

interface LeaseState {
  id: string;
  ttlMs: number;
  keys: Set<string>;
  cancel: () => void;
}

type JournalRecord =
  | { t: 'snapshot'; epoch: string; rev: number; compacted: number; records: StoredRecord[]; counters: [string, number][]; leases: { id: string; ttlMs: number }[]; log: ChangeBatch[]; leaseSeq: number }
  | { t: 'batch'; rev: number; events: (ChangeEvent & { lease?: string })[] }
  | { t: 'key'; ns: string; n: number }
  | { t: 'lease'; id: string; ttlMs: number }
  | { t: 'lease-end'; id: string };

const SEP = '\u0000';

/**
 * The embedded northbound DB: tables of versioned string values, atomic
 * compare-and-swap commits, a contiguous revision counter, a bounded history of
 * change batches for resuming watchers, unique key counters and leases timed by an
 * injected clock. Optionally journaled to a file. Single-threaded by construction
 * (Node), so a commit is atomic without locks. Served to other processes by
 * MemoryServer.
 */
export class MemoryStore {
  readonly epoch: string;
  private readonly clock: Clock;
  private readonly retain: number;
  private readonly tables = new Map<string, Map<string, StoredRecord>>();
  private rev = 0;
  private compacted = 0;
  private log: ChangeBatch[] = [];
  private logHead = 0;
  private readonly counters = new Map<string, number>();
  private readonly leases = new Map<string, LeaseState>();
  private leaseSeq = 0;
  private readonly waiters = new Set<() => void>();
  private journal: Journal | undefined;
  private isClosed = false;

  constructor(options: MemoryStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.retain = Math.max(1, options.retainBatches ?? 20_000);
    let epoch: string = randomUUID();
    if (options.file) {
      const records = Journal.read(options.file) as JournalRecord[];
      const loaded = this.replay(records);
      if (loaded) epoch = loaded;
      this.journal = new Journal(options.file);
      this.journal.recordCount = records.length;
      this.epoch = epoch;
      // Start each file with a snapshot: it records the epoch and bounds replay time.
      this.journal.rewrite([this.snapshotRecord()]);
      for (const lease of this.leases.values()) this.armLease(lease);
    } else {
      this.epoch = epoch;
    }
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get revision(): Revision {
    return this.rev;
  }

  /** Oldest revision a watcher can still resume from. */
  get oldestRevision(): Revision {
    return this.compacted + 1;
  }

  get(table: string, id: string): StoredRecord | undefined {
    this.ensureOpen();
    return this.tables.get(table)?.get(id);
  }

  list(table: string): Snapshot {
    this.ensureOpen();
    return { revision: this.rev, records: [...(this.tables.get(table)?.values() ?? [])] };
  }

  snapshot(tables?: readonly string[]): Snapshot {
    this.ensureOpen();
    const names = tables ?? [...this.tables.keys()];
    const records: StoredRecord[] = [];
    for (const t of names) for (const r of this.tables.get(t)?.values() ?? []) records.push(r);
    return { revision: this.rev, records };
  }

  tableNames(): string[] {
    return [...this.tables.keys()].filter((t) => (this.tables.get(t)?.size ?? 0) > 0);
  }

  commit(ops: readonly TxnOp[]): CommitResult {
    this.ensureOpen();
    assertDistinctKeys(ops);
    const conflicts: ConflictDetail[] = [];
    for (const op of ops) {
      if (op.type === 'put' && op.lease !== undefined && !this.leases.has(op.lease)) throw leaseExpired(op.lease);
      if (op.expectVersion === undefined) continue;
      const cur = this.tables.get(op.table)?.get(op.id);
      const actual = cur?.version ?? 0;
      const ok = op.expectVersion === 'exists' ? actual > 0 : actual === op.expectVersion;
      if (!ok) conflicts.push({ table: op.table, id: op.id, expected: op.expectVersion, actualVersion: actual, modRevision: cur?.modRevision ?? 0 });
    }
    if (conflicts.length > 0) throw commitConflict(conflicts);

    const revision = this.rev + 1;
    const events: (ChangeEvent & { lease?: string })[] = [];
    const versions: number[] = [];
    for (const op of ops) {
      if (op.type === 'check') {
        versions.push(0);
        continue;
      }
      const table = this.table(op.table);
      const cur = table.get(op.id);
      if (op.type === 'put') {
        const version = (cur?.version ?? 0) + 1;
        const rec: StoredRecord = Object.freeze({ table: op.table, id: op.id, value: op.value, version, modRevision: revision, ...(op.lease !== undefined ? { lease: op.lease } : {}) });
        table.set(op.id, rec);
        this.moveLease(op.table, op.id, cur?.lease, op.lease);
        events.push({ type: 'put', table: op.table, id: op.id, value: op.value, version, ...(op.lease !== undefined ? { lease: op.lease } : {}) });
        versions.push(version);
      } else {
        versions.push(0);
        if (!cur) continue;
        table.delete(op.id);
        this.moveLease(op.table, op.id, cur.lease, undefined);
        events.push({ type: 'delete', table: op.table, id: op.id, version: cur.version });
      }
    }
    if (events.length > 0) this.append(revision, events);
    return { revision: this.rev, versions };
  }

  allocateKey(namespace: string, max = Number.MAX_SAFE_INTEGER): number {
    this.ensureOpen();
    const n = (this.counters.get(namespace) ?? 0) + 1;
    if (n > max) throw keysExhausted(namespace, max);
    this.counters.set(namespace, n);
    this.journal?.append({ t: 'key', ns: namespace, n } satisfies JournalRecord);
    return n;
  }

  grantLease(ttlMs: number): { id: string; ttlMs: number } {
    this.ensureOpen();
    if (!(ttlMs > 0)) throw new DfError(NbErrorCode.INVALID, `lease ttl must be positive, got ${ttlMs}`, { context: { field: 'ttlMs' } });
    const id = `${++this.leaseSeq}-${this.epoch.slice(0, 8)}`;
    const lease: LeaseState = { id, ttlMs, keys: new Set(), cancel: () => undefined };
    this.leases.set(id, lease);
    this.armLease(lease);
    this.journal?.append({ t: 'lease', id, ttlMs } satisfies JournalRecord);
    return { id, ttlMs };
  }

  keepAlive(id: string): void {
    this.ensureOpen();
    const lease = this.leases.get(id);
    if (!lease) throw leaseExpired(id);
    this.armLease(lease);
  }

  revokeLease(id: string): void {
    this.ensureOpen();
    if (this.leases.has(id)) this.endLease(id);
  }

  hasLease(id: string): boolean {
    return this.leases.has(id);
  }

  /**
   * Up to `max` batches with revision ≥ `from`. Throws NB_COMPACTED when `from` is
   * older than the retained history.
   */
  readChanges(from: Revision, max: number): ChangeBatch[] {
    this.ensureOpen();
    const start = Math.max(1, from);
    if (start > this.rev) return [];
    if (start <= this.compacted) throw compactedError(start, this.compacted + 1);
    const offset = this.logHead + (start - (this.compacted + 1));
    return this.log.slice(offset, offset + Math.max(1, max));
  }

  /** Drops history before `revision` (watchers asking for it get NB_COMPACTED), like etcd's compaction. */
  compact(revision: Revision): void {
    this.ensureOpen();
    const upTo = Math.min(revision - 1, this.rev);
    while (this.compacted < upTo) {
      this.logHead++;
      this.compacted++;
    }
    if (this.logHead > 0) {
      this.log = this.log.slice(this.logHead);
      this.logHead = 0;
    }
    this.journal?.rewrite([this.snapshotRecord()]);
  }

  /** Resolves once a batch with revision ≥ `from` exists, the signal aborts or the store closes. */
  waitForChange(from: Revision, signal?: AbortSignal): Promise<void> {
    if (this.rev >= from || this.isClosed || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        if (this.rev < from && !this.isClosed && !signal?.aborted) return;
        this.waiters.delete(wake);
        signal?.removeEventListener('abort', wake);
        resolve();
      };
      this.waiters.add(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }

  close(): void {
    if (this.isClosed) return;
    for (const lease of this.leases.values()) lease.cancel();
    this.isClosed = true;
    this.journal?.close();
    this.journal = undefined;
    for (const w of [...this.waiters]) w();
  }

  private ensureOpen(): void {
    if (this.isClosed) throw closedError('memory store');
  }

  private table(name: string): Map<string, StoredRecord> {
    let t = this.tables.get(name);
    if (!t) {
      t = new Map();
      this.tables.set(name, t);
    }
    return t;
  }

  private moveLease(table: string, id: string, from: string | undefined, to: string | undefined): void {
    if (from === to) return;
    const key = table + SEP + id;
    if (from !== undefined) this.leases.get(from)?.keys.delete(key);
    if (to !== undefined) this.leases.get(to)?.keys.add(key);
  }

  private armLease(lease: LeaseState): void {
    lease.cancel();
    lease.cancel = this.clock.setTimer(lease.ttlMs, () => {
      if (!this.isClosed && this.leases.get(lease.id) === lease) this.endLease(lease.id);
    });
  }

  /** Deletes the lease's keys in one batch, then forgets the lease. */
  private endLease(id: string): void {
    const lease = this.leases.get(id);
    if (!lease) return;
    lease.cancel();
    const events: ChangeEvent[] = [];
    for (const key of lease.keys) {
      const [table, rid] = key.split(SEP) as [string, string];
      const t = this.tables.get(table);
      const cur = t?.get(rid);
      if (!t || !cur) continue;
      t.delete(rid);
      events.push({ type: 'delete', table, id: rid, version: cur.version });
    }
    this.leases.delete(id);
    if (events.length > 0) this.append(this.rev + 1, events);
    this.journal?.append({ t: 'lease-end', id } satisfies JournalRecord);
  }

  private append(revision: Revision, events: (ChangeEvent & { lease?: string })[]): void {
    this.rev = revision;
    this.journal?.append({ t: 'batch', rev: revision, events } satisfies JournalRecord);
    const batch: ChangeBatch = Object.freeze({ revision, events: events.map(({ lease: _l, ...e }) => Object.freeze(e)) });
    this.log.push(batch);
    if (this.log.length - this.logHead > this.retain) {
      this.logHead++;
      this.compacted++;
      if (this.logHead > 4096 && this.logHead * 2 > this.log.length) {
        this.log = this.log.slice(this.logHead);
        this.logHead = 0;
      }
    }
    this.maybeCompactJournal();
    for (const w of [...this.waiters]) w();
  }

  private liveCount(): number {
    let n = 0;
    for (const t of this.tables.values()) n += t.size;
    return n;
  }

  private maybeCompactJournal(): void {
    const j = this.journal;
    if (!j) return;
    if (j.recordCount > Math.max(20_000, 2 * (this.liveCount() + (this.log.length - this.logHead)))) j.rewrite([this.snapshotRecord()]);
  }

  private snapshotRecord(): JournalRecord {
    const records: StoredRecord[] = [];
    for (const t of this.tables.values()) for (const r of t.values()) records.push(r);
    return {
      t: 'snapshot',
      epoch: this.epoch,
      rev: this.rev,
      compacted: this.compacted,
      records,
      counters: [...this.counters],
      leases: [...this.leases.values()].map((l) => ({ id: l.id, ttlMs: l.ttlMs })),
      log: this.log.slice(this.logHead),
      leaseSeq: this.leaseSeq,
    };
  }

  /** Rebuilds state from journal records; returns the stored epoch. */
  private replay(records: JournalRecord[]): string | undefined {
    let epoch: string | undefined;
    for (const r of records) {
      switch (r.t) {
        case 'snapshot': {
          epoch = r.epoch;
          this.tables.clear();
          this.counters.clear();
          this.leases.clear();
          this.rev = r.rev;
          this.compacted = r.compacted;
          this.leaseSeq = r.leaseSeq;
          for (const l of r.leases) this.leases.set(l.id, { id: l.id, ttlMs: l.ttlMs, keys: new Set(), cancel: () => undefined });
          for (const rec of r.records) {
            this.table(rec.table).set(rec.id, Object.freeze({ ...rec }));
            if (rec.lease !== undefined) this.leases.get(rec.lease)?.keys.add(rec.table + SEP + rec.id);
          }
          for (const [ns, n] of r.counters) this.counters.set(ns, n);
          this.log = r.log.map((b) => Object.freeze({ revision: b.revision, events: b.events.map((e) => Object.freeze({ ...e })) }));
          this.logHead = 0;
          break;
        }
        case 'batch': {
          for (const e of r.events) {
            const t = this.table(e.table);
            const cur = t.get(e.id);
            if (cur?.lease !== undefined) this.leases.get(cur.lease)?.keys.delete(e.table + SEP + e.id);
            if (e.type === 'put') {
              t.set(e.id, Object.freeze({ table: e.table, id: e.id, value: e.value ?? '', version: e.version, modRevision: r.rev, ...(e.lease !== undefined ? { lease: e.lease } : {}) }));
              if (e.lease !== undefined) this.leases.get(e.lease)?.keys.add(e.table + SEP + e.id);
            } else {
              t.delete(e.id);
            }
          }
          this.rev = r.rev;
          this.log.push(Object.freeze({ revision: r.rev, events: r.events.map(({ lease: _l, ...e }) => Object.freeze(e)) }));
          if (this.log.length - this.logHead > this.retain) {
            this.logHead++;
            this.compacted++;
          }
          break;
        }
        case 'key':
          this.counters.set(r.ns, Math.max(r.n, this.counters.get(r.ns) ?? 0));
          break;
        case 'lease': {
          this.leases.set(r.id, { id: r.id, ttlMs: r.ttlMs, keys: new Set(), cancel: () => undefined });
          const seq = Number.parseInt(r.id, 10);
          if (seq > this.leaseSeq) this.leaseSeq = seq;
          break;
        }
        case 'lease-end':
          this.leases.delete(r.id);
          break;
      }
    }
    if (this.logHead > 0) {
      this.log = this.log.slice(this.logHead);
      this.logHead = 0;
    }
    return epoch;
  }
}
