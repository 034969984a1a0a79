import { isDeepStrictEqual } from 'node:util';
import type { TableName } from '@dragonflow/nb';

/**
 * Fields that record what happened to an object rather than what it is: the
 * version and update time every write bumps, and a port's status and binding
 * host, which its chassis' controller writes once the port's flows are in. No
 * flow is computed from them, so an update that changes nothing else (a binder's
 * status write, echoed back by the NB; a reference guard's version bump) is not
 * handed to apps unless they ask (`bookkeepingChanges`): at a bulk of N ports,
 * the N status echoes had every app rebuild every port's flows a second time.
 */
const COMMON = ['version', 'updatedAt'];
const BY_TABLE: Partial<Record<TableName, readonly string[]>> = {
  logical_port: ['status', 'bindingHost'],
};
const skipped = new Map<string, ReadonlySet<string>>();

function bookkeepingFields(table: string): ReadonlySet<string> {
  let s = skipped.get(table);
  if (!s) {
    s = new Set([...COMMON, ...(BY_TABLE[table as TableName] ?? [])]);
    skipped.set(table, s);
  }
  return s;
}

/** Whether an update of `table` changed bookkeeping fields only (false for a create or a delete). */
export function onlyBookkeepingChanged(table: string, old: object | undefined, cur: object | undefined): boolean {
  if (!old || !cur) return false;
  const skip = bookkeepingFields(table);
  const a = old as Record<string, unknown>;
  const b = cur as Record<string, unknown>;
  for (const k in b) if (!skip.has(k) && !isDeepStrictEqual(a[k], b[k])) return false;
  for (const k in a) if (!skip.has(k) && !(k in b)) return false;
  return true;
}
