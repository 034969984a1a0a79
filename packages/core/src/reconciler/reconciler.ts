import { DfError, describeError, systemClock, type Clock } from '@dragonflow/base';
import type { FlowRemoved, FlowStats, Match } from '@dragonflow/openflow';
import { BehaviorSubject, Subject, filter, firstValueFrom, type Observable } from 'rxjs';
import { CoreMetrics } from '../observe/metrics.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { DesiredTable } from './desired-table.js';
import { InstalledState, diff, flowOp } from './diff.js';
import { FailureTracker, type OwnerFailure, type OwnerFailureEvent } from './failures.js';
import type { DesiredFlow } from './flow.js';
import type { DesiredEntry } from './flow-state.js';
import type { DesiredGroup } from './groups.js';
import type { DesiredMeter } from './meters.js';
import { ImmediateLane } from './immediate.js';
import { flowIdentity } from './keys.js';
import type { Op } from './ops.js';
import type { OwnerId } from './owner.js';
import { loadInstalled } from './read-back.js';
import { Sender, type FlushStats, type ReconcilerError } from './sender.js';
import type { SwitchChannel, SwitchRequest } from './switch.js';
import { decodeFlow, flowRequest } from './wire.js';

export type { OwnerId } from './owner.js';
export { group, switchGroupId, type DesiredGroup, type FailoverBucket } from './groups.js';
export { meter, switchMeterId, type DesiredMeter, type MeterRate } from './meters.js';
export type { OwnerFailure, OwnerFailureEvent } from './failures.js';
export type { FlushStats, ReconcilerError } from './sender.js';

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
 *
 * This is the facade the runtime uses; the parts are the desired table
 * (desired-table.ts), the diff (diff.ts), the sender (sender.ts), the failure
 * tracker (failures.ts) and the immediate lane (immediate.ts); what a switch
 * reports at a connect becomes the installed state in read-back.ts.
 */
export class Reconciler {
  private readonly table: DesiredTable;
  private readonly installed = new InstalledState();
  private readonly failures: FailureTracker;
  private readonly sender: Sender;
  private readonly lane: ImmediateLane;

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

  private readonly synced = new BehaviorSubject<number>(-1);
  private readonly expiredSubject = new Subject<ExpiredFlow>();
  private readonly metrics: CoreMetrics;
  private readonly log: Logger;

  constructor(options: ReconcilerOptions = {}) {
    this.metrics = options.metrics ?? new CoreMetrics();
    this.log = options.logger ?? silentLogger();
    const clock = options.clock ?? systemClock;
    this.table = new DesiredTable(this.metrics, this.log, {
      changed: (rec) => this.failures.retryNow(rec),
      released: (rec, key) => this.failures.settle(rec, key),
      dropped: (rec) => this.failures.recover(rec),
    });
    this.failures = new FailureTracker(clock, this.metrics, this.log, this.table, () => this.scheduleFlush());
    this.sender = new Sender({ batchSize: options.batchSize ?? 1000, maxInFlight: options.maxInFlight ?? 8 }, this.table, this.installed, this.failures, this.metrics, this.log);
    this.lane = new ImmediateLane(this.sender);
  }

  /** Counts of everything sent so far. */
  get totals(): FlushStats {
    return this.sender.totals;
  }

  /** Meter-mods sent so far. */
  get meterMods(): number {
    return this.sender.meterMods;
  }

  // ---------------- desired state ----------------

  /**
   * Sets the complete desired flows (and groups and meters: `objects`) of one owner,
   * replacing what it had. Throws (and changes nothing) when two of the flows have
   * the same identity, or two groups (meters) the same id. A flow, group or meter
   * another owner already desires is reported as a conflict and held back until
   * that owner lets go of it.
   */
  replace(id: OwnerId, flows: readonly DesiredFlow[], objects: readonly (DesiredGroup | DesiredMeter)[] = []): void {
    const groups: DesiredGroup[] = [];
    const meters: DesiredMeter[] = [];
    for (const o of objects) {
      if ('meterId' in o) meters.push(o);
      else groups.push(o);
    }
    this.table.replace(id, flows, groups, meters);
    this.scheduleFlush();
  }

  /** Drops every flow, group and meter of one owner. */
  remove(id: Pick<OwnerId, 'app' | 'owner'>): void {
    const rec = this.table.ownerRecord(id.app, id.owner);
    if (!rec) return;
    this.replace(rec.id, [], []);
  }

  /**
   * The app and owner a cookie names: (app slot, owner kind, key) is one object's
   * owner; only hashed owner texts (kind 0) can collide, and then this is the first.
   */
  ownerOfCookie(cookie: bigint): { app: string; owner: string } | undefined {
    return this.table.ownerOfCookie(cookie);
  }

  /** Owners of one app that currently desire something. */
  ownersOf(app: string): string[] {
    return this.table.ownersOf(app);
  }

  /** The desired flows of one owner (decoded from their wire form: for tests, diagnostics, `dfctl flows`). */
  flowsOf(app: string, owner: string): DesiredFlow[] {
    return this.table.flowsOf(app, owner);
  }

  /** Whether the owner desires any flow (cheaper than flowsOf(…).length: nothing is decoded). */
  hasFlows(app: string, owner: string): boolean {
    return (this.table.ownerRecord(app, owner)?.keys.length ?? 0) > 0;
  }

  /** Which app and owner desire the flow with this identity (for traces). */
  ownerOfFlow(table: number, priority: number, match: Match): { app: string; owner: string } | undefined {
    return this.table.ownerOfFlow(table, priority, match);
  }

  /** Number of flows in the desired state. */
  get desiredCount(): number {
    return this.table.flows.size;
  }

  /** Number of flows believed installed. */
  get installedCount(): number {
    return this.installed.flows.size;
  }

  /** Every desired flow with its cookie (for the app contract suite and `dfctl flows`). */
  *desiredFlows(): IterableIterator<{ app: string; owner: string; cookie: bigint; flow: DesiredFlow }> {
    for (const e of this.table.flows.values()) yield { app: e.owner.id.app, owner: e.owner.id.owner, cookie: e.cookie, flow: decodeFlow(e.wire) };
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

  /**
   * Nothing to do: no changed flow waiting for a diff, no flush scheduled or in
   * flight, and every revision marked so far confirmed by the switch.
   */
  get idle(): boolean {
    return !this.flushing && !this.flushScheduled && !this.table.isDirty && this.synced.value >= this.desiredRevision;
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
    // A channel that cannot read meters back (dumpMeters is optional) reports none.
    const [flows, groups, meters] = await Promise.all([channel.dumpFlows(), channel.dumpGroups(), channel.dumpMeters ? channel.dumpMeters() : []]);
    const offers = new Map<string, FlowStats[]>();
    if (generation !== this.generation) return offers;
    this.awaiting = loadInstalled(this.table, this.installed, { flows, groups, meters }, options.adoptableBy, offers, (key, e) => this.expire(key, e, 0, 0n, 0n));
    this.metrics.installedFlows.set(this.installed.flows.size);
    this.readSynced = true;
    let offered = 0;
    for (const list of offers.values()) offered += list.length;
    this.log.info({ datapathId: channel.datapathId.toString(16), flows: flows.length, groups: groups.length, meters: meters.length, offeredForAdoption: offered }, 'read back the installed flows');
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
    for (const key of keys) this.table.dirty.add(key);
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

  /** The switch removed a flow (idle/hard timeout or a delete): forget it, and if it was ephemeral, drop it from the desired state. */
  handleFlowRemoved(msg: FlowRemoved): ExpiredFlow | undefined {
    const key = flowIdentity(msg.tableId, msg.priority, msg.match);
    const inst = this.installed.flows.get(key);
    if (inst && inst.cookie === msg.cookie) this.installed.flows.delete(key);
    this.metrics.installedFlows.set(this.installed.flows.size);
    const e = this.table.flows.get(key);
    if (!e) return undefined;
    if (e.ephemeral && e.cookie === msg.cookie) return this.expire(key, e, msg.reason, msg.packetCount, msg.byteCount);
    // A permanent flow vanished (someone deleted it): put it back.
    this.table.dirty.add(key);
    this.scheduleFlush();
    return undefined;
  }

  private expire(key: string, e: DesiredEntry, reason: number, packetCount: bigint, byteCount: bigint): ExpiredFlow {
    const rec = e.owner;
    this.table.dropFlow(key, rec);
    const out = { app: rec.id.app, owner: rec.id.owner, flow: decodeFlow(e.wire), reason, packetCount, byteCount };
    this.expiredSubject.next(out);
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
      if (!this.canSend() || (!this.table.isDirty && this.synced.value >= this.desiredRevision)) return;
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
    while (this.canSend() && (this.table.isDirty || this.synced.value < this.desiredRevision)) {
      const channel = this.channel!;
      const generation = this.generation;
      const revision = this.desiredRevision;
      const ops = diff(this.table, this.installed, this.failures.any ? (rec, key) => this.failures.settle(rec, key) : undefined);
      this.metrics.installedFlows.set(this.installed.flows.size);
      const ok = await this.sender.send(channel, ops, () => generation === this.generation);
      if (!ok) return;
      if (revision > this.synced.value) {
        this.synced.next(revision);
        this.metrics.syncedRevision.set(revision);
      }
    }
  }

  // ---------------- failures ----------------

  /** Owners with flows, groups or meters the switch refused (not yet installed by a retry). */
  failedOwners(app?: string): OwnerFailure[] {
    return this.failures.list(app);
  }

  /** The failure of one owner, if the switch refused some of its flows. */
  failureOf(app: string, owner: string): OwnerFailure | undefined {
    const rec = this.table.ownerRecord(app, owner);
    return rec && this.failures.of(rec);
  }

  /** Stops the retry timer (the runtime is stopping). */
  stop(): void {
    this.failures.stop();
  }

  /** Owners becoming failed and recovering. */
  get ownerFailures$(): Observable<OwnerFailureEvent> {
    return this.failures.events$;
  }

  // ---------------- the immediate lane ----------------

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
    const rec = this.table.ownerRecord(id.app, id.owner);
    const ops: Op[] = [];
    if (rec) {
      // Only this owner's changed flows; its groups and meters (and everything else) go with the next flush.
      for (const key of rec.keys) {
        if (!this.table.dirty.delete(key)) continue;
        const op = flowOp(this.table, this.installed, key);
        if (op) ops.push(op);
      }
      if (ops.length > 0) this.metrics.installedFlows.set(this.installed.flows.size);
    }
    for (const r of then) ops.push({ kind: 'packet_out', request: r, ...(rec ? { owner: rec } : {}) });
    if (ops.length === 0) return Promise.resolve();
    return this.lane.join(channel, ops);
  }

  /**
   * Sends the installed flows of one owner again as OFPFC_ADD, byte for byte what is
   * installed: the switch replaces each in place, restarting its timeouts (a
   * liveness flow's hard timeout). The desired and installed views do not change,
   * so this is neither drift nor a change; the adds are counted as flow-mods. A
   * flow not installed yet (or not as desired) is left to the normal path.
   * Resolves once written (no barrier).
   */
  refresh(app: string, owner: string): Promise<void> {
    const channel = this.channel;
    if (!channel || !this.readSynced) return Promise.reject(new DfError('SWITCH_NOT_CONNECTED', 'no switch is connected', { context: { app, owner } }));
    const rec = this.table.ownerRecord(app, owner);
    const ops: Op[] = [];
    if (rec) {
      for (const key of rec.keys) {
        const d = this.table.flows.get(key);
        if (!d || d.owner !== rec || this.installed.flows.get(key) !== d || this.table.dirty.has(key)) continue;
        ops.push({ kind: 'flow', key, command: 'add', owner: rec, request: flowRequest(d.wire, 'add') });
      }
    }
    if (ops.length === 0) return Promise.resolve();
    return this.lane.join(channel, ops, false);
  }

  /**
   * Sends requests that are not flow state (a packet-out) on the current switch, with
   * a barrier (shared with the tick's other reactive requests) — or, with `confirm`
   * false, none when no caller of the tick wants one: resolved once written.
   */
  sendNow(requests: readonly SwitchRequest[], app?: string, confirm = true): Promise<void> {
    const channel = this.channel;
    if (!channel) return Promise.reject(new DfError('SWITCH_NOT_CONNECTED', 'no switch is connected', { context: { app } }));
    if (requests.length === 0) return Promise.resolve();
    return this.lane.join(
      channel,
      requests.map((request): Op => ({ kind: 'packet_out', request })),
      confirm,
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
    return this.sender.errors$;
  }

  get expired$(): Observable<ExpiredFlow> {
    return this.expiredSubject.asObservable();
  }
}
