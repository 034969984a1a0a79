import type { Clock } from '@dragonflow/base';
import type { SwitchAsyncMessage } from '@dragonflow/core/host';
import { FlowModFlags, FlowRemovedReason } from '@dragonflow/openflow';
import { outputsTo } from './datapath-util.js';
import { FlowTable, type FlowEntry } from './flow-table.js';
import type { GroupEntry } from './groups.js';
import type { Meter } from './meters.js';

/**
 * What the switch holds: flow tables (with their timeouts and FLOW_REMOVED), groups,
 * meters, and ports with their link state. Deleting a group or a meter deletes the
 * flows that use it, as Open vSwitch does.
 */
export class SwitchTables {
  readonly tables = new Map<number, FlowTable>();
  readonly groups = new Map<number, GroupEntry>();
  readonly meters = new Map<number, Meter>();
  ports: Set<number> | undefined;
  /** Ports whose link is down (fast-failover and select buckets watching them are dead). */
  readonly downPorts = new Set<number>();
  private seq = 0;

  constructor(
    readonly clock: Clock,
    ports: readonly number[] | undefined,
    private readonly emitAsync: (m: SwitchAsyncMessage) => void,
  ) {
    this.ports = ports ? new Set(ports) : undefined;
  }

  hasPort(port: number): boolean {
    return this.ports === undefined || this.ports.has(port);
  }

  portLive(port: number): boolean {
    return this.hasPort(port) && !this.downPorts.has(port);
  }

  table(id: number): FlowTable {
    let t = this.tables.get(id);
    if (!t) {
      t = new FlowTable(id);
      this.tables.set(id, t);
    }
    return t;
  }

  nextSeq(): number {
    return this.seq++;
  }

  /** Installs a flow (replacing one with the same identity) and arms its timeouts. */
  putFlow(entry: FlowEntry): void {
    const old = this.table(entry.table).put(entry);
    old?.cancelTimer?.();
    this.armTimer(entry);
  }

  removeFlow(f: FlowEntry, reason: number): void {
    this.tables.get(f.table)?.delete(f.identity);
    f.cancelTimer?.();
    if (f.flags & FlowModFlags.SEND_FLOW_REM) {
      const ms = Math.max(0, this.clock.now() - f.created);
      this.emitAsync({
        type: 'flow_removed',
        xid: 0,
        cookie: f.cookie,
        priority: f.priority,
        reason,
        tableId: f.table,
        durationSec: Math.floor(ms / 1000),
        durationNsec: Math.floor((ms % 1000) * 1e6),
        idleTimeout: f.idleTimeout,
        hardTimeout: f.hardTimeout,
        packetCount: f.packets,
        byteCount: f.bytes,
        match: f.match,
      });
    }
  }

  /** Deleting a group deletes the flows that use it. */
  deleteGroup(id: number): boolean {
    if (!this.groups.delete(id)) return false;
    for (const t of this.tables.values()) for (const f of t.entries()) if (outputsTo(f.instructions, (a) => a.type === 'group' && a.groupId === id)) this.removeFlow(f, FlowRemovedReason.GROUP_DELETE);
    return true;
  }

  /** Deleting a meter deletes the flows that use it. */
  deleteMeter(id: number): boolean {
    if (!this.meters.delete(id)) return false;
    for (const t of this.tables.values()) for (const f of t.entries()) if (f.instructions.some((i) => i.type === 'meter' && i.meterId === id)) this.removeFlow(f, FlowRemovedReason.METER_DELETE);
    return true;
  }

  private armTimer(f: FlowEntry): void {
    if (!f.idleTimeout && !f.hardTimeout) return;
    const now = this.clock.now();
    const due = Math.min(f.idleTimeout ? f.lastUsed + f.idleTimeout * 1000 : Infinity, f.hardTimeout ? f.created + f.hardTimeout * 1000 : Infinity);
    f.cancelTimer = this.clock.setTimer(Math.max(0, due - now), () => {
      f.cancelTimer = undefined;
      if (this.tables.get(f.table)?.get(f.identity) !== f) return;
      const t = this.clock.now();
      if (f.hardTimeout && t >= f.created + f.hardTimeout * 1000) this.removeFlow(f, FlowRemovedReason.HARD_TIMEOUT);
      else if (f.idleTimeout && t >= f.lastUsed + f.idleTimeout * 1000) this.removeFlow(f, FlowRemovedReason.IDLE_TIMEOUT);
      else this.armTimer(f);
    });
  }

}
