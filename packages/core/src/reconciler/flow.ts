import { DfError } from '@dragonflow/base';
import { FlowModFlags, match as buildMatch, type Action, type Instruction, type Match, type MatchSpec } from '@dragonflow/openflow';

/** A table as apps hold it: its number and its name (from the allocator). */
export interface TableRef {
  readonly id: number;
  readonly qualifiedName: string;
}

/**
 * A flow an app wants on the switch. Its identity is (table, priority, match);
 * the runtime adds the cookie (app slot + owner tag).
 */
export interface DesiredFlow {
  readonly table: number;
  readonly priority: number;
  readonly match: Match;
  readonly instructions: readonly Instruction[];
  /** Seconds; a flow with a timeout is ephemeral: when the switch removes it, it leaves the desired state too. */
  readonly idleTimeout?: number;
  readonly hardTimeout?: number;
  /** OFPFF_* bits; SEND_FLOW_REM is added for flows with a timeout. */
  readonly flags?: number;
}

/** What `flow()` takes: instructions in the shape people think of them. */
export interface FlowSpec {
  readonly priority: number;
  readonly match?: Match | MatchSpec;
  /** apply_actions */
  readonly actions?: readonly Action[];
  /** write_actions (added to the action set, executed at the end of the pipeline) */
  readonly writeActions?: readonly Action[];
  readonly clearActions?: boolean;
  readonly writeMetadata?: { readonly value: bigint; readonly mask: bigint };
  readonly meter?: number;
  /** goto_table: a table number or ref; must be a later table. */
  readonly goto?: number | TableRef;
  readonly idleTimeout?: number;
  readonly hardTimeout?: number;
  readonly flags?: number;
}

const tableId = (t: number | TableRef): number => (typeof t === 'number' ? t : t.id);

/**
 * A flow `flow()` built: its match was validated there (prerequisites, masks), so
 * the reconciler's encoder does not validate it a second time (a bulk of 1,000
 * ports builds 22,000 flows). Its fields are readonly; a match changed behind the
 * type's back after `flow()` is the caller's bug, as with any other DesiredFlow.
 */
class BuiltFlow implements DesiredFlow {
  // Declared, not defined: a flow without a timeout has no idleTimeout key at all (as the object literal it replaced).
  declare readonly idleTimeout?: number;
  declare readonly hardTimeout?: number;
  declare readonly flags?: number;

  constructor(
    readonly table: number,
    readonly priority: number,
    readonly match: Match,
    readonly instructions: readonly Instruction[],
    spec: FlowSpec,
  ) {
    if (spec.idleTimeout) this.idleTimeout = spec.idleTimeout;
    if (spec.hardTimeout) this.hardTimeout = spec.hardTimeout;
    if (spec.flags) this.flags = spec.flags;
  }
}

/** Whether the flow's match was validated when `flow()` built it. */
export function isValidatedFlow(f: DesiredFlow): boolean {
  return f instanceof BuiltFlow;
}

/**
 * The instruction lists most flows have — nothing (drop) or a goto alone — shared
 * and frozen: each is one object for every flow that has it, so the reconciler keys
 * and encodes it once (see `instructionsMemo` in wire.ts), not once per flow.
 */
const NO_INSTRUCTIONS: readonly Instruction[] = Object.freeze([]);
const gotoOnly = new Map<number, readonly Instruction[]>();

function sharedGoto(to: number): readonly Instruction[] {
  let list = gotoOnly.get(to);
  if (!list) {
    list = Object.freeze([Object.freeze({ type: 'goto_table', tableId: to })]);
    gotoOnly.set(to, list);
  }
  return list;
}

/**
 * Builds a DesiredFlow: `flow(tables.ref('lookup'), { priority: 100, match: { eth_dst: mac }, actions: [...], goto: tables.next('lookup') })`.
 * The match is validated (prerequisites, masks) here, so a wrong flow fails where it is made.
 */
export function flow(table: number | TableRef, spec: FlowSpec): DesiredFlow {
  const id = tableId(table);
  const to = spec.goto === undefined ? undefined : tableId(spec.goto);
  if (to !== undefined && to <= id) throw new DfError('FLOW_INVALID', `goto_table ${to} from table ${id}: OpenFlow only allows going to a later table`, { context: { table: id, goto: to } });
  const list: Instruction[] = [];
  if (spec.meter !== undefined) list.push({ type: 'meter', meterId: spec.meter });
  if (spec.actions && spec.actions.length > 0) list.push({ type: 'apply_actions', actions: spec.actions });
  if (spec.clearActions) list.push({ type: 'clear_actions' });
  if (spec.writeActions && spec.writeActions.length > 0) list.push({ type: 'write_actions', actions: spec.writeActions });
  if (spec.writeMetadata) list.push({ type: 'write_metadata', metadata: spec.writeMetadata.value, mask: spec.writeMetadata.mask });
  // Nothing but (perhaps) a goto: the shared list.
  let instructions: readonly Instruction[];
  if (list.length === 0) instructions = to === undefined ? NO_INSTRUCTIONS : sharedGoto(to);
  else {
    if (to !== undefined) list.push({ type: 'goto_table', tableId: to });
    instructions = list;
  }
  return new BuiltFlow(id, spec.priority, buildMatch(spec.match ?? {}), instructions, spec);
}

/** The flags a flow is installed with (timeouts ask for FLOW_REMOVED). */
export function effectiveFlags(f: DesiredFlow): number {
  const flags = f.flags ?? 0;
  return f.idleTimeout || f.hardTimeout ? flags | FlowModFlags.SEND_FLOW_REM : flags;
}

export function isEphemeral(f: { idleTimeout?: number; hardTimeout?: number }): boolean {
  return Boolean(f.idleTimeout || f.hardTimeout);
}
