import { backoffDelay, type Clock } from '@dragonflow/base';
import { Subject, type Observable } from 'rxjs';
import type { CoreMetrics } from '../observe/metrics.js';
import type { Logger } from '../observe/logger.js';
import type { OwnerRecord } from './owner.js';

/**
 * An owner some of whose desired flows (or groups) the switch refused. It stays
 * failed until every refused one is installed (a retry: the owner's next change, a
 * reconnect, or the backoff timer) or no longer desired.
 */
export interface OwnerFailure {
  readonly app: string;
  readonly owner: string;
  /** OWNER_KINDS number and tag of its cookie (which object it is, for keyed owners). */
  readonly kind: number;
  readonly tag: number;
  /** Flows and groups of the owner the switch refused and that are not installed. */
  readonly refused: number;
  /** The switch's last errors for them (at most 5), as `describeOfError` prints them. */
  readonly errors: readonly string[];
  /** Clock time of the first refusal. */
  readonly since: number;
  /** Times they were sent and refused. */
  readonly attempts: number;
  /** Clock time of the next retry by the backoff timer. */
  readonly retryAt: number;
}

/** An owner became failed (or its refusals changed), or recovered (everything installed, or nothing refused desired any more). */
export type OwnerFailureEvent = { readonly kind: 'failed'; readonly failure: OwnerFailure } | { readonly kind: 'recovered'; readonly app: string; readonly owner: string; readonly ownerKind: number; readonly tag: number };

interface FailureRecord {
  /** Flow keys, `group:<switch id>` and `meter:<switch id>` of what was refused. */
  readonly keys: Set<string>;
  errors: string[];
  readonly since: number;
  attempts: number;
  retryAt: number;
}

/** First retry of refused flows after this long; doubles per attempt up to RETRY_MAX_MS. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000;

/** What the tracker needs of the desired state: whether something is still desired, and marking it for sending. */
export interface RetryTarget {
  owns(rec: OwnerRecord, stateKey: string): boolean;
  markDirty(stateKey: string): void;
}

/**
 * Owners whose flows or groups the switch refused: which ones, the last errors, and
 * when to send them again (backoff on the injected clock, one timer for all).
 */
export class FailureTracker {
  /** By owner record: dropping the owner drops the failure. */
  private readonly failures = new Map<OwnerRecord, FailureRecord>();
  private readonly subject = new Subject<OwnerFailureEvent>();
  private cancelRetry: (() => void) | undefined;
  private retryTimerAt = Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly metrics: CoreMetrics,
    private readonly log: Logger,
    private readonly target: RetryTarget,
    /** Refused state was marked for sending again by the timer: flush. */
    private readonly onRetryDue: () => void,
  ) {}

  /** Whether any owner is failed (checked before per-request bookkeeping). */
  get any(): boolean {
    return this.failures.size > 0;
  }

  /** Records refusals (`list`: key, message, key, message, …) against an owner and arms the retry. */
  fail(rec: OwnerRecord, list: readonly string[]): void {
    const now = this.clock.now();
    let f = this.failures.get(rec);
    if (!f) {
      f = { keys: new Set(), errors: [], since: now, attempts: 0, retryAt: Infinity };
      this.failures.set(rec, f);
    }
    for (let i = 0; i < list.length; i += 2) {
      f.keys.add(list[i]!);
      f.errors.push(list[i + 1]!);
    }
    if (f.errors.length > 5) f.errors = f.errors.slice(-5);
    f.attempts++;
    f.retryAt = now + backoffDelay(f.attempts, { initialMs: RETRY_FIRST_MS, maxMs: RETRY_MAX_MS });
    this.metrics.failedOwners.set(this.failures.size);
    this.log.warn({ app: rec.id.app, owner: rec.id.owner, refused: f.keys.size, attempts: f.attempts, retryInMs: f.retryAt - now }, 'the switch refused flows of this owner; retrying with backoff');
    this.subject.next({ kind: 'failed', failure: describe(rec, f) });
    this.armRetry();
  }

  /** One refused flow or group of `rec` is installed now, or no longer desired. */
  settle(rec: OwnerRecord, stateKey: string): void {
    if (this.failures.size === 0) return;
    const f = this.failures.get(rec);
    if (!f || !f.keys.delete(stateKey)) return;
    if (f.keys.size === 0) this.recover(rec);
  }

  /** The owner is gone (nothing desired): it is no longer failed. */
  recover(rec: OwnerRecord): void {
    if (!this.failures.delete(rec)) return;
    this.metrics.failedOwners.set(this.failures.size);
    this.log.info({ app: rec.id.app, owner: rec.id.owner }, 'every flow of this owner the switch had refused is installed now (or no longer desired)');
    this.subject.next({ kind: 'recovered', app: rec.id.app, owner: rec.id.owner, ownerKind: rec.id.kind, tag: rec.id.tag });
  }

  /** The owner changed: what the switch refused of it is sent again with the change. */
  retryNow(rec: OwnerRecord): void {
    const f = this.failures.get(rec);
    if (f) this.markRetry(rec, f);
  }

  /** Marks the refused flows and groups of an owner for sending again. */
  private markRetry(rec: OwnerRecord, f: FailureRecord): void {
    for (const k of f.keys) if (this.target.owns(rec, k)) this.target.markDirty(k);
    f.retryAt = Infinity;
  }

  /** One timer for the earliest retry among the failed owners. */
  private armRetry(): void {
    let next = Infinity;
    for (const f of this.failures.values()) if (f.retryAt < next) next = f.retryAt;
    if (next === this.retryTimerAt) return;
    this.cancelRetry?.();
    this.cancelRetry = undefined;
    this.retryTimerAt = next;
    if (next === Infinity) return;
    this.cancelRetry = this.clock.setTimer(Math.max(0, next - this.clock.now()), () => {
      this.cancelRetry = undefined;
      this.retryTimerAt = Infinity;
      const now = this.clock.now();
      for (const [rec, f] of this.failures) {
        if (f.retryAt > now) continue;
        this.metrics.flowRetries.inc(f.keys.size);
        this.markRetry(rec, f);
      }
      this.armRetry();
      this.onRetryDue();
    });
  }

  /** Owners with flows or groups the switch refused (not yet installed by a retry). */
  list(app?: string): OwnerFailure[] {
    const out: OwnerFailure[] = [];
    for (const [rec, f] of this.failures) if (app === undefined || rec.id.app === app) out.push(describe(rec, f));
    return out;
  }

  /** The failure of one owner, if the switch refused some of its flows. */
  of(rec: OwnerRecord): OwnerFailure | undefined {
    const f = this.failures.get(rec);
    return f ? describe(rec, f) : undefined;
  }

  /** Stops the retry timer. */
  stop(): void {
    this.cancelRetry?.();
    this.cancelRetry = undefined;
    this.retryTimerAt = Infinity;
  }

  get events$(): Observable<OwnerFailureEvent> {
    return this.subject.asObservable();
  }
}

function describe(rec: OwnerRecord, f: FailureRecord): OwnerFailure {
  return { app: rec.id.app, owner: rec.id.owner, kind: rec.id.kind, tag: rec.id.tag, refused: f.keys.size, errors: [...f.errors], since: f.since, attempts: f.attempts, retryAt: f.retryAt };
}
