/**
 * A switch channel for reconciler unit tests: keeps flows, groups and meters as the
 * requests it is sent say (so a reconnect reads back what was installed), records
 * every request in order, and refuses the ones a test's `refuse` rule picks with
 * the error the rule names.
 */
import { type ErrorMsg, type FlowStats, type GroupDesc, type MeterConfig } from '@dragonflow/openflow';
import { Subject } from 'rxjs';
import { flowIdentity } from '../keys.js';
import type { BatchError, BatchOutcome, SwitchAsyncMessage, SwitchChannel, SwitchRequest } from '../switch.js';
import { requestMessage } from '../wire.js';

export type SentMessage = ReturnType<typeof requestMessage>;

/** Short names of what was sent: `flow add 0/100`, `group add 0x3000005`, `meter delete 0x3000001`. */
export function describeSent(m: SentMessage): string {
  if (m.type === 'flow_mod') return `flow ${m.command} ${m.tableId}/${m.priority}`;
  if (m.type === 'group_mod') return `group ${m.command} 0x${m.groupId.toString(16)}`;
  if (m.type === 'meter_mod') return `meter ${m.command} 0x${m.meterId.toString(16)}`;
  return m.type;
}

export class ScriptedChannel implements SwitchChannel {
  readonly datapathId = 1n;
  readonly messages$ = new Subject<SwitchAsyncMessage>();
  readonly sent: SentMessage[] = [];
  readonly flows = new Map<string, FlowStats>();
  readonly groups = new Map<number, GroupDesc>();
  readonly meters = new Map<number, MeterConfig>();
  /** Picks requests to refuse, with the error. */
  refuse: (m: SentMessage) => Pick<ErrorMsg, 'errorType' | 'code'> | undefined = () => undefined;
  /** Absent with `readsMeters: false`: a channel that cannot read meters back. */
  readonly dumpMeters?: () => Promise<readonly MeterConfig[]>;

  constructor(options: { readsMeters?: boolean } = {}) {
    if (options.readsMeters !== false) this.dumpMeters = () => Promise.resolve([...this.meters.values()]);
  }

  async sendBatch(requests: readonly SwitchRequest[]): Promise<BatchOutcome> {
    const errors: BatchError[] = [];
    requests.forEach((request, index) => {
      const m = requestMessage(request);
      this.sent.push(m);
      const refused = this.refuse(m);
      if (refused) {
        errors.push({ index, request, error: { type: 'error', xid: 0, data: new Uint8Array(), ...refused } });
        return;
      }
      this.apply(m);
    });
    return { errors };
  }

  private apply(m: SentMessage): void {
    if (m.type === 'flow_mod') {
      const key = flowIdentity(m.tableId, m.priority, m.match);
      if (m.command === 'delete_strict') this.flows.delete(key);
      else {
        const cur = this.flows.get(key);
        const base = m.command === 'modify_strict' && cur ? cur : { tableId: m.tableId, priority: m.priority, match: m.match, cookie: m.cookie, idleTimeout: m.idleTimeout, hardTimeout: m.hardTimeout, flags: m.flags };
        this.flows.set(key, { durationSec: 0, durationNsec: 0, packetCount: 0n, byteCount: 0n, ...base, instructions: m.instructions });
      }
    } else if (m.type === 'group_mod') {
      if (m.command === 'delete') this.groups.delete(m.groupId);
      else this.groups.set(m.groupId, { groupType: m.groupType, groupId: m.groupId, buckets: m.buckets });
    } else if (m.type === 'meter_mod') {
      if (m.command === 'delete') this.meters.delete(m.meterId);
      else this.meters.set(m.meterId, { flags: m.flags, meterId: m.meterId, bands: m.bands });
    }
  }

  /** Names of what was sent since the last call. */
  take(): string[] {
    return this.sent.splice(0).map(describeSent);
  }

  async dumpFlows(): Promise<readonly FlowStats[]> {
    return [...this.flows.values()];
  }

  async dumpGroups(): Promise<readonly GroupDesc[]> {
    return [...this.groups.values()];
  }

}
