import { Ipv4Address, Ipv6Address, type IpAddress } from '@dragonflow/base';
import { NX_VENDOR_ID, OfPort } from './consts.js';
import { OfEncodeError } from './errors.js';
import { readOxmEntry, writeOxmEntry, type MatchEntry } from './match.js';
import { fieldAllOnes, oxmField, oxmFieldByHeader, oxmValueFromBigInt, oxmValueToBigInt, portFrom16, portTo16, type OxmFieldName, type OxmFieldSpec, type OxmValue } from './oxm-fields.js';
import type { Reader, Writer } from './wire.js';

/** A bit range of a field, as Nicira actions address them (`reg0[0..15]` is ofs 0, nBits 16). */
export interface FieldRef {
  readonly field: OxmFieldName;
  readonly ofs: number;
  readonly nBits: number;
}

/**
 * Set a whole field (OFPAT_SET_FIELD) or, with `mask`, only the masked bits
 * (encoded as Open vSwitch's NXAST_REG_LOAD2, because OpenFlow 1.3 has no masked set-field).
 */
export type SetFieldAction = {
  [K in OxmFieldName]: { readonly type: 'set_field'; readonly field: K; readonly value: OxmValue<K>; readonly mask?: OxmValue<K> };
}[OxmFieldName];

export interface NatAction {
  readonly type: 'nat';
  /** src or dst NAT; absent for "nat" without arguments (reverse-NAT an existing connection). */
  readonly kind?: 'src' | 'dst';
  readonly persistent?: boolean;
  readonly protoHash?: boolean;
  readonly protoRandom?: boolean;
  readonly addressMin?: IpAddress;
  readonly addressMax?: IpAddress;
  readonly portMin?: number;
  readonly portMax?: number;
}

export interface CtAction {
  readonly type: 'ct';
  readonly commit?: boolean;
  readonly force?: boolean;
  /** Immediate zone, or a 16-bit field range holding it (e.g. reg6[0..15]). */
  readonly zone?: number | FieldRef;
  /** Recirculate to this table after conntrack; absent means no recirculation. */
  readonly table?: number;
  readonly alg?: number;
  /** Nested actions: nat and set_field of ct_mark / ct_label. */
  readonly actions?: readonly Action[];
}

export interface ControllerAction {
  readonly type: 'controller';
  /** Bytes of the packet to send; default all (65535). */
  readonly maxLen?: number;
  readonly controllerId?: number;
  /** Packet-in reason code; default OFPR_ACTION (1). */
  readonly reason?: number;
  /** Opaque bytes delivered in NXT_PACKET_IN2's userdata. */
  readonly userdata?: Uint8Array;
  readonly pause?: boolean;
  readonly meterId?: number;
  /**
   * Decoded from the fixed-size NXAST_CONTROLLER form (no userdata). We always encode
   * NXAST_CONTROLLER2 unless this is set, so decode → encode stays byte-identical.
   */
  readonly compact?: boolean;
}

/** Every action this codec models. Plain objects; build them with `act.*`. */
export type Action =
  | { readonly type: 'output'; readonly port: number; readonly maxLen?: number }
  | { readonly type: 'group'; readonly groupId: number }
  | { readonly type: 'set_queue'; readonly queueId: number }
  | { readonly type: 'push_vlan'; readonly ethertype: number }
  | { readonly type: 'pop_vlan' }
  | { readonly type: 'push_mpls'; readonly ethertype: number }
  | { readonly type: 'pop_mpls'; readonly ethertype: number }
  | { readonly type: 'dec_nw_ttl' }
  | { readonly type: 'set_nw_ttl'; readonly ttl: number }
  | SetFieldAction
  | { readonly type: 'resubmit'; readonly port?: number; readonly table?: number }
  | CtAction
  | NatAction
  | { readonly type: 'ct_clear' }
  | { readonly type: 'conjunction'; readonly id: number; readonly clause: number; readonly nClauses: number }
  | { readonly type: 'move'; readonly src: Omit<FieldRef, 'nBits'>; readonly dst: Omit<FieldRef, 'nBits'>; readonly nBits: number }
  | { readonly type: 'reg_load'; readonly dst: FieldRef; readonly value: bigint }
  | { readonly type: 'note'; readonly data: Uint8Array }
  | ControllerAction
  /** An experimenter action we do not model; `data` is everything after the experimenter id. */
  | { readonly type: 'experimenter'; readonly experimenter: number; readonly data: Uint8Array }
  /** A standard action type we do not model; `data` is everything after type and length. */
  | { readonly type: 'unknown'; readonly actionType: number; readonly data: Uint8Array };

export type ActionType = Action['type'];

// ---------- wire constants ----------

const OFPAT = {
  OUTPUT: 0,
  COPY_TTL_OUT: 11,
  COPY_TTL_IN: 12,
  SET_MPLS_TTL: 15,
  DEC_MPLS_TTL: 16,
  PUSH_VLAN: 17,
  POP_VLAN: 18,
  PUSH_MPLS: 19,
  POP_MPLS: 20,
  SET_QUEUE: 21,
  GROUP: 22,
  SET_NW_TTL: 23,
  DEC_NW_TTL: 24,
  SET_FIELD: 25,
  EXPERIMENTER: 0xffff,
} as const;

/** Nicira action subtypes (NXAST_*). */
export const NXAST = {
  RESUBMIT: 1,
  REG_MOVE: 6,
  REG_LOAD: 7,
  NOTE: 8,
  RESUBMIT_TABLE: 14,
  CONTROLLER: 20,
  REG_LOAD2: 33,
  CONJUNCTION: 34,
  CT: 35,
  NAT: 36,
  CONTROLLER2: 37,
  CT_CLEAR: 43,
} as const;

const NX_CT_F_COMMIT = 1;
const NX_CT_F_FORCE = 2;
const NX_CT_RECIRC_NONE = 0xff;
const NX_NAT_F = { SRC: 1, DST: 2, PERSISTENT: 4, PROTO_HASH: 8, PROTO_RANDOM: 16 } as const;
const NX_NAT_RANGE = { IPV4_MIN: 1, IPV4_MAX: 2, IPV6_MIN: 4, IPV6_MAX: 8, PROTO_MIN: 16, PROTO_MAX: 32 } as const;
const NXAC2PT = { MAX_LEN: 0, CONTROLLER_ID: 1, REASON: 2, USERDATA: 3, PAUSE: 4, METER_ID: 5 } as const;

function fieldSpec(name: string, where: string): OxmFieldSpec {
  const f = oxmField(name);
  if (!f) throw new OfEncodeError(`${where}: unknown field '${name}'`, { field: name });
  return f;
}

/** The 32-bit NXM/OXM header Open vSwitch uses for a field reference (legacy NXM preferred). */
function refHeader(f: OxmFieldSpec): number {
  const cls = f.nxm ? f.nxm.oxmClass : f.oxmClass;
  const fld = f.nxm ? f.nxm.field : f.field;
  const bytes = f.nxm ? f.nxm.bytes : f.bytes;
  return ((cls << 16) | (fld << 9) | bytes) >>> 0;
}

function refWidth(f: OxmFieldSpec): number {
  return (f.nxm ? f.nxm.bytes : f.bytes) * 8;
}

function checkRef(ref: { field: string; ofs: number }, nBits: number, where: string): OxmFieldSpec {
  const f = fieldSpec(ref.field, where);
  if (!Number.isInteger(ref.ofs) || !Number.isInteger(nBits) || ref.ofs < 0 || nBits < 1 || ref.ofs + nBits > refWidth(f)) {
    throw new OfEncodeError(`${where}: ${ref.field}[${ref.ofs}..${ref.ofs + nBits - 1}] is outside the field's ${refWidth(f)} bits`, { field: ref.field });
  }
  return f;
}

/** Looks a 32-bit field-reference header up; undefined if we do not model that field. */
function refFromHeader(header: number): { spec: OxmFieldSpec; width: number } | undefined {
  const f = oxmFieldByHeader(header >>> 16, (header >>> 9) & 0x7f);
  if (!f) return undefined;
  const width = ((header & 0xff) >>> ((header >>> 8) & 1)) * 8;
  return { spec: f, width };
}

// ---------- encode ----------

function nxHeader(w: Writer, subtype: number): number {
  const start = w.pos;
  w.u16(OFPAT.EXPERIMENTER).u16(0).u32(NX_VENDOR_ID).u16(subtype);
  return start;
}

function finish(w: Writer, start: number): void {
  w.padTo8(start);
  w.patchU16(start + 2, w.pos - start);
}

/** Encodes one action. */
export function writeAction(w: Writer, a: Action): void {
  const start = w.pos;
  switch (a.type) {
    case 'output':
      w.u16(OFPAT.OUTPUT).u16(16).u32(a.port).u16(a.maxLen ?? (a.port === OfPort.CONTROLLER ? 0xffff : 0)).zeros(6);
      return;
    case 'group':
      w.u16(OFPAT.GROUP).u16(8).u32(a.groupId);
      return;
    case 'set_queue':
      w.u16(OFPAT.SET_QUEUE).u16(8).u32(a.queueId);
      return;
    case 'push_vlan':
      w.u16(OFPAT.PUSH_VLAN).u16(8).u16(a.ethertype).zeros(2);
      return;
    case 'push_mpls':
      w.u16(OFPAT.PUSH_MPLS).u16(8).u16(a.ethertype).zeros(2);
      return;
    case 'pop_mpls':
      w.u16(OFPAT.POP_MPLS).u16(8).u16(a.ethertype).zeros(2);
      return;
    case 'pop_vlan':
      w.u16(OFPAT.POP_VLAN).u16(8).zeros(4);
      return;
    case 'dec_nw_ttl':
      w.u16(OFPAT.DEC_NW_TTL).u16(8).zeros(4);
      return;
    case 'set_nw_ttl':
      w.u16(OFPAT.SET_NW_TTL).u16(8).u8(a.ttl).zeros(3);
      return;
    case 'set_field': {
      const f = fieldSpec(a.field, 'set_field');
      if (a.mask === undefined) {
        w.u16(OFPAT.SET_FIELD).u16(0);
        writeOxmEntry(w, f, { value: a.value });
      } else {
        nxHeader(w, NXAST.REG_LOAD2);
        const all = oxmValueToBigInt(f, a.mask) === fieldAllOnes(f);
        writeOxmEntry(w, f, all ? { value: a.value } : { value: a.value, mask: a.mask }, true);
      }
      return finish(w, start);
    }
    case 'resubmit': {
      const port = portTo16(a.port ?? OfPort.IN_PORT);
      if (a.table === undefined) {
        nxHeader(w, NXAST.RESUBMIT);
        w.u16(port).zeros(4);
      } else {
        nxHeader(w, NXAST.RESUBMIT_TABLE);
        w.u16(port).u8(a.table).zeros(3);
      }
      return finish(w, start);
    }
    case 'ct': {
      nxHeader(w, NXAST.CT);
      w.u16((a.commit ? NX_CT_F_COMMIT : 0) | (a.force ? NX_CT_F_FORCE : 0));
      if (typeof a.zone === 'object') {
        const f = checkRef(a.zone, a.zone.nBits, 'ct zone');
        w.u32(refHeader(f)).u16((a.zone.ofs << 6) | (a.zone.nBits - 1));
      } else {
        w.u32(0).u16(a.zone ?? 0);
      }
      w.u8(a.table ?? NX_CT_RECIRC_NONE).zeros(3).u16(a.alg ?? 0);
      for (const inner of a.actions ?? []) writeAction(w, inner);
      return finish(w, start);
    }
    case 'nat': {
      nxHeader(w, NXAST.NAT);
      let flags = 0;
      if (a.kind === 'src') flags |= NX_NAT_F.SRC;
      if (a.kind === 'dst') flags |= NX_NAT_F.DST;
      if (a.persistent) flags |= NX_NAT_F.PERSISTENT;
      if (a.protoHash) flags |= NX_NAT_F.PROTO_HASH;
      if (a.protoRandom) flags |= NX_NAT_F.PROTO_RANDOM;
      w.zeros(2).u16(flags);
      const rpAt = w.pos;
      w.u16(0);
      let present = 0;
      const min = a.addressMin;
      const max = a.addressMax;
      if (max && !min) throw new OfEncodeError('nat: addressMax without addressMin');
      if (min && max && min.family !== max.family) throw new OfEncodeError('nat: address range mixes IPv4 and IPv6');
      if (min) {
        present |= min.family === 4 ? NX_NAT_RANGE.IPV4_MIN : NX_NAT_RANGE.IPV6_MIN;
        writeIp(w, min);
      }
      if (max) {
        present |= max.family === 4 ? NX_NAT_RANGE.IPV4_MAX : NX_NAT_RANGE.IPV6_MAX;
        writeIp(w, max);
      }
      if (a.portMin !== undefined) {
        present |= NX_NAT_RANGE.PROTO_MIN;
        w.u16(a.portMin);
      }
      if (a.portMax !== undefined) {
        present |= NX_NAT_RANGE.PROTO_MAX;
        w.u16(a.portMax);
      }
      w.patchU16(rpAt, present);
      return finish(w, start);
    }
    case 'ct_clear':
      nxHeader(w, NXAST.CT_CLEAR);
      return finish(w, start);
    case 'conjunction':
      if (a.clause < 1 || a.clause > a.nClauses || a.nClauses < 2 || a.nClauses > 64) {
        throw new OfEncodeError(`conjunction(${a.id},${a.clause}/${a.nClauses}): clause must be 1..n and n 2..64`);
      }
      nxHeader(w, NXAST.CONJUNCTION);
      w.u8(a.clause - 1).u8(a.nClauses).u32(a.id);
      return finish(w, start);
    case 'move': {
      const src = checkRef(a.src, a.nBits, 'move source');
      const dst = checkRef(a.dst, a.nBits, 'move destination');
      nxHeader(w, NXAST.REG_MOVE);
      w.u16(a.nBits).u16(a.src.ofs).u16(a.dst.ofs).u32(refHeader(src)).u32(refHeader(dst));
      return finish(w, start);
    }
    case 'reg_load': {
      const f = checkRef(a.dst, a.dst.nBits, 'reg_load');
      if (a.dst.nBits > 64 || a.value >= 1n << BigInt(a.dst.nBits)) throw new OfEncodeError(`reg_load: value ${a.value} does not fit in ${a.dst.nBits} bits`);
      nxHeader(w, NXAST.REG_LOAD);
      w.u16((a.dst.ofs << 6) | (a.dst.nBits - 1)).u32(refHeader(f)).u64(a.value);
      return finish(w, start);
    }
    case 'note':
      nxHeader(w, NXAST.NOTE);
      w.bytes(a.data);
      if (w.pos - start < 16) w.zeros(16 - (w.pos - start));
      return finish(w, start);
    case 'controller':
      if (a.compact) {
        if (a.userdata || a.pause || a.meterId !== undefined) throw new OfEncodeError('controller: the compact form cannot carry userdata, pause or meterId');
        nxHeader(w, NXAST.CONTROLLER);
        w.u16(a.maxLen ?? 0xffff).u16(a.controllerId ?? 0).u8(a.reason ?? 1).u8(0);
        return finish(w, start);
      }
      nxHeader(w, NXAST.CONTROLLER2);
      w.zeros(6);
      // Open vSwitch writes 16-bit properties as value + 2 zero bytes inside the length.
      if (a.maxLen !== undefined) w.prop(NXAC2PT.MAX_LEN, (p) => p.u16(a.maxLen!).zeros(2));
      if (a.controllerId !== undefined) w.prop(NXAC2PT.CONTROLLER_ID, (p) => p.u16(a.controllerId!).zeros(2));
      if (a.reason !== undefined) w.prop(NXAC2PT.REASON, (p) => p.u8(a.reason!));
      if (a.userdata !== undefined) w.prop(NXAC2PT.USERDATA, (p) => p.bytes(a.userdata!));
      if (a.pause) w.prop(NXAC2PT.PAUSE, () => undefined);
      if (a.meterId !== undefined) w.prop(NXAC2PT.METER_ID, (p) => p.u32(a.meterId!));
      return finish(w, start);
    case 'experimenter':
      w.u16(OFPAT.EXPERIMENTER).u16(0).u32(a.experimenter).bytes(a.data);
      return finish(w, start);
    case 'unknown':
      w.u16(a.actionType).u16(0).bytes(a.data);
      return finish(w, start);
  }
}

function writeIp(w: Writer, ip: IpAddress): void {
  if (ip.family === 4) w.u32(ip.value);
  else w.bytes(ip.toBytes());
}

export function writeActions(w: Writer, actions: readonly Action[]): void {
  for (const a of actions) writeAction(w, a);
}

// ---------- decode ----------

function rawExperimenter(r: Reader, start: number, len: number): Action {
  r.pos = start + 4;
  const experimenter = r.u32('experimenter id');
  return { type: 'experimenter', experimenter, data: r.bytes(len - 8, 'experimenter action body') };
}

function readNxAction(r: Reader, start: number, len: number): Action {
  const subtype = r.u16('nx action subtype');
  const end = start + len;
  switch (subtype) {
    case NXAST.RESUBMIT: {
      const port = r.u16('resubmit port');
      return { type: 'resubmit', port: portFrom16(port) };
    }
    case NXAST.RESUBMIT_TABLE: {
      const port = r.u16('resubmit port');
      const table = r.u8('resubmit table');
      return { type: 'resubmit', port: portFrom16(port), table };
    }
    case NXAST.REG_MOVE: {
      const nBits = r.u16('n_bits');
      const srcOfs = r.u16('src_ofs');
      const dstOfs = r.u16('dst_ofs');
      const src = refFromHeader(r.u32('move src header'));
      const dst = refFromHeader(r.u32('move dst header'));
      if (!src || !dst) return rawExperimenter(r, start, len);
      return { type: 'move', src: { field: src.spec.name as OxmFieldName, ofs: srcOfs }, dst: { field: dst.spec.name as OxmFieldName, ofs: dstOfs }, nBits };
    }
    case NXAST.REG_LOAD: {
      const ofsNbits = r.u16('ofs_nbits');
      const dst = refFromHeader(r.u32('reg_load dst header'));
      const value = r.u64('reg_load value');
      if (!dst) return rawExperimenter(r, start, len);
      return { type: 'reg_load', dst: { field: dst.spec.name as OxmFieldName, ofs: ofsNbits >> 6, nBits: (ofsNbits & 0x3f) + 1 }, value };
    }
    case NXAST.REG_LOAD2: {
      const e = readOxmEntry(r.window(r.pos, end));
      if ('raw' in e) return rawExperimenter(r, start, len);
      const f = oxmField(e.name)!;
      if (e.entry.mask === undefined) {
        const full = oxmValueFromBigInt(f, fieldAllOnes(f));
        return { type: 'set_field', field: e.name, value: e.entry.value, mask: full } as SetFieldAction;
      }
      return { type: 'set_field', field: e.name, value: e.entry.value, mask: e.entry.mask } as SetFieldAction;
    }
    case NXAST.NOTE:
      return { type: 'note', data: r.bytes(end - r.pos, 'note') };
    case NXAST.CONTROLLER: {
      const maxLen = r.u16('max_len');
      const controllerId = r.u16('controller_id');
      const reason = r.u8('reason');
      return { type: 'controller', maxLen, controllerId, reason, compact: true };
    }
    case NXAST.CONTROLLER2: {
      r.skip(6);
      const out: { -readonly [K in keyof ControllerAction]: ControllerAction[K] } = { type: 'controller' };
      while (r.pos < end) {
        const pAt = r.pos;
        const ptype = r.u16('property type');
        const plen = r.u16('property length');
        if (plen < 4) r.fail(`controller2 property length ${plen} < 4`, pAt);
        const p = r.sub(plen - 4, 'controller2 property');
        r.skip(((plen + 7) & ~7) - plen, 'property padding');
        switch (ptype) {
          case NXAC2PT.MAX_LEN:
            out.maxLen = p.u16('max_len');
            break;
          case NXAC2PT.CONTROLLER_ID:
            out.controllerId = p.u16('controller_id');
            break;
          case NXAC2PT.REASON:
            out.reason = p.u8('reason');
            break;
          case NXAC2PT.USERDATA:
            out.userdata = p.bytes(p.remaining, 'userdata');
            break;
          case NXAC2PT.PAUSE:
            out.pause = true;
            break;
          case NXAC2PT.METER_ID:
            out.meterId = p.u32('meter_id');
            break;
          default:
            return rawExperimenter(r, start, len);
        }
      }
      return out;
    }
    case NXAST.CONJUNCTION: {
      const clause = r.u8('clause');
      const nClauses = r.u8('n_clauses');
      const id = r.u32('conjunction id');
      return { type: 'conjunction', id, clause: clause + 1, nClauses };
    }
    case NXAST.CT: {
      const flags = r.u16('ct flags');
      const zoneSrc = r.u32('ct zone_src');
      const zoneWord = r.u16('ct zone');
      const table = r.u8('ct recirc_table');
      r.skip(3);
      const alg = r.u16('ct alg');
      let zone: number | FieldRef = zoneWord;
      if (zoneSrc !== 0) {
        const ref = refFromHeader(zoneSrc);
        if (!ref) return rawExperimenter(r, start, len);
        zone = { field: ref.spec.name as OxmFieldName, ofs: zoneWord >> 6, nBits: (zoneWord & 0x3f) + 1 };
      }
      const inner = readActionList(r.window(r.pos, end));
      const ct: { -readonly [K in keyof CtAction]: CtAction[K] } = { type: 'ct' };
      if (flags & NX_CT_F_COMMIT) ct.commit = true;
      if (flags & NX_CT_F_FORCE) ct.force = true;
      ct.zone = zone;
      if (table !== NX_CT_RECIRC_NONE) ct.table = table;
      if (alg !== 0) ct.alg = alg;
      ct.actions = inner;
      return ct;
    }
    case NXAST.NAT: {
      r.skip(2);
      const flags = r.u16('nat flags');
      const present = r.u16('nat range_present');
      const nat: { -readonly [K in keyof NatAction]: NatAction[K] } = { type: 'nat' };
      if (flags & NX_NAT_F.SRC) nat.kind = 'src';
      if (flags & NX_NAT_F.DST) nat.kind = 'dst';
      if (flags & NX_NAT_F.PERSISTENT) nat.persistent = true;
      if (flags & NX_NAT_F.PROTO_HASH) nat.protoHash = true;
      if (flags & NX_NAT_F.PROTO_RANDOM) nat.protoRandom = true;
      if (present & NX_NAT_RANGE.IPV4_MIN) nat.addressMin = Ipv4Address.fromNumber(r.u32('nat ipv4 min'));
      if (present & NX_NAT_RANGE.IPV4_MAX) nat.addressMax = Ipv4Address.fromNumber(r.u32('nat ipv4 max'));
      if (present & NX_NAT_RANGE.IPV6_MIN) nat.addressMin = Ipv6Address.fromBytes(r.bytes(16, 'nat ipv6 min'));
      if (present & NX_NAT_RANGE.IPV6_MAX) nat.addressMax = Ipv6Address.fromBytes(r.bytes(16, 'nat ipv6 max'));
      if (present & NX_NAT_RANGE.PROTO_MIN) nat.portMin = r.u16('nat port min');
      if (present & NX_NAT_RANGE.PROTO_MAX) nat.portMax = r.u16('nat port max');
      return nat;
    }
    case NXAST.CT_CLEAR:
      return { type: 'ct_clear' };
    default:
      return rawExperimenter(r, start, len);
  }
}

/** Decodes one action at the reader's position. */
export function readAction(r: Reader): Action {
  const start = r.pos;
  const type = r.u16('action type');
  const len = r.u16('action length');
  if (len < 8 || len % 8 !== 0) r.fail(`action length ${len} is not a positive multiple of 8`, start + 2, { actionType: type });
  r.need(len - 4, `action ${type} body`);
  const end = start + len;
  const body = r.window(r.pos, end);
  r.pos = end;
  return readActionBody(body, type, start, len);
}

function readActionBody(r: Reader, type: number, start: number, len: number): Action {
  const fixed = (want: number): void => {
    if (len !== want) r.fail(`action type ${type} has length ${len}, expected ${want}`, start + 2);
  };
  switch (type) {
    case OFPAT.OUTPUT: {
      fixed(16);
      const port = r.u32('output port');
      const maxLen = r.u16('output max_len');
      // Omit max_len when it is what the encoder writes by default, so builders and decoded objects compare equal.
      return maxLen === (port === OfPort.CONTROLLER ? 0xffff : 0) ? { type: 'output', port } : { type: 'output', port, maxLen };
    }
    case OFPAT.GROUP:
      fixed(8);
      return { type: 'group', groupId: r.u32('group id') };
    case OFPAT.SET_QUEUE:
      fixed(8);
      return { type: 'set_queue', queueId: r.u32('queue id') };
    case OFPAT.PUSH_VLAN:
      fixed(8);
      return { type: 'push_vlan', ethertype: r.u16('ethertype') };
    case OFPAT.PUSH_MPLS:
      fixed(8);
      return { type: 'push_mpls', ethertype: r.u16('ethertype') };
    case OFPAT.POP_MPLS:
      fixed(8);
      return { type: 'pop_mpls', ethertype: r.u16('ethertype') };
    case OFPAT.POP_VLAN:
      fixed(8);
      return { type: 'pop_vlan' };
    case OFPAT.DEC_NW_TTL:
      fixed(8);
      return { type: 'dec_nw_ttl' };
    case OFPAT.SET_NW_TTL:
      fixed(8);
      return { type: 'set_nw_ttl', ttl: r.u8('ttl') };
    case OFPAT.SET_FIELD: {
      const e = readOxmEntry(r);
      if ('raw' in e) {
        r.pos = start + 4;
        return { type: 'unknown', actionType: type, data: r.bytes(len - 4) };
      }
      const entry = e.entry as MatchEntry<unknown>;
      if (entry.mask !== undefined) r.fail(`set_field ${e.name} carries a mask (not allowed in OpenFlow 1.3)`, start + 4, { field: e.name });
      return { type: 'set_field', field: e.name, value: entry.value } as SetFieldAction;
    }
    case OFPAT.EXPERIMENTER: {
      const experimenter = r.u32('experimenter id');
      if (experimenter === NX_VENDOR_ID && len >= 16) return readNxAction(r, start, len);
      return { type: 'experimenter', experimenter, data: r.bytes(len - 8) };
    }
    default:
      return { type: 'unknown', actionType: type, data: r.bytes(len - 4) };
  }
}

/** Decodes actions until the reader's window ends. */
export function readActionList(r: Reader): Action[] {
  const out: Action[] = [];
  while (r.remaining > 0) out.push(readAction(r));
  return out;
}
