import type { Action } from './actions.js';
import { OfPort } from './consts.js';
import { INSTRUCTION_ORDER, type Instruction } from './instructions.js';
import type { Match, MatchEntry, RawOxm } from './match.js';
import { fieldAllOnes, oxmField, oxmFieldOrder, oxmValueToBigInt } from './oxm-fields.js';
import { bytesToHex } from './wire.js';

/**
 * Canonical forms, so that a flow we encode and the same flow read back from Open
 * vSwitch (flow-stats) compare equal. Open vSwitch stores flows in its own internal
 * form and re-encodes them on the way out, so the wire bytes differ in ways that do
 * not change meaning. Every rule below is one such difference, proven by the
 * real-OVS round-trip test (test/ovs-roundtrip.test.ts):
 *
 * Match
 *  - OXM order is the switch's: fields are sorted by the field table's order.
 *  - value bits outside the mask are zeroed; an all-ones mask is the same as no mask;
 *    an all-zeros mask is the same as not matching the field.
 *  - ICMPv6 neighbour discovery (nd_target/nd_sll/nd_tll): OVS also requires
 *    icmpv6_code=0 and reports it; a missing icmpv6_code=0 is added.
 *
 * Instructions
 *  - OVS emits them in execution order (meter, apply, clear, write-actions,
 *    write-metadata, goto); we sort the same way. Empty apply/write lists are dropped.
 *  - write_metadata value bits outside the mask are zeroed.
 *
 * Actions
 *  - output max_len only matters for CONTROLLER; output:CONTROLLER, the compact
 *    NXAST_CONTROLLER and NXAST_CONTROLLER2 are one "controller" action with defaults
 *    filled (max_len 65535, reason action(1), id 0, no meter).
 *  - set_field with a full mask == set_field without; value bits outside the mask
 *    are zeroed; reg_load (NXAST_REG_LOAD) is a masked set_field.
 *  - note bytes are zero-padded by the switch to fill the action to 8-byte size.
 *  - resubmit defaults: port IN_PORT, table 255 (none).
 *  - ct defaults: zone 0, no recirculation, alg 0; nat flags spelled out; inside
 *    ct, nat and exec() are independent, so nat sorts first.
 */

type Canon = string | number | boolean | null | Canon[] | { [k: string]: Canon };

const hexOf = (v: bigint): string => '0x' + v.toString(16);

export interface CanonicalEntry {
  readonly field: string;
  /** Hex of value & mask. */
  readonly value: string;
  /** Hex of the mask; absent for an exact match. */
  readonly mask?: string;
}

function rawKey(r: RawOxm): string {
  return `oxm(${r.oxmClass.toString(16)}:${r.field}${r.experimenter === undefined ? '' : ':' + r.experimenter.toString(16)}${r.hasMask ? '/m' : ''})=${bytesToHex(r.payload)}`;
}

/** The canonical list of match entries (sorted, masked, normalized). */
export function canonicalMatch(m: Match): CanonicalEntry[] {
  const out: { order: number; e: CanonicalEntry }[] = [];
  const rec = m as Record<string, MatchEntry<unknown> | undefined>;
  for (const name of Object.keys(m)) {
    if (name === 'unknownOxm') continue;
    const e = rec[name];
    const f = oxmField(name);
    if (!e || !f) continue;
    const all = fieldAllOnes(f);
    const mask = e.mask === undefined ? all : oxmValueToBigInt(f, e.mask);
    if (mask === 0n) continue;
    const value = oxmValueToBigInt(f, e.value) & mask;
    out.push({ order: oxmFieldOrder(name), e: mask === all ? { field: name, value: hexOf(value) } : { field: name, value: hexOf(value), mask: hexOf(mask) } });
  }
  // OVS treats neighbour discovery as "icmpv6 type 135/136 with code 0" and reports the code.
  const ndField = ['ipv6_nd_target', 'ipv6_nd_sll', 'ipv6_nd_tll'].some((n) => rec[n] !== undefined);
  if (ndField && rec['icmpv6_code'] === undefined) out.push({ order: oxmFieldOrder('icmpv6_code'), e: { field: 'icmpv6_code', value: '0x0' } });
  out.sort((a, b) => a.order - b.order);
  return out.map((x) => x.e);
}

/** A stable text key for a match (order-insensitive, normalized). */
export function matchKey(m: Match): string {
  const parts = canonicalMatch(m).map((e) => (e.mask ? `${e.field}=${e.value}/${e.mask}` : `${e.field}=${e.value}`));
  for (const r of m.unknownOxm ?? []) parts.push(rawKey(r));
  return parts.join(',');
}

/**
 * The identity of a flow in a switch: OpenFlow says (table, priority, match) names at
 * most one flow. Use it as the key of desired/installed flow tables.
 */
export function flowIdentity(tableId: number, priority: number, m: Match): string {
  return `table=${tableId},priority=${priority},${matchKey(m)}`;
}

export function matchesEqual(a: Match, b: Match): boolean {
  return matchKey(a) === matchKey(b);
}

// ---------- actions and instructions ----------

function controllerCanon(maxLen: number, controllerId: number, reason: number, userdata: Uint8Array | undefined, pause: boolean, meterId: number): Canon {
  return { a: 'controller', maxLen, controllerId, reason, userdata: userdata ? bytesToHex(userdata) : '', pause, meterId };
}

function fieldValueCanon(field: string, value: unknown, mask: unknown): Canon {
  const f = oxmField(field);
  if (!f) return { a: 'set_field', field, bad: true };
  const all = fieldAllOnes(f);
  const m = mask === undefined ? all : oxmValueToBigInt(f, mask);
  const v = oxmValueToBigInt(f, value) & m;
  return m === all ? { a: 'set_field', field, value: hexOf(v) } : { a: 'set_field', field, value: hexOf(v), mask: hexOf(m) };
}

/** A JSON-able normalized form of one action. */
export function canonicalAction(a: Action): Canon {
  switch (a.type) {
    case 'output':
      if (a.port === OfPort.CONTROLLER) return controllerCanon(a.maxLen ?? 0xffff, 0, 1, undefined, false, 0);
      return { a: 'output', port: a.port };
    case 'controller':
      return controllerCanon(a.maxLen ?? 0xffff, a.controllerId ?? 0, a.reason ?? 1, a.userdata, a.pause ?? false, a.meterId ?? 0);
    case 'set_field':
      return fieldValueCanon(a.field, a.value, a.mask);
    case 'reg_load': {
      const f = oxmField(a.dst.field);
      if (!f) return { a: 'reg_load', field: a.dst.field };
      const mask = ((1n << BigInt(a.dst.nBits)) - 1n) << BigInt(a.dst.ofs);
      const all = fieldAllOnes(f);
      const v = (a.value << BigInt(a.dst.ofs)) & mask;
      return mask === all ? { a: 'set_field', field: a.dst.field, value: hexOf(v) } : { a: 'set_field', field: a.dst.field, value: hexOf(v), mask: hexOf(mask) };
    }
    case 'note': {
      // NXAST_NOTE is 10 header bytes + note, padded to a multiple of 8 (min 16).
      const total = Math.max(16, Math.ceil((10 + a.data.length) / 8) * 8);
      const padded = new Uint8Array(total - 10);
      padded.set(a.data);
      return { a: 'note', data: bytesToHex(padded) };
    }
    case 'resubmit':
      return { a: 'resubmit', port: a.port ?? OfPort.IN_PORT, table: a.table ?? 0xff };
    case 'ct':
      return {
        a: 'ct',
        commit: a.commit ?? false,
        force: a.force ?? false,
        zone: typeof a.zone === 'object' ? `${a.zone.field}[${a.zone.ofs}..${a.zone.ofs + a.zone.nBits - 1}]` : (a.zone ?? 0),
        table: a.table ?? 0xff,
        alg: a.alg ?? 0,
        // nat and exec() are independent parts of one ct; ovs-ofctl keeps the order written, so put nat first.
        actions: [...(a.actions ?? []).filter((x) => x.type === 'nat'), ...(a.actions ?? []).filter((x) => x.type !== 'nat')].map(canonicalAction),
      };
    case 'nat':
      return {
        a: 'nat',
        kind: a.kind ?? '',
        persistent: a.persistent ?? false,
        protoHash: a.protoHash ?? false,
        protoRandom: a.protoRandom ?? false,
        addressMin: a.addressMin?.toString() ?? '',
        addressMax: a.addressMax?.toString() ?? '',
        portMin: a.portMin ?? 0,
        portMax: a.portMax ?? 0,
      };
    case 'move':
      return { a: 'move', src: `${a.src.field}[${a.src.ofs}]`, dst: `${a.dst.field}[${a.dst.ofs}]`, nBits: a.nBits };
    case 'experimenter':
      return { a: 'experimenter', experimenter: a.experimenter, data: bytesToHex(a.data) };
    case 'unknown':
      return { a: 'unknown', actionType: a.actionType, data: bytesToHex(a.data) };
    default: {
      // Plain actions whose fields are already canonical (group, set_queue, vlan, ttl, conjunction, ct_clear, mpls).
      const { type, ...rest } = a;
      return { a: type, ...(rest as Record<string, number>) };
    }
  }
}

/** A JSON-able normalized form of an instruction list. */
export function canonicalInstructions(list: readonly Instruction[]): Canon[] {
  const kept = list.filter((i) => !((i.type === 'apply_actions' || i.type === 'write_actions') && i.actions.length === 0));
  const sorted = [...kept].sort((a, b) => INSTRUCTION_ORDER[a.type] - INSTRUCTION_ORDER[b.type]);
  return sorted.map((i): Canon => {
    switch (i.type) {
      case 'apply_actions':
      case 'write_actions':
        return { i: i.type, actions: i.actions.map(canonicalAction) };
      case 'write_metadata':
        return { i: i.type, metadata: hexOf(i.metadata & i.mask), mask: hexOf(i.mask) };
      case 'goto_table':
        return { i: i.type, tableId: i.tableId };
      case 'meter':
        return { i: i.type, meterId: i.meterId };
      case 'clear_actions':
        return { i: i.type };
      case 'experimenter':
        return { i: i.type, experimenter: i.experimenter, data: bytesToHex(i.data) };
    }
  });
}

/** A stable text key for an instruction list. */
export function instructionsKey(list: readonly Instruction[]): string {
  return JSON.stringify(canonicalInstructions(list));
}

export function instructionsEqual(a: readonly Instruction[], b: readonly Instruction[]): boolean {
  return instructionsKey(a) === instructionsKey(b);
}

/** A stable text key for an action list (packet-out, group buckets). */
export function actionsKey(list: readonly Action[]): string {
  return JSON.stringify(list.map(canonicalAction));
}
