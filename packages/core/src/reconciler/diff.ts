import { FlowModFlags } from '@dragonflow/openflow';
import type { DesiredTable } from './desired-table.js';
import type { FlowState } from './flow-state.js';
import type { Op } from './ops.js';
import type { OwnerRecord } from './owner.js';
import { flowRequest } from './wire.js';

/**
 * What the switch has, as far as the reconciler knows: read back at a connect,
 * then updated as requests are sent (as if they succeed; a refusal undoes it).
 */
export class InstalledState {
  /** By flow identity; a desired entry stands for an installed flow that agrees with it. */
  flows = new Map<string, FlowState>();
  /** Group switch id → groupKey of what is installed. */
  groups = new Map<number, string>();
}

/**
 * The one reconcile function: turns the dirty flows and groups into requests,
 * updating the installed state as if they succeed. Make before break: groups, new
 * and changed flows first, then deletions, and groups last (deleting a group
 * deletes the flows that use it).
 *
 * `agreed` is told about a dirty flow that needed no request (the switch has it as
 * desired: its refusal, if any, is settled).
 */
export function diff(table: DesiredTable, installed: InstalledState, agreed: ((owner: OwnerRecord, key: string) => void) | undefined): Op[] {
  const groupAdds: Op[] = [];
  const groupDeletes: Op[] = [];
  for (const gid of table.dirtyGroups) {
    const d = table.groups.get(gid);
    const inst = installed.groups.get(gid);
    if (d && inst === undefined) {
      groupAdds.push({ kind: 'group', groupId: gid, owner: d.owner, request: { type: 'group_mod', command: 'add', groupType: d.group.groupType, groupId: gid, buckets: d.group.buckets } });
      installed.groups.set(gid, d.key);
    } else if (d && inst !== d.key) {
      groupAdds.push({ kind: 'group', groupId: gid, owner: d.owner, request: { type: 'group_mod', command: 'modify', groupType: d.group.groupType, groupId: gid, buckets: d.group.buckets } });
      installed.groups.set(gid, d.key);
    } else if (!d && inst !== undefined) {
      groupDeletes.push({ kind: 'group', groupId: gid, request: { type: 'group_mod', command: 'delete', groupType: 'all', groupId: gid, buckets: [] } });
      installed.groups.delete(gid);
    }
  }
  table.dirtyGroups.clear();

  const changes: Op[] = [];
  const deletes: Op[] = [];
  for (const key of table.dirty) {
    const op = flowOp(table, installed, key);
    if (op) (op.owner ? changes : deletes).push(op);
    else if (agreed) {
      const d = table.flows.get(key);
      if (d) agreed(d.owner, key);
    }
  }
  table.dirty.clear();
  return [...groupAdds, ...changes, ...deletes, ...groupDeletes];
}

/**
 * The request that brings one flow from its installed to its desired state (none
 * when they agree), recording it as installed as if it succeeds. Changes carry
 * their owner; deletes do not.
 */
export function flowOp(table: DesiredTable, installed: InstalledState, key: string): Op | undefined {
  const d = table.flows.get(key);
  const inst = installed.flows.get(key);
  if (d) {
    let command: 'add' | 'modify_strict' | undefined;
    if (!inst || inst.cookie !== d.cookie || inst.idle !== d.idle || inst.hard !== d.hard || (inst.flags & FlowModFlags.SEND_FLOW_REM) !== (d.flags & FlowModFlags.SEND_FLOW_REM)) {
      command = 'add';
    } else if (inst.actions !== d.actions) {
      command = 'modify_strict';
    }
    // From now on the desired entry stands for the installed flow (a read-back one is dropped).
    if (inst !== d) installed.flows.set(key, d);
    if (!command) return undefined;
    return { kind: 'flow', key, command, owner: d.owner, request: flowRequest(d.wire, command) };
  }
  if (!inst) return undefined;
  installed.flows.delete(key);
  return { kind: 'flow', key, command: 'delete_strict', request: inst.deleteRequest() };
}
