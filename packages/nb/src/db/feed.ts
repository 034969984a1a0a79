import { Backoff, type Clock, systemClock } from '@dragonflow/base';
import type { ChangeBatch, ChangeEvent, ChangeFeed, Revision, WatchOptions } from './driver.js';
import { isFatalFeedError } from './errors.js';

/**
 * Where a polling feed reads from. `read` returns up to `max` batches with revision
 * ≥ `from`, in order, waiting (long-poll) until at least one exists or `signal`
 * aborts (then it may return []). Transient failures throw; the feed retries the same
 * position, so nothing is lost. NB_COMPACTED / NB_CLOSED end the feed.
 */
export interface BatchSource {
  read(from: Revision, max: number, signal: AbortSignal): Promise<ChangeBatch[]>;
}

export interface PollingFeedOptions extends WatchOptions {
  clock?: Clock;
  /** Called on each transient read failure (for logging/health); the feed keeps retrying. */
  onRetry?: (err: unknown, attempt: number) => void;
  /** Called after a successful read that follows failures. */
  onRecovered?: () => void;
  /** Called once when the feed is closed. */
  onClose?: () => void;
  /** First retry delay; doubles up to maxRetryDelayMs. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
}

/**
 * A change feed that pulls batches from a BatchSource as it is consumed. It holds at
 * most `highWaterMark` batches, checks revisions only move forward, filters tables
 * and resumes at its own position after failures.
 */
export class PollingFeed implements ChangeFeed {
  private cursor: Revision;
  private last: Revision;
  private readonly abort = new AbortController();
  private readonly tables: ReadonlySet<string> | undefined;
  private readonly max: number;
  private readonly clock: Clock;

  constructor(
    fromRevision: Revision,
    private readonly source: BatchSource,
    private readonly options: PollingFeedOptions = {},
  ) {
    this.cursor = Math.max(1, fromRevision);
    this.last = this.cursor - 1;
    this.tables = options.tables ? new Set(options.tables) : undefined;
    this.max = Math.max(1, options.highWaterMark ?? 256);
    this.clock = options.clock ?? systemClock;
  }

  get lastRevision(): Revision {
    return this.last;
  }

  get closed(): boolean {
    return this.abort.signal.aborted;
  }

  close(): void {
    if (this.abort.signal.aborted) return;
    this.abort.abort();
    this.options.onClose?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ChangeBatch> {
    let failures = 0;
    const backoff = new Backoff({ initialMs: this.options.retryDelayMs ?? 50, maxMs: Math.max(this.options.retryDelayMs ?? 50, this.options.maxRetryDelayMs ?? 2_000) });
    while (!this.closed) {
      // Declared per pass, so they are cleared before the next read: a suspended
      // generator keeps its locals, and the batch handed out last (often a large one)
      // must not stay reachable from here while the next read waits for changes.
      let batches: ChangeBatch[];
      let batch: ChangeBatch | undefined;
      let events: ChangeEvent[] | undefined;
      try {
        batches = await this.source.read(this.cursor, this.max, this.abort.signal);
      } catch (err) {
        if (this.closed) return;
        if (isFatalFeedError(err)) throw err;
        failures++;
        this.options.onRetry?.(err, failures);
        await this.sleep(backoff.next());
        continue;
      }
      if (failures > 0) {
        failures = 0;
        backoff.reset();
        this.options.onRecovered?.();
      }
      for (batch of batches) {
        if (this.closed) return;
        if (batch.revision < this.cursor) continue; // already delivered (a source may overlap on resume)
        this.cursor = batch.revision + 1;
        events = this.tables ? batch.events.filter((e) => this.tables!.has(e.table)) : batch.events;
        this.last = batch.revision;
        if (events.length === 0) continue;
        yield events === batch.events ? batch : { revision: batch.revision, events };
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.abort.signal;
      const finish = (): void => {
        cancel();
        signal.removeEventListener('abort', finish);
        resolve();
      };
      const cancel = this.clock.setTimer(ms, finish);
      signal.addEventListener('abort', finish, { once: true });
    });
  }
}
