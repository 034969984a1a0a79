import { randomUUID } from 'node:crypto';
import { Backoff, type BackoffPolicy, type Clock, describeError, isDfError, systemClock } from '@dragonflow/base';
import { BehaviorSubject, type Observable } from 'rxjs';
import type { NbApi } from '../api/nb-api.js';
import type { Lease } from '../db/driver.js';
import { NbErrorCode } from '../errors.js';
import { decodeObject, encodeObject } from '../model/codec.js';
import { chassisIdFromName } from '../model/ids.js';
import type { Chassis, ChassisLiveness, NbCreateInput } from '../model/tables.js';
import { parseObject } from '../model/validate.js';

export interface ChassisRegistryOptions {
  /** Lease ttl: a chassis is reported dead this long after its controller stops renewing (default 10 s). */
  ttlMs?: number;
  clock?: Clock;
  now?: () => Date;
  /**
   * How long register() keeps retrying while the DB does not answer in time
   * (NB_UNAVAILABLE: a deadline missed, a member down), default 60 s; 0: no retry.
   */
  retryForMs?: number;
  /** Delays between those retries (default 200 ms doubling to 5 s, half of each at random). */
  retryBackoff?: BackoffPolicy;
}

/*
 * Jittered: a fleet boots (or the DB comes back) all at once, and its registrations
 * retried in step would meet the same overloaded DB again.
 */
const REGISTER_BACKOFF: BackoffPolicy = { initialMs: 200, maxMs: 5_000, jitter: 0.5 };

export type ChassisInfo = Omit<NbCreateInput<'chassis'>, 'id'>;

export interface LivenessState {
  /** The liveness record is in the DB and its lease was renewed within ttl. */
  alive: boolean;
  /** Lease renewals that failed in a row (DB unreachable). */
  failures: number;
  reason?: string;
}

/**
 * Registers chassis and keeps them alive. A chassis record (`chassis` table) is
 * persistent; its liveness (`chassis_liveness`, same id) is bound to a lease the
 * controller renews every ttl/3. When the controller dies, the lease ends and the DB
 * deletes the liveness record: every cache sees a `deleted` change.
 */
export class ChassisRegistry {
  private readonly ttlMs: number;
  private readonly clock: Clock;
  private readonly now: () => Date;
  private readonly retryForMs: number;
  private readonly retryBackoff: BackoffPolicy;

  constructor(
    private readonly nb: NbApi,
    options: ChassisRegistryOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 10_000;
    this.clock = options.clock ?? systemClock;
    this.now = options.now ?? (() => new Date());
    this.retryForMs = options.retryForMs ?? 60_000;
    this.retryBackoff = options.retryBackoff ?? REGISTER_BACKOFF;
  }

  /**
   * Creates or updates the chassis record, then starts its liveness; retried (for
   * retryForMs, with jittered backoff) while the DB is unavailable. Other errors
   * (an invalid record) are thrown at once.
   */
  async register(info: ChassisInfo): Promise<ChassisRegistration> {
    const backoff = new Backoff(this.retryBackoff);
    const until = this.clock.now() + this.retryForMs;
    for (;;) {
      try {
        return await this.registerOnce(info);
      } catch (err) {
        if (!isDfError(err, NbErrorCode.UNAVAILABLE)) throw err;
        const delay = backoff.next();
        if (this.clock.now() + delay > until) throw err;
        await new Promise<void>((resolve) => this.clock.setTimer(delay, resolve));
      }
    }
  }

  private async registerOnce(info: ChassisInfo): Promise<ChassisRegistration> {
    const id = chassisIdFromName(info.name);
    const chassis = await this.nb.transaction(async (tx) => {
      const cur = await tx.get('chassis', id);
      if (!cur) return tx.create('chassis', { ...info, id });
      const next = { ...cur, ...info, id, version: cur.version };
      const same = JSON.stringify(parseObject('chassis', { ...next, createdAt: cur.createdAt, updatedAt: cur.updatedAt })) === JSON.stringify(parseObject('chassis', cur));
      return same ? cur : tx.update('chassis', next);
    });
    const reg = new ChassisRegistration(this.nb, chassis, this.ttlMs, this.clock, this.now);
    await reg.start();
    return reg;
  }

  /** Liveness records of every chassis whose controller is running (read from the DB). */
  async alive(): Promise<ChassisLiveness[]> {
    const snap = await this.nb.driver.list('chassis_liveness');
    return snap.records.map((r) => decodeObject('chassis_liveness', r.value, r.version));
  }

  async isAlive(chassisId: string): Promise<boolean> {
    return (await this.nb.driver.get('chassis_liveness', chassisId)) !== undefined;
  }
}

export class ChassisRegistration {
  private lease: Lease | undefined;
  private cancelTimer: (() => void) | undefined;
  private stopped = false;
  private readonly incarnation = randomUUID();
  private readonly startedAt: string;
  private readonly stateSubject = new BehaviorSubject<LivenessState>({ alive: false, failures: 0 });
  /** Routers whose gateway this chassis holds (written in its liveness record). */
  private gateways: readonly string[] = [];
  private epochs: Readonly<Record<string, number>> = {};
  /** The liveness record's version after this registration's last write of it. */
  private version = 0;

  constructor(
    private readonly nb: NbApi,
    readonly chassis: Chassis,
    readonly ttlMs: number,
    private readonly clock: Clock,
    now: () => Date,
  ) {
    this.startedAt = now().toISOString();
  }

  get state$(): Observable<LivenessState> {
    return this.stateSubject.asObservable();
  }

  get state(): LivenessState {
    return this.stateSubject.value;
  }

  get leaseId(): string | undefined {
    return this.lease?.id;
  }

  /** Routers whose gateway this chassis holds, as written in its liveness record. */
  get activeGateways(): readonly string[] {
    return this.gateways;
  }

  /** The epoch of each claim in activeGateways (router id → epoch). */
  get gatewayEpochs(): Readonly<Record<string, number>> {
    return this.epochs;
  }

  async start(): Promise<void> {
    // A controller restarting within the lease keeps the gateways its chassis holds
    // (the record is still there): the chassis did not die, nothing moves.
    const prior = await this.nb.driver.get('chassis_liveness', this.chassis.id);
    if (prior) {
      const rec = decodeObject('chassis_liveness', prior.value, prior.version);
      this.gateways = rec.activeGateways;
      this.epochs = rec.gatewayEpochs;
    }
    await this.publish();
    this.schedule();
  }

  /**
   * Stops renewing and removes the liveness record at once (clean shutdown). With
   * `revoke: false` the record is left to its lease, which expires after the ttl
   * unless another process of the chassis (a standby controller taking over) writes
   * it again meanwhile: the chassis never looks dead to the others.
   */
  async stop(options: { revoke?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.cancelTimer?.();
    const lease = this.lease;
    this.lease = undefined;
    if (lease && options.revoke !== false) await lease.revoke().catch(() => undefined);
    this.stateSubject.next({ alive: false, failures: 0, reason: 'stopped' });
    this.stateSubject.complete();
  }

  /** This chassis' liveness record, holding the given gateway claims. */
  private livenessRecord(activeGateways: string[], gatewayEpochs: Record<string, number>): Omit<ChassisLiveness, 'version'> {
    return parseObject('chassis_liveness', { id: this.chassis.id, name: this.chassis.name, startedAt: this.startedAt, incarnation: this.incarnation, leaseTtlMs: this.ttlMs, activeGateways, gatewayEpochs });
  }

  /** Grants a lease and writes the liveness record bound to it. */
  private async publish(): Promise<void> {
    const driver = this.nb.driver;
    const lease = await driver.grantLease(this.ttlMs);
    const record = this.livenessRecord([...this.gateways], { ...this.epochs });
    const res = await driver.commit([
      { type: 'check', table: 'chassis', id: this.chassis.id, expectVersion: 'exists' },
      { type: 'put', table: 'chassis_liveness', id: this.chassis.id, value: encodeObject('chassis_liveness', record), lease: lease.id },
    ]);
    this.version = res.versions[1] ?? 0;
    this.lease = lease;
    this.stateSubject.next({ alive: true, failures: 0 });
  }

  /**
   * Writes the routers whose gateway this chassis holds into its liveness record, as
   * a compare-and-set: the commit also checks that each record of `unchanged` (the
   * other gateway chassis' liveness, at the version the caller read, 0 = absent) is
   * still as read, so two chassis deciding from the same view cannot both take a
   * gateway over — the second one's commit fails. false: a check failed (or the
   * lease is being renewed); the caller decides again from fresher data. `epochs`:
   * the epoch of each claim (router id → epoch; a router without one keeps the epoch
   * it had, else 0).
   */
  async setActiveGateways(routerIds: readonly string[], unchanged: readonly { chassisId: string; version: number }[] = [], epochs: Readonly<Record<string, number>> = {}): Promise<boolean> {
    const lease = this.lease;
    if (this.stopped || !lease) return false;
    const next = [...new Set(routerIds)].sort();
    const nextEpochs: Record<string, number> = {};
    for (const r of next) nextEpochs[r] = epochs[r] ?? this.epochs[r] ?? 0;
    const record = this.livenessRecord(next, nextEpochs);
    try {
      const res = await this.nb.driver.commit([
        ...unchanged.filter((u) => u.chassisId !== this.chassis.id).map((u) => ({ type: 'check' as const, table: 'chassis_liveness', id: u.chassisId, expectVersion: u.version })),
        { type: 'put', table: 'chassis_liveness', id: this.chassis.id, value: encodeObject('chassis_liveness', record), lease: lease.id, expectVersion: this.version },
      ]);
      this.version = res.versions.at(-1) ?? this.version;
      this.gateways = next;
      this.epochs = nextEpochs;
      return true;
    } catch (err) {
      if (isDfError(err, NbErrorCode.CONFLICT)) {
        // Our own record may have moved (written again after a lease loss): read its version for the next try.
        const cur = await this.nb.driver.get('chassis_liveness', this.chassis.id).catch(() => undefined);
        if (cur) this.version = cur.version;
        return false;
      }
      throw err;
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.cancelTimer = this.clock.setTimer(Math.max(50, Math.floor(this.ttlMs / 3)), () => void this.renew());
  }

  private async renew(): Promise<void> {
    if (this.stopped) return;
    try {
      if (!this.lease) await this.publish();
      else await this.lease.keepAlive();
      if (!this.state.alive || this.state.failures > 0) this.stateSubject.next({ alive: true, failures: 0 });
    } catch (err) {
      if (this.stopped) return;
      if (isDfError(err, NbErrorCode.LEASE_EXPIRED)) {
        // We were cut off longer than ttl: the record is gone; write it again on the next tick.
        this.lease = undefined;
      }
      const failures = this.state.failures + 1;
      this.stateSubject.next({ alive: false, failures, reason: `cannot renew liveness: ${describeError(err)}` });
    } finally {
      this.schedule();
    }
  }
}
