import type { NbObject, TableName } from '@dragonflow/nb';
import type { Observable } from 'rxjs';

/** One applied change of the local topology view (the NB cache's shape). */
export interface TopologyChange<T extends TableName = TableName> {
  readonly table: T;
  readonly id: string;
  readonly old: NbObject<T> | undefined;
  readonly new: NbObject<T> | undefined;
  readonly revision: number;
}

/** What the runtime hears from the local topology view. */
export type TopologyUpdate =
  /** Changes of one NB revision, already applied to the view. */
  | { readonly kind: 'changes'; readonly revision: number; readonly changes: readonly TopologyChange[] }
  /** The view was reloaded from a snapshot (compaction, reconnect): apps recompute everything. */
  | { readonly kind: 'reset'; readonly revision: number };

/** Read access to the local topology (what apps see). */
export interface TopologyReader {
  get<T extends TableName>(table: T, id: string): NbObject<T> | undefined;
  all<T extends TableName>(table: T): NbObject<T>[];
  /** Objects of `table` whose index `index` has `value` (the NB model's indexes, e.g. logical_port by networkId). */
  lookup<T extends TableName>(table: T, index: string, value: string): NbObject<T>[];
}

/**
 * The consumer side of the NB local cache: the runtime subscribes to its updates
 * and reads through it. The controller adapts the NB cache to this; tests use
 * @dragonflow/testing's in-memory topology.
 */
export interface TopologySource extends TopologyReader {
  readonly updates$: Observable<TopologyUpdate>;
  /** Resolves with the revision of the first complete snapshot. */
  ready(): Promise<number>;
}
