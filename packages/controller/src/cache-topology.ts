import type { TopologyChange, TopologySource, TopologyUpdate } from '@dragonflow/core';
import type { IndexName, LocalCache, NbObject, TableName } from '@dragonflow/nb';
import { map, type Observable } from 'rxjs';

/**
 * The runtime's topology input over the NB local cache (selective topology): every
 * cache batch (one DB commit plus the scope changes it caused) becomes one update
 * at that revision. `ready()` starts the cache — the runtime subscribes to
 * `updates$` before calling it, so no batch falls between the snapshot and the feed.
 */
export class CacheTopology implements TopologySource {
  private started: Promise<number> | undefined;
  readonly updates$: Observable<TopologyUpdate>;

  constructor(readonly cache: LocalCache) {
    this.updates$ = cache.batches$.pipe(
      map(
        (b): TopologyUpdate => ({
          kind: 'changes',
          revision: b.revision,
          changes: b.changes.map((c): TopologyChange => ({ table: c.table, id: c.id, old: c.old, new: c.new, revision: c.revision })),
        }),
      ),
    );
  }

  ready(): Promise<number> {
    this.started ??= this.cache.start().then(() => this.cache.state.revision);
    return this.started;
  }

  get<T extends TableName>(table: T, id: string): NbObject<T> | undefined {
    return this.cache.get(table, id);
  }

  all<T extends TableName>(table: T): NbObject<T>[] {
    return this.cache.all(table);
  }

  lookup<T extends TableName>(table: T, index: string, value: string): NbObject<T>[] {
    return this.cache.lookup(table, index as IndexName<T>, value);
  }
}
