import { Backoff, type Clock, DfError, describeError, systemClock } from '@dragonflow/base';
import { BehaviorSubject, type Observable, type Subscription } from 'rxjs';
import { NbErrorCode } from '../errors.js';
import type { ChangeBatch, ChangeFeed, NbDriver, Revision, Snapshot } from '../db/driver.js';

export type FollowerPhase = 'starting' | 'live' | 'degraded' | 'resyncing' | 'stopped';

export interface FollowerState {
  phase: FollowerPhase;
  /** Last revision applied. */
  revision: Revision;
  /** Why the follower is not live (the last error), if it is not. */
  reason?: string;
  /** Full reloads done after the feed could not resume (compaction or DB reset). */
  resyncs: number;
}

export interface FollowerHandlers {
  /** Replaces the whole view (initial load, and after the feed could not resume). */
  onSnapshot(snapshot: Snapshot): void | Promise<void>;
  /** Awaited before the next batch is read (back-pressure). */
  onBatch(batch: ChangeBatch): void | Promise<void>;
}

export interface FollowerOptions {
  tables?: readonly string[];
  clock?: Clock;
  highWaterMark?: number;
  /** First retry delay when the DB cannot be read (doubles up to 2 s). */
  retryDelayMs?: number;
}

/**
 * Keeps a view in step with the DB: one snapshot, then the change feed from the
 * snapshot's revision. Connection losses are the driver's to resume (no batch lost);
 * while cut off the view keeps serving and the state says `degraded`. Only when the
 * feed cannot resume (NB_COMPACTED: history gone or DB reset) does it reload a snapshot.
 */
export class FeedFollower {
  private readonly stateSubject: BehaviorSubject<FollowerState>;
  private feed: ChangeFeed | undefined;
  private rev: Revision = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private connSub: Subscription | undefined;
  private waiters: { rev: Revision; resolve: () => void }[] = [];
  private readonly clock: Clock;
  private connected = true;
  private feedFailing = false;
  private following = false;

  constructor(
    private readonly driver: NbDriver,
    private readonly handlers: FollowerHandlers,
    private readonly options: FollowerOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.stateSubject = new BehaviorSubject<FollowerState>({ phase: 'starting', revision: 0, resyncs: 0 });
  }

  get state$(): Observable<FollowerState> {
    return this.stateSubject.asObservable();
  }

  get state(): FollowerState {
    return this.stateSubject.value;
  }

  get revision(): Revision {
    return this.rev;
  }

  /** Loads the first snapshot (retrying until the DB answers) and starts following. */
  async start(): Promise<void> {
    this.connSub = this.driver.connection$.subscribe((s) => {
      this.connected = s === 'connected';
      this.refreshPhase(s === 'disconnected' ? 'DB connection lost; resuming when it is back' : undefined);
    });
    await this.loadSnapshot();
    // follow() handles its own errors; this catch only guarantees that nothing it
    // could still throw becomes an unhandled rejection.
    this.loop = this.follow().catch((err: unknown) => this.end(err));
  }

  /** Resolves once the view has applied `revision` (or the follower stops). */
  waitFor(revision: Revision): Promise<void> {
    if (this.rev >= revision || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ rev: revision, resolve }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.feed?.close();
    this.connSub?.unsubscribe();
    await this.loop?.catch(() => undefined);
    this.setState({ phase: 'stopped' });
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
  }

  private async loadSnapshot(): Promise<void> {
    // Every chassis reloads when the DB comes back: spread the (heavy) snapshot reads out.
    const backoff = new Backoff({ initialMs: this.options.retryDelayMs ?? 100, maxMs: Math.max(this.options.retryDelayMs ?? 100, 2_000), jitter: 0.5 });
    for (;;) {
      try {
        const snap = await this.driver.snapshot(this.options.tables);
        await this.handlers.onSnapshot(snap);
        this.advance(snap.revision);
        return;
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof DfError && err.code === NbErrorCode.CLOSED) throw err;
        this.setState({ phase: this.state.phase === 'starting' ? 'starting' : 'resyncing', reason: `cannot read a snapshot: ${describeError(err)}` });
        await new Promise<void>((r) => this.clock.setTimer(backoff.next(), r));
      }
    }
  }

  private async follow(): Promise<void> {
    this.following = true;
    while (!this.stopped) {
      let feed: ChangeFeed | undefined;
      try {
        // watch() itself throws NB_CLOSED once the driver is closed.
        feed = this.driver.watch(this.rev + 1, {
          ...(this.options.tables ? { tables: this.options.tables } : {}),
          ...(this.options.highWaterMark ? { highWaterMark: this.options.highWaterMark } : {}),
        });
        this.feed = feed;
        this.refreshPhase();
        // Cleared before the feed is asked for the next batch: a suspended async function
        // keeps its locals, and the last batch must not stay reachable while the feed idles.
        let batch: ChangeBatch | undefined;
        for await (batch of feed) {
          if (this.feedFailing) {
            this.feedFailing = false;
            this.refreshPhase();
          }
          await this.handlers.onBatch(batch);
          this.advance(batch.revision);
          batch = undefined;
        }
        if (this.stopped) return;
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof DfError && err.code === NbErrorCode.CLOSED) return this.end(err);
        if (err instanceof DfError && err.code === NbErrorCode.COMPACTED) {
          this.setState({ phase: 'resyncing', reason: describeError(err), resyncs: this.state.resyncs + 1 });
          try {
            await this.loadSnapshot();
          } catch (reloadErr) {
            // loadSnapshot retries everything except a closed driver.
            return this.end(reloadErr);
          }
          continue;
        }
        // Anything else: keep the view, report it, and resume from our revision.
        this.feedFailing = true;
        this.setState({ phase: 'degraded', reason: `change feed failed: ${describeError(err)}` });
        await new Promise<void>((r) => this.clock.setTimer(this.options.retryDelayMs ?? 100, r));
      } finally {
        feed?.close();
      }
    }
  }

  /**
   * The follower cannot go on (the driver was closed under it): it stops as stop()
   * would — the view keeps what it has, waiters are released, the state says why.
   */
  private end(err: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.feed?.close();
    this.connSub?.unsubscribe();
    this.setState({ phase: 'stopped', reason: describeError(err) });
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
  }

  private advance(revision: Revision): void {
    if (revision > this.rev) this.rev = revision;
    if (this.state.revision !== this.rev) this.setState({ revision: this.rev });
    if (this.waiters.length > 0) {
      const ready = this.waiters.filter((w) => w.rev <= this.rev);
      if (ready.length > 0) {
        this.waiters = this.waiters.filter((w) => w.rev > this.rev);
        for (const w of ready) w.resolve();
      }
    }
  }

  private refreshPhase(reason?: string): void {
    if (this.stopped) return;
    const phase: FollowerPhase = !this.connected || this.feedFailing ? 'degraded' : this.following ? 'live' : 'starting';
    if (phase === 'live') this.setState({ phase, reason: undefined });
    else this.setState({ phase, ...(reason ? { reason } : {}) });
  }

  private setState(patch: Partial<FollowerState>): void {
    const next = { ...this.state, ...patch };
    if (next.reason === undefined) delete next.reason;
    const cur = this.state;
    if (cur.phase === next.phase && cur.revision === next.revision && cur.reason === next.reason && cur.resyncs === next.resyncs) return;
    this.stateSubject.next(next);
  }
}
