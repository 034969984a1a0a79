import type { IpAddress } from '@dragonflow/base';
import type { Action, CtAction, FieldRef, NatAction, SetFieldAction } from './actions.js';
import { OFP_NO_BUFFER, OfGroup, OfPort } from './consts.js';
import { OfMatchError } from './errors.js';
import type { Instruction } from './instructions.js';
import { match as buildMatch, parseMatchSpec, validateEntry, type Match, type MatchEntry, type MatchInput, type MatchSpec } from './match.js';
import type { FlowMod, FlowModCommand } from './messages.js';
import { oxmField, type OxmFieldName, type OxmValue } from './oxm-fields.js';

/**
 * Action constructors. `act.output(3)`, `act.setField('eth_dst', '02:00:00:00:00:01')`,
 * `act.ct({ commit: true, zone: 5, actions: [act.nat({ kind: 'src', addressMin: ip })] })`.
 */
export const act = {
  output: (port: number, maxLen?: number): Action => (maxLen === undefined ? { type: 'output', port } : { type: 'output', port, maxLen }),
  /** output:CONTROLLER, sending `maxLen` bytes (default: the whole packet, OFPCML_NO_BUFFER). */
  toController: (maxLen?: number): Action => (maxLen === undefined ? { type: 'output', port: OfPort.CONTROLLER } : { type: 'output', port: OfPort.CONTROLLER, maxLen }),
  inPort: (): Action => ({ type: 'output', port: OfPort.IN_PORT }),
  local: (): Action => ({ type: 'output', port: OfPort.LOCAL }),
  normal: (): Action => ({ type: 'output', port: OfPort.NORMAL }),
  group: (groupId: number): Action => ({ type: 'group', groupId }),
  setQueue: (queueId: number): Action => ({ type: 'set_queue', queueId }),
  pushVlan: (ethertype = 0x8100): Action => ({ type: 'push_vlan', ethertype }),
  popVlan: (): Action => ({ type: 'pop_vlan' }),
  decNwTtl: (): Action => ({ type: 'dec_nw_ttl' }),
  /** Sets a whole field; strings are parsed for MAC/IP fields. */
  setField: <K extends OxmFieldName>(field: K, value: MatchInput<K>): Action => setField(field, value, undefined),
  /** Sets the bits of `field` selected by `mask` (NXAST_REG_LOAD2). */
  load: <K extends OxmFieldName>(field: K, value: MatchInput<K>, mask: MatchInput<K>): Action => setField(field, value, mask),
  resubmit: (table: number, port?: number): Action => (port === undefined ? { type: 'resubmit', table } : { type: 'resubmit', port, table }),
  resubmitPort: (port: number): Action => ({ type: 'resubmit', port }),
  ct: (options: Omit<CtAction, 'type'> = {}): Action => ({ type: 'ct', ...options }),
  ctClear: (): Action => ({ type: 'ct_clear' }),
  nat: (options: Omit<NatAction, 'type'> & { addressMin?: IpAddress; addressMax?: IpAddress } = {}): Action => ({ type: 'nat', ...options }),
  conjunction: (id: number, clause: number, nClauses: number): Action => ({ type: 'conjunction', id, clause, nClauses }),
  /** move:src[ofs..]->dst[ofs..] (NXAST_REG_MOVE). */
  move: (src: { field: OxmFieldName; ofs?: number }, dst: { field: OxmFieldName; ofs?: number }, nBits: number): Action => ({
    type: 'move',
    src: { field: src.field, ofs: src.ofs ?? 0 },
    dst: { field: dst.field, ofs: dst.ofs ?? 0 },
    nBits,
  }),
  regLoad: (dst: FieldRef, value: bigint | number): Action => ({ type: 'reg_load', dst, value: BigInt(value) }),
  note: (data: Uint8Array | string): Action => ({ type: 'note', data: typeof data === 'string' ? new TextEncoder().encode(data) : data }),
  /** controller(reason=…, userdata=…): NXAST_CONTROLLER2; the packet arrives as NXT_PACKET_IN2 with the userdata. */
  controller: (options: { maxLen?: number; reason?: number; userdata?: Uint8Array; controllerId?: number; pause?: boolean; meterId?: number } = {}): Action => ({
    type: 'controller',
    ...options,
  }),
} as const;

function setField<K extends OxmFieldName>(field: K, value: MatchInput<K>, mask: MatchInput<K> | undefined): Action {
  const f = oxmField(field);
  if (!f) throw new OfMatchError(field, `unknown field '${field}'`);
  const e = parseMatchSpec({ [field]: mask === undefined ? value : [value, mask] } as MatchSpec)[field] as MatchEntry<OxmValue<K>>;
  validateEntry(f, e, true);
  return (e.mask === undefined ? { type: 'set_field', field, value: e.value } : { type: 'set_field', field, value: e.value, mask: e.mask }) as SetFieldAction;
}

/** Instruction constructors. */
export const inst = {
  apply: (...actions: Action[]): Instruction => ({ type: 'apply_actions', actions }),
  applyActions: (actions: readonly Action[]): Instruction => ({ type: 'apply_actions', actions }),
  write: (...actions: Action[]): Instruction => ({ type: 'write_actions', actions }),
  clear: (): Instruction => ({ type: 'clear_actions' }),
  gotoTable: (tableId: number): Instruction => ({ type: 'goto_table', tableId }),
  writeMetadata: (metadata: bigint, mask: bigint = 0xffff_ffff_ffff_ffffn): Instruction => ({ type: 'write_metadata', metadata, mask }),
  meter: (meterId: number): Instruction => ({ type: 'meter', meterId }),
} as const;

export interface FlowModInit {
  readonly tableId?: number;
  readonly priority?: number;
  readonly match?: Match | MatchSpec;
  readonly instructions?: readonly Instruction[];
  /** Shorthand for `instructions: [inst.applyActions(actions)]`. */
  readonly actions?: readonly Action[];
  readonly cookie?: bigint;
  readonly cookieMask?: bigint;
  readonly command?: FlowModCommand;
  readonly idleTimeout?: number;
  readonly hardTimeout?: number;
  readonly flags?: number;
  readonly outPort?: number;
  readonly outGroup?: number;
  readonly bufferId?: number;
  readonly xid?: number;
}

/** A flow-mod with OpenFlow defaults filled in (add, table 0, priority 0x8000, no timeouts). */
export function flowMod(init: FlowModInit): FlowMod {
  const m = init.match ?? {};
  const instructions = init.instructions ?? (init.actions ? (init.actions.length ? [inst.applyActions(init.actions)] : []) : []);
  return {
    type: 'flow_mod',
    xid: init.xid ?? 0,
    cookie: init.cookie ?? 0n,
    cookieMask: init.cookieMask ?? 0n,
    tableId: init.tableId ?? 0,
    command: init.command ?? 'add',
    idleTimeout: init.idleTimeout ?? 0,
    hardTimeout: init.hardTimeout ?? 0,
    priority: init.priority ?? 0x8000,
    bufferId: init.bufferId ?? OFP_NO_BUFFER,
    outPort: init.outPort ?? OfPort.ANY,
    outGroup: init.outGroup ?? OfGroup.ANY,
    flags: init.flags ?? 0,
    match: buildMatch(m),
    instructions,
  };
}
