import { DfError, Ipv4Address, ManualClock, type Clock } from '@dragonflow/base';
import { decodeEncoded, type BatchError, type BatchOutcome, type SwitchAsyncMessage, type SwitchChannel, type SwitchRequest } from '@dragonflow/core/host';
import {
  ERROR_TYPES,
  FlowModFlags,
  FlowRemovedReason,
  INSTRUCTION_ORDER,
  OFPTT_ALL,
  OfGroup,
  OfPort,
  PacketInReason,
  decodeMessage,
  encodeMessage,
  formatAction,
  fieldAllOnes,
  flowIdentity,
  oxmField,
  oxmValueToBigInt,
  validateMatch,
  type Action,
  type Bucket,
  type ErrorMsg,
  type FlowMod,
  type FlowStats,
  type GroupDesc,
  type GroupMod,
  type GroupType,
  type Instruction,
  type Match,
  type OfMessage,
  type PacketOut,
} from '@dragonflow/openflow';
import { decodeEthernet, encodeEthernet, type EthernetFrame } from '@dragonflow/packet';
import { Subject, type Observable } from 'rxjs';
import { FlowTable, compileMatch, coveredBy, type FlowEntry } from './flow-table.js';
import { PacketState, type TunnelInfo } from './packet-state.js';
import { TraceResult, type TraceHop, type TraceOutput } from './trace.js';

/** Names the app and owner behind a cookie (the harness wires the runtime's reconciler in). */
export type CookieDescriber = (cookie: bigint, table: number) => { app?: string; owner?: string; tableName?: string };

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

/** Counts of what the switch received, for tests (e.g. "a restart sent zero flow-mods"). */
export interface FakeSwitchStats {
  flowMods: number;
  adds: number;
  modifies: number;
  deletes: number;
  groupMods: number;
  packetOuts: number;
  barriers: number;
  errors: number;
}

interface GroupEntry {
  readonly groupId: number;
  readonly groupType: GroupType;
  readonly buckets: readonly Bucket[];
}

const MAX_TABLE = 254;
const MAX_RESUBMIT_DEPTH = 64;

function ofError(typeName: string, codeName: string): { errorType: number; code: number } {
  const errorType = ERROR_TYPES.findIndex((t) => t.name === typeName);
  const code = ERROR_TYPES[errorType]?.codes.indexOf(codeName) ?? -1;
  if (errorType < 0 || code < 0) throw new DfError('FAKESWITCH_BUG', `unknown OpenFlow error ${typeName}/${codeName}`);
  return { errorType, code };
}

class SwitchRefusal extends Error {
  constructor(
    readonly errorType: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function refuse(typeName: string, codeName: string, message: string): never {
  const { errorType, code } = ofError(typeName, codeName);
  throw new SwitchRefusal(errorType, code, message);
}

/** What executing one packet needs to know. */
interface Run {
  readonly trace: TraceResult;
  /** Side effects (counters, packet-ins to the controller) or a dry trace. */
  readonly live: boolean;
  readonly inPacketOut: boolean;
  /** The packet came from a packet-out (OFPP_TABLE): Open vSwitch then reports controller outputs as 'action', even from a table-miss flow. */
  readonly fromPacketOut?: boolean;
  depth: number;
  stopped: boolean;
  /** The flow being executed (for packet-in cookie and no_match reason). */
  current?: FlowEntry;
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
 */
export class FakeSwitch {
  readonly datapathId: bigint;
  readonly clock: Clock;
  readonly stats: FakeSwitchStats = { flowMods: 0, adds: 0, modifies: 0, deletes: 0, groupMods: 0, packetOuts: 0, barriers: 0, errors: 0 };
  /** Every packet that left the switch (from injected packets and packet-outs), in order. */
  readonly delivered: TraceOutput[] = [];
  private readonly deliveredSubject = new Subject<TraceOutput>();
  private readonly tables = new Map<number, FlowTable>();
  private readonly groups = new Map<number, GroupEntry>();
  private ports: Set<number> | undefined;
  private seq = 0;
  private connection: FakeConnection | undefined;
  private readonly wire: boolean;
  describeCookie: CookieDescriber | undefined;
  /** Send invalid_ttl packet-ins (off by default, as for an OpenFlow 1.3 controller that did not enable them). */
  invalidTtlToController = false;

  constructor(options: FakeSwitchOptions = {}) {
    this.datapathId = options.datapathId ?? 0x0000_0000_0000_00d1n;
    this.clock = options.clock ?? new ManualClock();
    this.wire = options.wire ?? true;
    this.ports = options.ports ? new Set(options.ports) : undefined;
    this.describeCookie = options.describeCookie;
  }

  // ---------------- connection ----------------

  /** A new controller connection (flows survive reconnects, as with fail_mode=secure). */
  connect(): SwitchChannel {
    this.connection?.close();
    this.connection = new FakeConnection(this);
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
    this.ports ??= new Set();
    this.ports.add(port);
  }

  removePort(port: number): void {
    this.ports?.delete(port);
  }

  private hasPort(port: number): boolean {
    return this.ports === undefined || this.ports.has(port);
  }

  // ---------------- state ----------------

  /** Every installed flow as flow-stats (what a controller reads back). */
  flowStats(): FlowStats[] {
    const now = this.clock.now();
    const out: FlowStats[] = [];
    for (const t of [...this.tables.values()].sort((a, b) => a.id - b.id)) {
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
    return [...this.groups.values()].map((g) => ({ groupType: g.groupType, groupId: g.groupId, buckets: g.buckets }));
  }

  /** Number of installed flows (in one table, or all). */
  flowCount(table?: number): number {
    if (table !== undefined) return this.tables.get(table)?.size ?? 0;
    let n = 0;
    for (const t of this.tables.values()) n += t.size;
    return n;
  }

  /** The installed flows of one table. */
  flowsIn(table: number): FlowEntry[] {
    return this.tables.get(table)?.entries() ?? [];
  }

  hasGroup(groupId: number): boolean {
    return this.groups.has(groupId);
  }

  resetStats(): void {
    Object.assign(this.stats, { flowMods: 0, adds: 0, modifies: 0, deletes: 0, groupMods: 0, packetOuts: 0, barriers: 0, errors: 0 });
  }

  // ---------------- requests ----------------

  /** @internal Processes one request from the connection; returns the error the switch would send. */
  handle(request: SwitchRequest, xid: number): ErrorMsg | undefined {
    let msg: OfMessage;
    let bytes: Uint8Array | undefined;
    if (request.type === 'encoded') {
      // already on the wire (how the reconciler sends flows): decode it; its bytes are
      // needed again only for an error's data (the codec re-encodes them identically)
      msg = decodeEncoded(request, xid);
    } else {
      msg = { ...request, xid } as OfMessage;
      if (this.wire) {
        bytes = encodeMessage(msg);
        msg = decodeMessage(bytes);
      }
    }
    try {
      switch (msg.type) {
        case 'flow_mod':
          this.flowMod(msg);
          break;
        case 'group_mod':
          this.groupMod(msg);
          break;
        case 'packet_out':
          this.stats.packetOuts++;
          this.packetOut(msg);
          break;
        case 'meter_mod':
          refuse('OFPET_METER_MOD_FAILED', 'OFPMMFC_UNKNOWN', 'the FakeSwitch does not model meters');
          break;
        default:
          refuse('OFPET_BAD_REQUEST', 'OFPBRC_BAD_TYPE', `unexpected ${msg.type}`);
      }
      return undefined;
    } catch (err) {
      if (!(err instanceof SwitchRefusal)) throw err;
      this.stats.errors++;
      if (!bytes && request.type === 'encoded') bytes = encodeMessage(msg, { validate: false });
      return { type: 'error', xid, errorType: err.errorType, code: err.code, data: (bytes ?? new Uint8Array(0)).slice(0, 64) };
    }
  }

  private table(id: number): FlowTable {
    let t = this.tables.get(id);
    if (!t) {
      t = new FlowTable(id);
      this.tables.set(id, t);
    }
    return t;
  }

  private checkInstructions(table: number, instructions: readonly Instruction[], inPacketOut = false, m: Match = {}): void {
    for (const i of instructions) {
      if (i.type === 'goto_table' && (i.tableId <= table || i.tableId > MAX_TABLE)) refuse('OFPET_BAD_INSTRUCTION', 'OFPBIC_BAD_TABLE_ID', `goto_table:${i.tableId} from table ${table}`);
      if (i.type === 'apply_actions' || i.type === 'write_actions') {
        this.checkActions(i.actions, inPacketOut);
        checkConsistency(i.actions, m);
      }
      if (i.type === 'meter') refuse('OFPET_METER_MOD_FAILED', 'OFPMMFC_UNKNOWN_METER', `meter ${i.meterId} does not exist`);
    }
  }

  private checkActions(actions: readonly Action[], inPacketOut: boolean): void {
    for (const a of actions) {
      if (a.type === 'group' && !this.groups.has(a.groupId)) refuse('OFPET_BAD_ACTION', 'OFPBAC_BAD_OUT_GROUP', `group ${a.groupId} does not exist`);
      if (a.type === 'output' && a.port === OfPort.TABLE && !inPacketOut) refuse('OFPET_BAD_ACTION', 'OFPBAC_BAD_OUT_PORT', 'output:TABLE is only valid in a packet-out');
      if (a.type === 'output' && a.port === OfPort.ANY) refuse('OFPET_BAD_ACTION', 'OFPBAC_BAD_OUT_PORT', 'output:ANY');
      if (a.type === 'resubmit' && a.table !== undefined && a.table > MAX_TABLE && a.table !== 0xff) refuse('OFPET_BAD_ACTION', 'OFPBAC_BAD_ARGUMENT', `resubmit to table ${a.table}`);
    }
  }

  private flowMod(m: FlowMod): void {
    this.stats.flowMods++;
    if (m.tableId > MAX_TABLE && !(m.tableId === OFPTT_ALL && (m.command === 'delete' || m.command === 'modify'))) {
      refuse('OFPET_FLOW_MOD_FAILED', 'OFPFMFC_BAD_TABLE_ID', `table ${m.tableId}`);
    }
    try {
      validateMatch(m.match);
    } catch (err) {
      refuse('OFPET_BAD_MATCH', 'OFPBMC_BAD_PREREQ', (err as Error).message);
    }
    const cookieOk = (f: FlowEntry): boolean => m.cookieMask === 0n || (f.cookie & m.cookieMask) === (m.cookie & m.cookieMask);
    switch (m.command) {
      case 'add': {
        this.stats.adds++;
        this.checkInstructions(m.tableId, m.instructions, false, m.match);
        const now = this.clock.now();
        const entry: FlowEntry = {
          table: m.tableId,
          priority: m.priority,
          match: m.match,
          identity: flowIdentity(m.tableId, m.priority, m.match),
          tests: compileMatch(m.match),
          instructions: m.instructions,
          cookie: m.cookie,
          idleTimeout: m.idleTimeout,
          hardTimeout: m.hardTimeout,
          flags: m.flags,
          created: now,
          lastUsed: now,
          packets: 0n,
          bytes: 0n,
          seq: this.seq++,
        };
        const old = this.table(m.tableId).put(entry);
        old?.cancelTimer?.();
        this.armTimer(entry);
        return;
      }
      case 'modify':
      case 'modify_strict': {
        this.stats.modifies++;
        this.checkInstructions(m.tableId, m.instructions, false, m.match);
        for (const f of this.select(m, m.command === 'modify_strict')) {
          if (!cookieOk(f)) continue;
          f.instructions = m.instructions;
          if (m.flags & FlowModFlags.RESET_COUNTS) {
            f.packets = 0n;
            f.bytes = 0n;
          }
        }
        return;
      }
      case 'delete':
      case 'delete_strict': {
        this.stats.deletes++;
        for (const f of this.select(m, m.command === 'delete_strict')) {
          if (!cookieOk(f)) continue;
          if (m.outPort !== OfPort.ANY && !outputsTo(f.instructions, (a) => a.type === 'output' && a.port === m.outPort)) continue;
          if (m.outGroup !== OfGroup.ANY && !outputsTo(f.instructions, (a) => a.type === 'group' && a.groupId === m.outGroup)) continue;
          this.removeFlow(f, FlowRemovedReason.DELETE);
        }
        return;
      }
    }
  }

  private select(m: FlowMod, strict: boolean): FlowEntry[] {
    const tables = m.tableId === OFPTT_ALL ? [...this.tables.values()] : [this.tables.get(m.tableId)].filter((t): t is FlowTable => t !== undefined);
    if (strict) {
      const id = flowIdentity(m.tableId, m.priority, m.match);
      const f = this.tables.get(m.tableId)?.get(id);
      return f ? [f] : [];
    }
    const req = compileMatch(m.match);
    return tables.flatMap((t) => t.entries().filter((f) => coveredBy(f, req)));
  }

  private removeFlow(f: FlowEntry, reason: number): void {
    this.tables.get(f.table)?.delete(f.identity);
    f.cancelTimer?.();
    if (f.flags & FlowModFlags.SEND_FLOW_REM) {
      const ms = Math.max(0, this.clock.now() - f.created);
      this.connection?.emit({
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

  private groupMod(m: GroupMod): void {
    this.stats.groupMods++;
    if (m.groupId > OfGroup.MAX) refuse('OFPET_GROUP_MOD_FAILED', 'OFPGMFC_INVALID_GROUP', `group ${m.groupId}`);
    switch (m.command) {
      case 'add':
        if (this.groups.has(m.groupId)) refuse('OFPET_GROUP_MOD_FAILED', 'OFPGMFC_GROUP_EXISTS', `group ${m.groupId} exists`);
        for (const b of m.buckets) this.checkActions(b.actions, false);
        this.groups.set(m.groupId, { groupId: m.groupId, groupType: m.groupType, buckets: m.buckets });
        return;
      case 'modify':
        if (!this.groups.has(m.groupId)) refuse('OFPET_GROUP_MOD_FAILED', 'OFPGMFC_UNKNOWN_GROUP', `group ${m.groupId} does not exist`);
        for (const b of m.buckets) this.checkActions(b.actions, false);
        this.groups.set(m.groupId, { groupId: m.groupId, groupType: m.groupType, buckets: m.buckets });
        return;
      case 'delete': {
        const ids = m.groupId === OfGroup.ALL ? [...this.groups.keys()] : [m.groupId];
        for (const id of ids) {
          if (!this.groups.delete(id)) continue;
          // Deleting a group deletes the flows that use it.
          for (const t of this.tables.values()) for (const f of t.entries()) if (outputsTo(f.instructions, (a) => a.type === 'group' && a.groupId === id)) this.removeFlow(f, FlowRemovedReason.GROUP_DELETE);
        }
        return;
      }
    }
  }

  private packetOut(m: PacketOut): void {
    this.checkActions(m.actions, true);
    let frame: EthernetFrame;
    try {
      frame = decodeEthernet(m.data);
    } catch {
      refuse('OFPET_BAD_REQUEST', 'OFPBRC_BAD_PACKET', 'packet-out data is not a frame the FakeSwitch understands');
    }
    const run: Run = { trace: new TraceResult(), live: true, inPacketOut: true, depth: 0, stopped: false };
    const state = new PacketState(frame, m.inPort);
    this.applyActions(state, m.actions, run, undefined);
    this.record(run);
  }

  // ---------------- packets ----------------

  /**
   * What would happen to `frame` arriving on `inPort` (from a tunnel, with `tunnel`):
   * no counters change and nothing reaches the controller.
   */
  trace(frame: EthernetFrame, inPort: number, tunnel?: TunnelInfo): TraceResult {
    return this.process(frame, inPort, tunnel, false);
  }

  /**
   * A packet arrives on `inPort`: flows count it (and their idle timers restart),
   * packet-ins go to the connected controller, outputs are recorded in `delivered`.
   */
  inject(frame: EthernetFrame, inPort: number, tunnel?: TunnelInfo): TraceResult {
    const r = this.process(frame, inPort, tunnel, true);
    this.record({ trace: r, live: true, inPacketOut: false, depth: 0, stopped: false });
    return r;
  }

  private record(run: Run): void {
    for (const o of run.trace.outputs) {
      this.delivered.push(o);
      this.deliveredSubject.next(o);
    }
  }

  private process(frame: EthernetFrame, inPort: number, tunnel: TunnelInfo | undefined, live: boolean): TraceResult {
    const run: Run = { trace: new TraceResult(), live, inPacketOut: false, depth: 0, stopped: false };
    this.runTable(new PacketState(frame, inPort, tunnel), 0, run);
    return run.trace;
  }

  private runTable(state: PacketState, tableId: number, run: Run): void {
    const table = this.tables.get(tableId);
    const flow = table?.lookup((field) => state.get(field));
    const names = this.describeCookie?.(flow?.cookie ?? 0n, tableId);
    const hop: TraceHop = {
      table: tableId,
      ...(names?.tableName ? { tableName: names.tableName } : {}),
      depth: run.depth,
      ...(flow
        ? {
            flow: {
              priority: flow.priority,
              match: flow.match,
              cookie: flow.cookie,
              ...(names?.app ? { app: names.app } : {}),
              ...(names?.owner ? { owner: names.owner } : {}),
            },
          }
        : {}),
      did: [],
    };
    run.trace.hops.push(hop);
    if (!flow) {
      run.trace.drops.push(`no flow matched in table ${tableId}`);
      return;
    }
    if (run.live) {
      flow.packets++;
      flow.bytes += BigInt(encodeEthernet(state.frame).length);
      flow.lastUsed = this.clock.now();
    }
    const saved = run.current;
    run.current = flow;
    let next: number | undefined;
    const ordered = [...flow.instructions].sort((a, b) => INSTRUCTION_ORDER[a.type] - INSTRUCTION_ORDER[b.type]);
    for (const i of ordered) {
      if (run.stopped) break;
      switch (i.type) {
        case 'meter':
          hop.did.push(`meter:${i.meterId}`);
          break;
        case 'apply_actions':
          this.applyActions(state, i.actions, run, hop);
          break;
        case 'clear_actions':
          state.actionSet.clear();
          hop.did.push('clear_actions');
          break;
        case 'write_actions':
          for (const a of i.actions) state.actionSet.set(actionSetKey(a), a);
          hop.did.push(`write_actions(${i.actions.map(formatAction).join(',')})`);
          break;
        case 'write_metadata':
          state.metadata = (state.metadata & ~i.mask) | (i.metadata & i.mask);
          hop.did.push(`write_metadata:0x${i.metadata.toString(16)}/0x${i.mask.toString(16)}`);
          break;
        case 'goto_table':
          next = i.tableId;
          hop.did.push(`goto_table:${i.tableId}`);
          break;
        default:
          throw new DfError('FAKESWITCH_UNSUPPORTED', `the FakeSwitch does not model instruction ${i.type}`);
      }
    }
    run.current = saved;
    if (run.stopped) return;
    if (next !== undefined) {
      this.runTable(state, next, run);
      return;
    }
    if (run.depth === 0) this.executeActionSet(state, run, hop);
  }

  /** The action set runs at the end of the pipeline, in the order OpenFlow 1.3 §5.10 fixes. */
  private executeActionSet(state: PacketState, run: Run, hop: TraceHop): void {
    if (state.actionSet.size === 0) return;
    const set = [...state.actionSet.values()];
    state.actionSet = new Map();
    const rank = (a: Action): number => ACTION_SET_ORDER[a.type] ?? 50;
    const ordered = set.sort((a, b) => rank(a) - rank(b));
    const hasGroup = ordered.some((a) => a.type === 'group');
    const list = hasGroup ? ordered.filter((a) => a.type !== 'output') : ordered;
    hop.did.push(`action set: ${list.map(formatAction).join(',')}`);
    this.applyActions(state, list, run, undefined);
  }

  private applyActions(state: PacketState, actions: readonly Action[], run: Run, hop: TraceHop | undefined): void {
    for (const a of actions) {
      if (run.stopped) return;
      hop?.did.push(formatAction(a));
      switch (a.type) {
        case 'output':
          this.output(state, a.port, a.maxLen, run);
          break;
        case 'group':
          this.group(state, a.groupId, run);
          break;
        case 'set_field': {
          const spec = oxmField(a.field)!;
          const value = oxmValueToBigInt(spec, a.value);
          const mask = a.mask === undefined ? fieldAllOnes(spec) : oxmValueToBigInt(spec, a.mask);
          const old = state.get(a.field);
          if (old === undefined) {
            run.trace.drops.push(`set_field ${a.field} on a packet without that header (ignored)`);
            break;
          }
          state.set(a.field, (old & ~mask) | (value & mask));
          break;
        }
        case 'reg_load': {
          const old = state.get(a.dst.field);
          if (old === undefined) break;
          const mask = ((1n << BigInt(a.dst.nBits)) - 1n) << BigInt(a.dst.ofs);
          state.set(a.dst.field, (old & ~mask) | ((a.value << BigInt(a.dst.ofs)) & mask));
          break;
        }
        case 'move': {
          const src = state.get(a.src.field);
          const dst = state.get(a.dst.field);
          if (src === undefined || dst === undefined) break;
          const bits = (src >> BigInt(a.src.ofs)) & ((1n << BigInt(a.nBits)) - 1n);
          const mask = ((1n << BigInt(a.nBits)) - 1n) << BigInt(a.dst.ofs);
          state.set(a.dst.field, (dst & ~mask) | (bits << BigInt(a.dst.ofs)));
          break;
        }
        case 'push_vlan': {
          const outer = state.frame.vlans[0];
          state.frame.vlans.unshift({ tpid: a.ethertype, pcp: outer?.pcp ?? 0, dei: 0, vid: outer?.vid ?? 0 });
          break;
        }
        case 'pop_vlan':
          state.frame.vlans.shift();
          break;
        case 'dec_nw_ttl': {
          const ip = state.ip;
          if (!ip) break;
          const ttl = ip.kind === 'ipv4' ? ip.ttl : ip.hopLimit;
          if (ttl <= 1) {
            // Open vSwitch stops here. It would send an invalid_ttl packet-in, but an
            // OpenFlow 1.3 controller only gets those after asking (async config).
            run.trace.drops.push('dec_ttl: TTL expired');
            if (this.invalidTtlToController) this.toController(state, run, PacketInReason.INVALID_TTL, 0xffff, undefined);
            run.stopped = true;
            return;
          }
          if (ip.kind === 'ipv4') ip.ttl = ttl - 1;
          else ip.hopLimit = ttl - 1;
          break;
        }
        case 'set_nw_ttl': {
          const ip = state.ip;
          if (ip?.kind === 'ipv4') ip.ttl = a.ttl;
          else if (ip) ip.hopLimit = a.ttl;
          break;
        }
        case 'resubmit': {
          if (run.depth >= MAX_RESUBMIT_DEPTH) {
            run.trace.drops.push('resubmit recursion too deep');
            run.stopped = true;
            return;
          }
          const table = a.table === undefined || a.table === 0xff ? (run.current?.table ?? 0) : a.table;
          const savedPort = state.inPort;
          if (a.port !== undefined && a.port !== OfPort.IN_PORT) state.inPort = a.port;
          run.depth++;
          const savedCurrent = run.current;
          this.runTable(state, table, run);
          run.current = savedCurrent;
          run.depth--;
          state.inPort = savedPort;
          break;
        }
        case 'controller':
          this.toController(state, run, a.reason ?? PacketInReason.ACTION, a.maxLen ?? 0xffff, a.userdata);
          break;
        case 'set_queue':
        case 'note':
          break;
        default:
          throw new DfError('FAKESWITCH_UNSUPPORTED', `the FakeSwitch does not model action '${a.type}'`, { context: { action: a.type } });
      }
    }
  }

  private output(state: PacketState, port: number, maxLen: number | undefined, run: Run): void {
    switch (port) {
      case OfPort.CONTROLLER: {
        const f = run.current;
        const tableMiss = f !== undefined && f.priority === 0 && f.tests.length === 0;
        this.toController(state, run, tableMiss && !run.fromPacketOut ? PacketInReason.NO_MATCH : PacketInReason.ACTION, maxLen ?? 0xffff, undefined);
        return;
      }
      case OfPort.TABLE:
        if (!run.inPacketOut) throw new DfError('FAKESWITCH_BUG', 'output:TABLE outside a packet-out');
        this.runTable(state, 0, { ...run, inPacketOut: false, fromPacketOut: true, depth: 0 });
        return;
      case OfPort.IN_PORT:
        this.emitOutput(state, state.inPort, run);
        return;
      case OfPort.FLOOD:
      case OfPort.ALL:
        for (const p of [...(this.ports ?? [])].sort((a, b) => a - b)) if (p !== state.inPort) this.emitOutput(state, p, run);
        return;
      case OfPort.NORMAL:
        throw new DfError('FAKESWITCH_UNSUPPORTED', 'the FakeSwitch does not model the NORMAL action');
      default:
        if (port === state.inPort) {
          run.trace.drops.push(`output:${port} is the input port (use IN_PORT)`);
          return;
        }
        if (!this.hasPort(port)) {
          run.trace.drops.push(`output:${port}: no such port`);
          return;
        }
        this.emitOutput(state, port, run);
    }
  }

  private emitOutput(state: PacketState, port: number, run: Run): void {
    const frame = structuredFrame(state.frame);
    run.trace.outputs.push({
      port,
      frame,
      bytes: encodeEthernet(frame),
      ...(state.tunId !== 0n || state.tunDst !== 0
        ? { tunnel: { id: state.tunId, dst: Ipv4Address.fromNumber(state.tunDst >>> 0).toString(), src: Ipv4Address.fromNumber(state.tunSrc >>> 0).toString() } }
        : {}),
    });
  }

  private toController(state: PacketState, run: Run, reason: number, maxLen: number, userdata: Uint8Array | undefined): void {
    const frame = structuredFrame(state.frame);
    const bytes = encodeEthernet(frame);
    const data = bytes.slice(0, Math.min(bytes.length, maxLen));
    const tableId = run.current?.table ?? 0;
    const cookie = run.current?.cookie ?? 0xffff_ffff_ffff_ffffn;
    const fields = state.pipelineFields();
    run.trace.packetIns.push({ tableId, reason, cookie, frame, bytes, fields, ...(userdata ? { userdata } : {}) });
    if (!run.live || !this.connection) return;
    const match = fieldsToMatch(fields);
    if (userdata) {
      this.connection.emit({ type: 'nx_packet_in2', xid: 0, data, fullLen: bytes.length, tableId, cookie, reason, metadata: match, userdata });
    } else {
      this.connection.emit({ type: 'packet_in', xid: 0, bufferId: 0xffffffff, totalLen: bytes.length, reason, tableId, cookie, match, data });
    }
  }

  private group(state: PacketState, groupId: number, run: Run): void {
    const g = this.groups.get(groupId);
    if (!g) {
      run.trace.drops.push(`group ${groupId} does not exist`);
      return;
    }
    const buckets = g.groupType === 'all' ? g.buckets : g.groupType === 'select' ? pickBucket(g.buckets, state) : g.buckets.slice(0, 1);
    for (const b of buckets) {
      const copy = state.clone();
      copy.actionSet = new Map();
      const sub: Run = { ...run, stopped: false };
      this.applyActions(copy, b.actions, sub, undefined);
    }
  }
}

/** A controller connection to a FakeSwitch. */
class FakeConnection implements SwitchChannel {
  private readonly subject = new Subject<SwitchAsyncMessage>();
  private xid = 1;
  private closed = false;

  constructor(private readonly sw: FakeSwitch) {}

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
    if (this.closed) throw new DfError('SWITCH_DISCONNECTED', 'the FakeSwitch connection is closed');
    const errors: BatchError[] = [];
    requests.forEach((request, index) => {
      const error = this.sw.handle(request, this.xid++);
      if (error) errors.push({ index, request, error });
    });
    this.sw.stats.barriers++;
    await Promise.resolve();
    if (this.closed) throw new DfError('SWITCH_DISCONNECTED', 'the FakeSwitch connection closed before the barrier reply');
    return { errors };
  }

  async dumpFlows(): Promise<readonly FlowStats[]> {
    if (this.closed) throw new DfError('SWITCH_DISCONNECTED', 'the FakeSwitch connection is closed');
    return this.sw.flowStats();
  }

  async dumpGroups(): Promise<readonly GroupDesc[]> {
    if (this.closed) throw new DfError('SWITCH_DISCONNECTED', 'the FakeSwitch connection is closed');
    return this.sw.groupStats();
  }
}

/** OpenFlow 1.3 §5.10: the order actions of the action set run in. */
const ACTION_SET_ORDER: Partial<Record<Action['type'], number>> = {
  pop_vlan: 2,
  pop_mpls: 2,
  push_mpls: 3,
  push_vlan: 5,
  dec_nw_ttl: 7,
  set_nw_ttl: 8,
  set_field: 8,
  reg_load: 8,
  move: 8,
  set_queue: 9,
  group: 10,
  output: 11,
};

/** The action set holds one action per type (one set_field per field). */
function actionSetKey(a: Action): string {
  if (a.type === 'set_field') return `set_field:${a.field}`;
  if (a.type === 'reg_load') return `set_field:${a.dst.field}`;
  return a.type;
}

/**
 * Open vSwitch refuses (OFPBAC_MATCH_INCONSISTENT) an action list that sets a
 * field the packet cannot have given the flow's match and the actions before it:
 * vlan_vid/vlan_pcp without a VLAN tag (matched, or pushed earlier in the list),
 * or an L3/L4 field whose prerequisites (eth_type, ip_proto) the match lacks.
 */
function checkConsistency(actions: readonly Action[], m: Match): void {
  const rec = m as Record<string, { value: unknown; mask?: unknown } | undefined>;
  const vid = rec['vlan_vid'];
  let vlan = vid !== undefined && (Number(vid.value) & 0x1000) !== 0 && (vid.mask === undefined || (Number(vid.mask) & 0x1000) !== 0);
  for (const a of actions) {
    if (a.type === 'push_vlan') vlan = true;
    else if (a.type === 'pop_vlan') vlan = false;
    else if (a.type === 'set_field') {
      if ((a.field === 'vlan_vid' || a.field === 'vlan_pcp') && !vlan) refuse('OFPET_BAD_ACTION', 'OFPBAC_MATCH_INCONSISTENT', `set_field ${a.field} on a packet without a VLAN tag`);
      const spec = oxmField(a.field);
      for (const p of spec?.prereqs ?? []) {
        if (!('oneOf' in p)) continue;
        const have = rec[p.field];
        const ok = have !== undefined && have.mask === undefined && p.oneOf.includes(Number(have.value));
        if (!ok) refuse('OFPET_BAD_ACTION', 'OFPBAC_MATCH_INCONSISTENT', `set_field ${a.field} needs ${p.field} in the match`);
      }
    }
  }
}

function outputsTo(instructions: readonly Instruction[], pred: (a: Action) => boolean): boolean {
  return instructions.some((i) => (i.type === 'apply_actions' || i.type === 'write_actions') && i.actions.some(pred));
}

function structuredFrame(f: EthernetFrame): EthernetFrame {
  // Re-decoding the encoded frame gives an independent copy with consistent fields.
  return decodeEthernet(encodeEthernet(f));
}

function pickBucket(buckets: readonly Bucket[], state: PacketState): Bucket[] {
  if (buckets.length === 0) return [];
  const h = Number((state.frame.src.value ^ state.frame.dst.value) % BigInt(buckets.length));
  return [buckets[h]!];
}

function fieldsToMatch(fields: Readonly<Record<string, bigint>>): Match {
  const out: Record<string, { value: unknown }> = {};
  for (const [name, v] of Object.entries(fields)) {
    const spec = oxmField(name);
    if (!spec) continue;
    out[name] = { value: spec.kind === 'u64' || spec.kind === 'u128' ? v : spec.kind === 'ipv4' ? Ipv4Address.fromNumber(Number(v)) : Number(v) };
  }
  return out as Match;
}
