import { Subject, type Observable } from 'rxjs';
import { DfError } from '@dragonflow/base';
import { OvsdbErrorCode } from './errors.js';
import type { JsonRpcConnection } from './connection.js';
import type { JsonValue } from './jsonrpc.js';
import type { Condition, Row } from './operations.js';
import type { DatabaseSchema } from './schema.js';
import { TableCache, type RowChange } from './table-cache.js';
import { encodeValue } from './values.js';

/** `monitor` sends RFC 7047 `update` notifications; `monitor_cond` sends the smaller `update2`, and takes conditions. */
export type MonitorMethod = 'monitor' | 'monitor_cond';

export interface MonitorSelect {
  readonly initial?: boolean;
  readonly insert?: boolean;
  readonly delete?: boolean;
  readonly modify?: boolean;
}

export interface MonitorTableRequest {
  /** Columns to follow; all (but _uuid/_version) when absent. Leave out busy columns like `statistics`. */
  readonly columns?: readonly string[];
  /** monitor_cond only: rows must match all conditions (`true`/absent: every row). */
  readonly where?: readonly Condition[];
  readonly select?: MonitorSelect;
}

export type MonitorRequests = Readonly<Record<string, MonitorTableRequest>>;

/** What the monitor needs from the client that owns it. */
export interface MonitorHost {
  connection(): JsonRpcConnection | undefined;
  schemaFor(db: string): Promise<DatabaseSchema>;
  forget(monitor: Monitor): void;
  /** Drops the connection because the server sent an update we cannot apply; a reconnect resyncs. */
  fail(error: DfError): void;
}

function encodeRequests(requests: MonitorRequests, method: MonitorMethod): JsonValue {
  const out: Record<string, JsonValue> = {};
  for (const [table, req] of Object.entries(requests)) {
    const entry: Record<string, JsonValue> = {};
    if (req.columns) entry['columns'] = [...req.columns];
    if (req.select) entry['select'] = { ...req.select } as Record<string, boolean>;
    if (req.where) {
      if (method !== 'monitor_cond') {
        throw new DfError(OvsdbErrorCode.INVALID_ARGUMENT, `conditions on ${table} need monitor_cond`, { context: { table } });
      }
      entry['where'] = req.where.map(([c, fn, v]) => [c, fn, encodeValue(v)]);
    }
    out[table] = [entry];
  }
  return out;
}

/**
 * A live view of some tables. `changes$` emits one batch per server update; after a
 * reconnect the client re-monitors and emits the difference between what was cached
 * and what the server now holds, so a consumer's state converges without a gap.
 *
 * ovsdb-server sends the update caused by a transaction before the transaction's
 * reply, so after `await transact(...)` on the same client the cache already shows it.
 */
export class Monitor {
  private readonly changesSubject = new Subject<readonly RowChange[]>();
  readonly changes$: Observable<readonly RowChange[]> = this.changesSubject.asObservable();
  private cache: TableCache | undefined;
  private requests: MonitorRequests;
  private cancelled = false;
  /**
   * Updates that arrived while a (re)subscribe's reply was on its way to being applied.
   * The server sends them after the reply (they are relative to it), but the reply is
   * applied in a continuation that runs after the connection has dispatched the rest
   * of the data it read: an update in the same read would otherwise be lost (or, on a
   * resync, applied to the old cache and then overwritten by the older reply).
   */
  private pending: [JsonValue, 1 | 2][] | undefined;

  constructor(
    private readonly host: MonitorHost,
    readonly id: string,
    readonly db: string,
    requests: MonitorRequests,
    readonly method: MonitorMethod,
  ) {
    this.requests = requests;
    encodeRequests(requests, method);
  }

  get schema(): DatabaseSchema {
    return this.requireCache().schema;
  }

  get isCancelled(): boolean {
    return this.cancelled;
  }

  /** The monitored rows of `table`, keyed by UUID. */
  rows(table: string): ReadonlyMap<string, Row> {
    return this.requireCache().rows(table);
  }

  row(table: string, uuid: string): Row | undefined {
    return this.rows(table).get(uuid);
  }

  /** Sends the monitor request on the current connection and loads (or resyncs) the cache. */
  async subscribe(): Promise<void> {
    const conn = this.host.connection();
    if (!conn) throw new DfError(OvsdbErrorCode.DISCONNECTED, `cannot monitor ${this.db}: not connected`, { context: { db: this.db } });
    // The schema is read once, when the monitor starts; a resync diffs against the same cache.
    const columns = new Map(Object.entries(this.requests).map(([t, r]) => [t, r.columns]));
    const cache = this.cache ?? new TableCache(await this.host.schemaFor(this.db), columns);
    const pending: [JsonValue, 1 | 2][] = [];
    this.pending = pending;
    let result: JsonValue;
    try {
      result = await conn.request(this.method, [this.db, this.id, encodeRequests(this.requests, this.method)]);
    } finally {
      if (this.pending === pending) this.pending = undefined;
    }
    const changes = cache.replaceAll(result, this.method === 'monitor' ? 1 : 2);
    this.cache = cache;
    if (changes.length > 0) this.changesSubject.next(changes);
    for (const [updates, version] of pending) this.apply(updates, version);
  }

  /** Handles an `update`/`update2` notification addressed to this monitor. */
  onUpdate(tableUpdates: JsonValue, version: 1 | 2): void {
    if (this.cancelled) return;
    if (this.pending) {
      this.pending.push([tableUpdates, version]);
      return;
    }
    this.apply(tableUpdates, version);
  }

  private apply(tableUpdates: JsonValue, version: 1 | 2): void {
    if (!this.cache || this.cancelled) return;
    let changes: RowChange[];
    try {
      changes = version === 1 ? this.cache.applyUpdate(tableUpdates) : this.cache.applyUpdate2(tableUpdates);
    } catch (err) {
      this.host.fail(err instanceof DfError ? err : new DfError(OvsdbErrorCode.PROTOCOL, 'bad monitor update', { cause: err }));
      return;
    }
    if (changes.length > 0) this.changesSubject.next(changes);
  }

  /**
   * Changes the conditions of a monitor_cond monitor (`monitor_cond_change`); the server
   * then sends deletes for rows that stop matching and inserts for rows that start to.
   */
  async changeConditions(where: Readonly<Record<string, readonly Condition[]>>): Promise<void> {
    if (this.method !== 'monitor_cond') {
      throw new DfError(OvsdbErrorCode.INVALID_ARGUMENT, 'only monitor_cond monitors take conditions', { context: { monitor: this.id } });
    }
    const next: Record<string, MonitorTableRequest> = { ...this.requests };
    const change: Record<string, JsonValue> = {};
    for (const [table, conds] of Object.entries(where)) {
      const req = this.requests[table];
      if (!req) throw new DfError(OvsdbErrorCode.INVALID_ARGUMENT, `table ${table} is not monitored`, { context: { table, monitor: this.id } });
      next[table] = { ...req, where: conds };
      change[table] = [{ where: conds.map(([c, fn, v]) => [c, fn, encodeValue(v)]) }];
    }
    // Remembered first, so a reconnect during the call re-monitors with the new conditions.
    this.requests = next;
    const conn = this.host.connection();
    if (!conn) return;
    await conn.request('monitor_cond_change', [this.id, this.id, change]);
  }

  /** Stops the monitor on the server (`monitor_cancel`) and completes `changes$`. */
  async cancel(): Promise<void> {
    if (this.cancelled) return;
    this.cancelled = true;
    this.host.forget(this);
    this.changesSubject.complete();
    const conn = this.host.connection();
    if (!conn || conn.closed) return;
    await conn.request('monitor_cancel', [this.id]);
  }

  /** Completes the stream when the client closes. */
  complete(): void {
    this.cancelled = true;
    this.changesSubject.complete();
  }

  private requireCache(): TableCache {
    if (!this.cache) throw new DfError(OvsdbErrorCode.DISCONNECTED, `monitor ${this.id} has not loaded yet`, { context: { monitor: this.id } });
    return this.cache;
  }
}
