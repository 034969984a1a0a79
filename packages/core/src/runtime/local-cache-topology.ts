import type { LocalCache, NbObject, TableName } from '@dragonflow/nb';
import { Subject, type Observable, type Subscription } from 'rxjs';
import type { TopologyChange, TopologySource, TopologyUpdate } from './topology.js';

/**
 * The runtime's topology input from the NB local cache (selective topology): its
 * per-commit change batches become the runtime's updates, and every revision the
 * cache reaches — also one whose commit touched nothing this chassis holds —
 * becomes a revision marker, so "in sync up to revision R" is true for any R.
 *
 * `start()` starts the cache (snapshot, then the change feed).
 */
export class LocalCacheTopology implements TopologySource {
  private readonly subject = new Subject<TopologyUpdate>();
  private readonly subs: Subscription[] = [];
  private readyResolve!: (revision: number) => void;
  private readonly readyPromise = new Promise<number>((r) => (this.readyResolve = r));
  /** Highest revision sent on updates$. */
  private sent = 0;

  constructor(readonly cache: LocalCache) {
    this.subs.push(
      cache.batches$.subscribe((b) => {
        this.sent = Math.max(this.sent, b.revision);
        this.subject.next({ kind: 'changes', revision: b.revision, changes: b.changes as unknown as TopologyChange[] });
      }),
    );
    this.subs.push(
      cache.state$.subscribe((s) => {
        // The cache publishes its new revision just before that commit's batch:
        // wait a microtask so the batch (if any) goes first, then mark the revision.
        const revision = s.revision;
        queueMicrotask(() => {
          if (revision > this.sent) {
            this.sent = revision;
            this.subject.next({ kind: 'changes', revision, changes: [] });
          }
        });
      }),
    );
  }

  async start(): Promise<void> {
    await this.cache.start();
    this.sent = Math.max(this.sent, this.cache.state.revision);
    this.readyResolve(this.cache.state.revision);
  }

  async stop(): Promise<void> {
    for (const s of this.subs) s.unsubscribe();
    await this.cache.stop();
    this.subject.complete();
  }

  get updates$(): Observable<TopologyUpdate> {
    return this.subject.asObservable();
  }

  ready(): Promise<number> {
    return this.readyPromise;
  }

  get revision(): number {
    return this.cache.state.revision;
  }

  /** Resolves once the cache has applied `revision`. */
  waitFor(revision: number): Promise<void> {
    return new Promise((resolve) => {
      const sub = this.cache.state$.subscribe((s) => {
        if (s.revision < revision) return;
        queueMicrotask(() => sub.unsubscribe());
        resolve();
      });
    });
  }

  get<T extends TableName>(table: T, id: string): NbObject<T> | undefined {
    return this.cache.get(table, id);
  }

  all<T extends TableName>(table: T): NbObject<T>[] {
    return this.cache.all(table);
  }

  lookup<T extends TableName>(table: T, index: string, value: string): NbObject<T>[] {
    return this.cache.lookup(table, index as never, value);
  }
}
