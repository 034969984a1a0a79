import type { OwnerRecord } from './owner.js';
import type { SwitchRequest } from './switch.js';
import { describeEncoded } from './wire.js';

/**
 * One request the reconciler sends, with what it is about: the flow (by identity
 * key) or group (by switch id) and, for changes, the owner it is sent for (an error
 * the switch reports for it is that owner's). Deletes carry no owner.
 */
export type Op =
  | { readonly kind: 'flow'; readonly key: string; readonly command: 'add' | 'modify_strict' | 'delete_strict'; readonly request: SwitchRequest; readonly owner?: OwnerRecord }
  | { readonly kind: 'group'; readonly groupId: number; readonly request: SwitchRequest; readonly owner?: OwnerRecord }
  | { readonly kind: 'packet_out'; readonly request: SwitchRequest; readonly owner?: OwnerRecord };

/** The failure-tracking key of a group: `group:<switch id>` (flow keys never start with a letter). */
export const groupStateKey = (switchId: number): string => `group:${switchId}`;

export function describeOp(op: Op): string {
  const r = op.request;
  if (op.kind === 'flow') return `flow_mod ${op.command} ${r.type === 'encoded' ? describeEncoded(r) : r.type === 'flow_mod' ? `table=${r.tableId} priority=${r.priority}` : r.type}`;
  if (r.type === 'group_mod') return `group_mod ${r.command} group=${r.groupId}`;
  return r.type;
}
