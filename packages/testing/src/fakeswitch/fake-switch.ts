import { ManualClock, type Clock } from '@dragonflow/base';
import type { SwitchChannel, SwitchRequest } from '@dragonflow/core';
import type { ErrorMsg, FlowStats, GroupDesc } from '@dragonflow/openflow';
import type { EthernetFrame } from '@dragonflow/packet';
import { Subject, type Observable } from 'rxjs';
import { FakeConnection } from './connection.js';
import { Datapath, type CookieDescriber } from './datapath.js';
import type { FlowEntry } from './flow-table.js';
import { OpenFlowAgent, emptyStats, type FakeSwitchStats } from './openflow-agent.js';
import type { TunnelInfo } from './packet-state.js';
import type { TraceOutput, TraceResult } from './trace.js';

export type { CookieDescriber } from './datapath.js';
export type { FakeSwitchStats } from './openflow-agent.js';

export interface FakeSwitchOptions {
  readonly datapathId?: bigint;
  /** Drives idle/hard timeouts and flow durations (a ManualClock by default). */
  readonly clock?: Clock;
  /** Encode and decode every request with the codec, as the wire would (default true). */
  readonly wire?: boolean;
  /** When set, only these ports exist; output to another port is dropped, as Open vSwitch does. */
  readonly ports?: readonly number[];
  readonly describeCookie?: CookieDescriber;
}

/**
 * A software switch with OpenFlow 1.3 table semantics, for tests: priorities and
 * masks, goto and resubmit, apply- and write-actions (the action set runs in the
 * spec's order), set_field, reg_load/move, dec_ttl, push/pop VLAN, metadata and
 * registers, output, groups, controller, table-miss, OFPP_TABLE packet-outs, and
 * idle/hard timeouts on an injected clock with FLOW_REMOVED.
 *
 * The reconciler drives it through `connect()` exactly as it drives a real switch.
 * `trace(frame, inPort)` says what would happen to a packet (every hop with the app
 * and owner behind its flow, the outputs with the rewritten packet, the packet-ins);
 * `inject` makes it happen (counters, packet-ins to the controller).
 *
 * The OpenFlow message handling lives in OpenFlowAgent, the tables and what a
 * packet does in them in Datapath; this class holds them together.
 */
export class FakeSwitch {
  readonly datapathId: bigint;
  readonly clock: Clock;
  readonly stats: FakeSwitchStats = emptyStats();
  /** Every packet that left the switch (from injected packets and packet-outs), in order. */
  readonly delivered: TraceOutput[] = [];
  private readonly deliveredSubject = new Subject<TraceOutput>();
  private readonly dp: Datapath;
  private readonly agent: OpenFlowAgent;
  private connection: FakeConnection | undefined;
  describeCookie: CookieDescriber | undefined;

  constructor(options: FakeSwitchOptions = {}) {
    this.datapathId = options.datapathId ?? 0x0000_0000_0000_00d1n;
    this.clock = options.clock ?? new ManualClock();
    this.describeCookie = options.describeCookie;
    this.dp = new Datapath({
      clock: this.clock,
      ...(options.ports ? { ports: options.ports } : {}),
      emit: (m) => this.connection?.emit(m),
      connected: () => this.connection !== undefined,
      describeCookie: () => this.describeCookie,
    });
    this.agent = new OpenFlowAgent(this.dp, this.stats, options.wire ?? true, (t) => this.record(t));
  }

  /** Send invalid_ttl packet-ins (off by default, as for an OpenFlow 1.3 controller that did not enable them). */
  get invalidTtlToController(): boolean {
    return this.dp.invalidTtlToController;
  }

  set invalidTtlToController(on: boolean) {
    this.dp.invalidTtlToController = on;
  }

  // ---------------- connection ----------------

  /** A new controller connection (flows survive reconnects, as with fail_mode=secure). */
  connect(): SwitchChannel {
    this.connection?.close();
    this.connection = new FakeConnection({
      datapathId: this.datapathId,
      handle: (request, xid) => this.handle(request, xid),
      countBarrier: () => this.stats.barriers++,
      flowStats: () => this.flowStats(),
      groupStats: () => this.groupStats(),
    });
    return this.connection;
  }

  /** Drops the controller connection (its message stream completes; its requests fail). */
  disconnect(): void {
    this.connection?.close();
    this.connection = undefined;
  }

  get connected(): boolean {
    return this.connection !== undefined;
  }

  /** Packets leaving the switch, as they happen. */
  get delivered$(): Observable<TraceOutput> {
    return this.deliveredSubject.asObservable();
  }

  addPort(port: number): void {
    this.dp.ports ??= new Set();
    this.dp.ports.add(port);
  }

  removePort(port: number): void {
    this.dp.ports?.delete(port);
  }

  // ---------------- state ----------------

  /** Every installed flow as flow-stats (what a controller reads back). */
  flowStats(): FlowStats[] {
    const now = this.clock.now();
    const out: FlowStats[] = [];
    for (const t of [...this.dp.tables.values()].sort((a, b) => a.id - b.id)) {
      for (const f of t.entries()) {
        const ms = Math.max(0, now - f.created);
        out.push({
          tableId: f.table,
          durationSec: Math.floor(ms / 1000),
          durationNsec: Math.floor((ms % 1000) * 1e6),
          priority: f.priority,
          idleTimeout: f.idleTimeout,
          hardTimeout: f.hardTimeout,
          flags: f.flags,
          cookie: f.cookie,
          packetCount: f.packets,
          byteCount: f.bytes,
          match: f.match,
          instructions: f.instructions,
        });
      }
    }
    return out;
  }

  groupStats(): GroupDesc[] {
    return [...this.dp.groups.values()].map((g) => ({ groupType: g.groupType, groupId: g.groupId, buckets: g.buckets }));
  }

  /** Number of installed flows (in one table, or all). */
  flowCount(table?: number): number {
    if (table !== undefined) return this.dp.tables.get(table)?.size ?? 0;
    let n = 0;
    for (const t of this.dp.tables.values()) n += t.size;
    return n;
  }

  /** The installed flows of one table. */
  flowsIn(table: number): FlowEntry[] {
    return this.dp.tables.get(table)?.entries() ?? [];
  }

  hasGroup(groupId: number): boolean {
    return this.dp.groups.has(groupId);
  }

  resetStats(): void {
    Object.assign(this.stats, emptyStats());
  }

  // ---------------- requests ----------------

  /** @internal Processes one request from the connection; returns the error the switch would send. */
  handle(request: SwitchRequest, xid: number): ErrorMsg | undefined {
    return this.agent.handle(request, xid);
  }

  // ---------------- packets ----------------

  /**
   * What would happen to `frame` arriving on `inPort` (from a tunnel, with `tunnel`):
   * no counters change and nothing reaches the controller.
   */
  trace(frame: EthernetFrame, inPort: number, tunnel?: TunnelInfo): TraceResult {
    return this.dp.process(frame, inPort, tunnel, false);
  }

  /**
   * A packet arrives on `inPort`: flows count it (and their idle timers restart),
   * packet-ins go to the connected controller, outputs are recorded in `delivered`.
   */
  inject(frame: EthernetFrame, inPort: number, tunnel?: TunnelInfo): TraceResult {
    const r = this.dp.process(frame, inPort, tunnel, true);
    this.record(r);
    return r;
  }

  private record(trace: TraceResult): void {
    for (const o of trace.outputs) {
      this.delivered.push(o);
      this.deliveredSubject.next(o);
    }
  }
}
