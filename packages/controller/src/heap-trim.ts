import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Clock } from '@dragonflow/base';

export interface HeapTrimOptions {
  readonly clock: Clock;
  /** How long the switch must stay in sync (no new revision) before the collection. */
  readonly quietMs: number;
  /** Flow-mods sent since the last collection that make a burst worth one. */
  readonly minFlowMods: number;
  /** Flow-mods sent so far (the reconciler's totals). */
  readonly flowMods: () => number;
  /** A full garbage collection (fullGc() in production; tests count calls). */
  readonly collect: () => void;
}

/**
 * One full garbage collection once a burst of flow changes has settled — the
 * controller's counterpart of ovn-controller trimming its memory after a period of
 * inactivity. A bulk (1,000s of ports, a resync) leaves its garbage in V8's old
 * space, which V8 collects only when old space next fills up, or when its memory
 * reducer notices an idle process, seconds later: until then the RSS holds about
 * twice the live heap. Collecting when the switch has been in sync for `quietMs`
 * costs one mark-compact (tens of ms, at a moment nothing waits for it) and gives
 * the pages back. Small changes (one port) are left to V8: a collection after each
 * would cost more than it returns.
 */
export class HeapTrim {
  private cancel: (() => void) | undefined;
  private sentAtLastCollection: number;

  constructor(private readonly o: HeapTrimOptions) {
    this.sentAtLastCollection = o.flowMods();
  }

  /** The switch confirmed a revision: (re)start the quiet period. */
  synced(): void {
    this.cancel?.();
    this.cancel = this.o.clock.setTimer(this.o.quietMs, () => {
      this.cancel = undefined;
      const sent = this.o.flowMods();
      if (sent - this.sentAtLastCollection < this.o.minFlowMods) return;
      this.sentAtLastCollection = sent;
      this.o.collect();
    });
  }

  stop(): void {
    this.cancel?.();
    this.cancel = undefined;
  }
}

/**
 * The controller's setting: half a second without a new revision confirmed, after at
 * least 1,000 flow-mods (a bulk of ~50 ports at ~20 flows each).
 */
export const HEAP_TRIM = { quietMs: 500, minFlowMods: 1000 } as const;

/** Flow-mods in the reconciler's totals. */
export const flowModsSent = (t: { readonly adds: number; readonly modifies: number; readonly deletes: number }): number => t.adds + t.modifies + t.deletes;

let gcFunction: (() => void) | undefined;

/**
 * A full garbage collection. V8 hands out `gc` only to contexts created after
 * --expose-gc is set, so the flag is set once and the function taken from a fresh
 * context; the process's own global scope does not get it.
 */
export function fullGc(): void {
  if (!gcFunction) {
    setFlagsFromString('--expose-gc');
    gcFunction = runInNewContext('gc') as () => void;
  }
  gcFunction();
}
