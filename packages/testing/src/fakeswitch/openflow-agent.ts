import { DfError } from '@dragonflow/base';
import { decodeEncoded, type SwitchRequest } from '@dragonflow/core/host';
import {
  CtState,
  ERROR_TYPES,
  MeterFlags,
  FlowModFlags,
  FlowRemovedReason,
  OFPTT_ALL,
  OfGroup,
  OfPort,
  decodeMessage,
  encodeMessage,
  flowIdentity,
  oxmField,
  validateMatch,
  type Action,
  type ErrorMsg,
  type FlowMod,
  type GroupMod,
  type Instruction,
  type Match,
  type MeterMod,
  type MultipartReplyBody,
  type MultipartRequestBody,
  type OfMessage,
  type PacketOut,
} from '@dragonflow/openflow';
import { decodeEthernet, type EthernetFrame } from '@dragonflow/packet';
import type { Datapath } from './datapath.js';
import { outputsTo } from './datapath-util.js';
import { Meter } from './meters.js';
import { compileMatch, coveredBy, type FlowEntry, type FlowTable } from './flow-table.js';
import type { TraceResult } from './trace.js';

/** Counts of what the switch received, for tests (e.g. "a restart sent zero flow-mods"). */
export interface FakeSwitchStats {
  flowMods: number;
  adds: number;
  modifies: number;
  deletes: number;
  groupMods: number;
  meterMods: number;
  packetOuts: number;
  barriers: number;
  errors: number;
  /** Requests refused because their connection is a slave (OFPBRC_IS_SLAVE). */
  slaveRefusals: number;
}

export function emptyStats(): FakeSwitchStats {
  return { flowMods: 0, adds: 0, modifies: 0, deletes: 0, groupMods: 0, meterMods: 0, packetOuts: 0, barriers: 0, errors: 0, slaveRefusals: 0 };
}

const MAX_TABLE = 254;
/** OFPM_MAX: the highest meter id a controller may use; OFPM_ALL addresses every meter. */
const OFPM_MAX = 0xffff0000;
const OFPM_ALL = 0xffffffff;

function ofError(typeName: string, codeName: string): { errorType: number; code: number } {
  const errorType = ERROR_TYPES.findIndex((t) => t.name === typeName);
  const code = ERROR_TYPES[errorType]?.codes.indexOf(codeName) ?? -1;
  if (errorType < 0 || code < 0) throw new DfError('FAKESWITCH_BUG', `unknown OpenFlow error ${typeName}/${codeName}`);
  return { errorType, code };
}

/** The switch refuses a request: becomes the OpenFlow error message Open vSwitch would send. */
export class SwitchRefusal extends Error {
  constructor(
    readonly errorType: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export function refuse(typeName: string, codeName: string, message: string): never {
  const { errorType, code } = ofError(typeName, codeName);
  throw new SwitchRefusal(errorType, code, message);
}

/**
 * The switch's OpenFlow agent: takes the controller's requests (flow, group and
 * meter mods, packet-outs), refuses what Open vSwitch refuses with the same error
 * type and code, and changes the datapath model accordingly.
 */
export class OpenFlowAgent {
  constructor(
    private readonly dp: Datapath,
    readonly stats: FakeSwitchStats,
    private readonly wire: boolean,
    /** Where packets a packet-out sent out of the switch go. */
    private readonly record: (trace: TraceResult) => void,
  ) {}

  /** Processes one request; returns the error the switch would send. */
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
          this.meterMod(msg);
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

  private checkInstructions(table: number, instructions: readonly Instruction[], inPacketOut = false, m: Match = {}): void {
    for (const i of instructions) {
      if (i.type === 'goto_table' && (i.tableId <= table || i.tableId > MAX_TABLE)) refuse('OFPET_BAD_INSTRUCTION', 'OFPBIC_BAD_TABLE_ID', `goto_table:${i.tableId} from table ${table}`);
      if (i.type === 'apply_actions' || i.type === 'write_actions') {
        this.checkActions(i.actions, inPacketOut);
        checkConsistency(i.actions, m);
      }
      // Open vSwitch answers a flow naming a meter it does not have with INVALID_METER
      if (i.type === 'meter' && !this.dp.meters.has(i.meterId)) refuse('OFPET_METER_MOD_FAILED', 'OFPMMFC_INVALID_METER', `meter ${i.meterId} does not exist`);
    }
  }

  private checkActions(actions: readonly Action[], inPacketOut: boolean): void {
    for (const a of actions) {
      if (a.type === 'group' && !this.dp.groups.has(a.groupId)) refuse('OFPET_BAD_ACTION', 'OFPBAC_BAD_OUT_GROUP', `group ${a.groupId} does not exist`);
      if (a.type === 'output' && a.port === OfPort.TABLE && !inPacketOut) refuse('OFPET_BAD_ACTION', 'OFPBAC_BAD_OUT_PORT', 'output:TABLE is only valid in a packet-out');
      if (a.type === 'output' && a.port === OfPort.ANY) refuse('OFPET_BAD_ACTION', 'OFPBAC_BAD_OUT_PORT', 'output:ANY');
      if (a.type === 'resubmit' && a.table !== undefined && a.table > MAX_TABLE && a.table !== 0xff) refuse('OFPET_BAD_ACTION', 'OFPBAC_BAD_ARGUMENT', `resubmit to table ${a.table}`);
      // nat belongs inside ct; ct can only set the mark or label of a connection it commits
      if (a.type === 'nat') refuse('OFPET_BAD_ACTION', 'OFPBAC_BAD_SET_ARGUMENT', 'nat outside ct');
      if (a.type === 'ct' && !a.commit && !a.force && (a.actions ?? []).some((n) => n.type === 'set_field')) refuse('OFPET_BAD_ACTION', 'OFPBAC_BAD_ARGUMENT', 'ct sets ct_mark/ct_label only with commit');
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
    checkCtTuplePrereq(m.match);
    const cookieOk = (f: FlowEntry): boolean => m.cookieMask === 0n || (f.cookie & m.cookieMask) === (m.cookie & m.cookieMask);
    switch (m.command) {
      case 'add': {
        this.stats.adds++;
        this.checkInstructions(m.tableId, m.instructions, false, m.match);
        const now = this.dp.clock.now();
        this.dp.putFlow({
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
          seq: this.dp.nextSeq(),
        });
        return;
      }
      case 'modify':
      case 'modify_strict': {
        this.stats.modifies++;
        this.checkInstructions(m.tableId, m.instructions, false, m.match);
        for (const f of this.select(m, m.command === 'modify_strict')) {
          if (!cookieOk(f)) continue;
          f.instructions = m.instructions;
          this.dp.tables.get(f.table)?.changed();
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
          this.dp.removeFlow(f, FlowRemovedReason.DELETE);
        }
        return;
      }
    }
  }

  private select(m: FlowMod, strict: boolean): FlowEntry[] {
    const tables = m.tableId === OFPTT_ALL ? [...this.dp.tables.values()] : [this.dp.tables.get(m.tableId)].filter((t): t is FlowTable => t !== undefined);
    if (strict) {
      const id = flowIdentity(m.tableId, m.priority, m.match);
      const f = this.dp.tables.get(m.tableId)?.get(id);
      return f ? [f] : [];
    }
    const req = compileMatch(m.match);
    return tables.flatMap((t) => t.entries().filter((f) => coveredBy(f, req)));
  }

  private groupMod(m: GroupMod): void {
    this.stats.groupMods++;
    if (m.groupId > OfGroup.MAX && !(m.command === 'delete' && m.groupId === OfGroup.ALL)) refuse('OFPET_GROUP_MOD_FAILED', 'OFPGMFC_INVALID_GROUP', `group ${m.groupId}`);
    // a weight only means something to a select group; Open vSwitch refuses it elsewhere
    if (m.command !== 'delete' && m.groupType !== 'select' && m.buckets.some((b) => b.weight !== 0)) refuse('OFPET_GROUP_MOD_FAILED', 'OFPGMFC_INVALID_GROUP', `group ${m.groupId}: bucket weight in a ${m.groupType} group`);
    switch (m.command) {
      case 'add':
        if (this.dp.groups.has(m.groupId)) refuse('OFPET_GROUP_MOD_FAILED', 'OFPGMFC_GROUP_EXISTS', `group ${m.groupId} exists`);
        for (const b of m.buckets) this.checkActions(b.actions, false);
        this.dp.groups.set(m.groupId, { groupId: m.groupId, groupType: m.groupType, buckets: m.buckets });
        return;
      case 'modify':
        if (!this.dp.groups.has(m.groupId)) refuse('OFPET_GROUP_MOD_FAILED', 'OFPGMFC_UNKNOWN_GROUP', `group ${m.groupId} does not exist`);
        for (const b of m.buckets) this.checkActions(b.actions, false);
        this.dp.groups.set(m.groupId, { groupId: m.groupId, groupType: m.groupType, buckets: m.buckets });
        return;
      case 'delete': {
        const ids = m.groupId === OfGroup.ALL ? [...this.dp.groups.keys()] : [m.groupId];
        for (const id of ids) this.dp.deleteGroup(id);
        return;
      }
    }
  }

  /** Meter mods as Open vSwitch's userspace datapath takes them: drop bands only, one kbps-or-pktps unit. */
  private meterMod(m: MeterMod): void {
    this.stats.meterMods++;
    if (m.meterId === 0 || m.meterId > OFPM_MAX) {
      if (m.command === 'delete' && m.meterId === OFPM_ALL) {
        for (const id of [...this.dp.meters.keys()]) this.dp.deleteMeter(id);
        return;
      }
      refuse('OFPET_METER_MOD_FAILED', 'OFPMMFC_INVALID_METER', `meter ${m.meterId}`);
    }
    if (m.command === 'delete') {
      this.dp.deleteMeter(m.meterId);
      return;
    }
    if ((m.flags & MeterFlags.KBPS) && (m.flags & MeterFlags.PKTPS)) refuse('OFPET_METER_MOD_FAILED', 'OFPMMFC_BAD_FLAGS', `meter ${m.meterId}: both kbps and pktps`);
    if (m.bands.length === 0) refuse('OFPET_METER_MOD_FAILED', 'OFPMMFC_BAD_BAND', `meter ${m.meterId} has no band`);
    for (const b of m.bands) {
      if (b.type !== 'drop') refuse('OFPET_METER_MOD_FAILED', 'OFPMMFC_BAD_BAND', `meter ${m.meterId}: ${b.type} bands are not supported`);
      if (b.rate === 0) refuse('OFPET_METER_MOD_FAILED', 'OFPMMFC_BAD_RATE', `meter ${m.meterId}: rate 0`);
    }
    const exists = this.dp.meters.has(m.meterId);
    if (m.command === 'add' && exists) refuse('OFPET_METER_MOD_FAILED', 'OFPMMFC_METER_EXISTS', `meter ${m.meterId} exists`);
    if (m.command === 'modify' && !exists) refuse('OFPET_METER_MOD_FAILED', 'OFPMMFC_UNKNOWN_METER', `meter ${m.meterId} does not exist`);
    // a band without a burst size gets its rate as burst, and reads back so
    const bands = m.bands.map((b) => (b.burstSize === 0 ? { ...b, burstSize: b.rate } : b));
    this.dp.meters.set(m.meterId, new Meter(m.meterId, m.flags, bands, this.dp.clock.now()));
  }

  /** The multipart replies a controller reads state back with: flows, group descriptions, meter configs. */
  multipart(body: MultipartRequestBody): MultipartReplyBody {
    switch (body.kind) {
      case 'group_desc':
        return { kind: 'group_desc', groups: [...this.dp.groups.values()].map((g) => ({ groupType: g.groupType, groupId: g.groupId, buckets: g.buckets })) };
      case 'meter_config': {
        if (body.meterId === OFPM_ALL) return { kind: 'meter_config', meters: [...this.dp.meters.values()].sort((a, b) => a.meterId - b.meterId).map((x) => x.describe()) };
        const meter = this.dp.meters.get(body.meterId);
        if (!meter) refuse('OFPET_METER_MOD_FAILED', 'OFPMMFC_UNKNOWN_METER', `meter ${body.meterId} does not exist`);
        return { kind: 'meter_config', meters: [meter.describe()] };
      }
      default:
        refuse('OFPET_BAD_REQUEST', 'OFPBRC_BAD_MULTIPART', `the FakeSwitch does not answer ${body.kind} multiparts`);
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
    this.record(this.dp.packetOut(frame, m.inPort, m.actions));
  }
}

const CT_TUPLE_FIELDS = ['ct_nw_proto', 'ct_nw_src', 'ct_nw_dst', 'ct_ipv6_src', 'ct_ipv6_dst', 'ct_tp_src', 'ct_tp_dst'];
const CT_VALID_BITS = CtState.NEW | CtState.EST | CtState.REL | CtState.RPL | CtState.SNAT | CtState.DNAT;

/**
 * The original-tuple fields only exist for a packet with a connection: Open vSwitch
 * wants the match to say so through ct_state (a bit that implies one, or +trk-inv).
 */
function checkCtTuplePrereq(m: Match): void {
  const rec = m as Record<string, { value: unknown; mask?: unknown } | undefined>;
  const used = CT_TUPLE_FIELDS.find((f) => rec[f] !== undefined);
  if (!used) return;
  const st = rec['ct_state'];
  const value = Number(st?.value ?? 0);
  const mask = st?.mask === undefined ? 0xffffffff : Number(st.mask);
  const valid = (value & mask & CT_VALID_BITS) !== 0 || ((value & CtState.TRK) !== 0 && (mask & CtState.INV) !== 0 && (value & CtState.INV) === 0);
  if (!valid) refuse('OFPET_BAD_MATCH', 'OFPBMC_BAD_PREREQ', `${used} needs a ct_state match that implies a connection`);
}

/**
 * Open vSwitch refuses (OFPBAC_MATCH_INCONSISTENT) an action list that sets a
 * field the packet cannot have given the flow's match and the actions before it:
 * vlan_vid/vlan_pcp without a VLAN tag (matched, or pushed earlier in the list),
 * an L3/L4 field whose prerequisites (eth_type, ip_proto) the match lacks, or
 * ct on a flow that does not match IP.
 */
function checkConsistency(actions: readonly Action[], m: Match): void {
  const rec = m as Record<string, { value: unknown; mask?: unknown } | undefined>;
  const vid = rec['vlan_vid'];
  let vlan = vid !== undefined && (Number(vid.value) & 0x1000) !== 0 && (vid.mask === undefined || (Number(vid.mask) & 0x1000) !== 0);
  const ethType = rec['eth_type']?.mask === undefined ? Number(rec['eth_type']?.value ?? -1) : -1;
  for (const a of actions) {
    if (a.type === 'ct') {
      // the datapath can only track IP packets; committing a packet matched as invalid makes no sense
      if (ethType !== 0x0800 && ethType !== 0x86dd) refuse('OFPET_BAD_ACTION', 'OFPBAC_MATCH_INCONSISTENT', 'ct needs an IPv4 or IPv6 eth_type in the match');
      const st = rec['ct_state'];
      if (a.commit && st && Number(st.value) & CtState.INV && (st.mask === undefined || Number(st.mask) & CtState.INV)) refuse('OFPET_BAD_ACTION', 'OFPBAC_MATCH_INCONSISTENT', 'ct(commit) of a packet matched as invalid');
    }
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
