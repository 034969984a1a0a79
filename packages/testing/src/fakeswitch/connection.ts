import { DfError } from '@dragonflow/base';
import type { BatchError, BatchOutcome, RoleAnswer, SwitchAsyncMessage, SwitchChannel, SwitchRequest } from '@dragonflow/core/host';
import type { ControllerRole, ErrorMsg, FlowStats, GroupDesc, MeterConfig } from '@dragonflow/openflow';
import type { RoleHolder } from './roles.js';
import { Subject, type Observable } from 'rxjs';

/** What a connection needs from its switch. */
export interface ConnectionHost {
  readonly datapathId: bigint;
  handle(request: SwitchRequest, xid: number, from: FakeConnection): ErrorMsg | undefined;
  requestRole(from: FakeConnection, role: ControllerRole, generationId: bigint, xid: number): RoleAnswer;
  countBarrier(): void;
  flowStats(): FlowStats[];
  groupStats(): GroupDesc[];
  meterConfigs(): MeterConfig[];
}

/** A controller connection to a FakeSwitch. */
export class FakeConnection implements SwitchChannel, RoleHolder {
  /** This connection's OpenFlow role (every connection starts equal, as on Open vSwitch). */
  role: RoleHolder['role'] = 'equal';
  private readonly subject = new Subject<SwitchAsyncMessage>();
  private xid = 1;
  private closed = false;

  constructor(private readonly sw: ConnectionHost) {}

  get datapathId(): bigint {
    return this.sw.datapathId;
  }

  get messages$(): Observable<SwitchAsyncMessage> {
    return this.subject.asObservable();
  }

  emit(m: SwitchAsyncMessage): void {
    if (!this.closed) this.subject.next(m);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.subject.complete();
  }

  async sendBatch(requests: readonly SwitchRequest[]): Promise<BatchOutcome> {
    this.checkOpen();
    const errors: BatchError[] = [];
    requests.forEach((request, index) => {
      const error = this.sw.handle(request, this.xid++, this);
      if (error) errors.push({ index, request, error });
    });
    this.sw.countBarrier();
    await Promise.resolve();
    if (this.closed) throw new DfError('SWITCH_DISCONNECTED', 'the FakeSwitch connection closed before the barrier reply');
    return { errors };
  }

  /** No barrier: what the switch refuses is counted as an error and reported to no one. */
  async send(requests: readonly SwitchRequest[]): Promise<void> {
    this.checkOpen();
    for (const request of requests) this.sw.handle(request, this.xid++, this);
  }

  /** ROLE_REQUEST: answered as Open vSwitch does (see SwitchRoles); a stale generation rejects with OFPRRFC_STALE. */
  async requestRole(role: ControllerRole, generationId: bigint): Promise<RoleAnswer> {
    this.checkOpen();
    return this.sw.requestRole(this, role, generationId, this.xid++);
  }

  async dumpFlows(): Promise<readonly FlowStats[]> {
    this.checkOpen();
    return this.sw.flowStats();
  }

  async dumpGroups(): Promise<readonly GroupDesc[]> {
    this.checkOpen();
    return this.sw.groupStats();
  }

  /** Every meter (meter-config multipart, OFPM_ALL). */
  async dumpMeters(): Promise<readonly MeterConfig[]> {
    this.checkOpen();
    return this.sw.meterConfigs();
  }

  private checkOpen(): void {
    if (this.closed) throw new DfError('SWITCH_DISCONNECTED', 'the FakeSwitch connection is closed');
  }
}
