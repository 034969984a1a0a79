import type { OwnerRecord } from './owner.js';
import type { SwitchRequest } from './switch.js';
import { describeEncoded } from './wire.js';

/**
 * One request the reconciler sends, with what it is about: the flow (by identity
 * key), group or meter (by switch id) and, for changes, the owner it is sent for (an error
 * the switch reports for it is that owner's). Deletes carry no owner.
 */
export type Op =
  | { readonly kind: 'flow'; readonly key: string; readonly command: 'add' | 'modify_strict' | 'delete_strict'; readonly request: SwitchRequest; readonly owner?: OwnerRecord }
  | { readonly kind: 'group'; readonly groupId: number; readonly request: SwitchRequest; readonly owner?: OwnerRecord }
  | { readonly kind: 'meter'; readonly meterId: number; readonly request: SwitchRequest; readonly owner?: OwnerRecord }
  | { readonly kind: 'packet_out'; readonly request: SwitchRequest; readonly owner?: OwnerRecord };

/** The failure-tracking key of a group: `group:<switch id>` (flow keys never start with a letter). */
export const groupStateKey = (switchId: number): string => `group:${switchId}`;
/** The failure-tracking key of a meter: `meter:<switch id>`. */
export const meterStateKey = (switchId: number): string => `meter:${switchId}`;

/** The state key of what an op changes (flow identity, `group:<id>`, `meter:<id>`), none for a packet-out. */
export function opStateKey(op: Op): string | undefined {
  if (op.kind === 'flow') return op.key;
  if (op.kind === 'group') return groupStateKey(op.groupId);
  if (op.kind === 'meter') return meterStateKey(op.meterId);
  return undefined;
}

export function describeOp(op: Op): string {
  const r = op.request;
  if (op.kind === 'flow') return `flow_mod ${op.command} ${r.type === 'encoded' ? describeEncoded(r) : r.type === 'flow_mod' ? `table=${r.tableId} priority=${r.priority}` : r.type}`;
  if (r.type === 'group_mod') return `group_mod ${r.command} group=${r.groupId}`;
  if (r.type === 'meter_mod') return `meter_mod ${r.command} meter=${r.meterId}`;
  return r.type;
}
