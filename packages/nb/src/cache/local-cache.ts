import { Backoff, type Clock, DfError, describeError, systemClock } from '@dragonflow/base';
import { BehaviorSubject, type Observable, Subject } from 'rxjs';
import type { ChangeBatch, NbDriver, Snapshot, StoredRecord } from '../db/driver.js';
import { NbErrorCode } from '../errors.js';
import { type StoredFields, decodeObject, objectOf, parseStored } from '../model/codec.js';
import type { IndexName } from '../model/indexes.js';
import { type LogicalPort, type NbObject, TABLES, TABLE_RANK, type TableName, isTableName } from '../model/tables.js';
import { FeedFollower, type FollowerState } from '../topology/follower.js';
import { type AppliedChange, TopologyStore } from '../topology/store.js';
import type { CacheState, ChangeCause, NbCacheUpdate, NbChange } from './events.js';
import { Scope, type ScopeOptions } from './scope.js';
import { ShadowIndex, sameStub } from './shadow.js';

export interface LocalCacheOptions {
  /** This chassis: the ports bound to it decide what a selective cache holds. */
  chassisId: string;
  /**
   * Selective topology (default true): hold only what this chassis' ports need —
   * their networks (and those networks' subnets and ports), routers with an
   * interface or gateway on them and those routers' other networks (one hop: routing
   * on the source chassis needs the destination ports), the networks of the routers
   * whose gateway is placed on this chassis, floating IPs on those ports or networks, the
   * ports' security groups (and remote groups of their rules) and the member ports of those
   * remote groups wherever they live (not their networks), and the chassis (record
   * and liveness) this chassis may send to or fail over to: itself, the chassis of
   * every port held (tunnel peers) and the gateway chassis of every router held.
   * false: hold everything.
   */
  selective?: boolean;
  /**
   * A selective cache holds every chassis and liveness record, not only the ones its
   * ports and routers name (for apps that pick among all chassis: SNAT's address
   * ranking, the HA fallback chassis). Default false.
   */
  allChassis?: boolean;
  clock?: Clock;
}

/**
 * An object a batch touched: its stored fields (undefined: deleted), made into the
 * frozen object only if the cache takes it in (see objectOfTouched) — most changes of a large
 * cloud are out of scope and need only the few fields their stub reads.
 */
interface Touched {
  table: TableName;
  id: string;
  fields: StoredFields | undefined;
  version: number;
}

const objectOfTouched = (t: Touched): NbObject => deepFreeze(objectOf(t.fields!, t.version));

const key = (table: string, id: string): string => `${table}/${id}`;

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

function order(changes: NbChange[]): NbChange[] {
  const up = changes.filter((c) => c.kind !== 'deleted').sort((a, b) => TABLE_RANK[a.table]! - TABLE_RANK[b.table]!);
  const down = changes.filter((c) => c.kind === 'deleted').sort((a, b) => TABLE_RANK[b.table]! - TABLE_RANK[a.table]!);
  return [...up, ...down];
}

function toChange(ch: AppliedChange, cause: ChangeCause): NbChange | undefined {
  const base = { table: ch.table, id: ch.id, revision: ch.revision, cause };
  if (ch.old && ch.new) return { kind: 'updated', ...base, old: ch.old, new: ch.new } as NbChange;
  if (ch.new) return { kind: 'created', ...base, new: ch.new } as NbChange;
  if (ch.old) return { kind: 'deleted', ...base, old: ch.old } as NbChange;
  return undefined;
}

/**
 * A controller's local, indexed copy of the part of the model its chassis needs,
 * kept current by the DB change feed and published as typed rxjs change events.
 *
 * - Reads are synchronous and keep working while the DB is unreachable (the state
 *   then says `degraded`); the feed resumes where it stopped, so no change is lost.
 * - One ordered stream (`updates$`): every revision the cache reaches, once, in
 *   revision order, with the changes it made to the cache (often none: a commit
 *   outside this chassis' scope). Each change comes once, with the object before
 *   and after, in a safe order within the revision (see NbCacheUpdate). Whoever
 *   follows the cache (the runtime, the port binder) follows this stream, so none
 *   of them can see a revision before its changes. Older writes than the one held
 *   are ignored.
 * - Selective topology widens and narrows as ports are bound and unbound here: a
 *   network entering scope brings its objects in (`created`, cause `scope`); leaving
 *   evicts them (`deleted`, cause `scope`).
 */
export class LocalCache {
  readonly chassisId: string;
  readonly selective: boolean;
  readonly allChassis: boolean;
  private readonly store = new TopologyStore();
  private readonly shadow = new ShadowIndex();
  private readonly follower: FeedFollower;
  private readonly clock: Clock;
  private readonly updatesSubject = new Subject<NbCacheUpdate>();
  /** Last revision published on updates$. */
  private published = 0;
  private waiters: { revision: number; resolve: () => void }[] = [];
  private readonly stateSubject: BehaviorSubject<CacheState>;
  private readonly scopeOptions: ScopeOptions;
  private scope: Scope;
  private queue: Promise<void> = Promise.resolve();
  private queuedCount = 0;
  private loaded = false;
  private stopped = false;
  private fetchTrouble: string | undefined;

  constructor(
    private readonly driver: NbDriver,
    options: LocalCacheOptions,
  ) {
    this.chassisId = options.chassisId;
    this.selective = options.selective ?? true;
    this.allChassis = options.allChassis ?? false;
    this.scopeOptions = { chassisId: this.chassisId, selective: this.selective, allChassis: this.allChassis };
    this.scope = Scope.empty(this.scopeOptions);
    this.clock = options.clock ?? systemClock;
    this.stateSubject = new BehaviorSubject<CacheState>({ phase: 'starting', revision: 0, resyncs: 0, counts: {}, networks: 0 });
    this.follower = new FeedFollower(
      driver,
      {
        onSnapshot: (s) => this.enqueue(() => this.load(s)),
        onBatch: (b) => this.enqueue(() => this.applyBatch(b)),
      },
      { tables: TABLES, clock: this.clock },
    );
    // The follower's revision alone moving is published by emit() (with the changes'
    // revision): a second state per revision would only cost every change twice.
    let seen: FollowerState | undefined;
    this.follower.state$.subscribe((s) => {
      if (seen && seen.phase === s.phase && seen.reason === s.reason && seen.resyncs === s.resyncs) return;
      seen = s;
      this.publishState(s);
    });
  }

  /** Loads the first snapshot (waiting for the DB if needed) and follows the feed. */
  async start(): Promise<void> {
    await this.follower.start();
    await this.queue;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.follower.stop();
    await this.queue.catch(() => undefined);
    this.updatesSubject.complete();
    for (const w of this.waiters.splice(0)) w.resolve();
    this.publishState(this.follower.state);
    this.stateSubject.complete();
  }

  // ------------------------------------------------------------------ events

  /**
   * The one ordered stream: each revision the cache reaches, after it is applied,
   * with the changes it made (hot: no replay; read the contents with get/all/lookup).
   */
  get updates$(): Observable<NbCacheUpdate> {
    return this.updatesSubject.asObservable();
  }

  /** Last revision published on updates$ (everything up to it is applied). */
  get revision(): number {
    return this.published;
  }

  /** Resolves once updates$ has published `revision` (or the cache stops). */
  waitFor(revision: number): Promise<void> {
    if (this.published >= revision || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ revision, resolve }));
  }

  /** Snapshots and batches received from the DB and not yet applied and published. */
  get queued(): number {
    return this.queuedCount;
  }

  get state$(): Observable<CacheState> {
    return this.stateSubject.asObservable();
  }

  get state(): CacheState {
    return this.stateSubject.value;
  }

  // ------------------------------------------------------------------ reads

  get<T extends TableName>(table: T, id: string): NbObject<T> | undefined {
    return this.store.get(table, id);
  }

  all<T extends TableName>(table: T): NbObject<T>[] {
    return this.store.all(table);
  }

  size(table?: TableName): number {
    return this.store.size(table);
  }

  lookup<T extends TableName>(table: T, index: IndexName<T>, value: string): NbObject<T>[] {
    return this.store.lookup(table, index, value);
  }

  /** Ports bound to this chassis. */
  localPorts(): LogicalPort[] {
    return this.store.lookup('logical_port', 'chassis', this.chassisId);
  }

  /**
   * Whether the DB has this object, held here or not (a selective
   * cache tracks every object's scope keys): e.g. a port that is not in scope yet.
   */
  inDb(table: TableName, id: string): boolean {
    return this.shadow.get(table, id) !== undefined;
  }

  // ------------------------------------------------------------------ internals

  private enqueue(fn: () => Promise<void> | void): Promise<void> {
    this.queuedCount++;
    const run = this.queue.then(fn).finally(() => this.queuedCount--);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async load(snap: Snapshot): Promise<void> {
    const resync = this.loaded;
    // Two passes: the stubs of everything first (each decoded object dropped at once),
    // then only what is in scope decoded again to be held — a snapshot of a large cloud
    // never has every object decoded at the same time.
    const records = new Map<string, { table: TableName; rec: StoredRecord }>();
    this.shadow.clear();
    for (const r of snap.records) {
      if (!isTableName(r.table)) continue;
      this.shadow.apply(r.table, r.id, this.shadow.stubOf(r.table, parseStored(r.table, r.value) as unknown as NbObject), r.modRevision);
      records.set(key(r.table, r.id), { table: r.table, rec: r });
    }
    this.scope = Scope.compute(this.shadow, this.scopeOptions);
    const changes: NbChange[] = [];
    const cause: ChangeCause = resync ? 'resync' : 'db';
    // Drop what is gone or out of scope, then bring in what is new or changed.
    for (const t of TABLES) {
      for (const id of this.store.ids(t)) {
        const next = records.get(key(t, id));
        if (!next || !this.scope.wants(this.shadow, t, id)) {
          const old = this.store.evict(t, id);
          if (old) changes.push({ kind: 'deleted', table: t, id, old, revision: snap.revision, cause } as NbChange);
        }
      }
    }
    for (const { table, rec } of records.values()) {
      if (!this.scope.wants(this.shadow, table, rec.id)) continue;
      const rev = rec.modRevision;
      const held = this.store.modRevision(table, rec.id);
      if (held === rev) continue;
      const obj = deepFreeze(decodeObject(table, rec.value, rec.version));
      const prev = held !== undefined ? this.store.evict(table, obj.id) : undefined;
      const ch = this.store.apply(table, obj.id, obj, rev);
      const c = ch && toChange({ ...ch, old: prev, revision: snap.revision }, cause);
      if (c) changes.push(c);
    }
    this.loaded = true;
    this.emit(snap.revision, changes);
  }

  private async applyBatch(batch: ChangeBatch): Promise<void> {
    const touched: Touched[] = [];
    let scopeMayMove = false;
    for (const e of batch.events) {
      if (!isTableName(e.table)) continue;
      const fields = e.type === 'put' ? parseStored(e.table, e.value ?? '') : undefined;
      // The stub reads only scope fields, which the stored fields carry under the object's names.
      const stub = fields ? this.shadow.stubOf(e.table, fields as unknown as NbObject) : undefined;
      if (!scopeMayMove) {
        const held = this.shadow.get(e.table, e.id);
        if (!sameStub(held, stub) && this.scope.movedBy(e.table, e.id, held, stub)) scopeMayMove = true;
      }
      this.shadow.apply(e.table, e.id, stub, batch.revision);
      touched.push({ table: e.table, id: e.id, fields, version: e.version });
    }
    // Out of scope (the common case in a large cloud): the scope stays, nothing touched
    // is held or wanted — only the shadow changed, the revision is published as it is.
    if (!scopeMayMove && touched.every((t) => !this.store.has(t.table, t.id) && !this.scope.wants(this.shadow, t.table, t.id))) {
      this.emit(batch.revision, []);
      return;
    }
    await this.reconcile(touched, batch.revision, scopeMayMove);
  }

  /**
   * Brings the store in line with the scope after `touched` changed in the DB at
   * `revision`. `scopeMayMove` false: no touched object changed a field scope is made
   * of (a port's status, a rule's text), so the scope is not recomputed at first — it
   * walks every local port, and a binder marking N ports ACTIVE one by one made that N².
   */
  private async reconcile(touched: Touched[], revision: number, scopeMayMove = true): Promise<void> {
    const changes: NbChange[] = [];
    const events = new Map<string, Touched>();
    for (const t of touched) events.set(key(t.table, t.id), t);
    const candidates = new Map<string, { table: TableName; id: string }>();
    for (const t of touched) candidates.set(key(t.table, t.id), t);

    for (let round = 0; round < 8; round++) {
      const before = this.scope;
      if (round > 0 || scopeMayMove) this.scope = Scope.compute(this.shadow, this.scopeOptions);
      const now = this.scope;
      if (now !== before) {
        for (const c of symmetricDifference(before.chassis, now.chassis)) {
          candidates.set(key('chassis', c), { table: 'chassis', id: c });
          candidates.set(key('chassis_liveness', c), { table: 'chassis_liveness', id: c });
        }
        for (const n of symmetricDifference(before.networks, now.networks)) this.addNetworkCandidates(n, candidates);
        for (const g of symmetricDifference(before.groups, now.groups)) candidates.set(key('security_group', g), { table: 'security_group', id: g });
        for (const g of symmetricDifference(before.remoteGroups, now.remoteGroups)) for (const p of this.shadow.portsOfGroup(g)) candidates.set(key('logical_port', p), { table: 'logical_port', id: p });
      }
      if (candidates.size === 0) break;

      const fetch = new Map<TableName, string[]>();
      for (const [k, c] of candidates) {
        const want = this.scope.wants(this.shadow, c.table, c.id);
        const have = this.store.has(c.table, c.id);
        const ev = events.get(k);
        if (ev) {
          events.delete(k);
          if (ev.fields && want) {
            const ch = this.store.apply(c.table, c.id, objectOfTouched(ev), revision);
            const change = ch && toChange(ch, 'db');
            if (change) changes.push(change);
            continue;
          }
          if (!ev.fields) {
            const ch = have ? this.store.apply(c.table, c.id, undefined, revision) : undefined;
            const change = ch && toChange(ch, 'db');
            if (change) changes.push(change);
            continue;
          }
        }
        if (want && !have) {
          const ids = fetch.get(c.table) ?? [];
          ids.push(c.id);
          fetch.set(c.table, ids);
        } else if (!want && have) {
          const old = this.store.evict(c.table, c.id);
          if (old) changes.push({ kind: 'deleted', table: c.table, id: c.id, old, revision, cause: ev ? 'db' : 'scope' } as NbChange);
        }
      }
      candidates.clear();
      for (const [table, ids] of fetch) {
        const records = await this.fetch(table, ids);
        records.forEach((rec, i) => {
          const id = ids[i]!;
          if (!rec) {
            this.shadow.apply(table, id, undefined, revision);
            return;
          }
          const obj = deepFreeze(decodeObject(table, rec.value, rec.version));
          this.shadow.apply(table, id, this.shadow.stubOf(table, obj), rec.modRevision);
          if (!this.scope.wants(this.shadow, table, id)) return;
          const ch = this.store.apply(table, id, obj, rec.modRevision);
          const change = ch && toChange({ ...ch, revision }, 'scope');
          if (change) changes.push(change);
          // A fetched security group may widen the remote-group closure: look again.
          if (table === 'security_group') candidates.set(key(table, id), { table, id });
        });
      }
      if (candidates.size === 0 && (this.scope === before || (sameSet(before.networks, this.scope.networks) && sameSet(before.groups, this.scope.groups) && sameSet(before.remoteGroups, this.scope.remoteGroups) && sameSet(before.chassis, this.scope.chassis)))) break;
    }
    this.emit(revision, changes);
  }

  private addNetworkCandidates(n: string, into: Map<string, { table: TableName; id: string }>): void {
    const put = (table: TableName, id: string): void => void into.set(key(table, id), { table, id });
    put('logical_switch', n);
    for (const t of ['subnet', 'logical_port', 'logical_router', 'floating_ip'] as const) for (const id of this.shadow.onNetwork(t, n)) put(t, id);
    for (const p of this.shadow.onNetwork('logical_port', n)) for (const f of this.shadow.fipsOfPort(p)) put('floating_ip', f);
  }

  /** Reads objects entering scope, retrying while the DB is unreachable (the cache keeps serving). */
  private async fetch(table: TableName, ids: string[]): Promise<(StoredRecord | undefined)[]> {
    const backoff = new Backoff({ initialMs: 100, maxMs: 2_000 });
    for (;;) {
      try {
        const r = await this.driver.getMany(table, ids);
        if (this.fetchTrouble) {
          this.fetchTrouble = undefined;
          this.publishState(this.follower.state);
        }
        return r;
      } catch (err) {
        if (this.stopped || (err instanceof DfError && err.code === NbErrorCode.CLOSED)) throw err;
        this.fetchTrouble = `cannot read objects entering scope: ${describeError(err)}`;
        this.publishState(this.follower.state);
        await new Promise<void>((r) => this.clock.setTimer(backoff.next(), r));
      }
    }
  }

  /**
   * Publishes one step, synchronously and in order: the update first (so a follower
   * has the changes of R before anyone hears that the cache is at R), then the state
   * and the waiters of R.
   */
  private emit(revision: number, changes: NbChange[]): void {
    if (changes.length > 0 || revision > this.published) {
      this.published = Math.max(this.published, revision);
      this.updatesSubject.next({ revision, changes: changes.length > 0 ? order(changes) : changes });
    }
    this.publishState(this.follower.state, revision);
    if (this.waiters.length > 0) {
      const ready = this.waiters.filter((w) => w.revision <= this.published);
      this.waiters = this.waiters.filter((w) => w.revision > this.published);
      for (const w of ready) w.resolve();
    }
  }

  private publishState(f: FollowerState, revision?: number): void {
    if (this.stateSubject.closed) return;
    const counts: Partial<Record<TableName, number>> = {};
    for (const t of TABLES) counts[t] = this.store.size(t);
    const phase = this.fetchTrouble && f.phase === 'live' ? 'degraded' : f.phase;
    const reason = this.fetchTrouble ?? f.reason;
    const next: CacheState = {
      phase,
      revision: Math.max(revision ?? 0, f.revision, this.stateSubject.value.revision),
      resyncs: f.resyncs,
      counts,
      networks: this.selective ? this.scope.networks.size : this.store.size('logical_switch'),
      ...(reason && phase !== 'live' ? { reason } : {}),
    };
    this.stateSubject.next(next);
  }
}

function* symmetricDifference(a: ReadonlySet<string>, b: ReadonlySet<string>): Iterable<string> {
  for (const x of a) if (!b.has(x)) yield x;
  for (const x of b) if (!a.has(x)) yield x;
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}
