import { describeError } from '@dragonflow/base';
import { describeOfError, type ErrorMsg } from '@dragonflow/openflow';
import { Subject, type Observable } from 'rxjs';
import type { CoreMetrics } from '../observe/metrics.js';
import type { Logger } from '../observe/logger.js';
import type { DesiredTable } from './desired-table.js';
import type { InstalledState } from './diff.js';
import type { FailureTracker } from './failures.js';
import { describeOp, opStateKey, type Op } from './ops.js';
import type { OwnerRecord } from './owner.js';
import type { BatchError, SwitchChannel, SwitchRequest } from './switch.js';
import { requestMessage } from './wire.js';

/** An error the switch reported, with the flow (or group, or meter) and owner behind it. */
export interface ReconcilerError {
  readonly app: string | undefined;
  readonly owner: string | undefined;
  readonly request: SwitchRequest;
  readonly error: ErrorMsg;
  readonly message: string;
}

/** Counts of what a flush sent, for tests and benchmarks. */
export interface FlushStats {
  adds: number;
  modifies: number;
  deletes: number;
  groupMods: number;
  batches: number;
}

export interface SenderOptions {
  /** Flow-mods per barrier. */
  readonly batchSize: number;
  /** Batches in flight before waiting for their barriers. */
  readonly maxInFlight: number;
}

/**
 * Sends requests in batches (each confirmed by a barrier, a bounded number in
 * flight), counts them, and traces every error the switch reports back to the flow
 * group or meter and the owner it was sent for: the installed state forgets what was
 * refused, and the owner is marked failed.
 */
export class Sender {
  readonly totals: FlushStats = { adds: 0, modifies: 0, deletes: 0, groupMods: 0, batches: 0 };
  /** Meter-mods sent (apart from `totals`, whose shape callers compare whole). */
  meterMods = 0;
  private readonly errorsSubject = new Subject<ReconcilerError>();

  constructor(
    private readonly options: SenderOptions,
    private readonly table: DesiredTable,
    private readonly installed: InstalledState,
    private readonly failures: FailureTracker,
    private readonly metrics: CoreMetrics,
    private readonly log: Logger,
  ) {}

  get errors$(): Observable<ReconcilerError> {
    return this.errorsSubject.asObservable();
  }

  /** Sends `ops` in batches; false when the connection was lost or replaced (`current()` says which is current) meanwhile. */
  async send(channel: SwitchChannel, ops: Op[], current: () => boolean): Promise<boolean> {
    if (ops.length === 0) return true;
    const { batchSize, maxInFlight } = this.options;
    const inFlight: Promise<void>[] = [];
    let failed = false;
    for (let i = 0; i < ops.length; i += batchSize) {
      const batch = ops.slice(i, i + batchSize);
      this.count(batch);
      inFlight.push(
        channel.sendBatch(batch.map((o) => o.request)).then(
          (outcome) => this.settle(batch, outcome.errors),
          (err: unknown) => {
            failed = true;
            if (current()) this.log.warn({ err: describeError(err) }, 'batch lost with the connection');
          },
        ),
      );
      if (inFlight.length >= maxInFlight) await inFlight.shift();
    }
    await Promise.all(inFlight);
    return !failed && current();
  }

  count(batch: readonly Op[]): void {
    this.totals.batches++;
    this.metrics.batches.inc();
    // Counted per batch, one metric update per command (a label lookup per flow-mod shows in profiles).
    let adds = 0;
    let modifies = 0;
    let deletes = 0;
    let groupAdds = 0;
    let groupModifies = 0;
    let groupDeletes = 0;
    let meterAdds = 0;
    let meterModifies = 0;
    let meterDeletes = 0;
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
      } else if (r.type === 'meter_mod') {
        if (r.command === 'add') meterAdds++;
        else if (r.command === 'modify') meterModifies++;
        else meterDeletes++;
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
    this.meterMods += meterAdds + meterModifies + meterDeletes;
    if (meterAdds) this.metrics.meterMods.inc({ command: 'add' }, meterAdds);
    if (meterModifies) this.metrics.meterMods.inc({ command: 'modify' }, meterModifies);
    if (meterDeletes) this.metrics.meterMods.inc({ command: 'delete' }, meterDeletes);
  }

  /** A batch was confirmed: its errors go to the owners of what they refused; what went through settles earlier refusals. */
  settle(batch: readonly Op[], errors: readonly BatchError[]): void {
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
        this.installed.flows.delete(op.key);
        stateKey = op.key;
      }
      if (op.kind === 'group' && op.request.type === 'group_mod' && op.request.command !== 'delete') {
        this.installed.groups.delete(op.groupId);
        stateKey = opStateKey(op);
      }
      if (op.kind === 'meter' && op.request.type === 'meter_mod' && op.request.command !== 'delete') {
        this.installed.meters.delete(op.meterId);
        stateKey = opStateKey(op);
      }
      // Only what is still desired by that owner counts against it.
      if (stateKey !== undefined && op.owner && this.table.owns(op.owner, stateKey)) {
        refusedBy ??= new Map();
        const list = refusedBy.get(op.owner) ?? [];
        list.push(stateKey, message);
        refusedBy.set(op.owner, list);
      }
      this.metrics.switchErrors.inc({ app: app ?? 'core' });
      this.log.error({ app, owner, request: describeOp(op), error: message }, 'the switch refused a request');
      this.errorsSubject.next({ app, owner, request: requestMessage(op.request), error: e.error, message });
    }
    // Refused flows, groups and meters that went through this time are settled.
    if (this.failures.any) {
      for (let i = 0; i < batch.length; i++) {
        if (failedIndexes?.has(i)) continue;
        const op = batch[i]!;
        if (!op.owner) continue;
        if (op.kind === 'flow') this.failures.settle(op.owner, op.key);
        else if (op.kind !== 'packet_out') this.failures.settle(op.owner, opStateKey(op)!);
      }
    }
    if (refusedBy) for (const [rec, list] of refusedBy) this.failures.fail(rec, list);
  }
}
