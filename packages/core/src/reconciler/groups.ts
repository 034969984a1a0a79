import { DfError } from '@dragonflow/base';
import { OfGroup, OfPort, type Action, type Bucket, type GroupType } from '@dragonflow/openflow';
import { actionsKey } from './keys.js';

/** A group an app wants; `groupId` is the app-local id (0..2^24-1). */
export interface DesiredGroup {
  readonly groupId: number;
  readonly groupType: GroupType;
  readonly buckets: readonly Bucket[];
}

/** Groups apps use carry their cookie slot in the top 8 bits of the id. */
export function switchGroupId(slot: number, localId: number): number {
  if (!Number.isInteger(localId) || localId < 0 || localId > 0xffffff) throw new DfError('GROUP_INVALID', `group id ${localId} must be 0..16777215`, { context: { groupId: localId } });
  return ((slot << 24) | localId) >>> 0;
}

/**
 * What a group does, canonical: equal keys need no group-mod. A bucket's weight
 * only counts in a select group and its watch fields only in a fast-failover group
 * (what a switch reports for the others is not ours to compare).
 */
export function groupKey(type: GroupType, buckets: readonly Bucket[]): string {
  const weighted = type === 'select';
  const watched = type === 'ff';
  return `${type}|${buckets.map((b) => `${weighted ? b.weight : 0}:${watched ? b.watchPort : 0}:${watched ? b.watchGroup : 0}:${actionsKey(b.actions)}`).join('|')}`;
}

/** A bucket's watch fields when it watches nothing (every group type but fast-failover). */
const NO_WATCH = { watchPort: OfPort.ANY, watchGroup: OfGroup.ANY } as const;

export interface FailoverBucket {
  /** The bucket is live while this port is up (OFPP_ANY: watch only `watchGroup`). */
  readonly watchPort: number;
  readonly watchGroup?: number;
  readonly actions: readonly Action[];
}

function checkId(groupId: number): number {
  if (!Number.isInteger(groupId) || groupId < 0 || groupId > 0xffffff) throw new DfError('GROUP_INVALID', `group id ${groupId} must be 0..16777215`, { context: { groupId } });
  return groupId;
}

/**
 * Group builders. `groupId` is app-local: use `ctx.flows.groupId(id)` in
 * `act.group(...)`, and hand the group over with the flows that use it
 * (`ctx.flows.replace(owner, flows, [g])`).
 */
export const group = {
  /** Every bucket gets a copy of the packet (flooding, mirroring). */
  all: (groupId: number, buckets: readonly (readonly Action[])[]): DesiredGroup => ({ groupId: checkId(groupId), groupType: 'all', buckets: buckets.map((actions) => ({ weight: 0, ...NO_WATCH, actions })) }),
  /** One bucket per packet, chosen by the switch (a hash of the flow), by weight. */
  select: (groupId: number, buckets: readonly { readonly weight: number; readonly actions: readonly Action[] }[]): DesiredGroup => ({
    groupId: checkId(groupId),
    groupType: 'select',
    buckets: buckets.map((b) => ({ weight: b.weight, ...NO_WATCH, actions: b.actions })),
  }),
  /** One bucket: a shared next hop many flows point at, changed in one place. */
  indirect: (groupId: number, actions: readonly Action[]): DesiredGroup => ({ groupId: checkId(groupId), groupType: 'indirect', buckets: [{ weight: 0, ...NO_WATCH, actions }] }),
  /** Fast failover: the first bucket whose watched port (or group) is live. */
  ff: (groupId: number, buckets: readonly FailoverBucket[]): DesiredGroup => ({
    groupId: checkId(groupId),
    groupType: 'ff',
    buckets: buckets.map((b) => {
      if (b.watchPort === OfPort.ANY && (b.watchGroup ?? OfGroup.ANY) === OfGroup.ANY) throw new DfError('GROUP_INVALID', `fast-failover group ${groupId}: a bucket must watch a port or a group`, { context: { groupId } });
      return { weight: 0, watchPort: b.watchPort, watchGroup: b.watchGroup ?? OfGroup.ANY, actions: b.actions };
    }),
  }),
};
