import { DfError, Ipv4Address, type Clock } from '@dragonflow/base';
import type { SwitchAsyncMessage } from '@dragonflow/core/host';
import {
  INSTRUCTION_ORDER,
  OfPort,
  PacketInReason,
  formatAction,
  type Action,
  type CtAction,
} from '@dragonflow/openflow';
import { encodeEthernet, type EthernetFrame } from '@dragonflow/packet';
import { Conntrack, type CtRequest } from './conntrack.js';
import { ACTION_SET_ORDER, actionSetKey, fieldsToMatch, structuredFrame } from './datapath-util.js';
import { applyFieldAction } from './field-actions.js';
import type { FlowEntry } from './flow-table.js';
import { chooseBuckets } from './groups.js';
import { SwitchTables } from './switch-tables.js';
import { PacketState, emptyCt, type TunnelInfo } from './packet-state.js';
import { TraceResult, type TraceHop } from './trace.js';

/** Names the app and owner behind a cookie (the harness wires the runtime's reconciler in). */
export type CookieDescriber = (cookie: bigint, table: number) => { app?: string; owner?: string; tableName?: string };

export type { GroupEntry } from './groups.js';

const MAX_RESUBMIT_DEPTH = 64;

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
  /** Packets `ct(table=N)` sent back into the pipeline, run after the current pass (shared by the whole run). */
  readonly recirculations: { state: PacketState; table: number }[];
}

const MAX_RECIRCULATIONS = 16;

export interface DatapathOptions {
  readonly clock: Clock;
  readonly ports?: readonly number[];
  /** Sends an asynchronous message to the connected controller (packet-in, flow-removed); a no-op when none is connected. */
  readonly emit: (m: SwitchAsyncMessage) => void;
  /** Whether a controller is connected (a packet-in without one is only traced). */
  readonly connected: () => boolean;
  readonly describeCookie: () => CookieDescriber | undefined;
}

/**
 * The switch's datapath model: the flow tables, groups and ports, and what a packet
 * does in them (matching, instructions, actions, the action set, outputs and
 * packet-ins). The OpenFlow agent changes this state; packets only read it (and
 * bump counters when live).
 */
export class Datapath extends SwitchTables {
  readonly conntrack: Conntrack;
  /** Send invalid_ttl packet-ins (off by default, as for an OpenFlow 1.3 controller that did not enable them). */
  invalidTtlToController = false;

  constructor(private readonly options: DatapathOptions) {
    super(options.clock, options.ports, options.emit);
    this.conntrack = new Conntrack(this.clock);
  }

  // ---------------- packets ----------------

  /** A packet arriving on `inPort`; `live` counts it and sends its packet-ins. */
  process(frame: EthernetFrame, inPort: number, tunnel: TunnelInfo | undefined, live: boolean): TraceResult {
    const run: Run = { trace: new TraceResult(), live, inPacketOut: false, depth: 0, stopped: false, recirculations: [] };
    this.runTable(new PacketState(frame, inPort, tunnel), 0, run);
    this.recirculate(run);
    return run.trace;
  }

  /** A packet-out's actions on its packet (always live). */
  packetOut(frame: EthernetFrame, inPort: number, actions: readonly Action[]): TraceResult {
    const run: Run = { trace: new TraceResult(), live: true, inPacketOut: true, depth: 0, stopped: false, recirculations: [] };
    this.applyActions(new PacketState(frame, inPort), actions, run, undefined);
    this.recirculate(run);
    return run.trace;
  }

  /** Runs the packets conntrack sent back, each as a new pass from its table (registers and metadata kept). */
  private recirculate(run: Run): void {
    let n = 0;
    while (run.recirculations.length > 0) {
      const { state, table } = run.recirculations.shift()!;
      if (++n > MAX_RECIRCULATIONS) {
        run.trace.drops.push('too many recirculations');
        return;
      }
      const pass: Run = { ...run, inPacketOut: false, depth: 0, stopped: false, current: undefined };
      this.runTable(state, table, pass);
    }
  }

  private runTable(state: PacketState, tableId: number, run: Run): void {
    const table = this.tables.get(tableId);
    const flow = table?.lookup((field) => state.get(field));
    const names = this.options.describeCookie()?.(flow?.cookie ?? 0n, tableId);
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
        case 'meter': {
          hop.did.push(`meter:${i.meterId}`);
          const verdict = this.meters.get(i.meterId)?.offer(encodeEthernet(state.frame).length, this.clock.now(), run.live);
          if (verdict?.dropped) {
            run.trace.drops.push(`meter ${i.meterId}: over the band's rate (${verdict.band!.rate})`);
            run.stopped = true;
          }
          break;
        }
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
        case 'ct':
          this.ct(state, a, run, hop);
          break;
        case 'ct_clear':
          state.ct = emptyCt();
          break;
        case 'conjunction':
          // only meaningful in a flow made of conjunctions, which never executes
          break;
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
        default: {
          const r = applyFieldAction(state, a, run.trace);
          if (r === 'done') break;
          if (r === 'ttl-expired') {
            // Open vSwitch stops here. It would send an invalid_ttl packet-in, but an
            // OpenFlow 1.3 controller only gets those after asking (async config).
            run.trace.drops.push('dec_ttl: TTL expired');
            if (this.invalidTtlToController) this.toController(state, run, PacketInReason.INVALID_TTL, 0xffff, undefined);
            run.stopped = true;
            return;
          }
          throw new DfError('FAKESWITCH_UNSUPPORTED', `the FakeSwitch does not model action '${a.type}'`, { context: { action: a.type } });
        }
      }
    }
  }

  /**
   * The ct action: conntrack sets the packet's ct fields (and NATs it); with a table,
   * a copy continues there as a new pass while this one goes on untracked, as the
   * datapath's ct + recirc do.
   */
  private ct(state: PacketState, a: CtAction, run: Run, hop: TraceHop | undefined): void {
    if (a.alg) throw new DfError('FAKESWITCH_UNSUPPORTED', `the FakeSwitch does not model conntrack helpers (ct alg=${a.alg})`, { context: { alg: a.alg } });
    const zone = typeof a.zone === 'object' ? Number((state.get(a.zone.field) ?? 0n) >> BigInt(a.zone.ofs)) & ((1 << a.zone.nBits) - 1) : (a.zone ?? 0);
    let req: CtRequest = { zone, commit: a.commit ?? false, force: a.force ?? false };
    for (const n of a.actions ?? []) {
      if (n.type === 'nat') req = { ...req, nat: n };
      else if (n.type === 'set_field' && n.field === 'ct_mark') req = { ...req, setMark: { value: Number(n.value), mask: n.mask === undefined ? 0xffffffff : Number(n.mask) } };
      else if (n.type === 'set_field' && n.field === 'ct_label') req = { ...req, setLabel: { value: n.value as bigint, mask: n.mask === undefined ? (1n << 128n) - 1n : (n.mask as bigint) } };
    }
    this.conntrack.execute(state, req, run.live);
    hop?.did.push(`  conntrack: ${formatCtState(state.ct.state)} zone ${zone}${a.table !== undefined ? `, recirculates to table ${a.table}` : ''}`);
    if (a.table !== undefined) {
      const copy = state.clone();
      copy.actionSet = new Map();
      run.recirculations.push({ state: copy, table: a.table });
    }
    state.ct = emptyCt();
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
    if (!run.live || !this.options.connected()) return;
    const match = fieldsToMatch(fields);
    if (userdata) {
      this.options.emit({ type: 'nx_packet_in2', xid: 0, data, fullLen: bytes.length, tableId, cookie, reason, metadata: match, userdata });
    } else {
      this.options.emit({ type: 'packet_in', xid: 0, bufferId: 0xffffffff, totalLen: bytes.length, reason, tableId, cookie, match, data });
    }
  }

  private group(state: PacketState, groupId: number, run: Run): void {
    const g = this.groups.get(groupId);
    if (!g) {
      run.trace.drops.push(`group ${groupId} does not exist`);
      return;
    }
    const buckets = chooseBuckets(g, state, { portLive: (p) => this.portLive(p), group: (id) => this.groups.get(id) });
    if (buckets.length === 0) run.trace.drops.push(`group ${groupId}: no live bucket`);
    for (const b of buckets) {
      const copy = state.clone();
      copy.actionSet = new Map();
      const sub: Run = { ...run, stopped: false };
      this.applyActions(copy, b.actions, sub, undefined);
    }
  }
}

const CT_BITS = ['new', 'est', 'rel', 'rpl', 'inv', 'trk', 'snat', 'dnat'];

function formatCtState(bits: number): string {
  return CT_BITS.filter((_, i) => bits & (1 << i)).join('|') || 'untracked';
}
