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
 * Builds a DesiredFlow: `flow(tables.ref('lookup'), { priority: 100, match: { eth_dst: mac }, actions: [...], goto: tables.next('lookup') })`.
 * The match is validated (prerequisites, masks) here, so a wrong flow fails where it is made.
 */
export function flow(table: number | TableRef, spec: FlowSpec): DesiredFlow {
  const id = tableId(table);
  const instructions: Instruction[] = [];
  if (spec.meter !== undefined) instructions.push({ type: 'meter', meterId: spec.meter });
  if (spec.actions && spec.actions.length > 0) instructions.push({ type: 'apply_actions', actions: spec.actions });
  if (spec.clearActions) instructions.push({ type: 'clear_actions' });
  if (spec.writeActions && spec.writeActions.length > 0) instructions.push({ type: 'write_actions', actions: spec.writeActions });
  if (spec.writeMetadata) instructions.push({ type: 'write_metadata', metadata: spec.writeMetadata.value, mask: spec.writeMetadata.mask });
  if (spec.goto !== undefined) {
    const to = tableId(spec.goto);
    if (to <= id) throw new DfError('FLOW_INVALID', `goto_table ${to} from table ${id}: OpenFlow only allows going to a later table`, { context: { table: id, goto: to } });
    instructions.push({ type: 'goto_table', tableId: to });
  }
  return {
    table: id,
    priority: spec.priority,
    match: buildMatch(spec.match ?? {}),
    instructions,
    ...(spec.idleTimeout ? { idleTimeout: spec.idleTimeout } : {}),
    ...(spec.hardTimeout ? { hardTimeout: spec.hardTimeout } : {}),
    ...(spec.flags ? { flags: spec.flags } : {}),
  };
}

/** The flags a flow is installed with (timeouts ask for FLOW_REMOVED). */
export function effectiveFlags(f: DesiredFlow): number {
  const flags = f.flags ?? 0;
  return f.idleTimeout || f.hardTimeout ? flags | FlowModFlags.SEND_FLOW_REM : flags;
}

export function isEphemeral(f: { idleTimeout?: number; hardTimeout?: number }): boolean {
  return Boolean(f.idleTimeout || f.hardTimeout);
}
