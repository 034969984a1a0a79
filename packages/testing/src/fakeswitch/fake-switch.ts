import { DfError, MacAddress, ManualClock, type Clock } from '@dragonflow/base';
import type { RoleAnswer, SwitchChannel, SwitchRequest } from '@dragonflow/core/host';
import { PortConfig, PortState, type ControllerRole, type ErrorMsg, type FlowStats, type GroupDesc, type MeterConfig, type MultipartReplyBody, type MultipartRequestBody, type PortDesc } from '@dragonflow/openflow';
import type { EthernetFrame } from '@dragonflow/packet';
import { Subject, type Observable } from 'rxjs';
import { FakeConnection } from './connection.js';
import { Datapath, type CookieDescriber } from './datapath.js';
import type { FlowEntry } from './flow-table.js';
import type { Connection } from './conntrack.js';
import type { MeterCounters } from './meters.js';
import { OpenFlowAgent, SwitchRefusal, emptyStats, type FakeSwitchStats } from './openflow-agent.js';
import type { TunnelInfo } from './packet-state.js';
import { SwitchRoles } from './roles.js';
import type { TraceOutput, TraceResult } from './trace.js';

export type { CookieDescriber } from './datapath.js';
export type { FakeSwitchStats } from './openflow-agent.js';
export type { Connection } from './conntrack.js';
export type { MeterCounters } from './meters.js';

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
 * A software switch with OpenFlow 1.3 table semantics that behaves like Open
 * vSwitch's userspace datapath, for tests: priorities and masks, conjunctive
 * matches, goto and resubmit, apply- and write-actions (the action set runs in the
 * spec's order), set_field, reg_load/move, dec_ttl, push/pop VLAN, metadata and
 * registers, output, groups (fast-failover and select follow port liveness),
 * meters, conntrack and NAT (`ct`, recirculation, `ct_clear`), controller,
 * table-miss, OFPP_TABLE packet-outs, and idle/hard timeouts on an injected clock
 * with FLOW_REMOVED. docs/fakeswitch.md lists what it models and what it does not.
 *
 * The reconciler drives it through `connect()` exactly as it drives a real switch.
 * `trace(frame, inPort)` says what would happen to a packet (every hop with the app
 * and owner behind its flow, the outputs with the rewritten packet, the packet-ins)
 * without changing anything; `inject` makes it happen (counters, conntrack entries,
 * meter buckets, packet-ins to the controller).
 *
 * The OpenFlow message handling lives in OpenFlowAgent, what the switch holds in
 * SwitchTables, what a packet does in Datapath; this class holds them together.
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
  /** Every open controller connection: `connect()`'s and those of `connectController()`. */
  private readonly controllers = new Set<FakeConnection>();
  private readonly roles: SwitchRoles;
  describeCookie: CookieDescriber | undefined;

  constructor(options: FakeSwitchOptions = {}) {
    this.datapathId = options.datapathId ?? 0x0000_0000_0000_00d1n;
    this.clock = options.clock ?? new ManualClock();
    this.describeCookie = options.describeCookie;
    this.dp = new Datapath({
      clock: this.clock,
      ...(options.ports ? { ports: options.ports } : {}),
      emit: (m) => {
        for (const c of this.controllers) if (SwitchRoles.receives(c, m)) c.emit(m);
      },
      connected: () => this.controllers.size > 0,
      describeCookie: () => this.describeCookie,
    });
    this.agent = new OpenFlowAgent(this.dp, this.stats, options.wire ?? true, (t) => this.record(t));
    this.roles = new SwitchRoles(this.datapathId);
  }

  /** Send invalid_ttl packet-ins (off by default, as for an OpenFlow 1.3 controller that did not enable them). */
  get invalidTtlToController(): boolean {
    return this.dp.invalidTtlToController;
  }

  set invalidTtlToController(on: boolean) {
    this.dp.invalidTtlToController = on;
  }

  // ---------------- connection ----------------

  /** A new controller connection (flows survive reconnects, as with fail_mode=secure); replaces the previous one made by connect(). */
  connect(): SwitchChannel {
    if (this.connection) this.closeController(this.connection);
    this.connection = this.connectController();
    return this.connection;
  }

  /**
   * One more controller connection beside the others (a hot-standby pair: two
   * controllers on one bridge, each with its own role). Close it with `disconnectController`.
   */
  connectController(): FakeConnection {
    const c = new FakeConnection({
      datapathId: this.datapathId,
      handle: (request, xid, from) => this.handle(request, xid, from),
      requestRole: (from, role, generationId, xid) => this.requestRole(from, role, generationId, xid),
      countBarrier: () => this.stats.barriers++,
      flowStats: () => this.flowStats(),
      groupStats: () => this.groupStats(),
      meterConfigs: () => this.meterConfigs(),
    });
    this.controllers.add(c);
    return c;
  }

  /** Closes one controller connection (as its controller dying would). */
  disconnectController(c: SwitchChannel): void {
    if (c === this.connection) this.connection = undefined;
    this.closeController(c as FakeConnection);
  }

  private closeController(c: FakeConnection): void {
    c.close();
    this.controllers.delete(c);
  }

  /** Drops every controller connection (their message streams complete; their requests fail). */
  disconnect(): void {
    for (const c of [...this.controllers]) this.closeController(c);
    this.connection = undefined;
  }

  /** The generation id the switch last took from a master or slave role request (undefined: none yet). */
  get generationId(): bigint | undefined {
    return this.roles.generationId;
  }

  get connected(): boolean {
    return this.controllers.size > 0;
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
    this.dp.downPorts.delete(port);
  }

  /**
   * The port's link goes down or comes back (as `ovs-ofctl mod-port … down|up`):
   * fast-failover and select buckets watching it die or live again, and the
   * controller gets the two port-status (modify) messages Open vSwitch sends — the
   * config change first (down: PORT_DOWN with no state bit; up: no config, still
   * LINK_DOWN), then the link state (LINK_DOWN, or LIVE).
   */
  setPortUp(port: number, up: boolean): void {
    if (!this.dp.hasPort(port)) throw new DfError('FAKESWITCH_NO_PORT', `the FakeSwitch has no port ${port}`, { context: { port } });
    if (up === !this.dp.downPorts.has(port)) return;
    if (up) this.dp.downPorts.delete(port);
    else this.dp.downPorts.add(port);
    const desc = this.portDesc(port);
    for (const c of this.controllers) {
      c.emit({ type: 'port_status', xid: 0, reason: 'modify', port: { ...desc, state: up ? PortState.LINK_DOWN : 0 } });
      c.emit({ type: 'port_status', xid: 0, reason: 'modify', port: desc });
    }
  }

  /** Whether a port exists and its link is up. */
  portUp(port: number): boolean {
    return this.dp.portLive(port);
  }

  /** A port as port-status and port-desc describe it (a made-up name and address). */
  portDesc(port: number): PortDesc {
    const up = !this.dp.downPorts.has(port);
    return {
      portNo: port,
      hwAddr: MacAddress.fromBigInt(0x02_00_00_00_00_00n | BigInt(port)),
      name: `p${port}`,
      config: up ? 0 : PortConfig.PORT_DOWN,
      state: up ? PortState.LIVE : PortState.LINK_DOWN,
      curr: 0,
      advertised: 0,
      supported: 0,
      peer: 0,
      currSpeed: 0,
      maxSpeed: 0,
    };
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

  /** Every meter as meter-config describes it, by id. */
  meterConfigs(): MeterConfig[] {
    return [...this.multipartOrThrow({ kind: 'meter_config', meterId: 0xffffffff }).meters];
  }

  /** A meter's counters (packets in, packets over each band), or undefined when it does not exist. */
  meterCounters(meterId: number): MeterCounters | undefined {
    return this.dp.meters.get(meterId)?.counters();
  }

  /** The live conntrack entries, every zone. */
  connections(): Connection[] {
    return this.dp.conntrack.connections();
  }

  /** Forgets every conntrack entry. */
  flushConntrack(): void {
    this.dp.conntrack.flush();
  }

  /**
   * Answers a multipart request as the switch would (group-desc, meter-config); an
   * OpenFlow error the switch would send instead comes back as `error`.
   */
  multipart(body: MultipartRequestBody): { reply: MultipartReplyBody } | { error: { errorType: number; code: number; message: string } } {
    try {
      return { reply: this.agent.multipart(body) };
    } catch (err) {
      if (!(err instanceof SwitchRefusal)) throw err;
      return { error: { errorType: err.errorType, code: err.code, message: err.message } };
    }
  }

  private multipartOrThrow<K extends MultipartReplyBody['kind']>(body: MultipartRequestBody & { kind: K }): Extract<MultipartReplyBody, { kind: K }> {
    const r = this.multipart(body);
    if ('error' in r) throw new DfError('FAKESWITCH_REFUSED', r.error.message, { context: { errorType: r.error.errorType, code: r.error.code } });
    return r.reply as Extract<MultipartReplyBody, { kind: K }>;
  }

  resetStats(): void {
    Object.assign(this.stats, emptyStats());
  }

  // ---------------- requests ----------------

  /** @internal Processes one request from the connection; returns the error the switch would send. */
  handle(request: SwitchRequest, xid: number, from?: FakeConnection): ErrorMsg | undefined {
    const refused = from && this.roles.refuseSlave(from, xid);
    if (refused) {
      this.stats.errors++;
      this.stats.slaveRefusals++;
      return refused;
    }
    return this.agent.handle(request, xid);
  }

  /** @internal A ROLE_REQUEST from one connection. */
  requestRole(from: FakeConnection, role: ControllerRole, generationId: bigint, xid: number): RoleAnswer {
    return this.roles.request(from, this.controllers, role, generationId, xid);
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
