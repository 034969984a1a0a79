import type { NbObject, TableName } from '../model/tables.js';

/**
 * Why a change reached this cache:
 * - `db`: the object was written or deleted in the DB;
 * - `scope`: it entered or left this chassis' selective topology (unchanged in the DB);
 * - `resync`: a full reload (after the feed could not resume) found it different.
 */
export type ChangeCause = 'db' | 'scope' | 'resync';

type ChangeOf<T extends TableName> =
  | { kind: 'created'; table: T; id: string; old?: undefined; new: NbObject<T>; revision: number; cause: ChangeCause }
  | { kind: 'updated'; table: T; id: string; old: NbObject<T>; new: NbObject<T>; revision: number; cause: ChangeCause }
  | { kind: 'deleted'; table: T; id: string; old: NbObject<T>; new?: undefined; revision: number; cause: ChangeCause };

/**
 * One change of the cache's contents, with the object before (`old`) and after
 * (`new`). Narrow on `table` to get typed objects:
 *
 *     update.changes.filter((c): c is NbChange<'logical_port'> => c.table === 'logical_port')
 */
export type NbChange<T extends TableName = TableName> = { [K in T]: ChangeOf<K> }[T];

/**
 * One step of the cache's ordered stream: the revision it reached and the changes
 * that commit made in this cache (plus the scope changes it triggered; none when
 * it touched nothing held here), in a safe order: creates and updates parents-first
 * (network before subnet before port before router), then deletes children-first.
 */
export interface NbCacheUpdate {
  readonly revision: number;
  readonly changes: readonly NbChange[];
}

export type CachePhase = 'starting' | 'live' | 'degraded' | 'resyncing' | 'stopped';

export interface CacheState {
  phase: CachePhase;
  /** Last DB revision applied. */
  revision: number;
  /** Why it is not live. */
  reason?: string;
  /** Full reloads done because the feed could not resume. */
  resyncs: number;
  /** Objects held, per table. */
  counts: Partial<Record<TableName, number>>;
  /** Networks in the selective scope (all networks when not selective). */
  networks: number;
}
