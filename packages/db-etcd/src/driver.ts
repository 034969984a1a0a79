import { Backoff, type Clock, DfError, isDfError, systemClock } from '@dragonflow/base';
import {
  type ChangeFeed,
  type CommitResult,
  type ConflictDetail,
  type ConnectionState,
  type Lease,
  type NbDriver,
  NbErrorCode,
  type Revision,
  type Snapshot,
  type StoredRecord,
  type TxnOp,
  type WatchOptions,
  assertDistinctKeys,
  closedError,
  commitConflict,
  keysExhausted,
  leaseExpired,
} from '@dragonflow/nb';
import { Etcd3, type IKeyValue, type IRangeRequest, type IRequestOp, type IResponseOp } from 'etcd3';
import { BehaviorSubject, type Observable } from 'rxjs';
import { mapEtcdError } from './errors.js';
import { ensureExactInt64 } from './long-ints.js';
import { EtcdFeed } from './feed.js';
import { EtcdKeys, assertTableName, prefixEnd } from './keys.js';
import { memberPolicy } from './members.js';
import { settleAmbiguousCommit } from './settle.js';

/** gRPC call options (the deadline), as etcd3's calls take them. */
type CallOptions = NonNullable<Parameters<Etcd3['kv']['range']>[1]>;

export interface EtcdDriverOptions {
  /** Client URLs, e.g. http://127.0.0.1:2379 (comma-separated string or list). */
  endpoints: string | readonly string[];
  /** Key prefix of this deployment (default `/dragonflow/nb/`). */
  prefix?: string;
  clock?: Clock;
  /** Deadline of one request, retries included (default 5 s). */
  requestTimeoutMs?: number;
  /**
   * Deadline of one try of a commit (default 1.5 s, about etcd's election timeout): a
   * commit sent as the leader dies is lost with it and never answered; it is tried
   * again (on another member if that one is down) within requestTimeoutMs.
   */
  commitAttemptMs?: number;
  /** How long a member found unreachable is passed over before one call tries it again (default 1 s). */
  memberSkipMs?: number;
  /** Keys per page of a snapshot or list: a large topology is read in bounded pieces at one revision (default 1,000). */
  snapshotPageSize?: number;
}

/** The options of one call: its deadline and whether a failure may be tried again. */
interface CallPolicy {
  /** Deadline of each try (default: what is left of requestTimeoutMs). */
  attemptMs?: number;
  /** Retry while etcd is unavailable, within requestTimeoutMs (default true; false for calls that must not be sent twice). */
  retry?: boolean;
}

/** Delay between tries of one call: short, as a failed member is passed over on the next. */
const RETRY_BACKOFF = { initialMs: 50, maxMs: 500, jitter: 0.5 } as const;

ensureExactInt64();

/** etcd's default --max-txn-ops: writes (and compares) allowed in one transaction. */
export const MAX_TXN_OPS = 128;

/** The client-wide policy just runs the call: we retry at our own level (call()). */
const passThrough = {
  execute: <T>(fn: (ctx: { signal: AbortSignal; attempt: number }) => PromiseLike<T> | T) => Promise.resolve().then(() => fn({ signal: new AbortController().signal, attempt: 1 })),
  onSuccess: () => ({ dispose: () => undefined }),
  onFailure: () => ({ dispose: () => undefined }),
};

/**
 * Northbound DB driver on etcd v3. Commits are etcd transactions comparing key
 * versions; every commit has one etcd revision, which is the feed's revision; the
 * feed is a prefix watch resumed from the last delivered revision after any break;
 * leases are etcd leases (etcd rounds ttl up to whole seconds, at least its minimum
 * of about 2 s).
 */
export class EtcdDriver implements NbDriver {
  readonly kind = 'etcd';
  readonly keys: EtcdKeys;
  readonly client: Etcd3;
  readonly clock: Clock;
  private readonly state = new BehaviorSubject<ConnectionState>('connected');
  private readonly feeds = new Set<EtcdFeed>();
  private closed = false;
  private clusterId: string | undefined;
  readonly endpoint: string;
  private readonly requestTimeoutMs: number;
  private readonly commitAttemptMs: number;
  private readonly pageSize: number;

  constructor(options: EtcdDriverOptions) {
    const given = typeof options.endpoints === 'string' ? options.endpoints.split(',') : [...options.endpoints];
    const hosts = given.map((h) => h.trim()).filter(Boolean).map((h) => (/^https?:\/\//.test(h) ? h : `http://${h}`));
    if (hosts.length === 0) throw new DfError(NbErrorCode.CONFIG, 'etcd driver needs at least one endpoint (http://host:port)', { context: { field: 'endpoints' } });
    this.endpoint = hosts.join(',');
    this.keys = new EtcdKeys(options.prefix ?? '/dragonflow/nb/');
    this.clock = options.clock ?? systemClock;
    const timeout = options.requestTimeoutMs ?? 5_000;
    this.requestTimeoutMs = timeout;
    this.commitAttemptMs = Math.min(options.commitAttemptMs ?? 1_500, timeout);
    this.pageSize = options.snapshotPageSize ?? 1_000;
    const skipMs = options.memberSkipMs ?? 1_000;
    this.client = new Etcd3({
      hosts,
      dialTimeout: timeout,
      // Unary calls get a deadline; watch and keep-alive streams live until we end them.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
      faultHandling: { host: () => memberPolicy(skipMs), global: passThrough as never },
      // A snapshot of a large topology (10,000 ports ≈ 7 MB) exceeds gRPC's default 4 MB.
      grpcOptions: { 'grpc.max_receive_message_length': 512 * 1024 * 1024 },
    });
  }

  /** Creates the driver and checks etcd answers (NB_UNAVAILABLE otherwise). */
  static async connect(options: EtcdDriverOptions): Promise<EtcdDriver> {
    const d = new EtcdDriver(options);
    try {
      await d.currentRevision();
    } catch (e) {
      await d.close();
      throw e;
    }
    return d;
  }

  get connection$(): Observable<ConnectionState> {
    return this.state.asObservable();
  }

  /** Used by feeds to report the link state. */
  setConnected(up: boolean): void {
    if (this.closed) return;
    const next: ConnectionState = up ? 'connected' : 'disconnected';
    if (this.state.value !== next) this.state.next(next);
  }

  /** Remembers the cluster id; a different one later means the DB was replaced. */
  noteCluster(header: { cluster_id?: string } | undefined): boolean {
    const id = header?.cluster_id;
    if (!id) return true;
    if (this.clusterId === undefined) this.clusterId = id;
    return this.clusterId === id;
  }

  async get(table: string, id: string): Promise<StoredRecord | undefined> {
    const res = await this.call('get', (o) => this.client.kv.range({ key: this.keys.record(table, id) }, o));
    const kv = res.kvs[0];
    return kv ? this.record(table, id, kv) : undefined;
  }

  async getMany(table: string, ids: readonly string[]): Promise<(StoredRecord | undefined)[]> {
    if (ids.length === 0) return [];
    const res = await this.call('getMany', (o) => this.client.kv.txn({ compare: [], success: ids.map((id) => ({ request_range: { key: this.keys.record(table, id) } })), failure: [] }, o));
    return res.responses.map((r, i) => {
      const kv = r.response_range.kvs[0];
      return kv ? this.record(table, ids[i]!, kv) : undefined;
    });
  }

  async list(table: string): Promise<Snapshot> {
    assertTableName(table);
    const key = this.keys.table(table);
    const page = await this.rangeAll('list', key, prefixEnd(key));
    return { revision: page.revision, records: this.records(page.kvs) };
  }

  async snapshot(tables?: readonly string[]): Promise<Snapshot> {
    if (!tables) {
      const key = Buffer.from(this.keys.data, 'utf8');
      const page = await this.rangeAll('snapshot', key, prefixEnd(key));
      return { revision: page.revision, records: this.records(page.kvs) };
    }
    if (tables.length === 0) return { revision: await this.currentRevision(), records: [] };
    for (const t of tables) assertTableName(t);
    // Every table is read at the revision of the first page: one consistent view.
    let revision: number | undefined;
    const records: StoredRecord[] = [];
    for (const t of tables) {
      const key = this.keys.table(t);
      const page = await this.rangeAll('snapshot', key, prefixEnd(key), revision);
      revision = page.revision;
      for (const r of this.records(page.kvs)) records.push(r);
    }
    return { revision: revision!, records };
  }

  /**
   * Every key in [key, end) at one revision (the first page's, unless given), read
   * pageSize keys at a time: a controller's first snapshot of a large cloud is many
   * bounded requests, each within its deadline and interleaved with the other clients'
   * calls, rather than one response of megabytes per controller at once.
   */
  private async rangeAll(what: string, key: Buffer, end: Buffer, atRevision?: number): Promise<{ revision: number; kvs: IKeyValue[] }> {
    const kvs: IKeyValue[] = [];
    let from = key;
    let revision = atRevision;
    for (;;) {
      const req: IRangeRequest = { key: from, range_end: end, limit: this.pageSize, ...(revision !== undefined ? { revision } : {}) };
      const res = await this.call(what, (o) => this.client.kv.range(req, o));
      revision ??= Number(res.header.revision);
      for (const kv of res.kvs) kvs.push(kv);
      const last = res.kvs.at(-1);
      if (!res.more || !last) return { revision, kvs };
      from = Buffer.concat([last.key, Buffer.from([0])]);
    }
  }

  async currentRevision(): Promise<Revision> {
    const res = await this.call('currentRevision', (o) => this.client.kv.range({ key: this.keys.counter('\u0000rev'), keys_only: true }, o));
    return Number(res.header.revision);
  }

  async commit(ops: readonly TxnOp[]): Promise<CommitResult> {
    assertDistinctKeys(ops);
    const compare: NonNullable<Parameters<Etcd3['kv']['txn']>[0]['compare']> = [];
    const compared: TxnOp[] = [];
    const success: IRequestOp[] = [];
    const written: number[] = [];
    for (const [i, op] of ops.entries()) {
      assertTableName(op.table);
      const key = this.keys.record(op.table, op.id);
      if (op.expectVersion !== undefined) {
        compared.push(op);
        if (op.expectVersion === 'exists') compare.push({ key, target: 'Version', result: 'Greater', version: 0 });
        else compare.push({ key, target: 'Version', result: 'Equal', version: op.expectVersion });
      }
      if (op.type === 'check') continue;
      written.push(i);
      // prev_kv gives the version before the put, so the new version needs no extra read.
      if (op.type === 'put') success.push({ request_put: { key, value: Buffer.from(op.value, 'utf8'), prev_kv: true, ...(op.lease !== undefined ? { lease: op.lease } : {}) } });
      else success.push({ request_delete_range: { key } });
    }
    if (success.length > MAX_TXN_OPS || compare.length > MAX_TXN_OPS) {
      throw new DfError(NbErrorCode.INVALID, `a transaction of ${Math.max(success.length, compare.length)} writes or compares exceeds etcd's limit of ${MAX_TXN_OPS} (etcd --max-txn-ops)`, {
        context: { ops: ops.length, limit: MAX_TXN_OPS },
      });
    }
    const failure: IRequestOp[] = compared.map((op) => ({ request_range: { key: this.keys.record(op.table, op.id), keys_only: true } }));
    // A try that failed may have been applied all the same (its answer lost with the
    // leader): when a later try then finds its compares failing, what is in etcd tells.
    let tries = 0;
    const res = await this.call(
      'commit',
      (o) => {
        tries++;
        return this.client.kv.txn({ compare, success, failure }, o);
      },
      { attemptMs: this.commitAttemptMs },
    );
    if (!res.succeeded) {
      if (tries > 1) {
        const settled = await settleAmbiguousCommit(this, ops);
        if (settled) return settled;
      }
      const conflicts: ConflictDetail[] = [];
      compared.forEach((op, i) => {
        const kv = (res.responses[i] as IResponseOp).response_range.kvs[0];
        const actual = kv ? Number(kv.version) : 0;
        const exp = op.expectVersion!;
        const ok = exp === 'exists' ? actual > 0 : actual === exp;
        if (!ok) conflicts.push({ table: op.table, id: op.id, expected: exp, actualVersion: actual, modRevision: kv ? Number(kv.mod_revision) : 0 });
      });
      throw commitConflict(conflicts);
    }
    const versions = ops.map(() => 0);
    written.forEach((opIndex, j) => {
      if (ops[opIndex]!.type !== 'put') return;
      const prev = res.responses[j]!.response_put.prev_kv;
      versions[opIndex] = (prev ? Number(prev.version) : 0) + 1;
    });
    return { revision: Number(res.header.revision), versions };
  }

  /**
   * The counter is the version of one key: etcd applies puts one at a time, so each
   * plain put (no compare, no contention, one round trip) gets the next version, and
   * prev_kv tells which (counters written by the earlier CAS scheme had value n at
   * version n, so they continue seamlessly). Past `max` the counter keeps moving but
   * every call fails with NB_KEYS_EXHAUSTED.
   */
  async allocateKey(namespace: string, max = Number.MAX_SAFE_INTEGER): Promise<number> {
    const key = this.keys.counter(namespace);
    // Tried again after a lost answer, a put may bump the counter twice: a number is skipped, none is given twice.
    const res = await this.call('allocateKey', (o) => this.client.kv.put({ key, value: Buffer.from(''), prev_kv: true }, o));
    const n = (res.prev_kv ? Number(res.prev_kv.version) : 0) + 1;
    if (n > max) throw keysExhausted(namespace, max);
    return n;
  }

  async grantLease(ttlMs: number): Promise<Lease> {
    const ttl = Math.max(1, Math.ceil(ttlMs / 1000));
    // A grant tried again after a lost answer leaves an unused lease, which expires.
    const res = await this.call('grantLease', (o) => this.client.leaseClient.leaseGrant({ TTL: ttl, ID: 0 }, o));
    const id = String(res.ID);
    return {
      id,
      ttlMs: Number(res.TTL) * 1000,
      keepAlive: async (): Promise<void> => {
        const r = await this.call('keepAlive', () => this.keepAliveOnce(id));
        if (!(Number(r.TTL) > 0)) throw leaseExpired(id);
      },
      revoke: async (): Promise<void> => {
        try {
          await this.call('revoke', (o) => this.client.leaseClient.leaseRevoke({ ID: id }, o));
        } catch (e) {
          if (e instanceof DfError && e.code === NbErrorCode.LEASE_EXPIRED) return;
          throw e;
        }
      },
    };
  }

  watch(fromRevision: Revision, options: WatchOptions = {}): ChangeFeed {
    if (this.closed) throw closedError('etcd driver');
    const feed = new EtcdFeed(this, Math.max(1, fromRevision), options, () => this.feeds.delete(feed));
    this.feeds.add(feed);
    return feed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const f of [...this.feeds]) f.close();
    this.closed = true;
    this.client.close();
    this.state.next('closed');
    this.state.complete();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Runs one etcd call, mapping errors and tracking the link state. While etcd is
   * unavailable (a member down: the next try passes over it; a leader election) the
   * call is tried again until requestTimeoutMs has passed, each try with its own
   * deadline (policy.attemptMs, else what is left).
   */
  async call<T>(what: string, fn: (options: CallOptions) => Promise<T>, policy: CallPolicy = {}): Promise<T> {
    if (this.closed) throw closedError('etcd driver');
    const until = Date.now() + this.requestTimeoutMs;
    const backoff = new Backoff(RETRY_BACKOFF);
    for (;;) {
      const left = until - Date.now();
      try {
        const r = await fn({ deadline: Date.now() + Math.max(1, Math.min(policy.attemptMs ?? left, left)) });
        this.setConnected(true);
        return r;
      } catch (e) {
        const err = mapEtcdError(e, this.endpoint, what);
        const delay = backoff.next();
        if (policy.retry !== false && !this.closed && isDfError(err, NbErrorCode.UNAVAILABLE) && Date.now() + delay < until) {
          await new Promise<void>((resolve) => this.clock.setTimer(delay, resolve));
          continue;
        }
        if (err.code === NbErrorCode.UNAVAILABLE) this.setConnected(false);
        throw err;
      }
    }
  }

  private keepAliveOnce(id: string): Promise<{ TTL: string }> {
    return this.client.leaseClient.leaseKeepAlive().then(
      (stream) =>
        new Promise<{ TTL: string }>((resolve, reject) => {
          let settled = false;
          stream.on('data', (r: { TTL: string }) => {
            if (settled) return;
            settled = true;
            stream.end();
            resolve(r);
          });
          stream.on('error', (e) => {
            if (settled) return;
            settled = true;
            reject(e);
          });
          stream.write({ ID: id });
        }),
    );
  }

  private record(table: string, id: string, kv: IKeyValue): StoredRecord {
    const lease = kv.lease && kv.lease !== '0' ? { lease: String(kv.lease) } : {};
    return { table, id, value: kv.value.toString('utf8'), version: Number(kv.version), modRevision: Number(kv.mod_revision), ...lease };
  }

  private records(kvs: IKeyValue[]): StoredRecord[] {
    const out: StoredRecord[] = [];
    for (const kv of kvs) {
      const k = this.keys.parse(kv.key);
      if (k) out.push(this.record(k.table, k.id, kv));
    }
    return out;
  }
}
