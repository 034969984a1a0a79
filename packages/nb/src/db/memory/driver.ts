import { BehaviorSubject, type Observable } from 'rxjs';
import type { ChangeBatch, ChangeFeed, CommitResult, ConnectionState, Lease, NbDriver, Revision, Snapshot, StoredRecord, TxnOp, WatchOptions } from '../driver.js';
import { closedError } from '../errors.js';
import { PollingFeed } from '../feed.js';
import { MemoryStore, type MemoryStoreOptions } from './store.js';

/**
 * The in-process memory driver: a thin async face over a MemoryStore. Several
 * drivers may share one store (as several processes share one DB); the driver that
 * created its store closes it.
 */
export class MemoryDriver implements NbDriver {
  readonly kind = 'memory';
  private readonly state = new BehaviorSubject<ConnectionState>('connected');
  private readonly feeds = new Set<ChangeFeed>();
  private isClosed = false;

  constructor(
    readonly store: MemoryStore = new MemoryStore(),
    private readonly ownsStore = false,
  ) {}

  /** A driver with its own store (optionally persisted to `options.file`). */
  static create(options: MemoryStoreOptions = {}): MemoryDriver {
    return new MemoryDriver(new MemoryStore(options), true);
  }

  get endpoint(): string {
    return 'memory:in-process';
  }

  get connection$(): Observable<ConnectionState> {
    return this.state.asObservable();
  }

  async get(table: string, id: string): Promise<StoredRecord | undefined> {
    this.ensureOpen();
    return this.store.get(table, id);
  }

  async getMany(table: string, ids: readonly string[]): Promise<(StoredRecord | undefined)[]> {
    this.ensureOpen();
    return ids.map((id) => this.store.get(table, id));
  }

  async list(table: string): Promise<Snapshot> {
    this.ensureOpen();
    return this.store.list(table);
  }

  async snapshot(tables?: readonly string[]): Promise<Snapshot> {
    this.ensureOpen();
    return this.store.snapshot(tables);
  }

  async currentRevision(): Promise<Revision> {
    this.ensureOpen();
    return this.store.revision;
  }

  async commit(ops: readonly TxnOp[]): Promise<CommitResult> {
    this.ensureOpen();
    return this.store.commit(ops);
  }

  async allocateKey(namespace: string, max?: number): Promise<number> {
    this.ensureOpen();
    return this.store.allocateKey(namespace, max);
  }

  async grantLease(ttlMs: number): Promise<Lease> {
    this.ensureOpen();
    const { id } = this.store.grantLease(ttlMs);
    const store = this.store;
    return {
      id,
      ttlMs,
      keepAlive: async () => store.keepAlive(id),
      revoke: async () => store.revokeLease(id),
    };
  }

  watch(fromRevision: Revision, options: WatchOptions = {}): ChangeFeed {
    this.ensureOpen();
    const store = this.store;
    const feed = new PollingFeed(
      fromRevision,
      {
        async read(from: Revision, max: number, signal: AbortSignal): Promise<ChangeBatch[]> {
          const now = store.readChanges(from, max);
          if (now.length > 0) return now;
          await store.waitForChange(from, signal);
          if (store.closed) throw closedError('memory store');
          return signal.aborted ? [] : store.readChanges(from, max);
        },
      },
      { ...options, onClose: () => this.feeds.delete(feed) },
    );
    this.feeds.add(feed);
    return feed;
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const f of [...this.feeds]) f.close();
    if (this.ownsStore) this.store.close();
    this.state.next('closed');
    this.state.complete();
  }

  private ensureOpen(): void {
    if (this.isClosed) throw closedError('memory driver');
    if (this.store.closed) throw closedError('memory store');
  }
}
