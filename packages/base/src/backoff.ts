import { DfError } from './error.js';

/*
 * Written here rather than taken from a library: the retry libraries on npm
 * (p-retry, exponential-backoff, ...) own the waiting (setTimeout), while every user
 * here waits on an injected Clock, on its own loop (a feed, a socket, a reconciler
 * timer) and only needs the next delay.
 */

export interface BackoffPolicy {
  /** Delay after the first failure (ms). */
  readonly initialMs: number;
  /** No delay is longer than this (ms). */
  readonly maxMs: number;
  /** Growth per failure (default 2). */
  readonly factor?: number;
  /**
   * Share of each delay drawn at random, 0..1 (default 0): the delay is uniform in
   * [d × (1 − jitter), d]. Never longer than without jitter, so peers that failed
   * together (every chassis when the DB restarts) spread out without waiting longer.
   * 1 is "full jitter" (uniform in [0, d]).
   */
  readonly jitter?: number;
  /** Source of randomness in [0, 1) (tests pass their own). */
  readonly random?: () => number;
}

function check(policy: BackoffPolicy): void {
  const { initialMs, maxMs, factor = 2, jitter = 0 } = policy;
  const bad = (field: string, value: number, want: string): never => {
    throw new DfError('BACKOFF_INVALID', `backoff ${field} is ${value}; expected ${want}`, { context: { field, value } });
  };
  if (!(initialMs >= 0) || !Number.isFinite(initialMs)) bad('initialMs', initialMs, 'a finite number ≥ 0');
  if (!(maxMs >= initialMs) || !Number.isFinite(maxMs)) bad('maxMs', maxMs, `a finite number ≥ initialMs (${initialMs})`);
  if (!(factor >= 1) || !Number.isFinite(factor)) bad('factor', factor, 'a finite number ≥ 1');
  if (!(jitter >= 0 && jitter <= 1)) bad('jitter', jitter, 'a number in 0..1');
}

/**
 * The delay before retry number `failures` (1 = after the first failure):
 * initialMs × factor^(failures − 1), capped at maxMs, less its random share.
 * For users that keep the failure count themselves (one per owner, per feed).
 */
export function backoffDelay(failures: number, policy: BackoffPolicy): number {
  check(policy);
  const { initialMs, maxMs, factor = 2, jitter = 0, random = Math.random } = policy;
  // The exponent is bounded so a long outage cannot overflow to Infinity × 0 = NaN.
  const exponent = Math.min(Math.max(0, failures - 1), 64);
  const full = Math.min(maxMs, initialMs * factor ** exponent);
  return jitter === 0 ? full : full - full * jitter * random();
}

/**
 * Exponential backoff with a cap and optional jitter: `next()` after each failure
 * gives the delay to wait, `reset()` after a success starts over.
 */
export class Backoff {
  private count = 0;

  constructor(readonly policy: BackoffPolicy) {
    check(policy);
  }

  /** The delay to wait now; the next one grows by the factor (up to the cap). */
  next(): number {
    this.count++;
    return backoffDelay(this.count, this.policy);
  }

  reset(): void {
    this.count = 0;
  }

  /** Failures since the last reset. */
  get failures(): number {
    return this.count;
  }
}
