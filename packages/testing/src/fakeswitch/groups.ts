import { OfGroup, OfPort, type Bucket, type GroupType } from '@dragonflow/openflow';
import type { PacketState } from './packet-state.js';

export interface GroupEntry {
  readonly groupId: number;
  readonly groupType: GroupType;
  readonly buckets: readonly Bucket[];
}

/** Port and group liveness, as fast-failover and select groups see it. */
export interface Liveness {
  portLive(port: number): boolean;
  group(id: number): GroupEntry | undefined;
}

const MAX_LIVENESS_DEPTH = 32;

/** A bucket is live when its watched port is up and its watched group has a live bucket (unwatched counts as live). */
export function bucketLive(b: Bucket, live: Liveness, depth = 0): boolean {
  if (b.watchPort !== OfPort.ANY && !live.portLive(b.watchPort)) return false;
  if (b.watchGroup !== OfGroup.ANY && depth < MAX_LIVENESS_DEPTH) {
    const g = live.group(b.watchGroup);
    if (!g || !g.buckets.some((x) => bucketLive(x, live, depth + 1))) return false;
  }
  return true;
}

/**
 * The buckets a packet goes through: every bucket of an `all` group, the one of an
 * `indirect` group, the first live one of a fast-failover group (none when all are
 * down), and one live bucket of a `select` group chosen by a hash of the packet's
 * addresses (Open vSwitch hashes more fields, so which one can differ; it is always
 * a live one with a non-zero weight).
 */
export function chooseBuckets(g: GroupEntry, state: PacketState, live: Liveness): readonly Bucket[] {
  switch (g.groupType) {
    case 'all':
      return g.buckets;
    case 'indirect':
      return g.buckets.slice(0, 1);
    case 'ff': {
      const b = g.buckets.find((x) => bucketLive(x, live));
      return b ? [b] : [];
    }
    case 'select': {
      const candidates = g.buckets.filter((x) => x.weight > 0 && bucketLive(x, live));
      if (candidates.length === 0) return [];
      const h = Number((state.frame.src.value ^ state.frame.dst.value) % BigInt(candidates.length));
      return [candidates[h]!];
    }
  }
}
