import { randomUUID } from 'node:crypto';
import { type Clock, DfError, backoffDelay, systemClock } from '@dragonflow/base';
import {
  type ChangeBatch,
  type ChangeEvent,
  type ChangeFeed,
  type CommitResult,
  type ConflictDetail,
  type ConnectionState,
  type Lease,
  type NbDriver,
  NbErrorCode,
  PollingFeed,
  type Revision,
  type Snapshot,
  type StoredRecord,
  type TxnOp,
  type WatchOptions,
  assertDistinctKeys,
  closedError,
  commitConflict,
  compactedError,
  keysExhausted,
  leaseExpired,
} from '@dragonflow/nb';
import { Redis, type RedisOptions } from 'ioredis';
import { BehaviorSubject, type Observable } from 'rxjs';
import { mapRedisError } from './errors.js';
import * as lua from './scripts.js';

export interface RedisDriverOptions {
  /** redis://host:port[/db] (or give `endpoints`: the first one is used). */
  url?: string;
  /** Same as `url`, in the shape every driver accepts; `host:port` is read as redis://host:port. */
  endpoints?: string | readonly string[];
  /** Key prefix of this deployment (default `df:nb:`). */
  prefix?: string;
  clock?: Clock;
  /** Feed entries kept for resuming subscribers (approximate, default 100,000). */
  retainBatches?: number;
  /** How often this client reaps expired leases (default 200 ms). */
  reapIntervalMs?: number;
  /** Long-poll duration of the change feed (default 5 s). */
  pollWaitMs?: number;
  /** Extra ioredis options. */
  redis?: RedisOptions;
}

type Scripted = Record<string, (...args: (string | number)[]) => Promise<unknown>>;

const SCRIPTS = {
  dfCommit: lua.COMMIT,
  dfGetMany: lua.GET_MANY,
  dfSnapshot: lua.SNAPSHOT,
  dfAllocateKey: lua.ALLOCATE_KEY,
  dfGrantLease: lua.GRANT_LEASE,
  dfKeepAlive: lua.KEEP_ALIVE,
  dfRevokeLease: lua.REVOKE_LEASE,
  dfReap: lua.REAP,
  dfFeedCheck: lua.FEED_CHECK,
  dfEpoch: lua.EPOCH,
};

/**
 * Northbound DB driver on Redis. Every operation is one Lua script (atomic on the
 * server). The change feed is a stream whose entry ids are the revisions, read
 * with XREAD from the next revision owed — lossless and resumable, unlike pub/sub.
 * Revisions are contiguous, so any gap means history was trimmed (NB_COMPACTED).
 */
export class RedisDriver implements NbDriver {
  readonly kind = 'redis';
  readonly prefix: string;
  readonly endpoint: string;
  private readonly redis: Redis;
  private readonly clock: Clock;
  private readonly state = new BehaviorSubject<ConnectionState>('disconnected');
  private readonly feeds = new Set<{ feed: PollingFeed; conn: Redis }>();
  private readonly inflight = new Map<Redis, Set<(err: DfError) => void>>();
  private readonly maxlen: number;
  private epoch: string | undefined;
  private closed = false;
  private cancelReap: (() => void) | undefined;

  private readonly url: string;

  constructor(private readonly options: RedisDriverOptions) {
    const first = options.url ?? (typeof options.endpoints === 'string' ? options.endpoints.split(',')[0] : options.endpoints?.[0]);
    if (!first) throw new DfError(NbErrorCode.CONFIG, 'redis driver needs a url (redis://host:port)', { context: { field: 'url' } });
    this.url = /^rediss?:\/\//.test(first.trim()) ? first.trim() : `redis://${first.trim()}`;
    this.endpoint = this.url;
    this.prefix = options.prefix ?? 'df:nb:';
    this.clock = options.clock ?? systemClock;
    this.maxlen = options.retainBatches ?? 100_000;
    this.redis = this.connection();
    this.redis.on('ready', () => this.setConnected(true));
    this.redis.on('close', () => this.setConnected(false));
    this.scheduleReap();
  }

  /** Connects and checks the server answers (NB_UNAVAILABLE otherwise). */
  static async connect(options: RedisDriverOptions): Promise<RedisDriver> {
    const d = new RedisDriver(options);
    try {
      await d.ensureEpoch();
    } catch (e) {
      await d.close();
      throw e;
    }
    return d;
  }

  get connection$(): Observable<ConnectionState> {
    return this.state.asObservable();
  }

  async get(table: string, id: string): Promise<StoredRecord | undefined> {
    return (await this.getMany(table, [id]))[0];
  }

  async getMany(table: string, ids: readonly string[]): Promise<(StoredRecord | undefined)[]> {
    if (ids.length === 0) return [];
    const flat = (await this.run('get', 'dfGetMany', table, ...ids)) as string[];
    return ids.map((id, n) => (flat[2 * n + 1] ? this.record(table, id, flat[2 * n]!, flat[2 * n + 1]!) : undefined));
  }

  async list(table: string): Promise<Snapshot> {
    return this.snapshot([table]);
  }

  async snapshot(tables?: readonly string[]): Promise<Snapshot> {
    const out = (await this.run('snapshot', 'dfSnapshot', ...(tables ?? []))) as unknown[];
    const records: StoredRecord[] = [];
    for (let n = 1; n + 2 < out.length + 1; n += 3) {
      const table = out[n] as string;
      const values = out[n + 1] as string[];
      const metas = out[n + 2] as string[];
      const meta = new Map<string, string>();
      for (let j = 0; j < metas.length; j += 2) meta.set(metas[j]!, metas[j + 1]!);
      for (let j = 0; j < values.length; j += 2) {
        const m = meta.get(values[j]!);
        if (m) records.push(this.record(table, values[j]!, values[j + 1]!, m));
      }
    }
    return { revision: Number(out[0]), records };
  }

  async currentRevision(): Promise<Revision> {
    const v = await this.call('currentRevision', () => this.redis.get(`${this.prefix}rev`));
    return Number(v ?? 0);
  }

  async commit(ops: readonly TxnOp[]): Promise<CommitResult> {
    assertDistinctKeys(ops);
    if (ops.length === 0) return { revision: await this.currentRevision(), versions: [] };
    for (const op of ops) {
      if (op.type !== 'check' && op.type !== 'put' && op.type !== 'delete') throw new DfError(NbErrorCode.INVALID, `unknown op type`);
    }
    await this.ensureEpoch();
    const wire = ops.map((op) => ({
      k: op.type,
      t: op.table,
      i: op.id,
      ...(op.type === 'put' ? { v: op.value, ...(op.lease !== undefined ? { l: op.lease } : {}) } : {}),
      ...(op.expectVersion !== undefined ? { e: op.expectVersion } : {}),
    }));
    const res = JSON.parse((await this.run('commit', 'dfCommit', JSON.stringify(wire), this.maxlen)) as string) as {
      rev?: number;
      versions?: number[] | Record<string, number>;
      conflicts?: ConflictDetail[];
      lease?: string;
    };
    if (res.lease !== undefined) throw leaseExpired(res.lease);
    if (res.conflicts) throw commitConflict(res.conflicts);
    const versions = Array.isArray(res.versions) ? res.versions : ops.map((_, n) => (res.versions as Record<string, number>)[String(n + 1)] ?? 0);
    return { revision: res.rev ?? 0, versions };
  }

  async allocateKey(namespace: string, max = Number.MAX_SAFE_INTEGER): Promise<number> {
    const n = Number(await this.run('allocateKey', 'dfAllocateKey', namespace, max));
    if (n < 0) throw keysExhausted(namespace, max);
    return n;
  }

  async grantLease(ttlMs: number): Promise<Lease> {
    await this.ensureEpoch();
    const ttl = Math.max(1, Math.round(ttlMs));
    const id = String(await this.run('grantLease', 'dfGrantLease', ttl, this.maxlen));
    return {
      id,
      ttlMs: ttl,
      keepAlive: async () => {
        const ok = Number(await this.run('keepAlive', 'dfKeepAlive', id, this.maxlen));
        if (ok !== 1) throw leaseExpired(id);
      },
      revoke: async () => {
        await this.run('revokeLease', 'dfRevokeLease', id, this.maxlen);
      },
    };
  }

  watch(fromRevision: Revision, options: WatchOptions = {}): ChangeFeed {
    if (this.closed) throw closedError('redis driver');
    // A blocking XREAD holds its connection: each feed gets its own.
    const conn = this.connection();
    const stream = `${this.prefix}feed`;
    const waitMs = this.options.pollWaitMs ?? 5_000;
    let epoch: string | undefined;
    const entry = { feed: undefined as unknown as PollingFeed, conn };
    entry.feed = new PollingFeed(
      fromRevision,
      {
        read: async (from: Revision, max: number): Promise<ChangeBatch[]> => {
          epoch ??= await this.ensureEpoch();
          const [verdict, n] = (await this.call('watch', () => (conn as unknown as Scripted)['dfFeedCheck']!(this.prefix, epoch!, from), conn)) as [string, number];
          if (verdict === 'reset') throw compactedError(from, 1, `the redis DB was replaced or lost data (it is at revision ${n})`);
          if (verdict === 'compacted') throw compactedError(from, Number(n));
          const res = (await this.call('watch', () => conn.xread('COUNT', max, 'BLOCK', waitMs, 'STREAMS', stream, `${from - 1}-0`), conn)) as [string, [string, string[]][]][] | null;
          const entries = res?.[0]?.[1] ?? [];
          const out: ChangeBatch[] = [];
          let expect = from;
          for (const [id, fields] of entries) {
            const revision = Number(id.slice(0, id.indexOf('-')));
            if (revision !== expect) throw compactedError(expect, revision);
            expect = revision + 1;
            const events = JSON.parse(fields[1]!) as ChangeEvent[];
            out.push({ revision, events: events.map((e) => (e.type === 'put' ? e : { type: 'delete', table: e.table, id: e.id, version: e.version })) });
          }
          return out;
        },
      },
      {
        ...options,
        clock: this.clock,
        onClose: () => {
          this.feeds.delete(entry);
          this.inflight.delete(conn);
          conn.disconnect();
        },
      },
    );
    this.feeds.add(entry);
    return entry.feed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const f of [...this.feeds]) f.feed.close();
    this.closed = true;
    this.cancelReap?.();
    this.redis.disconnect();
    this.state.next('closed');
    this.state.complete();
  }

  private connection(): Redis {
    const conn = new Redis(this.url, {
      // A command cut off by a disconnect fails (NB_UNAVAILABLE) instead of being
      // sent again on reconnect: a commit must never run twice behind our back.
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: true,
      connectTimeout: 3_000,
      // Every chassis reconnects when redis restarts: spread them out.
      retryStrategy: (times) => backoffDelay(times, { initialMs: 100, maxMs: 1_000, jitter: 0.5 }),
      ...this.options.redis,
    });
    conn.on('error', () => undefined); // reported through commands and 'close'
    conn.on('close', () => this.failInflight(conn));
    for (const [name, script] of Object.entries(SCRIPTS)) conn.defineCommand(name, { numberOfKeys: 0, lua: script });
    return conn;
  }

  private setConnected(up: boolean): void {
    if (this.closed) return;
    const next: ConnectionState = up ? 'connected' : 'disconnected';
    if (this.state.value !== next) this.state.next(next);
  }

  private async ensureEpoch(): Promise<string> {
    if (this.epoch) return this.epoch;
    this.epoch = String(await this.run('epoch', 'dfEpoch', randomUUID()));
    return this.epoch;
  }

  private scheduleReap(): void {
    if (this.closed) return;
    this.cancelReap = this.clock.setTimer(this.options.reapIntervalMs ?? 200, () => {
      if (this.state.value !== 'connected') return this.scheduleReap();
      this.run('reap', 'dfReap', this.maxlen)
        .catch(() => undefined)
        .finally(() => this.scheduleReap());
    });
  }

  private run(what: string, script: keyof typeof SCRIPTS, ...args: (string | number)[]): Promise<unknown> {
    return this.call(what, () => (this.redis as unknown as Scripted)[script]!(this.prefix, ...args));
  }

  /**
   * Runs one command on `conn`. If the connection closes before the reply, the call
   * fails with NB_UNAVAILABLE: ioredis (with resend off) would otherwise leave it
   * pending forever, and resending a commit could apply it twice.
   */
  private call<T>(what: string, fn: () => Promise<T>, conn: Redis = this.redis): Promise<T> {
    if (this.closed) return Promise.reject(closedError('redis driver'));
    let pending = this.inflight.get(conn);
    if (!pending) {
      pending = new Set();
      this.inflight.set(conn, pending);
    }
    const set = pending;
    return new Promise<T>((resolve, reject) => {
      const cut = (err: DfError): void => reject(err);
      set.add(cut);
      fn().then(
        (v) => {
          set.delete(cut);
          resolve(v);
        },
        (e: unknown) => {
          set.delete(cut);
          reject(mapRedisError(e, this.endpoint, what));
        },
      );
    });
  }

  private failInflight(conn: Redis): void {
    const set = this.inflight.get(conn);
    if (!set || set.size === 0) return;
    const err = new DfError(NbErrorCode.UNAVAILABLE, `connection to redis at ${this.endpoint} lost; the outcome of the request is unknown`, { context: { endpoint: this.endpoint } });
    const all = [...set];
    set.clear();
    for (const cut of all) cut(err);
  }

  private record(table: string, id: string, value: string, meta: string): StoredRecord {
    const [v, m, lease] = meta.split(':') as [string, string, string];
    return { table, id, value, version: Number(v), modRevision: Number(m), ...(lease ? { lease } : {}) };
  }
}
