import { type Clock, DfError, backoffDelay, isDfError, systemClock } from '@dragonflow/base';
import { type Observable, of } from 'rxjs';
import type { NbDriver, Revision } from '../db/driver.js';
import { NbErrorCode, conflictDetails, nbNotFound } from '../errors.js';
import { MAX_UNIQUE_KEY } from '../model/fields.js';
import { newId } from '../model/ids.js';
import type { IndexName } from '../model/indexes.js';
import type { FixedIp, FloatingIp, LogicalPort, LogicalRouter, NbCreateInput, NbObject, Subnet, TableName } from '../model/tables.js';
import type { FollowerState } from '../topology/follower.js';
import { TopologyMirror } from '../topology/mirror.js';
import type { Referrer } from '../topology/store.js';
import { DriverReader, type NbReader } from './reader.js';
import { NbTransaction } from './transaction.js';

/**
 * After a write conflict: a short random wait (full jitter, growing with the
 * attempt, at most 50 ms) so writers that collided do not collide again in step.
 */
const CONFLICT_BACKOFF = { initialMs: 2, maxMs: 50, jitter: 1 } as const;

export interface NbApiOptions {
  /**
   * Keep a full indexed copy of the model, fed by the change feed (default true).
   * Lookups then cost O(result); reads after this NbApi's own writes wait until the
   * copy has them (read-your-writes). Without it every lookup scans the DB.
   */
  mirror?: boolean;
  /** Timers (retry backoff, waits). */
  clock?: Clock;
  /** Wall-clock time for createdAt/updatedAt. */
  now?: () => Date;
  newId?: () => string;
  /** Attempts of a transaction before a conflict is returned to the caller (default 10). */
  maxAttempts?: number;
  /** Longest wait for the mirror to catch up before serving what it has (default 5 s). */
  syncTimeoutMs?: number;
}

export interface TransactionOptions {
  maxAttempts?: number;
}

/**
 * The northbound API: typed CRUD over the model with validation, compare-and-swap on
 * versions, referential integrity, uniqueness (IP, MAC, segment, floating IP) and
 * atomic multi-object writes.
 *
 * Errors: NB_INVALID (context.field names the field), NB_NOT_FOUND, NB_CONFLICT
 * (a version changed, or something is in use / already taken; context.reason
 * 'in-use' for the latter).
 */
export class NbApi {
  readonly reader: NbReader;
  private readonly mirror: TopologyMirror | undefined;
  private readonly clock: Clock;
  private readonly now: () => Date;
  private readonly makeId: () => string;
  private readonly maxAttempts: number;
  private readonly syncTimeoutMs: number;
  private lastCommit: Revision = 0;

  constructor(
    readonly driver: NbDriver,
    options: NbApiOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.now = options.now ?? (() => new Date());
    this.makeId = options.newId ?? newId;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 10);
    this.syncTimeoutMs = options.syncTimeoutMs ?? 5_000;
    if (options.mirror ?? true) {
      this.mirror = new TopologyMirror(driver, { clock: this.clock });
      this.reader = this.mirror;
    } else {
      this.reader = new DriverReader(driver);
    }
  }

  /** Creates an NbApi and loads its mirror (if any). */
  static async open(driver: NbDriver, options: NbApiOptions = {}): Promise<NbApi> {
    const api = new NbApi(driver, options);
    await api.start();
    return api;
  }

  async start(): Promise<void> {
    await this.mirror?.start();
  }

  /** Stops the mirror. The driver stays open (its owner closes it). */
  async close(): Promise<void> {
    await this.mirror?.stop();
  }

  /** Health of the view lookups are served from. */
  get health$(): Observable<FollowerState> {
    return this.mirror?.state$ ?? of({ phase: 'live', revision: 0, resyncs: 0 } satisfies FollowerState);
  }

  /** Revision of this NbApi's last successful commit. */
  get lastCommitRevision(): Revision {
    return this.lastCommit;
  }

  // ---------------------------------------------------------------- reads

  async get<T extends TableName>(table: T, id: string): Promise<NbObject<T> | undefined> {
    await this.sync();
    return this.reader.get(table, id);
  }

  async require<T extends TableName>(table: T, id: string): Promise<NbObject<T>> {
    const o = await this.get(table, id);
    if (!o) throw nbNotFound(table, id);
    return o;
  }

  async list<T extends TableName>(table: T, filter?: (o: NbObject<T>) => boolean): Promise<NbObject<T>[]> {
    await this.sync();
    const all = await this.reader.list(table);
    return filter ? all.filter(filter) : all;
  }

  /** Objects of `table` whose index has `value`, e.g. lookup('logical_port', 'network', id). */
  async lookup<T extends TableName>(table: T, index: IndexName<T>, value: string): Promise<NbObject<T>[]> {
    await this.sync();
    return this.reader.lookup(table, index, value);
  }

  /** Objects that reference (table, id). */
  async referrers(table: TableName, id: string): Promise<Referrer[]> {
    await this.sync();
    return this.reader.referrers(table, id);
  }

  portsByNetwork(networkId: string): Promise<LogicalPort[]> {
    return this.lookup('logical_port', 'network', networkId);
  }

  portsByChassis(chassisId: string): Promise<LogicalPort[]> {
    return this.lookup('logical_port', 'chassis', chassisId);
  }

  portsByDevice(deviceId: string, deviceOwner?: string): Promise<LogicalPort[]> {
    return this.lookup('logical_port', 'deviceId', deviceId).then((ps) => (deviceOwner === undefined ? ps : ps.filter((p) => p.deviceOwner === deviceOwner)));
  }

  portsByDeviceOwner(deviceOwner: string): Promise<LogicalPort[]> {
    return this.lookup('logical_port', 'deviceOwner', deviceOwner);
  }

  portsBySubnet(subnetId: string): Promise<LogicalPort[]> {
    return this.lookup('logical_port', 'subnet', subnetId);
  }

  async portByIp(networkId: string, ip: string): Promise<LogicalPort | undefined> {
    return (await this.lookup('logical_port', 'ip', `${networkId}/${ip}`))[0];
  }

  /** Fixed IPs in use on a subnet (for IPAM). */
  async ipsInUse(subnetId: string): Promise<FixedIp[]> {
    return (await this.portsBySubnet(subnetId)).flatMap((p) => p.fixedIps.filter((f) => f.subnetId === subnetId));
  }

  subnetsByNetwork(networkId: string): Promise<Subnet[]> {
    return this.lookup('subnet', 'network', networkId);
  }

  routersByNetwork(networkId: string): Promise<LogicalRouter[]> {
    return this.lookup('logical_router', 'network', networkId);
  }

  floatingIpsByPort(portId: string): Promise<FloatingIp[]> {
    return this.lookup('floating_ip', 'port', portId);
  }

  // ---------------------------------------------------------------- writes

  create<T extends TableName>(table: T, input: NbCreateInput<T>): Promise<NbObject<T>> {
    return this.transaction((tx) => tx.create(table, input));
  }

  /** Replaces an object; `obj.version` must be the version read (compare-and-swap). */
  update<T extends TableName>(table: T, obj: NbObject<T>): Promise<NbObject<T>> {
    return this.transaction((tx) => tx.update(table, obj));
  }

  /**
   * Read-modify-write: reads the current object, applies `change` and writes it,
   * retrying from a fresh read when someone else wrote in between.
   */
  modify<T extends TableName>(table: T, id: string, change: (current: NbObject<T>) => NbObject<T> | Promise<NbObject<T>>, options?: TransactionOptions): Promise<NbObject<T>> {
    return this.transaction(async (tx) => {
      const cur = await tx.require(table, id);
      const next = await change(structuredClone(cur));
      return tx.update(table, { ...next, id, version: cur.version });
    }, options);
  }

  delete(table: TableName, id: string, options: { expectVersion?: number } = {}): Promise<void> {
    return this.transaction((tx) => tx.delete(table, id, options));
  }

  /**
   * Runs `fn` and commits what it staged as one atomic write. On a conflict caused
   * by a concurrent writer, waits until the view has that write and runs `fn` again
   * (up to maxAttempts). Conflicts the caller caused (a stale version it passed, an
   * object in use, an explicitly requested address that is taken) are not retried.
   * `fn` must not have side effects outside the transaction.
   */
  async transaction<R>(fn: (tx: NbTransaction) => Promise<R> | R, options: TransactionOptions = {}): Promise<R> {
    const attempts = Math.max(1, options.maxAttempts ?? this.maxAttempts);
    const pool = new Map<TableName, number[]>();
    const takeKey = async (table: TableName): Promise<number> => {
      const spare = pool.get(table);
      if (spare && spare.length > 0) return spare.shift()!;
      return this.driver.allocateKey(table, MAX_UNIQUE_KEY);
    };
    for (let attempt = 1; ; attempt++) {
      await this.sync();
      const syncTo = (rev: Revision): Promise<void> => this.syncStrict(rev);
      const tx = new NbTransaction({ driver: this.driver, reader: this.reader, newId: this.makeId, now: this.now, takeKey, syncTo }, this.reader.revision);
      try {
        const result = await fn(tx);
        if (!tx.empty) {
          const ops = await tx.prepare();
          const res = await this.driver.commit(ops);
          if (res.revision > this.lastCommit) this.lastCommit = res.revision;
        }
        return result;
      } catch (err) {
        for (const t of tx.keysTaken) {
          const spare = pool.get(t.table) ?? [];
          spare.push(t.key);
          pool.set(t.table, spare);
        }
        if (!isDfError(err, NbErrorCode.CONFLICT) || err.context['retryable'] === false || attempt >= attempts) throw err;
        await this.afterConflict(err, attempt);
      }
    }
  }

  /** Waits until the view has the write we collided with, plus a little jitter. */
  private async afterConflict(err: DfError, attempt: number): Promise<void> {
    const revs = conflictDetails(err).map((c) => c.modRevision);
    const own = err.context['modRevision'];
    if (typeof own === 'number') revs.push(own);
    const target = Math.max(0, ...revs);
    if (target > 0) await this.withTimeout(this.reader.waitFor(target));
    await new Promise<void>((r) => this.clock.setTimer(backoffDelay(attempt, CONFLICT_BACKOFF), r));
  }

  /** Read-your-writes: lets the view catch up with this NbApi's last commit. */
  private async sync(): Promise<void> {
    if (this.lastCommit > this.reader.revision) await this.withTimeout(this.reader.waitFor(this.lastCommit));
  }

  /** Like sync, but for checks that must not run on a stale view. */
  private async syncStrict(revision: Revision): Promise<void> {
    if (this.reader.revision >= revision) return;
    let timedOut = false;
    await new Promise<void>((resolve) => {
      const cancel = this.clock.setTimer(this.syncTimeoutMs, () => {
        timedOut = true;
        resolve();
      });
      void this.reader.waitFor(revision).then(() => {
        cancel();
        resolve();
      });
    });
    if (timedOut && this.reader.revision < revision) {
      throw new DfError(NbErrorCode.UNAVAILABLE, `the topology view is at revision ${this.reader.revision} and did not reach ${revision} within ${this.syncTimeoutMs} ms (DB feed cut off?)`, {
        context: { revision: this.reader.revision, wanted: revision },
      });
    }
  }

  private withTimeout(p: Promise<void>): Promise<void> {
    return new Promise<void>((resolve) => {
      const cancel = this.clock.setTimer(this.syncTimeoutMs, resolve);
      void p.then(() => {
        cancel();
        resolve();
      });
    });
  }
}

