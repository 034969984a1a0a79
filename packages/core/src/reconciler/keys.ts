import { OXM_FIELDS, OfPort, fieldAllOnes, oxmField, oxmValueToBigInt, type Action, type Instruction, type Match, type MatchEntry, type OxmFieldSpec } from '@dragonflow/openflow';

/**
 * Canonical text keys for matches and instructions. Two flows are the same
 * OpenFlow flow when (table, priority, matchKey) are equal, and install the same
 * behaviour when their instructionsKey are equal — whatever order the fields came
 * in, whether a full mask was written out, and however the switch chose to encode
 * an action when it reported the flow back.
 */

const ORDER = new Map<string, number>(OXM_FIELDS.map((f, i) => [f.name, i]));

const hexOf = (v: bigint): string => v.toString(16);

function entryKey(spec: OxmFieldSpec, e: MatchEntry<unknown>): string | null {
  const all = fieldAllOnes(spec);
  const mask = e.mask === undefined ? all : oxmValueToBigInt(spec, e.mask);
  if (mask === 0n) return null; // a zero mask matches everything: same as not matching the field
  const value = oxmValueToBigInt(spec, e.value) & mask;
  return mask === all ? `${spec.name}=${hexOf(value)}` : `${spec.name}=${hexOf(value)}/${hexOf(mask)}`;
}

export function matchKey(m: Match): string {
  const names: string[] = [];
  for (const k in m) if (k !== 'unknownOxm' && (m as Record<string, unknown>)[k] !== undefined) names.push(k);
  if (names.length > 1) names.sort((a, b) => (ORDER.get(a) ?? 1e9) - (ORDER.get(b) ?? 1e9));
  const parts: string[] = [];
  for (const name of names) {
    const spec = oxmField(name);
    if (!spec) continue;
    const k = entryKey(spec, (m as Record<string, MatchEntry<unknown>>)[name]!);
    if (k !== null) parts.push(k);
  }
  for (const raw of m.unknownOxm ?? []) parts.push(`oxm${raw.oxmClass}:${raw.field}${raw.hasMask ? 'm' : ''}=${Buffer.from(raw.payload).toString('hex')}`);
  return parts.join(',');
}

/** Fields a match uses (for the declared-fields check). */
export function matchFields(m: Match): string[] {
  const out: string[] = [];
  for (const k in m) if (k !== 'unknownOxm' && (m as Record<string, unknown>)[k] !== undefined) out.push(k);
  return out;
}

const INSTRUCTION_ORDER: Record<Instruction['type'], number> = {
  meter: 0,
  apply_actions: 1,
  clear_actions: 2,
  write_actions: 3,
  write_metadata: 4,
  goto_table: 5,
  experimenter: 6,
};

function stable(v: unknown): string {
  if (v === undefined) return '';
  if (v === null) return 'null';
  if (typeof v === 'bigint') return hexOf(v);
  if (typeof v !== 'object') return String(v);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (Array.isArray(v)) return `[${v.map(stable).join(';')}]`;
  const proto = Object.getPrototypeOf(v) as object | null;
  if (proto !== Object.prototype && proto !== null && typeof (v as { toString?: unknown }).toString === 'function') return String(v);
  const keys = Object.keys(v as object)
    .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${k}:${stable((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** A masked write of bits into a field, whichever action encodes it. */
function loadKey(field: string, value: bigint, mask: bigint): string {
  const spec = oxmField(field);
  const all = spec ? fieldAllOnes(spec) : -1n;
  return mask === all ? `set:${field}=${hexOf(value & mask)}` : `set:${field}=${hexOf(value & mask)}/${hexOf(mask)}`;
}

export function actionKey(a: Action): string {
  switch (a.type) {
    case 'output':
      // max_len only means something for the controller port
      return a.port === OfPort.CONTROLLER ? `out:ctrl:${a.maxLen ?? 0xffff}` : `out:${a.port}`;
    case 'set_field': {
      const spec = oxmField(a.field)!;
      const mask = a.mask === undefined ? fieldAllOnes(spec) : oxmValueToBigInt(spec, a.mask);
      return loadKey(a.field, oxmValueToBigInt(spec, a.value), mask);
    }
    case 'reg_load': {
      const mask = ((1n << BigInt(a.dst.nBits)) - 1n) << BigInt(a.dst.ofs);
      return loadKey(a.dst.field, a.value << BigInt(a.dst.ofs), mask);
    }
    case 'group':
      return `group:${a.groupId}`;
    case 'push_vlan':
      return `push_vlan:${a.ethertype}`;
    case 'pop_vlan':
      return 'pop_vlan';
    case 'dec_nw_ttl':
      return 'dec_ttl';
    case 'resubmit':
      return `resubmit:${a.port ?? OfPort.IN_PORT}:${a.table ?? 255}`;
    case 'controller':
      return `ctrl2:${a.maxLen ?? 0xffff}:${a.controllerId ?? 0}:${a.reason ?? 1}:${a.userdata ? Buffer.from(a.userdata).toString('hex') : ''}:${a.pause ? 1 : 0}:${a.meterId ?? ''}`;
    default:
      return `${a.type}${stable(a)}`;
  }
}

function instructionKey(i: Instruction): string {
  switch (i.type) {
    case 'goto_table':
      return `goto:${i.tableId}`;
    case 'apply_actions':
      return `apply(${i.actions.map(actionKey).join(',')})`;
    case 'write_actions':
      return `write(${i.actions.map(actionKey).join(',')})`;
    case 'write_metadata':
      return `meta:${hexOf(i.metadata & i.mask)}/${hexOf(i.mask)}`;
    case 'clear_actions':
      return 'clear';
    case 'meter':
      return `meter:${i.meterId}`;
    default:
      return stable(i);
  }
}

/** Instructions in OpenFlow execution order (the order on the wire does not matter to a switch). */
export function instructionsKey(list: readonly Instruction[]): string {
  const parts = list.filter((i) => !(i.type === 'apply_actions' && i.actions.length === 0));
  if (parts.length > 1) parts.sort((a, b) => INSTRUCTION_ORDER[a.type] - INSTRUCTION_ORDER[b.type]);
  return parts.map(instructionKey).join(' ');
}

/** A flow's identity: (table, priority, match). */
export function flowIdentity(table: number, priority: number, m: Match): string {
  return `${table}/${priority}/${matchKey(m)}`;
}
