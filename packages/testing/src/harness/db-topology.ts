import type { Clock } from '@dragonflow/base';
import type { TopologyChange, TopologySource, TopologyUpdate } from '@dragonflow/core/host';
import { FeedFollower, TopologyStore, decodeObject, isTableName, type ChangeBatch, type NbDriver, type NbObject, type Snapshot, type TableName } from '@dragonflow/nb';
import { Subject, type Observable } from 'rxjs';

/**
 * A full topology view of an NB DB for the runtime (TopologySource), built from the
 * NB package's own pieces: a FeedFollower (snapshot, then the lossless change feed)
 * applying to a TopologyStore. Used by the harness and by tests that run the runtime
 * against a real DB; the controller uses the NB local cache (selective topology).
 */
export class DbTopology implements TopologySource {
  readonly store = new TopologyStore();
  private readonly follower: FeedFollower;
  private readonly subject = new Subject<TopologyUpdate>();
  private readyResolve!: (rev: number) => void;
  private readonly readyPromise = new Promise<number>((r) => (this.readyResolve = r));
  private loaded = false;

  constructor(driver: NbDriver, options: { clock?: Clock } = {}) {
    this.follower = new FeedFollower(driver, { onSnapshot: (s) => this.load(s), onBatch: (b) => this.apply(b) }, { ...(options.clock ? { clock: options.clock } : {}) });
  }

  get updates$(): Observable<TopologyUpdate> {
    return this.subject.asObservable();
  }

  get revision(): number {
    return this.follower.revision;
  }

  async start(): Promise<void> {
    await this.follower.start();
  }

  ready(): Promise<number> {
    return this.readyPromise;
  }

  /** Resolves once the view has applied `revision`. */
  waitFor(revision: number): Promise<void> {
    return this.follower.waitFor(revision);
  }

  stop(): Promise<void> {
    this.subject.complete();
    return this.follower.stop();
  }

  get<T extends TableName>(table: T, id: string): NbObject<T> | undefined {
    return this.store.get(table, id);
  }

  all<T extends TableName>(table: T): NbObject<T>[] {
    return this.store.all(table);
  }

  lookup<T extends TableName>(table: T, index: string, value: string): NbObject<T>[] {
    return this.store.lookup(table, index, value);
  }

  private load(snap: Snapshot): void {
    this.store.clear();
    for (const r of snap.records) {
      if (!isTableName(r.table)) continue;
      this.store.apply(r.table, r.id, decodeObject(r.table, r.value, r.version), r.modRevision);
    }
    if (!this.loaded) {
      this.loaded = true;
      this.readyResolve(snap.revision);
    } else {
      this.subject.next({ kind: 'reset', revision: snap.revision });
    }
  }

  private apply(batch: ChangeBatch): void {
    const changes: TopologyChange[] = [];
    for (const e of batch.events) {
      if (!isTableName(e.table)) continue;
      const obj = e.type === 'put' ? decodeObject(e.table, e.value ?? '', e.version) : undefined;
      const c = this.store.apply(e.table, e.id, obj, batch.revision);
      if (c) changes.push(c as TopologyChange);
    }
    // Even a batch of internal tables only is sent: its revision is part of "in sync up to R".
    this.subject.next({ kind: 'changes', revision: batch.revision, changes });
  }
}
