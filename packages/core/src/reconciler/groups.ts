import { DfError } from '@dragonflow/base';
import type { Bucket, GroupType } from '@dragonflow/openflow';
import { actionsKey } from './keys.js';
import type { OwnerRecord } from './owner.js';

/** A group an app wants; `groupId` is the app-local id (0..2^24-1). */
export interface DesiredGroup {
  readonly groupId: number;
  readonly groupType: GroupType;
  readonly buckets: readonly Bucket[];
}

/** A desired group with its owner, switch id and canonical content key. */
export interface DesiredGroupEntry {
  readonly owner: OwnerRecord;
  readonly group: DesiredGroup;
  readonly switchId: number;
  readonly key: string;
}

/** Groups apps use carry their cookie slot in the top 8 bits of the id. */
export function switchGroupId(slot: number, localId: number): number {
  if (!Number.isInteger(localId) || localId < 0 || localId > 0xffffff) throw new DfError('GROUP_INVALID', `group id ${localId} must be 0..16777215`, { context: { groupId: localId } });
  return ((slot << 24) | localId) >>> 0;
}

/** What a group does, canonical: equal keys need no group-mod. */
export function groupKey(type: GroupType, buckets: readonly Bucket[]): string {
  return `${type}|${buckets.map((b) => `${b.weight}:${b.watchPort}:${b.watchGroup}:${actionsKey(b.actions)}`).join('|')}`;
}
