import { Backoff, DfError, describeError, systemClock, type Clock } from '@dragonflow/base';
import type { Logger } from '@dragonflow/core';

/** Raised (and only raised) when a wait or retry loop is cut short by shutdown. */
export class StoppedError extends DfError {
  constructor(what: string) {
    super('CONTROLLER_STOPPED', `stopped while ${what}`, { context: { what } });
  }
}

/** Waits `ms` on `clock`; rejects with StoppedError when `signal` aborts first. */
export function sleep(ms: number, clock: Clock = systemClock, signal?: AbortSignal, what = 'waiting'): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new StoppedError(what));
      return;
    }
    const onAbort = (): void => {
      cancel();
      reject(new StoppedError(what));
    };
    const cancel = clock.setTimer(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryOptions {
  readonly log: Logger;
  readonly clock?: Clock;
  readonly signal?: AbortSignal;
  readonly initialMs?: number;
  readonly maxMs?: number;
  /**
   * Share of each delay drawn at random (Backoff's jitter, default 0): for calls a
   * whole fleet makes at once (connecting to the DB, registering), so retries spread out.
   */
  readonly jitter?: number;
  /** Errors that retrying cannot fix (a bad config): thrown at once. */
  readonly isFatal?: (err: unknown) => boolean;
  /** Called after each failure (for health reporting). */
  readonly onFailure?: (err: unknown, attempt: number, retryInMs: number) => void;
  /** How a failure is written to the log (default describeError); the DB's hides credentials. */
  readonly describe?: (err: unknown) => string;
}

/**
 * Runs `fn` until it succeeds, logging each failure with what was tried and when
 * the next attempt is — the controller never exits (or crash-loops) because OVS
 * or the DB is not there yet.
 */
export async function retry<T>(what: string, fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  const backoff = new Backoff({ initialMs: options.initialMs ?? 250, maxMs: options.maxMs ?? 10_000, jitter: options.jitter ?? 0 });
  for (let attempt = 1; ; attempt++) {
    if (options.signal?.aborted) throw new StoppedError(what);
    try {
      return await fn();
    } catch (err) {
      if (err instanceof StoppedError || options.signal?.aborted) throw new StoppedError(what);
      if (options.isFatal?.(err)) throw err;
      const delay = backoff.next();
      options.onFailure?.(err, attempt, delay);
      options.log.warn({ attempt, retryInMs: Math.round(delay), err: (options.describe ?? describeError)(err) }, `cannot ${what} yet; retrying in ${(delay / 1000).toFixed(delay < 1000 ? 2 : 0)} s`);
      await sleep(delay, options.clock, options.signal, what);
    }
  }
}
