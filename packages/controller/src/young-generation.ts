import { setFlagsFromString } from 'node:v8';

/** V8 flags that size the young generation: an operator who gives one keeps control of it. */
const YOUNG_GENERATION_FLAG = /--(max-semi-space-size|min-semi-space-size|semi-space-growth-factor)\b/;

/** Caps the young generation at its initial size (read at every growth step, so it works from inside the process). */
export const SMALL_YOUNG_GENERATION_FLAG = '--semi-space-growth-factor=1';
/** V8's own growth factor (it doubles the young generation when enough of it survives). */
const V8_GROWTH_FLAG = '--semi-space-growth-factor=2';

/** What `keepYoungGenerationSmall` decided, for the start-up log. */
export type YoungGenerationChoice = 'kept small' | 'operator flags';

/**
 * Keeps V8's young generation at its initial size (1 MB per semi-space) instead of
 * letting it grow to 8–16 MB per semi-space — which loading the controller's modules
 * alone does, and a bulk's allocation rate does anyway. A grown young generation is
 * memory the process keeps resident though nothing lives in it, and its larger
 * scavenges leave more garbage in old space between mark-compacts: at 1,000 ports
 * it was most of the gap between the heap's live bytes and the RSS
 * (docs/benchmarks.md, "Side by side with OVN").
 *
 * `--max-semi-space-size` is read only when the heap is set up, so setting it here
 * (v8.setFlagsFromString) would do nothing; the growth factor is read at every
 * growth step, so a factor of 1 caps the young generation from inside the process,
 * without a wrapper or a second process. (On node's command line V8 raises a factor
 * below 2 to 2 when it sets the heap up: it only works set at run time.) It must run
 * before the heap grows: bin.ts calls it before loading anything else. Operators keep
 * the last word: a young-generation flag on node's command line or in NODE_OPTIONS
 * leaves V8's sizing alone, and `memory.smallYoungGeneration: false` in the config
 * gives V8 its own growth back (restoreYoungGenerationGrowth).
 */
export function keepYoungGenerationSmall(execArgv: readonly string[], nodeOptions: string | undefined): YoungGenerationChoice {
  if (execArgv.some((a) => YOUNG_GENERATION_FLAG.test(a)) || YOUNG_GENERATION_FLAG.test(nodeOptions ?? '')) return 'operator flags';
  setFlagsFromString(SMALL_YOUNG_GENERATION_FLAG);
  return 'kept small';
}

/** Undoes keepYoungGenerationSmall: V8 grows the young generation as it would by itself. */
export function restoreYoungGenerationGrowth(): void {
  setFlagsFromString(V8_GROWTH_FLAG);
}
