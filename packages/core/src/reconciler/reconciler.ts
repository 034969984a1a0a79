import { DfError, backoffDelay, describeError, systemClock, type Clock } from '@dragonflow/base';
import { FlowModFlags, describeOfError, type Bucket, type ErrorMsg, type FlowRemoved, type FlowStats, type GroupDesc, type GroupType, type Match } from '@dragonflow/openflow';
import { BehaviorSubject, Subject, filter, firstValueFrom, type Observable } from 'rxjs';
import { CoreMetrics } from '../observe/metrics.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { makeCookie } from '../pipeline/registers.js';
import { effectiveFlags, isEphemeral, type DesiredFlow } from './flow.js';
import { actionsKey, flowIdentity, instructionsKey } from './keys.js';
import type { BatchError, BatchOutcome, SwitchChannel, SwitchRequest } from './switch.js';
import { decodeFlow, deleteRequest, describeEncoded, encodeFlow, flowRequest, requestMessage, wireFlags, wireHard, wireIdle } from './wire.js';

/** Who desires a set of flows: an app (by name and cookie slot) and one of its owners. */
export interface OwnerId {
  readonly app: string;
  readonly slot: number;
  /** `port:<id>`, `network:<id>`, … */
  readonly owner: string;
  /** The owner kind in the cookie's bits 55–48 (OWNER_KINDS: 0 = the tag is a hash of the owner text). */
  readonly kind: number;
  /** The owner tag in the cookie's low 32 bits. */
  readonly tag: number;
}

/** A group an app wants; `groupId` is the app-local id (0..2^24-1). */
export interface DesiredGroup {
  readonly groupId: number;
  readonly groupType: GroupType;
  readonly buckets: readonly Bucket[];
}

/** One owner: its id (kept flat, one object per owner), its cookie, the keys of its flows and its groups. */
class OwnerRecord implements OwnerId {
  app: string;
  slot: number;
  owner: string;
  kind: number;
  tag: number;
  keys: string[] = [];
  groups: number[] = [];

  constructor(
    id: OwnerId,
    public cookie: bigint,
  ) {
    this.app = id.app;
    this.slot = id.slot;
    // app owner texts are often template literals (ropes): keep one flat copy per owner
    this.owner = [id.owner, ''].join('');
    this.kind = id.kind;
    this.tag = id.tag;
  }

  get id(): OwnerId {
    return this;
  }

  /** The owner now names another object key (or slot): its flows get the new cookie. */
  rename(id: OwnerId, cookie: bigint): void {
    this.slot = id.slot;
    this.kind = id.kind;
    this.tag = id.tag;
    this.cookie = cookie;
  }
}

/** What the reconciler compares to decide what to send for one flow. */
interface FlowState {
  readonly cookie: bigint;
  /** instructionsKey: what the flow does, canonical. */
  readonly actions: string;
  readonly idle: number;
  readonly hard: number;
  readonly flags: number;
  /** The DELETE_STRICT of this flow. */
  deleteRequest(): SwitchRequest;
}

/**
 * A desired flow, compact: its identity and instructions keys (canonical strings)
 * and its wire form (see wire.ts), nothing else — no object graph per flow.
 * Installed flows that match what is desired share the same entry.
 */
class DesiredEntry implements FlowState {
  constructor(
    readonly key: string,
    readonly actions: string,
    /** The ADD flow-mod with the owner's cookie, latin1. */
    readonly wire: string,
    readonly owner: OwnerRecord,
    readonly cookie: bigint,
  ) {}

  get idle(): number {
    return wireIdle(this.wire);
  }

  get hard(): number {
    return wireHard(this.wire);
  }

  get flags(): number {
    return wireFlags(this.wire);
  }

  get ephemeral(): boolean {
    return wireIdle(this.wire) !== 0 || wireHard(this.wire) !== 0;
  }

  deleteRequest(): SwitchRequest {
    return deleteRequest(this.wire);
  }
}

/** A flow read back from the switch (at a connect) that is not (yet) known to be a desired one. */
class ReadBackFlow implements FlowState {
  readonly actions: string;
  constructor(readonly f: FlowStats) {
    this.actions = instructionsKey(f.instructions);
  }

  get cookie(): bigint {
    return this.f.cookie;
  }

  get idle(): number {
    return this.f.idleTimeout;
  }

  get hard(): number {
    return this.f.hardTimeout;
  }

  get flags(): number {
    return this.f.flags;
  }

  deleteRequest(): SwitchRequest {
    return {
      type: 'flow_mod',
      command: 'delete_strict',
      cookie: 0n,
      cookieMask: 0n,
      tableId: this.f.tableId,
      idleTimeout: 0,
      hardTimeout: 0,
      priority: this.f.priority,
      bufferId: 0xffffffff,
      outPort: 0xffffffff,
      outGroup: 0xffffffff,
      flags: 0,
      match: this.f.match,
      instructions: [],
    };
  }
}

interface DesiredGroupEntry {
  readonly owner: OwnerRecord;
  readonly group: DesiredGroup;
  readonly switchId: number;
  readonly key: string;
}

type Op =
  | { readonly kind: 'flow'; readonly key: string; readonly command: 'add' | 'modify_strict' | 'delete_strict'; readonly request: SwitchRequest; readonly owner?: OwnerRecord }
  | { readonly kind: 'group'; readonly groupId: number; readonly request: SwitchRequest; readonly owner?: OwnerRecord }
  | { readonly kind: 'packet_out'; readonly request: SwitchRequest; readonly owner?: OwnerRecord };

/** The reactive requests of one tick (see `installNow`), and who waits for their barrier. */
interface TickBatch {
  readonly channel: SwitchChannel;
  readonly ops: Op[];
  readonly waiters: { resolve: () => void; reject: (e: unknown) => void }[];
}

/** An error the switch reported, with the flow (or group) and owner behind it. */
export interface ReconcilerError {
  readonly app: string | undefined;
  readonly owner: string | undefined;
  readonly request: SwitchRequest;
  readonly error: ErrorMsg;
  readonly message: string;
}

/**
 * An owner some of whose desired flows (or groups) the switch refused. It stays
 * failed until every refused one is installed (a retry: the owner's next change, a
 * reconnect, or the backoff timer) or no longer desired.
 */
export interface OwnerFailure {
  readonly app: string;
  readonly owner: string;
  /** OWNER_KINDS number and tag of its cookie (which object it is, for keyed owners). */
  readonly kind: number;
  readonly tag: number;
  /** Flows and groups of the owner the switch refused and that are not installed. */
  readonly refused: number;
  /** The switch's last errors for them (at most 5), as `describeOfError` prints them. */
  readonly errors: readonly string[];
  /** Clock time of the first refusal. */
  readonly since: number;
  /** Times they were sent and refused. */
  readonly attempts: number;
  /** Clock time of the next retry by the backoff timer. */
  readonly retryAt: number;
}

/** An owner became failed (or its refusals changed), or recovered (everything installed, or nothing refused desired any more). */
export type OwnerFailureEvent = { readonly kind: 'failed'; readonly failure: OwnerFailure } | { readonly kind: 'recovered'; readonly app: string; readonly owner: string; readonly ownerKind: number; readonly tag: number };

interface FailureRecord {
  /** Flow keys and `group:<switch id>` of what was refused. */
  readonly keys: Set<string>;
  errors: string[];
  readonly since: number;
  attempts: number;
  retryAt: number;
}

/** First retry of refused flows after this long; doubles per attempt up to RETRY_MAX_MS. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000;

/** An ephemeral (timeout) flow the switch removed; it has left the desired state. */
export interface ExpiredFlow {
  readonly app: string;
  readonly owner: string;
  readonly flow: DesiredFlow;
  readonly reason: number;
  readonly packetCount: bigint;
  readonly byteCount: bigint;
}

export interface ReconcilerOptions {
  readonly metrics?: CoreMetrics;
  readonly logger?: Logger;
  /** Flow-mods per barrier. */
  readonly batchSize?: number;
  /** Batches in flight before waiting for their barriers. */
  readonly maxInFlight?: number;
  /** Time for the retry backoff of refused flows (tests pass a ManualClock). */
  readonly clock?: Clock;
}

export interface AttachOptions {
  /** The app that may adopt installed timeout flows of a table (its `adoptTables`), if any. */
  readonly adoptableBy?: (tableId: number) => string | undefined;
}

/** Counts of what a flush sent, for tests and benchmarks. */
export interface FlushStats {
  adds: number;
  modifies: number;
  deletes: number;
  groupMods: number;
  batches: number;
}

/** Groups apps use carry their cookie slot in the top 8 bits of the id. */
export function switchGroupId(slot: number, localId: number): number {
  if (!Number.isInteger(localId) || localId < 0 || localId > 0xffffff) throw new DfError('GROUP_INVALID', `group id ${localId} must be 0..16777215`, { context: { groupId: localId } });
  return ((slot << 24) | localId) >>> 0;
}

function groupKey(type: GroupType, buckets: readonly Bucket[]): string {
  return `${type}|${buckets.map((b) => `${b.weight}:${b.watchPort}:${b.watchGroup}:${actionsKey(b.actions)}`).join('|')}`;
}

/**
 * Keeps the desired flows (by owner) and the installed flows (as read back from the
 * switch and then tracked), and sends only the difference: ADD for a new flow or a
 * changed cookie/timeout, MODIFY_STRICT when only the instructions changed (counters
 * survive), DELETE_STRICT for a flow nobody desires. Batches end with a barrier;
 * errors come back matched to the flow that caused them.
 *
 * Nothing is sent until the desired state is complete (`setComplete`): a restart
 * first reads the switch, waits for the apps to compute everything from a full
 * topology snapshot, then fixes only what differs — with nothing changed, zero
 * flow-mods.
 */
export class Reconciler {
  private readonly owners = new Map<string, OwnerRecord>();
  private readonly byCookie = new Map<bigint, OwnerRecord>();
  private readonly desired = new Map<string, DesiredEntry>();
  private readonly shadowed = new Map<string, DesiredEntry[]>();
  private installed = new Map<string, FlowState>();
  private dirty = new Set<string>();
  private readonly desiredGroups = new Map<number, DesiredGroupEntry>();
  private installedGroups = new Map<number, string>();
  private dirtyGroups = new Set<number>();

  /** Installed timeout flows offered to an app for adoption (by app), not deleted until it answered. */
  private awaiting = new Map<string, Set<string>>();
  private channel: SwitchChannel | undefined;
  /** Bumped on every attach/detach: work from an older connection is discarded. */
  private generation = 0;
  private readSynced = false;
  private complete = false;
  private desiredRevision = 0;
  private flushing: Promise<void> | undefined;
  private flushAgain = false;
  private flushScheduled = false;
  /** installNow/sendNow calls made in this tick: sent together, in call order, with one barrier. */
  private tick: TickBatch | undefined;

  /** Owners with refused flows or groups (by their record: dropping the owner drops the failure). */
  private readonly failures = new Map<OwnerRecord, FailureRecord>();
  private readonly failuresSubject = new Subject<OwnerFailureEvent>();
  private cancelRetry: (() => void) | undefined;
  private retryTimerAt = Infinity;
  private readonly clock: Clock;

  private readonly synced = new BehaviorSubject<number>(-1);
  private readonly errorsSubject = new Subject<ReconcilerError>();
  private readonly expiredSubject = new Subject<ExpiredFlow>();
  private readonly metrics: CoreMetrics;
  private readonly log: Logger;
  private readonly batchSize: number;
  private readonly maxInFlight: number;
  readonly totals: FlushStats = { adds: 0, modifies: 0, deletes: 0, groupMods: 0, batches: 0 };

  constructor(options: ReconcilerOptions = {}) {
    this.metrics = options.metrics ?? new CoreMetrics();
    this.log = options.logger ?? silentLogger();
    this.batchSize = options.batchSize ?? 1000;
    this.maxInFlight = options.maxInFlight ?? 8;
    this.clock = options.clock ?? systemClock;
  }

  // ---------------- desired state ----------------

  /**
   * Sets the complete desired flows (and groups) of one owner, replacing what it
   * had. Throws (and changes nothing) when two of the flows have the same identity.
   * A flow another owner already desires is reported as a conflict and held back
   * until that owner lets go of it.
   */
  replace(id: OwnerId, flows: readonly DesiredFlow[], groups: readonly DesiredGroup[] = []): void {
    const ownerKey = ownerKeyOf(id.app, id.owner);
    const groupIds = new Set<number>();
    for (const g of groups) {
      if (groupIds.has(g.groupId)) throw new DfError('GROUP_DUPLICATE', `owner '${id.owner}' of app '${id.app}' desires group ${g.groupId} twice`, { context: { app: id.app, owner: id.owner } });
      groupIds.add(g.groupId);
      switchGroupId(id.slot, g.groupId);
    }
    let rec = this.owners.get(ownerKey);
    if (!rec && flows.length === 0 && groups.length === 0) return;
    const cookie = makeCookie(id.slot, id.tag, id.kind);
    // Built before anything changes, so a duplicate (or a flow the codec refuses) leaves the state as it was.
    const entries: DesiredEntry[] = [];
    const keys = new Set<string>();
    const owner: OwnerRecord = rec ?? new OwnerRecord(id, cookie);
    const sharedCookie = rec && rec.cookie === cookie ? rec.cookie : cookie;
    for (const f of flows) {
      const key = flowIdentity(f.table, f.priority, f.match);
      if (keys.has(key)) {
        throw new DfError('FLOW_DUPLICATE', `owner '${id.owner}' of app '${id.app}' desires two flows with the same table, priority and match (${key})`, {
          context: { app: id.app, owner: id.owner, flow: key },
        });
      }
      keys.add(key);
      const actions = instructionsKey(f.instructions);
      // An unchanged flow of this owner: keep the entry (and its wire form) it has.
      const cur = rec ? this.desired.get(key) : undefined;
      if (cur && cur.owner === rec && cur.cookie === sharedCookie && cur.actions === actions && cur.idle === (f.idleTimeout ?? 0) && cur.hard === (f.hardTimeout ?? 0) && cur.flags === effectiveFlags(f)) {
        entries.push(cur);
        continue;
      }
      let wire: string;
      try {
        wire = encodeFlow(f, sharedCookie);
      } catch (cause) {
        throw new DfError('FLOW_INVALID', `owner '${id.owner}' of app '${id.app}' desires a flow the codec refuses (${key}): ${describeError(cause)}`, { cause, context: { app: id.app, owner: id.owner, flow: key } });
      }
      entries.push(new DesiredEntry(key, actions, wire, owner, sharedCookie));
    }
    if (rec && rec.cookie !== cookie) {
      // the owner now names another object key: its flows get the new cookie
      if (this.byCookie.get(rec.cookie) === rec) this.byCookie.delete(rec.cookie);
      rec.rename(id, cookie);
      if (!this.byCookie.has(cookie)) this.byCookie.set(cookie, rec);
    }
    if (!rec) {
      rec = owner;
      this.owners.set(ownerKey, rec);
      if (!this.byCookie.has(rec.cookie)) this.byCookie.set(rec.cookie, rec);
    }
    for (const key of rec.keys) if (!keys.has(key)) this.release(key, rec);
    for (const e of entries) this.claim(e.key, e);
    rec.keys = entries.map((e) => e.key);
    // The owner changed: what the switch refused of it is sent again with the change.
    const failed = this.failures.get(rec);
    if (failed) this.markRetry(rec, failed);

    for (const gid of rec.groups) if (!groupIds.has(gid)) this.releaseGroup(switchGroupId(id.slot, gid), rec);
    for (const g of groups) {
      const switchId = switchGroupId(id.slot, g.groupId);
      const cur = this.desiredGroups.get(switchId);
      if (cur && cur.owner !== rec) {
        this.reportConflict(`group:${switchId}`, cur.owner, rec);
        continue;
      }
      const key = groupKey(g.groupType, g.buckets);
      if (!cur || cur.key !== key) {
        this.desiredGroups.set(switchId, { owner: rec, group: g, switchId, key });
        this.dirtyGroups.add(switchId);
      }
    }
    rec.groups = [...groupIds];
    if (rec.keys.length === 0 && rec.groups.length === 0) this.dropOwner(rec);
    this.metrics.desiredFlows.set(this.desired.size);
    this.scheduleFlush();
  }

  /** Drops every flow and group of one owner. */
  remove(id: Pick<OwnerId, 'app' | 'owner'>): void {
    const rec = this.owners.get(ownerKeyOf(id.app, id.owner));
    if (!rec) return;
    this.replace(rec.id, [], []);
  }

  private dropOwner(rec: OwnerRecord): void {
    this.owners.delete(ownerKeyOf(rec.id.app, rec.id.owner));
    if (this.byCookie.get(rec.cookie) === rec) this.byCookie.delete(rec.cookie);
    if (this.failures.has(rec)) this.recover(rec);
  }

  /**
   * The app and owner a cookie names: (app slot, owner kind, key) is one object's
   * owner; only hashed owner texts (kind 0) can collide, and then this is the first.
   */
  ownerOfCookie(cookie: bigint): { app: string; owner: string } | undefined {
    const rec = this.byCookie.get(cookie);
    return rec ? { app: rec.id.app, owner: rec.id.owner } : undefined;
  }

  /** Owners of one app that currently desire something. */
  ownersOf(app: string): string[] {
    const out: string[] = [];
    for (const rec of this.owners.values()) if (rec.id.app === app) out.push(rec.id.owner);
    return out;
  }

  /** The desired flows of one owner (decoded from their wire form: for tests, diagnostics, `df flows`). */
  flowsOf(app: string, owner: string): DesiredFlow[] {
    const rec = this.owners.get(ownerKeyOf(app, owner));
    if (!rec) return [];
    const out: DesiredFlow[] = [];
    for (const k of rec.keys) {
      const e = this.entryOf(k, rec);
      if (e) out.push(decodeFlow(e.wire));
    }
    return out;
  }

  /** Whether the owner desires any flow (cheaper than flowsOf(…).length: nothing is decoded). */
  hasFlows(app: string, owner: string): boolean {
    return (this.owners.get(ownerKeyOf(app, owner))?.keys.length ?? 0) > 0;
  }

  /** Which app and owner desire the flow with this identity (for traces). */
  ownerOfFlow(table: number, priority: number, match: Match): { app: string; owner: string } | undefined {
    const e = this.desired.get(flowIdentity(table, priority, match));
    return e ? { app: e.owner.id.app, owner: e.owner.id.owner } : undefined;
  }

  /** Number of flows in the desired state. */
  get desiredCount(): number {
    return this.desired.size;
  }

  /** Number of flows believed installed. */
  get installedCount(): number {
    return this.installed.size;
  }

  /** Every desired flow with its cookie (for the app contract suite and `df flows`). */
  *desiredFlows(): IterableIterator<{ app: string; owner: string; cookie: bigint; flow: DesiredFlow }> {
    for (const e of this.desired.values()) yield { app: e.owner.id.app, owner: e.owner.id.owner, cookie: e.cookie, flow: decodeFlow(e.wire) };
  }

  private entryOf(key: string, rec: OwnerRecord): DesiredEntry | undefined {
    const e = this.desired.get(key);
    if (e?.owner === rec) return e;
    return this.shadowed.get(key)?.find((s) => s.owner === rec);
  }

  private claim(key: string, e: DesiredEntry): void {
    const cur = this.desired.get(key);
    if (!cur) {
      this.desired.set(key, e);
      this.dirty.add(key);
      return;
    }
    if (cur.owner === e.owner) {
      if (cur === e) return;
      if (cur.actions !== e.actions || cur.flags !== e.flags || cur.idle !== e.idle || cur.hard !== e.hard || cur.cookie !== e.cookie) {
        this.desired.set(key, e);
        this.dirty.add(key);
      } else if (cur.wire !== e.wire) {
        // the same flow in another encoding: keep the newest form to send
        this.desired.set(key, e);
      }
      return;
    }
    const list = this.shadowed.get(key) ?? [];
    const i = list.findIndex((s) => s.owner === e.owner);
    if (i >= 0) {
      list[i] = e;
      return;
    }
    list.push(e);
    this.shadowed.set(key, list);
    this.reportConflict(key, cur.owner, e.owner);
  }

  private release(key: string, rec: OwnerRecord): void {
    if (this.failures.size > 0) this.settleFailedKey(rec, key);
    const cur = this.desired.get(key);
    const waiting = this.shadowed.get(key);
    if (cur?.owner === rec) {
      const next = waiting?.shift();
      if (waiting && waiting.length === 0) this.shadowed.delete(key);
      if (next) this.desired.set(key, next);
      else this.desired.delete(key);
      this.dirty.add(key);
    } else if (waiting) {
      const rest = waiting.filter((s) => s.owner !== rec);
      if (rest.length) this.shadowed.set(key, rest);
      else this.shadowed.delete(key);
    }
  }

  private releaseGroup(switchId: number, rec: OwnerRecord): void {
    if (this.failures.size > 0) this.settleFailedKey(rec, `group:${switchId}`);
    if (this.desiredGroups.get(switchId)?.owner === rec) {
      this.desiredGroups.delete(switchId);
      this.dirtyGroups.add(switchId);
    }
  }

  private reportConflict(what: string, holder: OwnerRecord, other: OwnerRecord): void {
    this.metrics.conflicts.inc({ app: other.id.app });
    this.log.error(
      { flow: what, holder: `${holder.id.app}/${holder.id.owner}`, other: `${other.id.app}/${other.id.owner}` },
      'two owners desire the same flow; the second is held back until the first lets go',
    );
  }

  /**
   * The apps have computed their desired state from a complete topology snapshot
   * (and every change up to `revision`). Until the first call nothing is sent.
   */
  setComplete(revision: number): void {
    this.complete = true;
    this.markRevision(revision);
  }

  /** Every change up to `revision` is in the desired state. */
  markRevision(revision: number): void {
    if (revision > this.desiredRevision) this.desiredRevision = revision;
    this.scheduleFlush();
  }

  get isComplete(): boolean {
    return this.complete;
  }

  // ---------------- switch ----------------

  /**
   * A switch connected (or reconnected): read back what it has, then, once the
   * desired state is complete, fix only what differs.
   */
  async attach(channel: SwitchChannel, options: AttachOptions = {}): Promise<Map<string, FlowStats[]>> {
    this.channel = channel;
    const generation = ++this.generation;
    this.readSynced = false;
    const [flows, groups] = await Promise.all([channel.dumpFlows(), channel.dumpGroups()]);
    const offers = new Map<string, FlowStats[]>();
    if (generation !== this.generation) return offers;
    this.loadInstalled(flows, groups, options.adoptableBy, offers);
    this.readSynced = true;
    let offered = 0;
    for (const list of offers.values()) offered += list.length;
    this.log.info({ datapathId: channel.datapathId.toString(16), flows: flows.length, groups: groups.length, offeredForAdoption: offered }, 'read back the installed flows');
    this.scheduleFlush();
    return offers;
  }

  /**
   * The app has answered an adoption offer of `attach` (its handler returned):
   * the offered flows it did not re-desire are deleted now.
   */
  adoptionDone(app: string, channel: SwitchChannel): void {
    const keys = this.awaiting.get(app);
    if (!keys) return;
    this.awaiting.delete(app);
    if (channel !== this.channel) return;
    for (const key of keys) this.dirty.add(key);
    this.scheduleFlush();
  }

  /** The switch went away; what it has is unknown until the next attach. */
  detach(channel?: SwitchChannel): void {
    if (channel && channel !== this.channel) return;
    this.channel = undefined;
    this.awaiting = new Map();
    this.generation++;
    this.readSynced = false;
  }

  get attached(): boolean {
    return this.channel !== undefined && this.readSynced;
  }

  private loadInstalled(flows: readonly FlowStats[], groups: readonly GroupDesc[], adoptableBy: ((tableId: number) => string | undefined) | undefined, offers: Map<string, FlowStats[]>): void {
    this.installed = new Map();
    this.awaiting = new Map();
    const flowKeys: string[] = new Array<string>(flows.length);
    for (let i = 0; i < flows.length; i++) {
      const f = flows[i]!;
      const key = flowIdentity(f.tableId, f.priority, f.match);
      flowKeys[i] = key;
      // Until the first comparison shows it is the desired flow (then the desired entry stands for it).
      this.installed.set(key, new ReadBackFlow(f));
    }
    this.installedGroups = new Map(groups.map((g) => [g.groupId, groupKey(g.groupType, g.buckets)]));
    // An ephemeral flow the switch no longer has expired while we were away.
    for (const [key, e] of [...this.desired]) {
      if (e.ephemeral && !this.installed.has(key)) this.expire(key, e, 0, 0n, 0n);
    }
    this.dirty = new Set([...this.desired.keys(), ...this.installed.keys()]);
    // Timeout flows nobody desires in a table whose app can adopt them: offered to the
    // app, held back from deletion until it answered (adoptionDone).
    if (adoptableBy) {
      for (let i = 0; i < flows.length; i++) {
        const f = flows[i]!;
        if (!isEphemeral(f)) continue;
        const app = adoptableBy(f.tableId);
        if (app === undefined) continue;
        const key = flowKeys[i]!;
        if (this.desired.has(key)) continue;
        let keys = this.awaiting.get(app);
        if (!keys) {
          keys = new Set();
          this.awaiting.set(app, keys);
          offers.set(app, []);
        }
        if (keys.has(key)) continue;
        keys.add(key);
        offers.get(app)!.push(f);
        this.dirty.delete(key);
      }
    }
    this.dirtyGroups = new Set([...this.desiredGroups.keys(), ...this.installedGroups.keys()]);
    this.metrics.installedFlows.set(this.installed.size);
  }

  /** The switch removed a flow (idle/hard timeout or a delete): forget it, and if it was ephemeral, drop it from the desired state. */
  handleFlowRemoved(msg: FlowRemoved): ExpiredFlow | undefined {
    const key = flowIdentity(msg.tableId, msg.priority, msg.match);
    const inst = this.installed.get(key);
    if (inst && inst.cookie === msg.cookie) this.installed.delete(key);
    this.metrics.installedFlows.set(this.installed.size);
    const e = this.desired.get(key);
    if (!e) return undefined;
    if (e.ephemeral && e.cookie === msg.cookie) return this.expire(key, e, msg.reason, msg.packetCount, msg.byteCount);
    // A permanent flow vanished (someone deleted it): put it back.
    this.dirty.add(key);
    this.scheduleFlush();
    return undefined;
  }

  private expire(key: string, e: DesiredEntry, reason: number, packetCount: bigint, byteCount: bigint): ExpiredFlow {
    const rec = e.owner;
    rec.keys = rec.keys.filter((k) => k !== key);
    this.release(key, rec);
    this.dirty.delete(key);
    if (rec.keys.length === 0 && rec.groups.length === 0) this.dropOwner(rec);
    const out = { app: rec.id.app, owner: rec.id.owner, flow: decodeFlow(e.wire), reason, packetCount, byteCount };
    this.expiredSubject.next(out);
    this.metrics.desiredFlows.set(this.desired.size);
    return out;
  }

  // ---------------- sending ----------------

  /** Resolves when every change marked so far is on the switch (or there is no switch to send to). */
  async flush(): Promise<void> {
    for (;;) {
      if (this.flushing) {
        this.flushAgain = true;
        await this.flushing;
        continue;
      }
      if (!this.canSend() || (this.dirty.size === 0 && this.dirtyGroups.size === 0 && this.synced.value >= this.desiredRevision)) return;
      this.flushing = this.runFlush().finally(() => {
        this.flushing = undefined;
      });
      await this.flushing;
      if (!this.flushAgain) return;
      this.flushAgain = false;
    }
  }

  private canSend(): boolean {
    return this.complete && this.channel !== undefined && this.readSynced;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || !this.canSend()) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush().catch((err: unknown) => this.log.error({ err: describeError(err) }, 'flush failed'));
    });
  }

  private async runFlush(): Promise<void> {
    while (this.canSend() && (this.dirty.size > 0 || this.dirtyGroups.size > 0 || this.synced.value < this.desiredRevision)) {
      const channel = this.channel!;
      const generation = this.generation;
      const revision = this.desiredRevision;
      const ops = this.computeOps();
      const ok = await this.send(channel, generation, ops);
      if (!ok) return;
      if (revision > this.synced.value) {
        this.synced.next(revision);
        this.metrics.syncedRevision.set(revision);
      }
    }
  }

  /** Turns the dirty keys into requests, updating the installed state as if they succeed. */
  private computeOps(): Op[] {
    const groupAdds: Op[] = [];
    const groupDeletes: Op[] = [];
    for (const gid of this.dirtyGroups) {
      const d = this.desiredGroups.get(gid);
      const inst = this.installedGroups.get(gid);
      if (d && inst === undefined) {
        groupAdds.push({ kind: 'group', groupId: gid, owner: d.owner, request: { type: 'group_mod', command: 'add', groupType: d.group.groupType, groupId: gid, buckets: d.group.buckets } });
        this.installedGroups.set(gid, d.key);
      } else if (d && inst !== d.key) {
        groupAdds.push({ kind: 'group', groupId: gid, owner: d.owner, request: { type: 'group_mod', command: 'modify', groupType: d.group.groupType, groupId: gid, buckets: d.group.buckets } });
        this.installedGroups.set(gid, d.key);
      } else if (!d && inst !== undefined) {
        groupDeletes.push({ kind: 'group', groupId: gid, request: { type: 'group_mod', command: 'delete', groupType: 'all', groupId: gid, buckets: [] } });
        this.installedGroups.delete(gid);
      }
    }
    this.dirtyGroups.clear();

    const changes: Op[] = [];
    const deletes: Op[] = [];
    for (const key of this.dirty) {
      const op = this.flowOp(key);
      if (op) (op.owner ? changes : deletes).push(op);
      else if (this.failures.size > 0) {
        // the switch has it as desired after all (read back at a reconnect)
        const d = this.desired.get(key);
        if (d) this.settleFailedKey(d.owner, key);
      }
    }
    this.dirty.clear();
    this.metrics.installedFlows.set(this.installed.size);
    // Make before break: groups, new and changed flows first, then deletions,
    // and groups last (deleting a group deletes the flows that use it).
    return [...groupAdds, ...changes, ...deletes, ...groupDeletes];
  }

  /**
   * The request that brings one flow from its installed to its desired state (none
   * when they agree), recording it as installed as if it succeeds. Changes carry
   * their owner; deletes do not.
   */
  private flowOp(key: string): Op | undefined {
    const d = this.desired.get(key);
    const inst = this.installed.get(key);
    if (d) {
      let command: 'add' | 'modify_strict' | undefined;
      if (!inst || inst.cookie !== d.cookie || inst.idle !== d.idle || inst.hard !== d.hard || (inst.flags & FlowModFlags.SEND_FLOW_REM) !== (d.flags & FlowModFlags.SEND_FLOW_REM)) {
        command = 'add';
      } else if (inst.actions !== d.actions) {
        command = 'modify_strict';
      }
      // From now on the desired entry stands for the installed flow (a read-back one is dropped).
      if (inst !== d) this.installed.set(key, d);
      if (!command) return undefined;
      return { kind: 'flow', key, command, owner: d.owner, request: flowRequest(d.wire, command) };
    }
    if (!inst) return undefined;
    this.installed.delete(key);
    return { kind: 'flow', key, command: 'delete_strict', request: inst.deleteRequest() };
  }

  private async send(channel: SwitchChannel, generation: number, ops: Op[]): Promise<boolean> {
    if (ops.length === 0) return true;
    const inFlight: Promise<void>[] = [];
    let failed = false;
    for (let i = 0; i < ops.length; i += this.batchSize) {
      const batch = ops.slice(i, i + this.batchSize);
      this.count(batch);
      inFlight.push(
        channel.sendBatch(batch.map((o) => o.request)).then(
          (outcome) => this.handleErrors(batch, outcome.errors),
          (err: unknown) => {
            failed = true;
            if (generation === this.generation) this.log.warn({ err: describeError(err) }, 'batch lost with the connection');
          },
        ),
      );
      if (inFlight.length >= this.maxInFlight) await inFlight.shift();
    }
    await Promise.all(inFlight);
    return !failed && generation === this.generation;
  }

  private count(batch: readonly Op[]): void {
    this.totals.batches++;
    this.metrics.batches.inc();
    // Counted per batch, one metric update per command (a label lookup per flow-mod shows in profiles).
    let adds = 0;
    let modifies = 0;
    let deletes = 0;
    let groupAdds = 0;
    let groupModifies = 0;
    let groupDeletes = 0;
    for (const o of batch) {
      const r = o.request;
      if (o.kind === 'flow') {
        if (o.command === 'add') adds++;
        else if (o.command === 'modify_strict') modifies++;
        else deletes++;
      } else if (r.type === 'group_mod') {
        if (r.command === 'add') groupAdds++;
        else if (r.command === 'modify') groupModifies++;
        else groupDeletes++;
      }
    }
    this.totals.adds += adds;
    this.totals.modifies += modifies;
    this.totals.deletes += deletes;
    this.totals.groupMods += groupAdds + groupModifies + groupDeletes;
    if (adds) this.metrics.flowMods.inc({ command: 'add' }, adds);
    if (modifies) this.metrics.flowMods.inc({ command: 'modify_strict' }, modifies);
    if (deletes) this.metrics.flowMods.inc({ command: 'delete_strict' }, deletes);
    if (groupAdds) this.metrics.groupMods.inc({ command: 'add' }, groupAdds);
    if (groupModifies) this.metrics.groupMods.inc({ command: 'modify' }, groupModifies);
    if (groupDeletes) this.metrics.groupMods.inc({ command: 'delete' }, groupDeletes);
  }

  private handleErrors(batch: readonly Op[], errors: readonly BatchError[]): void {
    let refusedBy: Map<OwnerRecord, string[]> | undefined;
    const failedIndexes = errors.length > 0 ? new Set<number>() : undefined;
    for (const e of errors) {
      const op = batch[e.index];
      if (!op) continue;
      failedIndexes!.add(e.index);
      const app = op.owner?.id.app;
      const owner = op.owner?.id.owner;
      const message = describeOfError(e.error);
      let stateKey: string | undefined;
      if (op.kind === 'flow' && op.command !== 'delete_strict') {
        this.installed.delete(op.key);
        stateKey = op.key;
      }
      if (op.kind === 'group' && op.request.type === 'group_mod' && op.request.command !== 'delete') {
        this.installedGroups.delete(op.groupId);
        stateKey = `group:${op.groupId}`;
      }
      // Only what is still desired by that owner counts against it.
      if (stateKey !== undefined && op.owner && this.owns(op.owner, stateKey)) {
        refusedBy ??= new Map();
        const list = refusedBy.get(op.owner) ?? [];
        list.push(stateKey, message);
        refusedBy.set(op.owner, list);
      }
      this.metrics.switchErrors.inc({ app: app ?? 'core' });
      this.log.error({ app, owner, request: describeOp(op), error: message }, 'the switch refused a request');
      this.errorsSubject.next({ app, owner, request: requestMessage(op.request), error: e.error, message });
    }
    // Refused flows and groups that went through this time are settled.
    if (this.failures.size > 0) {
      for (let i = 0; i < batch.length; i++) {
        if (failedIndexes?.has(i)) continue;
        const op = batch[i]!;
        if (!op.owner) continue;
        if (op.kind === 'flow') this.settleFailedKey(op.owner, op.key);
        else if (op.kind === 'group') this.settleFailedKey(op.owner, `group:${op.groupId}`);
      }
    }
    if (refusedBy) for (const [rec, list] of refusedBy) this.fail(rec, list);
  }

  /** Whether `rec` still desires the flow (or `group:<id>`) with this key. */
  private owns(rec: OwnerRecord, stateKey: string): boolean {
    if (stateKey.startsWith('group:')) return this.desiredGroups.get(Number(stateKey.slice(6)))?.owner === rec;
    return this.desired.get(stateKey)?.owner === rec;
  }

  /** Records refusals (`list`: key, message, key, message, …) against an owner and arms the retry. */
  private fail(rec: OwnerRecord, list: readonly string[]): void {
    const now = this.clock.now();
    let f = this.failures.get(rec);
    if (!f) {
      f = { keys: new Set(), errors: [], since: now, attempts: 0, retryAt: Infinity };
      this.failures.set(rec, f);
    }
    for (let i = 0; i < list.length; i += 2) {
      f.keys.add(list[i]!);
      f.errors.push(list[i + 1]!);
    }
    if (f.errors.length > 5) f.errors = f.errors.slice(-5);
    f.attempts++;
    f.retryAt = now + backoffDelay(f.attempts, { initialMs: RETRY_FIRST_MS, maxMs: RETRY_MAX_MS });
    this.metrics.failedOwners.set(this.failures.size);
    this.log.warn({ app: rec.id.app, owner: rec.id.owner, refused: f.keys.size, attempts: f.attempts, retryInMs: f.retryAt - now }, 'the switch refused flows of this owner; retrying with backoff');
    this.failuresSubject.next({ kind: 'failed', failure: this.describeFailure(rec, f) });
    this.armRetry();
  }

  /** One refused flow or group of `rec` is installed now, or no longer desired. */
  private settleFailedKey(rec: OwnerRecord, stateKey: string): void {
    const f = this.failures.get(rec);
    if (!f || !f.keys.delete(stateKey)) return;
    if (f.keys.size === 0) this.recover(rec);
  }

  private recover(rec: OwnerRecord): void {
    if (!this.failures.delete(rec)) return;
    this.metrics.failedOwners.set(this.failures.size);
    this.log.info({ app: rec.id.app, owner: rec.id.owner }, 'every flow of this owner the switch had refused is installed now (or no longer desired)');
    this.failuresSubject.next({ kind: 'recovered', app: rec.id.app, owner: rec.id.owner, ownerKind: rec.id.kind, tag: rec.id.tag });
  }

  /** Marks the refused flows and groups of an owner for sending again. */
  private markRetry(rec: OwnerRecord, f: FailureRecord): void {
    for (const k of f.keys) {
      if (!this.owns(rec, k)) continue;
      if (k.startsWith('group:')) this.dirtyGroups.add(Number(k.slice(6)));
      else this.dirty.add(k);
    }
    f.retryAt = Infinity;
  }

  /** One timer for the earliest retry among the failed owners. */
  private armRetry(): void {
    let next = Infinity;
    for (const f of this.failures.values()) if (f.retryAt < next) next = f.retryAt;
    if (next === this.retryTimerAt) return;
    this.cancelRetry?.();
    this.cancelRetry = undefined;
    this.retryTimerAt = next;
    if (next === Infinity) return;
    this.cancelRetry = this.clock.setTimer(Math.max(0, next - this.clock.now()), () => {
      this.cancelRetry = undefined;
      this.retryTimerAt = Infinity;
      const now = this.clock.now();
      for (const [rec, f] of this.failures) {
        if (f.retryAt > now) continue;
        this.metrics.flowRetries.inc(f.keys.size);
        this.markRetry(rec, f);
      }
      this.armRetry();
      this.scheduleFlush();
    });
  }

  private describeFailure(rec: OwnerRecord, f: FailureRecord): OwnerFailure {
    return { app: rec.id.app, owner: rec.id.owner, kind: rec.id.kind, tag: rec.id.tag, refused: f.keys.size, errors: [...f.errors], since: f.since, attempts: f.attempts, retryAt: f.retryAt };
  }

  /** Owners with flows or groups the switch refused (not yet installed by a retry). */
  failedOwners(app?: string): OwnerFailure[] {
    const out: OwnerFailure[] = [];
    for (const [rec, f] of this.failures) if (app === undefined || rec.id.app === app) out.push(this.describeFailure(rec, f));
    return out;
  }

  /** The failure of one owner, if the switch refused some of its flows. */
  failureOf(app: string, owner: string): OwnerFailure | undefined {
    const rec = this.owners.get(ownerKeyOf(app, owner));
    const f = rec && this.failures.get(rec);
    return rec && f ? this.describeFailure(rec, f) : undefined;
  }

  /** Stops the retry timer (the runtime is stopping). */
  stop(): void {
    this.cancelRetry?.();
    this.cancelRetry = undefined;
    this.retryTimerAt = Infinity;
  }

  /** Owners becoming failed and recovering. */
  get ownerFailures$(): Observable<OwnerFailureEvent> {
    return this.failuresSubject.asObservable();
  }

  /**
   * The reactive path: make `flows` the desired flows of `id` and send them now,
   * followed (in the same ordered batch) by `then` — typically a packet-out of the
   * punted packet through OFPP_TABLE, which the switch processes after the flows
   * are in. Resolves when the switch confirmed the batch (barrier).
   *
   * Calls made in the same tick (an app handling a burst of packet-ins) share one
   * batch, one socket write and one barrier: each call's requests stay together and
   * in call order, so every caller's flow-mods precede its packet-out.
   */
  installNow(id: OwnerId, flows: readonly DesiredFlow[], then: readonly SwitchRequest[] = []): Promise<void> {
    const channel = this.channel;
    if (!channel || !this.readSynced) return Promise.reject(new DfError('SWITCH_NOT_CONNECTED', 'no switch is connected', { context: { app: id.app, owner: id.owner } }));
    try {
      this.replace(id, flows);
    } catch (err) {
      return Promise.reject(err);
    }
    const rec = this.owners.get(ownerKeyOf(id.app, id.owner));
    const ops: Op[] = [];
    if (rec) {
      // Only this owner's changed flows; its groups (and everything else) go with the next flush.
      for (const key of rec.keys) {
        if (!this.dirty.delete(key)) continue;
        const op = this.flowOp(key);
        if (op) ops.push(op);
      }
      if (ops.length > 0) this.metrics.installedFlows.set(this.installed.size);
    }
    for (const r of then) ops.push({ kind: 'packet_out', request: r, ...(rec ? { owner: rec } : {}) });
    if (ops.length === 0) return Promise.resolve();
    return this.joinTick(channel, ops);
  }

  /** Sends requests that are not flow state (a packet-out) on the current switch, with a barrier (shared with the tick's other reactive requests). */
  sendNow(requests: readonly SwitchRequest[], app?: string): Promise<void> {
    const channel = this.channel;
    if (!channel) return Promise.reject(new DfError('SWITCH_NOT_CONNECTED', 'no switch is connected', { context: { app } }));
    if (requests.length === 0) return Promise.resolve();
    return this.joinTick(
      channel,
      requests.map((request): Op => ({ kind: 'packet_out', request })),
    );
  }

  /** Adds ops to this tick's reactive batch; it is sent once the tick's work is done (process.nextTick runs after the pending promise jobs). */
  private joinTick(channel: SwitchChannel, ops: readonly Op[]): Promise<void> {
    if (this.tick && this.tick.channel !== channel) this.sendTick();
    let tick = this.tick;
    if (!tick) {
      tick = { channel, ops: [], waiters: [] };
      this.tick = tick;
      process.nextTick(() => this.sendTick());
    }
    for (const op of ops) tick.ops.push(op);
    return new Promise<void>((resolve, reject) => tick.waiters.push({ resolve, reject }));
  }

  private sendTick(): void {
    const tick = this.tick;
    if (!tick) return;
    this.tick = undefined;
    this.count(tick.ops);
    let sent: Promise<BatchOutcome>;
    try {
      sent = tick.channel.sendBatch(tick.ops.map((o) => o.request));
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.then(
      (outcome) => {
        this.handleErrors(tick.ops, outcome.errors);
        for (const w of tick.waiters) w.resolve();
      },
      (err: unknown) => {
        for (const w of tick.waiters) w.reject(err);
      },
    );
  }

  // ---------------- status ----------------

  /** The NB revision the switch is confirmed (barrier) to be in sync with; -1 before the first sync. */
  get syncedRevision$(): Observable<number> {
    return this.synced.asObservable();
  }

  get syncedRevision(): number {
    return this.synced.value;
  }

  /** Resolves once the switch is confirmed in sync with every change up to `revision`. */
  waitForRevision(revision: number): Promise<number> {
    return firstValueFrom(this.synced.pipe(filter((r) => r >= revision)));
  }

  get errors$(): Observable<ReconcilerError> {
    return this.errorsSubject.asObservable();
  }

  get expired$(): Observable<ExpiredFlow> {
    return this.expiredSubject.asObservable();
  }
}

function describeOp(op: Op): string {
  const r = op.request;
  if (op.kind === 'flow') return `flow_mod ${op.command} ${r.type === 'encoded' ? describeEncoded(r) : r.type === 'flow_mod' ? `table=${r.tableId} priority=${r.priority}` : r.type}`;
  if (r.type === 'group_mod') return `group_mod ${r.command} group=${r.groupId}`;
  return r.type;
}

/** `app NUL owner`, one flat string (a template literal would be a rope kept with every owner). */
function ownerKeyOf(app: string, owner: string): string {
  return [app, owner].join('\u0000');
}
