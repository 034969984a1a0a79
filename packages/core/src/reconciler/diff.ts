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
  /** Meter switch id → meterKey of what is installed. */
  meters = new Map<number, string>();
}

/**
 * The one reconcile function: turns the dirty flows, groups and meters into
 * requests, updating the installed state as if they succeed. Make before break,
 * and what is referenced exists while something refers to it: meters, then groups
 * (added or modified in place), then new and changed flows; then flow deletions,
 * then groups, then meters (deleting a group or meter deletes the flows that use it).
 *
 * `agreed` is told about a dirty flow, group or meter that needed no request (the
 * switch has it as desired: its refusal, if any, is settled).
 */
export function diff(table: DesiredTable, installed: InstalledState, agreed: ((owner: OwnerRecord, key: string) => void) | undefined): Op[] {
  const meterChanges: Op[] = [];
  const meterDeletes: Op[] = [];
  const groupChanges: Op[] = [];
  const groupDeletes: Op[] = [];
  if (table.meters.dirty.size > 0) table.meters.diff(installed.meters, meterChanges, meterDeletes, agreed);
  if (table.groups.dirty.size > 0) table.groups.diff(installed.groups, groupChanges, groupDeletes, agreed);

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
  if (meterChanges.length === 0 && groupChanges.length === 0 && groupDeletes.length === 0 && meterDeletes.length === 0) return deletes.length === 0 ? changes : [...changes, ...deletes];
  return [...meterChanges, ...groupChanges, ...changes, ...deletes, ...groupDeletes, ...meterDeletes];
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
