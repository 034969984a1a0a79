import { performance } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Clock } from '@dragonflow/base';

export interface HeapTrimOptions {
  readonly clock: Clock;
  /** How long the controller must stay idle (no new revision confirmed, nothing pending) before the collection. */
  readonly quietMs: number;
  /** Growth of the heap's used bytes since the last collection that makes a burst worth one. */
  readonly minGrowthBytes: number;
  /** The heap's used bytes now (live and not yet collected). */
  readonly heapUsed: () => number;
  /**
   * Whether the controller has nothing to do: no NB change queued, no app handling
   * one, no flow waiting to be sent or confirmed. A collection never runs while this
   * is false.
   */
  readonly idle: () => boolean;
  /** A full garbage collection (fullGc() in production; tests count calls). */
  readonly collect: () => void;
}

/**
 * One full garbage collection once a burst of changes has settled — the
 * controller's counterpart of ovn-controller trimming its memory after a period of
 * inactivity. A bulk (1,000s of ports, a resync) and what follows it (the ports'
 * status writes and their echoes) leave their garbage in V8's old space, which V8
 * collects only when old space next fills up, or when its memory reducer notices an
 * idle process, seconds later: until then the RSS holds two to three times the live
 * heap. Collecting once the controller has been idle for `quietMs` costs one
 * compacting mark-compact (~100–300 ms at 1,000 ports, at a moment nothing waits for
 * it) and gives the pages back. The trigger is the heap's growth since the last
 * collection, not the number of flows: what follows the flows allocates too. Small
 * changes (one port) are left to V8: a collection after each would cost more than it
 * returns.
 *
 * The quiet period starts when a revision is confirmed and the controller is idle.
 * A bulk confirms nothing for seconds while it works, so "no revision for quietMs"
 * alone would fire in the middle of one (and a stop-the-world compaction there made
 * a bulk three times slower): when the period ends with the controller busy, it
 * starts again instead of collecting.
 */
export class HeapTrim {
  private cancel: (() => void) | undefined;
  private usedAfterLastCollection: number;

  constructor(private readonly o: HeapTrimOptions) {
    this.usedAfterLastCollection = o.heapUsed();
  }

  /** The switch confirmed a revision: (re)start the quiet period. */
  synced(): void {
    this.arm();
  }

  stop(): void {
    this.cancel?.();
    this.cancel = undefined;
  }

  private arm(): void {
    this.cancel?.();
    this.cancel = this.o.clock.setTimer(this.o.quietMs, () => {
      this.cancel = undefined;
      if (this.o.heapUsed() - this.usedAfterLastCollection < this.o.minGrowthBytes) return;
      // Busy: work arrived since the revision that armed the timer; its own confirmation re-arms, and so does this.
      if (!this.o.idle()) return this.arm();
      this.o.collect();
      this.usedAfterLastCollection = this.o.heapUsed();
    });
  }
}

/**
 * The controller's setting: 300 ms idle after the heap grew by 16 MB (a bulk of a few
 * hundred ports, or the status writes that follow one; one port's change allocates
 * well under 1 MB) — short enough that a bulk's garbage is gone within a second of
 * its last port going up.
 */
export const HEAP_TRIM = { quietMs: 300, minGrowthBytes: 16 * 1048576 } as const;

/** The heap's used bytes (V8's count: live objects and garbage not yet collected). */
export const heapUsed = (): number => getHeapStatistics().used_heap_size;

let gcFunction: (() => void) | undefined;

/** What one collection did (for the log). */
export interface Collection {
  readonly heapUsedBeforeMb: number;
  readonly heapUsedAfterMb: number;
  readonly ms: number;
}

/**
 * A full, compacting garbage collection. V8 hands out `gc` only to contexts created
 * after --expose-gc is set, so the flag is set once and the function taken from a
 * fresh context; the process's own global scope does not get it. V8 moves objects
 * only out of nearly empty pages by default, and a bulk leaves old space about two
 * thirds full everywhere: compacting every page for this one collection (the flag is
 * read per collection) is what gives those pages back — at 1,000 ports, 25 MB more
 * than the plain collection — for a longer pause (~2× a plain one).
 */
export function fullGc(): Collection {
  if (!gcFunction) {
    setFlagsFromString('--expose-gc');
    gcFunction = runInNewContext('gc') as () => void;
  }
  const mb = (): number => Math.round(heapUsed() / 1048576);
  const heapUsedBeforeMb = mb();
  const t0 = performance.now();
  setFlagsFromString('--compact-on-every-full-gc');
  try {
    gcFunction();
  } finally {
    setFlagsFromString('--no-compact-on-every-full-gc');
  }
  return { heapUsedBeforeMb, heapUsedAfterMb: mb(), ms: Math.round(performance.now() - t0) };
}
