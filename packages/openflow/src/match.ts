import { IpNetwork, Ipv4Address, Ipv6Address, MacAddress, type IpAddress } from '@dragonflow/base';
import { OfDecodeError, OfMatchError } from './errors.js';
import {
  OXM_CLASS_EXPERIMENTER,
  fieldAllOnes,
  isOxmFieldName,
  oxmField,
  oxmFieldByHeader,
  oxmValueFromBigInt,
  oxmValueToBigInt,
  portFrom16,
  portTo16,
  type OxmFieldName,
  type OxmFieldSpec,
  type OxmValue,
} from './oxm-fields.js';
import { hex, type Reader, type Writer } from './wire.js';

/** One matched field: a value and, for a partial match, a mask. */
export interface MatchEntry<V> {
  readonly value: V;
  readonly mask?: V;
}

/** An OXM entry for a field we do not model; kept so it can be re-encoded unchanged. */
export interface RawOxm {
  readonly oxmClass: number;
  readonly field: number;
  readonly hasMask: boolean;
  readonly experimenter?: number;
  /** Value (and mask, if hasMask) bytes. */
  readonly payload: Uint8Array;
}

/**
 * A match: field name → value/mask. Key order is wire order (decoding preserves
 * the switch's order, so re-encoding is byte-identical); compare matches with
 * `canonicalMatch`/`matchesEqual`, never by key order.
 */
export type Match = { readonly [K in OxmFieldName]?: MatchEntry<OxmValue<K>> } & {
  /** OXM entries of fields this codec does not model (decode only). */
  readonly unknownOxm?: readonly RawOxm[];
};

// ---------- builder ----------

type ScalarInput<V> = V extends number
  ? number
  : V extends bigint
    ? bigint | number
    : V extends MacAddress
      ? MacAddress | string
      : V extends Ipv4Address
        ? Ipv4Address | string
        : V extends Ipv6Address
          ? Ipv6Address | string
          : never;

/**
 * What `match()` accepts for one field: a value; `[value, mask]`; `{ value, mask }`;
 * for addresses a string ("10.0.0.0/24", "10.0.0.0/255.255.0.0", "aa:bb:cc:dd:ee:ff/ff:ff:ff:00:00:00")
 * or an IpNetwork.
 */
export type MatchInput<K extends OxmFieldName> =
  | ScalarInput<OxmValue<K>>
  | (OxmValue<K> extends IpAddress ? IpNetwork : never)
  | readonly [ScalarInput<OxmValue<K>>, ScalarInput<OxmValue<K>>]
  | { readonly value: ScalarInput<OxmValue<K>>; readonly mask?: ScalarInput<OxmValue<K>> };

export type MatchSpec = { readonly [K in OxmFieldName]?: MatchInput<K> } & { readonly unknownOxm?: readonly RawOxm[] };

function parseScalar(spec: OxmFieldSpec, input: unknown, what: string): unknown {
  const name = spec.name;
  switch (spec.kind) {
    case 'mac':
      if (input instanceof MacAddress) return input;
      if (typeof input === 'string') return MacAddress.parse(input, name);
      break;
    case 'ipv4':
      if (input instanceof Ipv4Address) return input;
      if (typeof input === 'string') return Ipv4Address.parse(input, name);
      break;
    case 'ipv6':
      if (input instanceof Ipv6Address) return input;
      if (typeof input === 'string') return Ipv6Address.parse(input, name);
      break;
    case 'u64':
    case 'u128':
      if (typeof input === 'bigint') return input;
      if (typeof input === 'number' && Number.isSafeInteger(input)) return BigInt(input);
      break;
    default:
      if (typeof input === 'number' && Number.isInteger(input)) return input;
  }
  throw new OfMatchError(name, `${name}: ${what} ${String(input)} is not a valid ${spec.kind} value`);
}

function parseEntry(spec: OxmFieldSpec, input: unknown): { value: unknown; mask?: unknown } {
  if (input instanceof IpNetwork) {
    if ((spec.kind === 'ipv4' && input.family !== 4) || (spec.kind === 'ipv6' && input.family !== 6) || (spec.kind !== 'ipv4' && spec.kind !== 'ipv6')) {
      throw new OfMatchError(spec.name, `${spec.name}: network ${input.toString()} has the wrong address family`);
    }
    return input.prefixLength === (spec.kind === 'ipv4' ? 32 : 128) ? { value: input.address } : { value: input.address, mask: input.netmask };
  }
  if (Array.isArray(input)) {
    return { value: parseScalar(spec, input[0], 'value'), mask: parseScalar(spec, input[1], 'mask') };
  }
  // Typed addresses carry a numeric `value` too: they are values, not { value, mask } entries.
  if (input instanceof MacAddress || input instanceof Ipv4Address || input instanceof Ipv6Address) {
    return { value: parseScalar(spec, input, 'value') };
  }
  if (typeof input === 'object' && input !== null && 'value' in input) {
    const o = input as { value: unknown; mask?: unknown };
    return o.mask === undefined ? { value: parseScalar(spec, o.value, 'value') } : { value: parseScalar(spec, o.value, 'value'), mask: parseScalar(spec, o.mask, 'mask') };
  }
  if (typeof input === 'string' && input.includes('/')) {
    const [v, m] = input.split('/', 2) as [string, string];
    if ((spec.kind === 'ipv4' || spec.kind === 'ipv6') && /^\d{1,3}$/.test(m)) {
      const net = IpNetwork.parse(input, spec.name, false);
      const bits = spec.kind === 'ipv4' ? 32 : 128;
      if (net.prefixLength === bits) return { value: net.address };
      // keep the given address (host bits and all); the mask says what matters
      return { value: parseScalar(spec, v, 'value'), mask: net.netmask };
    }
    return { value: parseScalar(spec, v, 'value'), mask: parseScalar(spec, m, 'mask') };
  }
  return { value: parseScalar(spec, input, 'value') };
}

/** Parses one field's input (value, [value, mask], {value, mask}, "a/b" string, IpNetwork). */
export function parseFieldInput<K extends OxmFieldName>(field: K, input: MatchInput<K>): MatchEntry<OxmValue<K>> {
  const f = oxmField(field);
  if (!f) throw new OfMatchError(field, `unknown match field '${field}'`);
  const e = parseEntry(f, input) as MatchEntry<OxmValue<K>>;
  validateEntry(f, e);
  return e;
}

/** Parses field inputs into a Match without checking prerequisites. */
export function parseMatchSpec(spec: MatchSpec): Match {
  const out: Record<string, unknown> = {};
  for (const [name, input] of Object.entries(spec)) {
    if (input === undefined) continue;
    if (name === 'unknownOxm') {
      out[name] = input;
      continue;
    }
    const f = oxmField(name);
    if (!f) throw new OfMatchError(name, `unknown match field '${name}'`);
    out[name] = clearOutsideMask(f, parseEntry(f, input));
  }
  return out as Match;
}

/**
 * OpenFlow (and Open vSwitch, with OFPBMC_BAD_WILDCARDS) refuses a value with bits
 * outside its mask; "10.1.2.3/16" means the network, so the builder clears them.
 */
function clearOutsideMask(f: OxmFieldSpec, e: { value: unknown; mask?: unknown }): { value: unknown; mask?: unknown } {
  if (e.mask === undefined) return e;
  const v = oxmValueToBigInt(f, e.value);
  const m = oxmValueToBigInt(f, e.mask);
  return (v & m) === v ? e : { value: oxmValueFromBigInt(f, v & m), mask: e.mask };
}

/**
 * Builds a validated Match from field inputs, in the order given:
 * `match({ eth_type: 0x0800, ipv4_dst: '10.0.0.0/24', reg6: [5, 0xff] })`.
 * An already-built Match is accepted too (and re-validated).
 * Throws OfMatchError naming the field on a bad value, an illegal mask or a
 * missing prerequisite.
 */
export function match(spec: MatchSpec | Match): Match {
  const m = parseMatchSpec(spec as MatchSpec);
  validateMatch(m);
  return m;
}

// ---------- validation ----------

function entryBits(f: OxmFieldSpec, e: MatchEntry<unknown>): { v: bigint; m: bigint } {
  const all = fieldAllOnes(f);
  return { v: oxmValueToBigInt(f, e.value), m: e.mask === undefined ? all : oxmValueToBigInt(f, e.mask) };
}

function describeEntry(f: OxmFieldSpec, e: MatchEntry<unknown>): string {
  const { v, m } = entryBits(f, e);
  return m === fieldAllOnes(f) ? hex(v) : `${hex(v)}/${hex(m)}`;
}

/** Checks one entry's value range and mask (not prerequisites). */
export function validateEntry(f: OxmFieldSpec, entry: MatchEntry<unknown>, forSetField = false): void {
  const name = f.name;
  if (typeof entry.value === 'number' && (entry.mask === undefined || typeof entry.mask === 'number') && f.bytes <= 4) {
    // fast path for the common small integer fields (no bigint arithmetic)
    const v = entry.value;
    const limit = f.bits === undefined ? 2 ** (f.bytes * 8) - 1 : 2 ** f.bits - 1;
    if (!Number.isInteger(v) || v < 0 || v > limit) throw new OfMatchError(name, `${name} value ${String(v)} does not fit in ${f.bits ?? f.bytes * 8} bits`);
    if (entry.mask === undefined) return;
    const m = entry.mask as number;
    if (!f.maskable && !forSetField) throw new OfMatchError(name, `${name} cannot be masked (mask ${hex(m)})`);
    if (!Number.isInteger(m) || m < 0 || m > 2 ** (f.bytes * 8) - 1) throw new OfMatchError(name, `${name} mask ${String(m)} is out of range`);
    if (!forSetField && (v & ~m) >>> 0 !== 0) throw new OfMatchError(name, `${name} value ${hex(v)} has bits outside its mask ${hex(m)} (a switch refuses it with OFPBMC_BAD_WILDCARDS)`);
    return;
  }
  const { v, m: mask } = entryBits(f, entry);
  const limit = f.bits === undefined ? fieldAllOnes(f) : (1n << BigInt(f.bits)) - 1n;
  if (v < 0n || v > limit) throw new OfMatchError(name, `${name} value ${hex(v)} does not fit in ${f.bits ?? f.bytes * 8} bits`);
  if (entry.mask !== undefined) {
    if (!f.maskable && !forSetField) throw new OfMatchError(name, `${name} cannot be masked (mask ${hex(mask)})`);
    if (mask < 0n || mask > fieldAllOnes(f)) throw new OfMatchError(name, `${name} mask ${hex(mask)} is out of range`);
    if (!forSetField && (v & ~mask) !== 0n) throw new OfMatchError(name, `${name} value ${hex(v)} has bits outside its mask ${hex(mask)} (a switch refuses it with OFPBMC_BAD_WILDCARDS)`);
  }
}

/**
 * Checks value ranges, masks and prerequisites the way OpenFlow 1.3 / Open vSwitch
 * would, so a wrong flow fails in a unit test rather than on a switch.
 */
export function validateMatch(m: Match): void {
  const rec = m as Record<string, MatchEntry<unknown> | undefined>;
  for (const name in rec) {
    const e = rec[name];
    if (name === 'unknownOxm' || e === undefined) continue;
    const f = oxmField(name);
    if (!f) throw new OfMatchError(name, `unknown match field '${name}'`);
    validateEntry(f, e as MatchEntry<unknown>);
    for (const p of f.prereqs) {
      const other = (m as Record<string, MatchEntry<unknown> | undefined>)[p.field];
      const of = oxmField(p.field)!;
      if ('oneOf' in p) {
        const want = (): string => p.oneOf.map((x) => hex(x, 4)).join(' or ');
        if (!other) throw new OfMatchError(name, `${name} requires ${p.field}=${want()} in the same match`, { requires: p.field });
        // prerequisite fields are small integers: compare as numbers when we can
        const exact = other.mask === undefined && typeof other.value === 'number';
        const ok = exact ? p.oneOf.includes(other.value as number) : (() => {
          const o = entryBits(of, other);
          return o.m === fieldAllOnes(of) && p.oneOf.some((x) => BigInt(x) === o.v);
        })();
        if (!ok) throw new OfMatchError(name, `${name} requires ${p.field}=${want()}, but the match has ${p.field}=${describeEntry(of, other)}`, { requires: p.field });
      } else {
        if (!other) throw new OfMatchError(name, `${name} requires ${p.field} in the same match`, { requires: p.field });
        const o = entryBits(of, other);
        const bits = BigInt(p.bitsSet);
        if ((o.v & bits) !== bits || (o.m & bits) !== bits) {
          throw new OfMatchError(name, `${name} requires ${p.field} to have bits ${hex(bits)} set, but the match has ${p.field}=${describeEntry(of, other)}`, { requires: p.field });
        }
      }
    }
  }
}

// ---------- wire ----------

/** Writes one OXM TLV (header, value, optional mask) using the given header class/field. */
export function writeOxmEntry(w: Writer, f: OxmFieldSpec, e: MatchEntry<unknown>, useNxm = false): void {
  const cls = useNxm && f.nxm ? f.nxm.oxmClass : f.oxmClass;
  const fld = useNxm && f.nxm ? f.nxm.field : f.field;
  const bytes = useNxm && f.nxm ? f.nxm.bytes : f.bytes;
  const hasMask = e.mask !== undefined;
  w.u16(cls).u8((fld << 1) | (hasMask ? 1 : 0)).u8(hasMask ? bytes * 2 : bytes);
  writeOxmValue(w, f, e.value, bytes);
  if (hasMask) writeOxmValue(w, f, e.mask, bytes);
}

function writeOxmValue(w: Writer, f: OxmFieldSpec, v: unknown, bytes: number): void {
  switch (f.kind) {
    case 'u8':
      if (bytes === 1) return void w.u8(v as number);
      break;
    case 'u16':
      if (bytes === 2) return void w.u16(v as number);
      break;
    case 'u32':
      if (bytes === 4) return void w.u32(v as number);
      if (bytes === 2) return void w.u16(portTo16(v as number));
      break;
    case 'ipv4':
      return void w.u32((v as Ipv4Address).value);
    case 'mac':
      return void w.u48((v as MacAddress).value);
    case 'u64':
      if (bytes === 8) return void w.u64(v as bigint);
      break;
    default:
      break;
  }
  w.uint(oxmValueToBigInt(f, v), bytes);
}

function readOxmValue(r: Reader, f: OxmFieldSpec, bytes: number, what: string): unknown {
  switch (f.kind) {
    case 'u8':
      if (bytes === 1) return r.u8(what);
      break;
    case 'u16':
      if (bytes === 2) return r.u16(what);
      break;
    case 'u32':
      if (bytes === 4) return r.u32(what);
      if (bytes === 2) return portFrom16(r.u16(what));
      break;
    case 'ipv4':
      return Ipv4Address.fromNumber(r.u32(what));
    case 'mac':
      return MacAddress.fromBigInt(r.u48(what));
    case 'u64':
      if (bytes === 8) return r.u64(what);
      break;
    default:
      break;
  }
  const v = r.uint(bytes, what);
  if (f.kind === 'u128' || f.kind === 'u64') return v;
  return oxmValueFromBigInt(f, v);
}

/** Writes the OXM TLVs of a match (no ofp_match header), in key order. */
export function writeOxmList(w: Writer, m: Match): void {
  for (const key in m) {
    if (key === 'unknownOxm') {
      for (const raw of m.unknownOxm ?? []) writeRawOxm(w, raw);
      continue;
    }
    const e = (m as Record<string, MatchEntry<unknown> | undefined>)[key];
    if (e === undefined) continue;
    const f = oxmField(key);
    if (!f) throw new OfMatchError(key, `unknown match field '${key}'`);
    writeOxmEntry(w, f, e);
  }
}

function writeRawOxm(w: Writer, raw: RawOxm): void {
  const expLen = raw.experimenter === undefined ? 0 : 4;
  w.u16(raw.oxmClass).u8((raw.field << 1) | (raw.hasMask ? 1 : 0)).u8(raw.payload.length + expLen);
  if (raw.experimenter !== undefined) w.u32(raw.experimenter);
  w.bytes(raw.payload);
}

/** Writes an ofp_match (type OXM) with padding. Validates unless told not to. */
export function writeMatch(w: Writer, m: Match, validate = true): void {
  if (validate) validateMatch(m);
  const start = w.pos;
  w.u16(1).u16(0);
  writeOxmList(w, m);
  w.patchU16(start + 2, w.pos - start);
  w.padTo8(start);
}

/** Reads one OXM TLV; returns the field name and entry, or a raw entry for unknown fields. */
export function readOxmEntry(r: Reader): { name: string; entry: MatchEntry<unknown> } | { raw: RawOxm } {
  const at = r.pos;
  const cls = r.u16('oxm class');
  const fb = r.u8('oxm field');
  const len = r.u8('oxm length');
  const fieldNo = fb >> 1;
  const hasMask = (fb & 1) === 1;
  if (cls === OXM_CLASS_EXPERIMENTER) {
    if (len < 4) r.fail(`experimenter OXM with length ${len} < 4`, at);
    const experimenter = r.u32('oxm experimenter');
    return { raw: { oxmClass: cls, field: fieldNo, hasMask, experimenter, payload: r.bytes(len - 4, 'oxm payload') } };
  }
  const f = oxmFieldByHeader(cls, fieldNo);
  if (!f) return { raw: { oxmClass: cls, field: fieldNo, hasMask, payload: r.bytes(len, 'oxm payload') } };
  const bytes = cls === f.oxmClass ? f.bytes : f.nxm!.bytes;
  const want = hasMask ? bytes * 2 : bytes;
  if (len !== want) r.fail(`OXM ${f.name} has length ${len}, expected ${want}`, at, { field: f.name });
  const value = readOxmValue(r, f, bytes, f.name);
  return { name: f.name, entry: hasMask ? { value, mask: readOxmValue(r, f, bytes, f.name + ' mask') } : { value } };
}

/** Reads OXM TLVs until the reader's window ends. */
export function readOxmList(r: Reader): Match {
  const out: Record<string, unknown> = {};
  let unknown: RawOxm[] | undefined;
  while (r.remaining > 0) {
    const at = r.pos;
    const e = readOxmEntry(r);
    if ('raw' in e) {
      if (!unknown) {
        unknown = [];
        out['unknownOxm'] = unknown;
      }
      unknown.push(e.raw);
    } else {
      if (e.name in out) throw new OfDecodeError(`duplicate OXM field ${e.name}`, at, { field: e.name });
      out[e.name] = e.entry;
    }
  }
  return out as Match;
}

/** Reads an ofp_match (type OXM) including its padding. */
export function readMatch(r: Reader): Match {
  const start = r.pos;
  const type = r.u16('match type');
  if (type !== 1) r.fail(`match type ${type} is not OFPMT_OXM (1)`, start);
  const len = r.u16('match length');
  if (len < 4) r.fail(`match length ${len} < 4`, start + 2);
  const body = r.sub(len - 4, 'match fields');
  const m = readOxmList(body);
  const padded = (len + 7) & ~7;
  r.skip(padded - len, 'match padding');
  return m;
}

/** Type guard used by generic code walking a match. */
export function matchFieldNames(m: Match): OxmFieldName[] {
  return Object.keys(m).filter(isOxmFieldName);
}

/** The entry of `name` in `m`, typed. */
export function matchGet<K extends OxmFieldName>(m: Match, name: K): MatchEntry<OxmValue<K>> | undefined {
  return (m as Record<string, MatchEntry<OxmValue<K>> | undefined>)[name];
}
