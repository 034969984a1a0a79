import { INSTRUCTION_ORDER, OXM_FIELDS, OfPort, canonicalAction, fieldAllOnes, oxmValueToBigInt, type Action, type Instruction, type Match, type MatchEntry, type OxmFieldSpec } from '@dragonflow/openflow';

/**
 * Canonical keys for the reconciler's two tables (desired and installed). Two
 * flows are the same OpenFlow flow when (table, priority, matchKey) are equal, and
 * install the same behaviour when their instructionsKey are equal — whatever order
 * the fields came in, whether a full mask was written out, and however the switch
 * chose to encode an action when it reported the flow back.
 *
 * The normalization rules are the codec's (`canonicalMatch`, `canonicalAction` in
 * @dragonflow/openflow, proven against flows read back from real Open vSwitch);
 * this is a fast string form of them for 100 000s of flows (no intermediate
 * objects, no JSON), used only to compare keys with keys made here. keys.test.ts
 * checks that it agrees with the codec's forms on every kind of flow.
 */

const ORDER: Map<string, number> = new Map(OXM_FIELDS.map((f, i) => [f.name, i]));
const SPEC: Map<string, OxmFieldSpec> = new Map(OXM_FIELDS.map((f) => [f.name, f as OxmFieldSpec]));
const ALL_ONES: Map<string, bigint> = new Map(OXM_FIELDS.map((f) => [f.name, fieldAllOnes(f as OxmFieldSpec)]));
const ND_FIELDS = ['ipv6_nd_target', 'ipv6_nd_sll', 'ipv6_nd_tll'];

function valueBits(spec: OxmFieldSpec, v: unknown): bigint {
  switch (spec.kind) {
    case 'u8':
    case 'u16':
    case 'u24':
    case 'u32':
      return BigInt(v as number);
    case 'u64':
    case 'u128':
      return v as bigint;
    default:
      return oxmValueToBigInt(spec, v);
  }
}

/** Small integer fields (and IPv4, held as a number) are compared as numbers: no bigint on the hot path. */
function smallValue(spec: OxmFieldSpec, v: unknown): number | undefined {
  switch (spec.kind) {
    case 'u8':
    case 'u16':
    case 'u24':
    case 'u32':
      return typeof v === 'number' ? v : undefined;
    case 'ipv4':
      return (v as { value?: unknown }).value as number;
    default:
      return undefined;
  }
}

function entryKey(name: string, e: MatchEntry<unknown>): string | null {
  const spec = SPEC.get(name);
  if (!spec) return null;
  const all = ALL_ONES.get(name)!;
  const small = smallValue(spec, e.value);
  if (small !== undefined) {
    if (e.mask === undefined) return `${name}=${(small >>> 0).toString(16)}`;
    const m = smallValue(spec, e.mask);
    if (m !== undefined) {
      const mask = m >>> 0;
      if (mask === 0) return null;
      const value = (small & mask) >>> 0;
      return BigInt(mask) === all ? `${name}=${value.toString(16)}` : `${name}=${value.toString(16)}/${mask.toString(16)}`;
    }
  }
  if (e.mask === undefined) return `${name}=${valueBits(spec, e.value).toString(16)}`;
  const mask = valueBits(spec, e.mask);
  if (mask === 0n) return null; // a zero mask matches everything: the same as not matching the field
  const value = valueBits(spec, e.value) & mask;
  return mask === all ? `${name}=${value.toString(16)}` : `${name}=${value.toString(16)}/${mask.toString(16)}`;
}

/**
 * Sorts a match's field names (a handful) into field-table order in place. An
 * insertion sort: Array.prototype.sort with a comparator allocates a work array per
 * call, and this runs for every desired flow (a bulk of 1,000 ports: 22,000 times).
 */
function sortByFieldOrder(names: string[]): void {
  for (let i = 1; i < names.length; i++) {
    const name = names[i]!;
    const rank = ORDER.get(name) ?? 1e9;
    let j = i - 1;
    while (j >= 0 && (ORDER.get(names[j]!) ?? 1e9) > rank) {
      names[j + 1] = names[j]!;
      j--;
    }
    names[j + 1] = name;
  }
}

/** The canonical match entries, in field-table order, appended to `parts` (separated by ','). */
function matchParts(m: Match, parts: string[]): void {
  const rec = m as Record<string, MatchEntry<unknown> | undefined>;
  const names: string[] = [];
  for (const k in m) if (k !== 'unknownOxm' && rec[k] !== undefined) names.push(k);
  // Open vSwitch treats neighbour discovery as "icmpv6 type 135/136 with code 0" and reports the code.
  if (rec['icmpv6_code'] === undefined && ND_FIELDS.some((n) => rec[n] !== undefined)) names.push('icmpv6_code');
  if (names.length > 1) sortByFieldOrder(names);
  let first = true;
  for (const name of names) {
    const k = entryKey(name, rec[name] ?? { value: 0 });
    if (k === null) continue;
    if (!first) parts.push(',');
    parts.push(k);
    first = false;
  }
  for (const raw of m.unknownOxm ?? []) {
    if (!first) parts.push(',');
    parts.push(`oxm(${raw.oxmClass}:${raw.field}:${raw.experimenter ?? ''}${raw.hasMask ? '/m' : ''})=${Buffer.from(raw.payload).toString('hex')}`);
    first = false;
  }
}

/**
 * One flat string from pieces. The reconciler keeps 100 000s of keys: a string made
 * with `+` or a template literal is a rope (a cons cell per piece, kept alive with the
 * key); join() writes one sequential string. Two pieces at least, so join() never
 * hands back a piece (which may itself be a rope) unchanged.
 */
function flat(parts: string[]): string {
  if (parts.length < 2) parts.push('');
  return parts.join('');
}

export function matchKey(m: Match): string {
  const parts: string[] = [];
  matchParts(m, parts);
  return flat(parts);
}

/** A flow's identity: (table, priority, match). */
export function flowIdentity(table: number, priority: number, m: Match): string {
  const parts: string[] = [String(table), '/', String(priority), '/'];
  matchParts(m, parts);
  return flat(parts);
}

function setKey(field: string, value: bigint, mask: bigint): string {
  const all = ALL_ONES.get(field);
  return mask === all ? `set:${field}=${(value & mask).toString(16)}` : `set:${field}=${(value & mask).toString(16)}/${mask.toString(16)}`;
}

/** One action; the common kinds fast, everything else through the codec's canonical form. */
export function actionKey(a: Action): string {
  switch (a.type) {
    case 'output':
      if (a.port === OfPort.CONTROLLER) break; // same as a controller action with defaults: let the codec say so
      return `out:${a.port}`;
    case 'set_field': {
      const spec = SPEC.get(a.field);
      if (!spec) break;
      const mask = a.mask === undefined ? ALL_ONES.get(a.field)! : valueBits(spec, a.mask);
      return setKey(a.field, valueBits(spec, a.value), mask);
    }
    case 'reg_load': {
      if (!SPEC.has(a.dst.field)) break;
      const mask = ((1n << BigInt(a.dst.nBits)) - 1n) << BigInt(a.dst.ofs);
      return setKey(a.dst.field, a.value << BigInt(a.dst.ofs), mask);
    }
    case 'group':
      return `group:${a.groupId}`;
    case 'dec_nw_ttl':
      return 'dec_ttl';
    case 'push_vlan':
      return `push_vlan:${a.ethertype}`;
    case 'pop_vlan':
      return 'pop_vlan';
    case 'resubmit':
      return `resubmit:${a.port ?? OfPort.IN_PORT}:${a.table ?? 0xff}`;
    case 'move':
      // the codec's canonical form (src/dst with their offsets, nBits), without JSON around it
      return `move:${a.src.field}[${a.src.ofs}]->${a.dst.field}[${a.dst.ofs}]/${a.nBits}`;
    case 'set_nw_ttl':
      return `set_nw_ttl:${a.ttl}`;
    default:
      break;
  }
  return JSON.stringify(canonicalAction(a));
}

export function actionsKey(list: readonly Action[]): string {
  return list.map(actionKey).join(';');
}

function instructionParts(i: Instruction, parts: string[]): void {
  switch (i.type) {
    case 'goto_table':
      parts.push('goto:', String(i.tableId));
      return;
    case 'apply_actions':
    case 'write_actions':
      parts.push(i.type === 'apply_actions' ? 'apply(' : 'write(');
      for (let k = 0; k < i.actions.length; k++) {
        if (k > 0) parts.push(';');
        parts.push(actionKey(i.actions[k]!));
      }
      parts.push(')');
      return;
    case 'write_metadata':
      parts.push('meta:', (i.metadata & i.mask).toString(16), '/', i.mask.toString(16));
      return;
    case 'clear_actions':
      parts.push('clear');
      return;
    case 'meter':
      parts.push('meter:', String(i.meterId));
      return;
    case 'experimenter':
      parts.push('exp:', String(i.experimenter), ':', Buffer.from(i.data).toString('hex'));
      return;
  }
}

/** Instructions in OpenFlow execution order (the order on the wire does not matter to a switch). */
export function instructionsKey(list: readonly Instruction[]): string {
  let kept = list.filter((i) => !((i.type === 'apply_actions' || i.type === 'write_actions') && i.actions.length === 0));
  if (kept.length > 1) kept = kept.sort((a, b) => INSTRUCTION_ORDER[a.type] - INSTRUCTION_ORDER[b.type]);
  const parts: string[] = [];
  for (let k = 0; k < kept.length; k++) {
    if (k > 0) parts.push(' ');
    instructionParts(kept[k]!, parts);
  }
  return flat(parts);
}

/** Fields a match uses (for the declared-fields check). */
export function matchFields(m: Match): string[] {
  const out: string[] = [];
  for (const k in m) if (k !== 'unknownOxm' && (m as Record<string, unknown>)[k] !== undefined) out.push(k);
  return out;
}
