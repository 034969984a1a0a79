import type { Observable } from 'rxjs';

/**
 * The northbound DB driver contract. A driver stores opaque string values under
 * (table, id), versions every key, commits multi-key transactions atomically with
 * compare-and-swap, allocates unique integers, binds keys to leases, and offers a
 * lossless, resumable change feed ordered by revision.
 *
 * Every driver (memory, etcd, redis, third-party) passes the shared contract suite
 * in `@dragonflow/nb/contract`.
 */

/** A position in the DB's history. Increases with every commit; comparable across all tables. */
export type Revision = number;

export interface StoredRecord {
  table: string;
  id: string;
  value: string;
  /** Writes since the key was created: 1 after create, +1 per put. Reset by delete. */
  version: number;
  /** Revision of the commit that last wrote the key. */
  modRevision: Revision;
  /** Lease the key is bound to, if any. */
  lease?: string;
}

/**
 * One operation of a transaction.
 * - `put`: write the value. `expectVersion` 0 means "must not exist", n means "must be at version n";
 *   absent means unconditional. `lease` binds the key to a lease (it is deleted when the lease ends).
 * - `delete`: remove the key. With `expectVersion` n (n > 0) the key must be at version n; with 0 it must
 *   be absent (the delete is then a no-op check). Deleting an absent key without expectation is a no-op.
 * - `check`: no write; the key must be at `expectVersion` (0 = absent, 'exists' = any version).
 */
export type TxnOp =
  | { type: 'put'; table: string; id: string; value: string; expectVersion?: number; lease?: string }
  | { type: 'delete'; table: string; id: string; expectVersion?: number }
  | { type: 'check'; table: string; id: string; expectVersion: number | 'exists' };

export interface CommitResult {
  /** Revision of the commit (all its changes share it). */
  revision: Revision;
  /** Per op: the key's version after the commit (0 for deletes and checks). */
  versions: number[];
}

export interface ChangeEvent {
  type: 'put' | 'delete';
  table: string;
  id: string;
  /** The new value (puts only). */
  value?: string;
  /** Version after a put; for a delete, the version the key had when deleted (0 if unknown). */
  version: number;
}

/** All changes of one commit (or one lease expiry), in the order the commit listed them. */
export interface ChangeBatch {
  revision: Revision;
  events: ChangeEvent[];
}

/**
 * A subscription to the change feed. Iterate it to receive batches in revision order;
 * it pulls from the DB only as fast as it is consumed (bounded buffering). Across
 * connection losses the driver resumes from the last delivered revision, so no batch
 * is lost or repeated. When history before the requested revision was compacted (or
 * the DB was reset), iteration throws NB_COMPACTED: take a snapshot and watch again.
 */
export interface ChangeFeed extends AsyncIterable<ChangeBatch> {
  /** Revision of the last batch handed out (fromRevision - 1 before the first). */
  readonly lastRevision: Revision;
  /** Stops the feed; a pending iteration ends (done). */
  close(): void;
}

export interface WatchOptions {
  /** Only batches touching these tables (events of other tables are filtered out; empty batches are skipped). */
  tables?: readonly string[];
  /** Max batches buffered ahead of the consumer (default 256). */
  highWaterMark?: number;
}

export interface Snapshot {
  /** Every record is as of this revision; watch from revision + 1 to continue. */
  revision: Revision;
  records: StoredRecord[];
}

export interface Lease {
  readonly id: string;
  readonly ttlMs: number;
  /** Renews the lease for another ttl. Throws NB_LEASE_EXPIRED when it is gone. */
  keepAlive(): Promise<void>;
  /** Ends the lease now; its keys are deleted (delete events appear in the feed). */
  revoke(): Promise<void>;
}

export type ConnectionState = 'connected' | 'disconnected' | 'closed';

export interface NbDriver {
  /** Driver kind: 'memory', 'etcd', 'redis', … */
  readonly kind: string;
  /** Human description of where the data lives (endpoint, file). */
  readonly endpoint: string;
  /** Connection health; drivers retry on their own, this tells observers when they are cut off. */
  readonly connection$: Observable<ConnectionState>;

  get(table: string, id: string): Promise<StoredRecord | undefined>;
  getMany(table: string, ids: readonly string[]): Promise<(StoredRecord | undefined)[]>;
  /** Every record of one table, as of one revision. */
  list(table: string): Promise<Snapshot>;
  /** Every record of the given tables (all when omitted), as of one revision. */
  snapshot(tables?: readonly string[]): Promise<Snapshot>;
  /** The latest revision (a snapshot taken now would be at least this). */
  currentRevision(): Promise<Revision>;

  /** Applies all ops or none. A failed compare throws NB_CONFLICT listing the keys (ConflictDetail). */
  commit(ops: readonly TxnOp[]): Promise<CommitResult>;

  /**
   * A new integer in `namespace`, never returned before by any client of this DB:
   * 1, 2, 3… (numbers are not reused). Throws NB_KEYS_EXHAUSTED past `max`.
   */
  allocateKey(namespace: string, max?: number): Promise<number>;

  /** A lease that ends unless renewed within `ttlMs` (drivers may round up to their granularity). */
  grantLease(ttlMs: number): Promise<Lease>;

  /** Change feed starting at `fromRevision` (inclusive). */
  watch(fromRevision: Revision, options?: WatchOptions): ChangeFeed;

  close(): Promise<void>;
}
