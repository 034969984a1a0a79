import { DfError, MacAddress } from '@dragonflow/base';
import { readActionList, writeActions } from './actions.js';
import { MsgType, MultipartType, NX_VENDOR_ID, NxtSubtype, OFP_HEADER_LEN, OFP_VERSION } from './consts.js';
import { OfDecodeError, OfEncodeError } from './errors.js';
import { readInstructionList, writeInstructions } from './instructions.js';
import { readMatch, readOxmList, writeMatch, writeOxmList } from './match.js';
import type {
  AsyncConfig,
  Bucket,
  ControllerRole,
  FlowModCommand,
  FlowStats,
  GroupDesc,
  GroupModCommand,
  GroupType,
  MeterBand,
  MeterConfig,
  MeterModCommand,
  MultipartReplyBody,
  MultipartRequestBody,
  NxPacketIn2,
  OfMessage,
  PortDesc,
  PortStats,
  PortStatusReason,
  TableStats,
} from './messages.js';
import { Reader, Writer } from './wire.js';

// ---------- enum tables (closed sets) ----------

const FLOW_MOD_COMMANDS: readonly FlowModCommand[] = ['add', 'modify', 'modify_strict', 'delete', 'delete_strict'];
const GROUP_MOD_COMMANDS: readonly GroupModCommand[] = ['add', 'modify', 'delete'];
const GROUP_TYPES: readonly GroupType[] = ['all', 'select', 'indirect', 'ff'];
const METER_MOD_COMMANDS: readonly MeterModCommand[] = ['add', 'modify', 'delete'];
const ROLES: readonly ControllerRole[] = ['nochange', 'equal', 'master', 'slave'];
const PORT_REASONS: readonly PortStatusReason[] = ['add', 'delete', 'modify'];

function indexOf<T>(list: readonly T[], v: T, what: string): number {
  const i = list.indexOf(v);
  if (i < 0) throw new OfEncodeError(`unknown ${what} '${String(v)}'`, { what });
  return i;
}

function pick<T>(r: Reader, list: readonly T[], n: number, what: string, at: number): T {
  const v = list[n];
  if (v === undefined) r.fail(`unknown ${what} ${n}`, at, { what });
  return v;
}

const OFPMPF_MORE = 1;
const OFPHET_VERSIONBITMAP = 1;
const NXPINT = { PACKET: 0, FULL_LEN: 1, BUFFER_ID: 2, TABLE_ID: 3, COOKIE: 4, REASON: 5, METADATA: 6, USERDATA: 7, CONTINUATION: 8 } as const;

// ---------- encode ----------

export interface EncodeOptions {
  /**
   * Validate matches (prerequisites, masks, ranges) before encoding. Default true.
   * Turn off only to send a deliberately invalid message (tests of switch errors).
   */
  readonly validate?: boolean;
}

/** Encodes one message to bytes. The writer computes every length. */
export function encodeMessage(msg: OfMessage, options: EncodeOptions = {}): Uint8Array {
  // Encoding is synchronous and never re-entered, so one scratch buffer serves every
  // call; finish() copies out exactly the bytes of this message.
  const w = scratch;
  w.pos = 0;
  try {
    encodeInto(w, msg, options.validate ?? true);
    return w.finish();
  } finally {
    w.pos = 0;
  }
}

const scratch = new Writer(4096);

/** Encodes into an existing writer (several messages into one buffer, for batching). */
export function encodeInto(w: Writer, msg: OfMessage, validate = true): void {
  const start = w.pos;
  const version = (msg.type === 'hello' || msg.type === 'error' ? msg.version : undefined) ?? OFP_VERSION;
  w.u8(version).u8(msgTypeOf(msg)).u16(0).u32(msg.xid);
  writeBody(w, msg, validate);
  w.patchU16(start + 2, w.pos - start);
}

function msgTypeOf(msg: OfMessage): number {
  switch (msg.type) {
    case 'hello':
      return MsgType.HELLO;
    case 'error':
      return MsgType.ERROR;
    case 'echo_request':
      return MsgType.ECHO_REQUEST;
    case 'echo_reply':
      return MsgType.ECHO_REPLY;
    case 'experimenter':
    case 'nx_set_packet_in_format':
    case 'nx_packet_in2':
      return MsgType.EXPERIMENTER;
    case 'features_request':
      return MsgType.FEATURES_REQUEST;
    case 'features_reply':
      return MsgType.FEATURES_REPLY;
    case 'get_config_request':
      return MsgType.GET_CONFIG_REQUEST;
    case 'get_config_reply':
      return MsgType.GET_CONFIG_REPLY;
    case 'set_config':
      return MsgType.SET_CONFIG;
    case 'packet_in':
      return MsgType.PACKET_IN;
    case 'flow_removed':
      return MsgType.FLOW_REMOVED;
    case 'port_status':
      return MsgType.PORT_STATUS;
    case 'packet_out':
      return MsgType.PACKET_OUT;
    case 'flow_mod':
      return MsgType.FLOW_MOD;
    case 'group_mod':
      return MsgType.GROUP_MOD;
    case 'meter_mod':
      return MsgType.METER_MOD;
    case 'multipart_request':
      return MsgType.MULTIPART_REQUEST;
    case 'multipart_reply':
      return MsgType.MULTIPART_REPLY;
    case 'barrier_request':
      return MsgType.BARRIER_REQUEST;
    case 'barrier_reply':
      return MsgType.BARRIER_REPLY;
    case 'role_request':
      return MsgType.ROLE_REQUEST;
    case 'role_reply':
      return MsgType.ROLE_REPLY;
    case 'get_async_request':
      return MsgType.GET_ASYNC_REQUEST;
    case 'get_async_reply':
      return MsgType.GET_ASYNC_REPLY;
    case 'set_async':
      return MsgType.SET_ASYNC;
    case 'unknown':
      return msg.msgType;
  }
}

function writePort(w: Writer, p: PortDesc): void {
  w.u32(p.portNo).zeros(4);
  w.bytes(p.hwAddr.toBytes()).zeros(2).fixedString(p.name, 16, 'port name');
  w.u32(p.config).u32(p.state).u32(p.curr).u32(p.advertised).u32(p.supported).u32(p.peer).u32(p.currSpeed).u32(p.maxSpeed);
}

function writeBuckets(w: Writer, buckets: readonly Bucket[]): void {
  for (const b of buckets) {
    const start = w.pos;
    w.u16(0).u16(b.weight).u32(b.watchPort).u32(b.watchGroup).zeros(4);
    writeActions(w, b.actions);
    w.patchU16(start, w.pos - start);
  }
}

function writeAsync(w: Writer, a: AsyncConfig): void {
  w.u32(a.packetInMask[0]).u32(a.packetInMask[1]);
  w.u32(a.portStatusMask[0]).u32(a.portStatusMask[1]);
  w.u32(a.flowRemovedMask[0]).u32(a.flowRemovedMask[1]);
}

function writeMeterBands(w: Writer, bands: readonly MeterBand[]): void {
  for (const b of bands) {
    w.u16(b.type === 'drop' ? 1 : b.type === 'dscp_remark' ? 2 : 0xffff).u16(16).u32(b.rate).u32(b.burstSize);
    if (b.type === 'drop') w.zeros(4);
    else if (b.type === 'dscp_remark') w.u8(b.precLevel).zeros(3);
    else w.u32(b.experimenter);
  }
}

/** Meter bands up to the end of `r` (a meter-mod's or a meter config entry's). */
function readMeterBands(r: Reader): MeterBand[] {
  const bands: MeterBand[] = [];
  while (r.remaining > 0) {
    const bAt = r.pos;
    const bt = r.u16('band type');
    const blen = r.u16('band length');
    if (blen !== 16) r.fail(`meter band length ${blen}, expected 16`, bAt + 2);
    const rate = r.u32('rate');
    const burstSize = r.u32('burst_size');
    if (bt === 1) {
      r.skip(4);
      bands.push({ type: 'drop', rate, burstSize });
    } else if (bt === 2) {
      const precLevel = r.u8('prec_level');
      r.skip(3);
      bands.push({ type: 'dscp_remark', rate, burstSize, precLevel });
    } else if (bt === 0xffff) {
      bands.push({ type: 'experimenter', rate, burstSize, experimenter: r.u32('experimenter') });
    } else {
      r.fail(`unknown meter band type ${bt}`, bAt);
    }
  }
  return bands;
}

function writeMpRequestBody(w: Writer, b: MultipartRequestBody, validate: boolean): number {
  switch (b.kind) {
    case 'desc':
      return MultipartType.DESC;
    case 'flow':
      w.u8(b.tableId).zeros(3).u32(b.outPort).u32(b.outGroup).zeros(4).u64(b.cookie).u64(b.cookieMask);
      writeMatch(w, b.match, validate);
      return MultipartType.FLOW;
    case 'table':
      return MultipartType.TABLE;
    case 'port_stats':
      w.u32(b.portNo).zeros(4);
      return MultipartType.PORT_STATS;
    case 'port_desc':
      return MultipartType.PORT_DESC;
    case 'group_desc':
      return MultipartType.GROUP_DESC;
    case 'meter_config':
      w.u32(b.meterId).zeros(4);
      return MultipartType.METER_CONFIG;
    case 'unknown':
      w.bytes(b.data);
      return b.mpType;
  }
}

function writeMpReplyBody(w: Writer, b: MultipartReplyBody, validate: boolean): number {
  switch (b.kind) {
    case 'desc':
      w.fixedString(b.desc.mfrDesc, 256, 'mfr_desc').fixedString(b.desc.hwDesc, 256, 'hw_desc').fixedString(b.desc.swDesc, 256, 'sw_desc');
      w.fixedString(b.desc.serialNum, 32, 'serial_num').fixedString(b.desc.dpDesc, 256, 'dp_desc');
      return MultipartType.DESC;
    case 'flow':
      for (const f of b.flows) {
        const start = w.pos;
        w.u16(0).u8(f.tableId).zeros(1).u32(f.durationSec).u32(f.durationNsec).u16(f.priority).u16(f.idleTimeout).u16(f.hardTimeout).u16(f.flags).zeros(4);
        w.u64(f.cookie).u64(f.packetCount).u64(f.byteCount);
        writeMatch(w, f.match, validate);
        writeInstructions(w, f.instructions);
        w.patchU16(start, w.pos - start);
      }
      return MultipartType.FLOW;
    case 'table':
      for (const t of b.tables) w.u8(t.tableId).zeros(3).u32(t.activeCount).u64(t.lookupCount).u64(t.matchedCount);
      return MultipartType.TABLE;
    case 'port_stats':
      for (const p of b.ports) {
        w.u32(p.portNo).zeros(4);
        for (const v of [p.rxPackets, p.txPackets, p.rxBytes, p.txBytes, p.rxDropped, p.txDropped, p.rxErrors, p.txErrors, p.rxFrameErr, p.rxOverErr, p.rxCrcErr, p.collisions]) w.u64(v);
        w.u32(p.durationSec).u32(p.durationNsec);
      }
      return MultipartType.PORT_STATS;
    case 'port_desc':
      for (const p of b.ports) writePort(w, p);
      return MultipartType.PORT_DESC;
    case 'group_desc':
      for (const g of b.groups) {
        const start = w.pos;
        w.u16(0).u8(indexOf(GROUP_TYPES, g.groupType, 'group type')).zeros(1).u32(g.groupId);
        writeBuckets(w, g.buckets);
        w.patchU16(start, w.pos - start);
      }
      return MultipartType.GROUP_DESC;
    case 'meter_config':
      for (const m of b.meters) {
        const start = w.pos;
        w.u16(0).u16(m.flags).u32(m.meterId);
        writeMeterBands(w, m.bands);
        w.patchU16(start, w.pos - start);
      }
      return MultipartType.METER_CONFIG;
    case 'unknown':
      w.bytes(b.data);
      return b.mpType;
  }
}

function writePacketIn2(w: Writer, m: NxPacketIn2): void {
  w.u32(NX_VENDOR_ID).u32(NxtSubtype.PACKET_IN2);
  w.prop(NXPINT.PACKET, (p) => p.bytes(m.data));
  if (m.fullLen !== undefined) w.prop(NXPINT.FULL_LEN, (p) => p.u32(m.fullLen!));
  if (m.bufferId !== undefined) w.prop(NXPINT.BUFFER_ID, (p) => p.u32(m.bufferId!));
  w.prop(NXPINT.TABLE_ID, (p) => p.u8(m.tableId));
  if (m.cookie !== undefined) w.prop(NXPINT.COOKIE, (p) => p.zeros(4).u64(m.cookie!));
  w.prop(NXPINT.REASON, (p) => p.u8(m.reason));
  w.prop(NXPINT.METADATA, (p) => writeOxmList(p, m.metadata));
  if (m.userdata !== undefined) w.prop(NXPINT.USERDATA, (p) => p.bytes(m.userdata!));
  if (m.continuation !== undefined) w.prop(NXPINT.CONTINUATION, (p) => p.bytes(m.continuation!));
}

function writeBody(w: Writer, msg: OfMessage, validate: boolean): void {
  switch (msg.type) {
    case 'hello':
      if (msg.versions && msg.versions.length > 0) {
        const words = Math.floor(Math.max(...msg.versions) / 32) + 1;
        const bitmap = new Array<number>(words).fill(0);
        for (const v of msg.versions) bitmap[v >> 5] = (bitmap[v >> 5]! | (1 << (v & 31))) >>> 0;
        const start = w.pos;
        w.u16(OFPHET_VERSIONBITMAP).u16(4 + 4 * words);
        for (const b of bitmap) w.u32(b);
        w.padTo8(start);
      }
      return;
    case 'error':
      w.u16(msg.errorType).u16(msg.code);
      if (msg.errorType === 0xffff) w.u32(msg.experimenter ?? 0);
      w.bytes(msg.data);
      return;
    case 'echo_request':
    case 'echo_reply':
      w.bytes(msg.data);
      return;
    case 'experimenter':
      w.u32(msg.experimenter).u32(msg.expType).bytes(msg.data);
      return;
    case 'nx_set_packet_in_format':
      w.u32(NX_VENDOR_ID).u32(NxtSubtype.SET_PACKET_IN_FORMAT).u32(msg.format);
      return;
    case 'nx_packet_in2':
      writePacketIn2(w, msg);
      return;
    case 'features_request':
    case 'get_config_request':
    case 'barrier_request':
    case 'barrier_reply':
    case 'get_async_request':
      return;
    case 'features_reply':
      w.u64(msg.datapathId).u32(msg.nBuffers).u8(msg.nTables).u8(msg.auxiliaryId).zeros(2).u32(msg.capabilities).u32(msg.reserved);
      return;
    case 'get_config_reply':
    case 'set_config':
      w.u16(msg.flags).u16(msg.missSendLen);
      return;
    case 'packet_in':
      w.u32(msg.bufferId).u16(msg.totalLen).u8(msg.reason).u8(msg.tableId).u64(msg.cookie);
      writeMatch(w, msg.match, false);
      w.zeros(2).bytes(msg.data);
      return;
    case 'flow_removed':
      w.u64(msg.cookie).u16(msg.priority).u8(msg.reason).u8(msg.tableId).u32(msg.durationSec).u32(msg.durationNsec);
      w.u16(msg.idleTimeout).u16(msg.hardTimeout).u64(msg.packetCount).u64(msg.byteCount);
      writeMatch(w, msg.match, false);
      return;
    case 'port_status':
      w.u8(indexOf(PORT_REASONS, msg.reason, 'port status reason')).zeros(7);
      writePort(w, msg.port);
      return;
    case 'packet_out': {
      w.u32(msg.bufferId).u32(msg.inPort);
      const lenAt = w.pos;
      w.u16(0).zeros(6);
      const actStart = w.pos;
      writeActions(w, msg.actions);
      w.patchU16(lenAt, w.pos - actStart);
      w.bytes(msg.data);
      return;
    }
    case 'flow_mod':
      w.u64(msg.cookie).u64(msg.cookieMask).u8(msg.tableId).u8(indexOf(FLOW_MOD_COMMANDS, msg.command, 'flow-mod command'));
      w.u16(msg.idleTimeout).u16(msg.hardTimeout).u16(msg.priority).u32(msg.bufferId).u32(msg.outPort).u32(msg.outGroup).u16(msg.flags).zeros(2);
      writeMatch(w, msg.match, validate);
      writeInstructions(w, msg.instructions);
      return;
    case 'group_mod':
      w.u16(indexOf(GROUP_MOD_COMMANDS, msg.command, 'group-mod command')).u8(indexOf(GROUP_TYPES, msg.groupType, 'group type')).zeros(1).u32(msg.groupId);
      writeBuckets(w, msg.buckets);
      return;
    case 'meter_mod':
      w.u16(indexOf(METER_MOD_COMMANDS, msg.command, 'meter-mod command')).u16(msg.flags).u32(msg.meterId);
      writeMeterBands(w, msg.bands);
      return;
    case 'multipart_request': {
      const at = w.pos;
      w.u16(0).u16(msg.more ? OFPMPF_MORE : 0).zeros(4);
      const mpType = writeMpRequestBody(w, msg.body, validate);
      w.patchU16(at, mpType);
      return;
    }
    case 'multipart_reply': {
      const at = w.pos;
      w.u16(0).u16(msg.more ? OFPMPF_MORE : 0).zeros(4);
      const mpType = writeMpReplyBody(w, msg.body, validate);
      w.patchU16(at, mpType);
      return;
    }
    case 'role_request':
    case 'role_reply':
      w.u32(indexOf(ROLES, msg.role, 'controller role')).zeros(4).u64(msg.generationId);
      return;
    case 'get_async_reply':
    case 'set_async':
      writeAsync(w, msg);
      return;
    case 'unknown':
      w.bytes(msg.body);
      return;
  }
}

// ---------- decode ----------

/** Reads the 8-byte header fields without decoding the body. */
export function peekHeader(bytes: Uint8Array, offset = 0): { version: number; msgType: number; length: number; xid: number } {
  const r = new Reader(bytes, offset);
  return { version: r.u8('version'), msgType: r.u8('message type'), length: r.u16('message length'), xid: r.u32('xid') };
}

/**
 * Decodes exactly one message. Throws OfDecodeError (with the byte offset) on any
 * malformed input; never anything else.
 */
export function decodeMessage(bytes: Uint8Array): OfMessage {
  try {
    return decodeUnsafe(bytes);
  } catch (err) {
    if (err instanceof OfDecodeError) throw err;
    // A value helper refusing a wire value (a DfError) still surfaces as the one decode
    // error type. Anything else is a bug in this codec and must not be disguised.
    if (err instanceof DfError) throw new OfDecodeError(`malformed message: ${err.message}`, 0, { cause: err.code });
    throw err;
  }
}

function decodeUnsafe(bytes: Uint8Array): OfMessage {
  const r = new Reader(bytes);
  const version = r.u8('version');
  const type = r.u8('message type');
  const length = r.u16('message length');
  const xid = r.u32('xid');
  if (length < OFP_HEADER_LEN) r.fail(`message length ${length} is shorter than the header`, 2);
  if (length !== bytes.length) r.fail(`message length field says ${length} but ${bytes.length} bytes were given`, 2);
  if (type === MsgType.HELLO) return decodeHello(r, version, xid);
  if (type === MsgType.ERROR) return decodeError(r, version, xid);
  if (version !== OFP_VERSION) r.fail(`unsupported OpenFlow version 0x${version.toString(16).padStart(2, '0')} (only 0x04 is spoken after HELLO)`, 0, { version });
  const fixed = (n: number): void => {
    if (length !== OFP_HEADER_LEN + n) r.fail(`message type ${type} has length ${length}, expected ${OFP_HEADER_LEN + n}`, 2, { msgType: type });
  };
  switch (type) {
    case MsgType.ECHO_REQUEST:
      return { type: 'echo_request', xid, data: r.bytes(r.remaining) };
    case MsgType.ECHO_REPLY:
      return { type: 'echo_reply', xid, data: r.bytes(r.remaining) };
    case MsgType.EXPERIMENTER:
      return decodeExperimenter(r, xid);
    case MsgType.FEATURES_REQUEST:
      fixed(0);
      return { type: 'features_request', xid };
    case MsgType.FEATURES_REPLY: {
      fixed(24);
      const datapathId = r.u64('datapath_id');
      const nBuffers = r.u32('n_buffers');
      const nTables = r.u8('n_tables');
      const auxiliaryId = r.u8('auxiliary_id');
      r.skip(2);
      const capabilities = r.u32('capabilities');
      const reserved = r.u32('reserved');
      return { type: 'features_reply', xid, datapathId, nBuffers, nTables, auxiliaryId, capabilities, reserved };
    }
    case MsgType.GET_CONFIG_REQUEST:
      fixed(0);
      return { type: 'get_config_request', xid };
    case MsgType.GET_CONFIG_REPLY:
    case MsgType.SET_CONFIG: {
      fixed(4);
      const flags = r.u16('flags');
      const missSendLen = r.u16('miss_send_len');
      return { type: type === MsgType.SET_CONFIG ? 'set_config' : 'get_config_reply', xid, flags, missSendLen };
    }
    case MsgType.PACKET_IN: {
      const bufferId = r.u32('buffer_id');
      const totalLen = r.u16('total_len');
      const reason = r.u8('reason');
      const tableId = r.u8('table_id');
      const cookie = r.u64('cookie');
      const match = readMatch(r);
      r.skip(2, 'packet-in padding');
      return { type: 'packet_in', xid, bufferId, totalLen, reason, tableId, cookie, match, data: r.bytes(r.remaining) };
    }
    case MsgType.FLOW_REMOVED: {
      const cookie = r.u64('cookie');
      const priority = r.u16('priority');
      const reason = r.u8('reason');
      const tableId = r.u8('table_id');
      const durationSec = r.u32('duration_sec');
      const durationNsec = r.u32('duration_nsec');
      const idleTimeout = r.u16('idle_timeout');
      const hardTimeout = r.u16('hard_timeout');
      const packetCount = r.u64('packet_count');
      const byteCount = r.u64('byte_count');
      const match = readMatch(r);
      trailing(r, 'flow-removed');
      return { type: 'flow_removed', xid, cookie, priority, reason, tableId, durationSec, durationNsec, idleTimeout, hardTimeout, packetCount, byteCount, match };
    }
    case MsgType.PORT_STATUS: {
      fixed(72);
      const at = r.pos;
      const reason = pick(r, PORT_REASONS, r.u8('reason'), 'port status reason', at);
      r.skip(7);
      return { type: 'port_status', xid, reason, port: readPort(r) };
    }
    case MsgType.PACKET_OUT: {
      const bufferId = r.u32('buffer_id');
      const inPort = r.u32('in_port');
      const actionsLen = r.u16('actions_len');
      r.skip(6);
      const actions = readActionList(r.sub(actionsLen, 'packet-out actions'));
      return { type: 'packet_out', xid, bufferId, inPort, actions, data: r.bytes(r.remaining) };
    }
    case MsgType.FLOW_MOD: {
      const cookie = r.u64('cookie');
      const cookieMask = r.u64('cookie_mask');
      const tableId = r.u8('table_id');
      const cAt = r.pos;
      const command = pick(r, FLOW_MOD_COMMANDS, r.u8('command'), 'flow-mod command', cAt);
      const idleTimeout = r.u16('idle_timeout');
      const hardTimeout = r.u16('hard_timeout');
      const priority = r.u16('priority');
      const bufferId = r.u32('buffer_id');
      const outPort = r.u32('out_port');
      const outGroup = r.u32('out_group');
      const flags = r.u16('flags');
      r.skip(2);
      const match = readMatch(r);
      const instructions = readInstructionList(r);
      return { type: 'flow_mod', xid, cookie, cookieMask, tableId, command, idleTimeout, hardTimeout, priority, bufferId, outPort, outGroup, flags, match, instructions };
    }
    case MsgType.GROUP_MOD: {
      const at = r.pos;
      const command = pick(r, GROUP_MOD_COMMANDS, r.u16('command'), 'group-mod command', at);
      const groupType = pick(r, GROUP_TYPES, r.u8('group type'), 'group type', at + 2);
      r.skip(1);
      const groupId = r.u32('group_id');
      return { type: 'group_mod', xid, command, groupType, groupId, buckets: readBuckets(r) };
    }
    case MsgType.METER_MOD: {
      const at = r.pos;
      const command = pick(r, METER_MOD_COMMANDS, r.u16('command'), 'meter-mod command', at);
      const flags = r.u16('flags');
      const meterId = r.u32('meter_id');
      const bands = readMeterBands(r);
      return { type: 'meter_mod', xid, command, flags, meterId, bands };
    }
    case MsgType.MULTIPART_REQUEST:
    case MsgType.MULTIPART_REPLY: {
      const mpAt = r.pos;
      const mpType = r.u16('multipart type');
      const more = (r.u16('multipart flags') & OFPMPF_MORE) !== 0;
      r.skip(4);
      if (type === MsgType.MULTIPART_REQUEST) return { type: 'multipart_request', xid, more, body: decodeMpRequest(r, mpType, mpAt) };
      return { type: 'multipart_reply', xid, more, body: decodeMpReply(r, mpType) };
    }
    case MsgType.BARRIER_REQUEST:
      fixed(0);
      return { type: 'barrier_request', xid };
    case MsgType.BARRIER_REPLY:
      fixed(0);
      return { type: 'barrier_reply', xid };
    case MsgType.ROLE_REQUEST:
    case MsgType.ROLE_REPLY: {
      fixed(16);
      const at = r.pos;
      const role = pick(r, ROLES, r.u32('role'), 'controller role', at);
      r.skip(4);
      const generationId = r.u64('generation_id');
      return { type: type === MsgType.ROLE_REQUEST ? 'role_request' : 'role_reply', xid, role, generationId };
    }
    case MsgType.GET_ASYNC_REQUEST:
      fixed(0);
      return { type: 'get_async_request', xid };
    case MsgType.GET_ASYNC_REPLY:
    case MsgType.SET_ASYNC: {
      fixed(24);
      const m = readAsync(r);
      return type === MsgType.SET_ASYNC ? { type: 'set_async', xid, ...m } : { type: 'get_async_reply', xid, ...m };
    }
    default:
      return { type: 'unknown', xid, msgType: type, body: r.bytes(r.remaining) };
  }
}

function trailing(r: Reader, what: string): void {
  if (r.remaining !== 0) r.fail(`${r.remaining} unexpected trailing bytes after ${what}`);
}

function decodeHello(r: Reader, version: number, xid: number): OfMessage {
  let versions: number[] | undefined;
  while (r.remaining > 0) {
    const at = r.pos;
    const etype = r.u16('hello element type');
    const elen = r.u16('hello element length');
    if (elen < 4) r.fail(`hello element length ${elen} < 4`, at + 2);
    const body = r.sub(elen - 4, 'hello element');
    r.skip(Math.min(r.remaining, ((elen + 7) & ~7) - elen), 'hello element padding');
    if (etype === OFPHET_VERSIONBITMAP) {
      versions = [];
      let word = 0;
      while (body.remaining >= 4) {
        const bits = body.u32('version bitmap');
        for (let b = 0; b < 32; b++) if ((bits >>> b) & 1) versions.push(word * 32 + b);
        word++;
      }
    }
  }
  return versions === undefined ? { type: 'hello', xid, version } : { type: 'hello', xid, version, versions };
}

function decodeError(r: Reader, version: number, xid: number): OfMessage {
  const errorType = r.u16('error type');
  const code = r.u16('error code');
  const base = version === OFP_VERSION ? {} : { version };
  if (errorType === 0xffff) {
    const experimenter = r.u32('error experimenter');
    return { type: 'error', xid, ...base, errorType, code, experimenter, data: r.bytes(r.remaining) };
  }
  return { type: 'error', xid, ...base, errorType, code, data: r.bytes(r.remaining) };
}

function decodeExperimenter(r: Reader, xid: number): OfMessage {
  const experimenter = r.u32('experimenter');
  const expType = r.u32('experimenter type');
  if (experimenter === NX_VENDOR_ID) {
    if (expType === NxtSubtype.SET_PACKET_IN_FORMAT) {
      const format = r.u32('packet-in format');
      trailing(r, 'NXT_SET_PACKET_IN_FORMAT');
      return { type: 'nx_set_packet_in_format', xid, format };
    }
    if (expType === NxtSubtype.PACKET_IN2) return decodePacketIn2(r, xid);
  }
  return { type: 'experimenter', xid, experimenter, expType, data: r.bytes(r.remaining) };
}

function decodePacketIn2(r: Reader, xid: number): NxPacketIn2 {
  const out: { -readonly [K in keyof NxPacketIn2]: NxPacketIn2[K] } = { type: 'nx_packet_in2', xid, data: new Uint8Array(0), tableId: 0, reason: 0, metadata: {} };
  let sawPacket = false;
  while (r.remaining > 0) {
    const at = r.pos;
    const ptype = r.u16('property type');
    const plen = r.u16('property length');
    if (plen < 4) r.fail(`packet-in2 property length ${plen} < 4`, at + 2);
    const p = r.sub(plen - 4, `packet-in2 property ${ptype}`);
    r.skip(Math.min(r.remaining, ((plen + 7) & ~7) - plen), 'property padding');
    switch (ptype) {
      case NXPINT.PACKET:
        out.data = p.bytes(p.remaining);
        sawPacket = true;
        break;
      case NXPINT.FULL_LEN:
        out.fullLen = p.u32('full_len');
        break;
      case NXPINT.BUFFER_ID:
        out.bufferId = p.u32('buffer_id');
        break;
      case NXPINT.TABLE_ID:
        out.tableId = p.u8('table_id');
        break;
      case NXPINT.COOKIE:
        p.skip(4);
        out.cookie = p.u64('cookie');
        break;
      case NXPINT.REASON:
        out.reason = p.u8('reason');
        break;
      case NXPINT.METADATA:
        out.metadata = readOxmList(p);
        break;
      case NXPINT.USERDATA:
        out.userdata = p.bytes(p.remaining);
        break;
      case NXPINT.CONTINUATION:
        out.continuation = p.bytes(p.remaining);
        break;
      default:
        // Unknown properties are skipped, as Open vSwitch does with loose parsing.
        break;
    }
  }
  if (!sawPacket) r.fail('NXT_PACKET_IN2 without a packet property', 16);
  return out;
}

function readPort(r: Reader): PortDesc {
  const portNo = r.u32('port_no');
  r.skip(4);
  const hwAddr = MacAddress.fromBytes(r.bytes(6, 'hw_addr'));
  r.skip(2);
  const name = r.fixedString(16, 'port name');
  const config = r.u32('config');
  const state = r.u32('state');
  const curr = r.u32('curr');
  const advertised = r.u32('advertised');
  const supported = r.u32('supported');
  const peer = r.u32('peer');
  const currSpeed = r.u32('curr_speed');
  const maxSpeed = r.u32('max_speed');
  return { portNo, hwAddr, name, config, state, curr, advertised, supported, peer, currSpeed, maxSpeed };
}

function readBuckets(r: Reader): Bucket[] {
  const out: Bucket[] = [];
  while (r.remaining > 0) {
    const at = r.pos;
    const len = r.u16('bucket length');
    if (len < 16) r.fail(`bucket length ${len} < 16`, at);
    const b = r.sub(len - 2, 'bucket');
    const weight = b.u16('weight');
    const watchPort = b.u32('watch_port');
    const watchGroup = b.u32('watch_group');
    b.skip(4);
    out.push({ weight, watchPort, watchGroup, actions: readActionList(b) });
  }
  return out;
}

function readAsync(r: Reader): AsyncConfig {
  const two = (what: string): [number, number] => [r.u32(what), r.u32(what)];
  return { packetInMask: two('packet_in_mask'), portStatusMask: two('port_status_mask'), flowRemovedMask: two('flow_removed_mask') };
}

function decodeMpRequest(r: Reader, mpType: number, at: number): MultipartRequestBody {
  const empty = (kind: 'desc' | 'table' | 'port_desc' | 'group_desc'): MultipartRequestBody => {
    if (r.remaining !== 0) r.fail(`multipart ${kind} request has ${r.remaining} unexpected body bytes`, at);
    return { kind };
  };
  switch (mpType) {
    case MultipartType.DESC:
      return empty('desc');
    case MultipartType.TABLE:
      return empty('table');
    case MultipartType.PORT_DESC:
      return empty('port_desc');
    case MultipartType.GROUP_DESC:
      return empty('group_desc');
    case MultipartType.FLOW: {
      const tableId = r.u8('table_id');
      r.skip(3);
      const outPort = r.u32('out_port');
      const outGroup = r.u32('out_group');
      r.skip(4);
      const cookie = r.u64('cookie');
      const cookieMask = r.u64('cookie_mask');
      const match = readMatch(r);
      trailing(r, 'flow stats request');
      return { kind: 'flow', tableId, outPort, outGroup, cookie, cookieMask, match };
    }
    case MultipartType.PORT_STATS: {
      const portNo = r.u32('port_no');
      r.skip(4);
      trailing(r, 'port stats request');
      return { kind: 'port_stats', portNo };
    }
    case MultipartType.METER_CONFIG: {
      const meterId = r.u32('meter_id');
      r.skip(4);
      trailing(r, 'meter config request');
      return { kind: 'meter_config', meterId };
    }
    default:
      return { kind: 'unknown', mpType, data: r.bytes(r.remaining) };
  }
}

function decodeMpReply(r: Reader, mpType: number): MultipartReplyBody {
  switch (mpType) {
    case MultipartType.DESC: {
      const desc = {
        mfrDesc: r.fixedString(256, 'mfr_desc'),
        hwDesc: r.fixedString(256, 'hw_desc'),
        swDesc: r.fixedString(256, 'sw_desc'),
        serialNum: r.fixedString(32, 'serial_num'),
        dpDesc: r.fixedString(256, 'dp_desc'),
      };
      trailing(r, 'desc reply');
      return { kind: 'desc', desc };
    }
    case MultipartType.FLOW: {
      const flows: FlowStats[] = [];
      while (r.remaining > 0) {
        const at = r.pos;
        const len = r.u16('flow stats length');
        if (len < 56) r.fail(`flow stats entry length ${len} < 56`, at);
        const e = r.sub(len - 2, 'flow stats entry');
        const tableId = e.u8('table_id');
        e.skip(1);
        const durationSec = e.u32('duration_sec');
        const durationNsec = e.u32('duration_nsec');
        const priority = e.u16('priority');
        const idleTimeout = e.u16('idle_timeout');
        const hardTimeout = e.u16('hard_timeout');
        const flags = e.u16('flags');
        e.skip(4);
        const cookie = e.u64('cookie');
        const packetCount = e.u64('packet_count');
        const byteCount = e.u64('byte_count');
        const match = readMatch(e);
        const instructions = readInstructionList(e);
        flows.push({ tableId, durationSec, durationNsec, priority, idleTimeout, hardTimeout, flags, cookie, packetCount, byteCount, match, instructions });
      }
      return { kind: 'flow', flows };
    }
    case MultipartType.TABLE: {
      const tables: TableStats[] = [];
      while (r.remaining > 0) {
        const tableId = r.u8('table_id');
        r.skip(3);
        const activeCount = r.u32('active_count');
        tables.push({ tableId, activeCount, lookupCount: r.u64('lookup_count'), matchedCount: r.u64('matched_count') });
      }
      return { kind: 'table', tables };
    }
    case MultipartType.PORT_STATS: {
      const ports: PortStats[] = [];
      while (r.remaining > 0) {
        const portNo = r.u32('port_no');
        r.skip(4);
        const c = (n: string): bigint => r.u64(n);
        ports.push({
          portNo,
          rxPackets: c('rx_packets'),
          txPackets: c('tx_packets'),
          rxBytes: c('rx_bytes'),
          txBytes: c('tx_bytes'),
          rxDropped: c('rx_dropped'),
          txDropped: c('tx_dropped'),
          rxErrors: c('rx_errors'),
          txErrors: c('tx_errors'),
          rxFrameErr: c('rx_frame_err'),
          rxOverErr: c('rx_over_err'),
          rxCrcErr: c('rx_crc_err'),
          collisions: c('collisions'),
          durationSec: r.u32('duration_sec'),
          durationNsec: r.u32('duration_nsec'),
        });
      }
      return { kind: 'port_stats', ports };
    }
    case MultipartType.PORT_DESC: {
      const ports: PortDesc[] = [];
      while (r.remaining > 0) ports.push(readPort(r));
      return { kind: 'port_desc', ports };
    }
    case MultipartType.GROUP_DESC: {
      const groups: GroupDesc[] = [];
      while (r.remaining > 0) {
        const at = r.pos;
        const len = r.u16('group desc length');
        if (len < 8) r.fail(`group desc length ${len} < 8`, at);
        const g = r.sub(len - 2, 'group desc');
        const groupType = pick(g, GROUP_TYPES, g.u8('group type'), 'group type', at + 2);
        g.skip(1);
        const groupId = g.u32('group_id');
        groups.push({ groupType, groupId, buckets: readBuckets(g) });
      }
      return { kind: 'group_desc', groups };
    }
    case MultipartType.METER_CONFIG: {
      const meters: MeterConfig[] = [];
      while (r.remaining > 0) {
        const at = r.pos;
        const len = r.u16('meter config length');
        if (len < 8) r.fail(`meter config length ${len} < 8`, at);
        const m = r.sub(len - 2, 'meter config');
        const flags = m.u16('flags');
        const meterId = m.u32('meter_id');
        meters.push({ flags, meterId, bands: readMeterBands(m) });
      }
      return { kind: 'meter_config', meters };
    }
    default:
      return { kind: 'unknown', mpType, data: r.bytes(r.remaining) };
  }
}
