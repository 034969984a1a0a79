import type { Clock } from '@dragonflow/base';
import type { Observable } from 'rxjs';
import type { NbReader } from '../api/reader.js';
import type { ChangeBatch, NbDriver, Revision, Snapshot } from '../db/driver.js';
import { decodeObject } from '../model/codec.js';
import { type NbObject, type TableName, isTableName } from '../model/tables.js';
import { FeedFollower, type FollowerState } from './follower.js';
import { type Referrer, TopologyStore } from './store.js';

/**
 * A full, indexed in-memory copy of the model, kept current by the change feed.
 * NbApi uses it for lookups (ports by network, IP in use, who references what) so
 * they cost O(result) even with 10,000s of ports.
 */
export class TopologyMirror implements NbReader {
  readonly store = new TopologyStore();
  private readonly follower: FeedFollower;

  constructor(driver: NbDriver, options: { clock?: Clock } = {}) {
    this.follower = new FeedFollower(
      driver,
      { onSnapshot: (s) => this.load(s), onBatch: (b) => this.apply(b) },
      // Internal tables (claims, guards) are read too: their revisions tell waitFor the mirror caught up.
      { ...(options.clock ? { clock: options.clock } : {}) },
    );
  }

  get revision(): Revision {
    return this.follower.revision;
  }

  get state$(): Observable<FollowerState> {
    return this.follower.state$;
  }

  get state(): FollowerState {
    return this.follower.state;
  }

  start(): Promise<void> {
    return this.follower.start();
  }

  stop(): Promise<void> {
    return this.follower.stop();
  }

  waitFor(revision: Revision): Promise<void> {
    return this.follower.waitFor(revision);
  }

  async get<T extends TableName>(table: T, id: string): Promise<NbObject<T> | undefined> {
    return this.store.get(table, id);
  }

  async list<T extends TableName>(table: T): Promise<NbObject<T>[]> {
    return this.store.all(table);
  }

  async lookup<T extends TableName>(table: T, index: string, value: string): Promise<NbObject<T>[]> {
    return this.store.lookup(table, index, value);
  }

  async referrers(table: TableName, id: string): Promise<Referrer[]> {
    return this.store.referrers(table, id).filter((r) => !(r.table === table && r.id === id));
  }

  private load(snap: Snapshot): void {
    this.store.clear();
    for (const r of snap.records) {
      if (!isTableName(r.table)) continue;
      this.store.apply(r.table, r.id, decodeObject(r.table, r.value, r.version), r.modRevision);
    }
  }

  private apply(batch: ChangeBatch): void {
    for (const e of batch.events) {
      if (!isTableName(e.table)) continue;
      const obj = e.type === 'put' ? decodeObject(e.table, e.value ?? '', e.version) : undefined;
      this.store.apply(e.table, e.id, obj, batch.revision);
    }
  }
}
