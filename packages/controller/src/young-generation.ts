import { setFlagsFromString } from 'node:v8';

/** V8 flags that size the young generation: an operator who gives one keeps control of it. */
const YOUNG_GENERATION_FLAG = /--(max-semi-space-size|min-semi-space-size|semi-space-growth-factor)\b/;

/** Caps the young generation at its initial size (read at every growth step, so it works from inside the process). */
export const SMALL_YOUNG_GENERATION_FLAG = '--semi-space-growth-factor=1';

/** What `keepYoungGenerationSmall` decided, for the start-up log. */
export type YoungGenerationChoice = 'kept small' | 'operator flags' | 'off in config';

/**
 * Keeps V8's young generation at its initial size (1 MB per semi-space) instead of
 * letting it grow to 16 MB per semi-space under a bulk's allocation rate. A grown
 * young generation is memory the process keeps (resident) after the bulk, though
 * nothing lives in it: at 1,000 ports it was most of the gap between the heap's live
 * bytes and the RSS (docs/benchmarks.md, "Side by side with OVN").
 *
 * `--max-semi-space-size` is read only when the heap is set up, so setting it here
 * (v8.setFlagsFromString) would do nothing; the growth factor is read at every
 * growth step, so a factor of 1 caps the young generation from inside the process,
 * without a wrapper or a second process. Must run before the heap has grown (at
 * start-up, before the apps load). Operators keep the last word: a young-generation
 * flag on node's command line or in NODE_OPTIONS, or `memory.smallYoungGeneration:
 * false` in the config, leaves V8's own sizing.
 */
export function keepYoungGenerationSmall(enabled: boolean, execArgv: readonly string[], nodeOptions: string | undefined): YoungGenerationChoice {
  if (!enabled) return 'off in config';
  if (execArgv.some((a) => YOUNG_GENERATION_FLAG.test(a)) || YOUNG_GENERATION_FLAG.test(nodeOptions ?? '')) return 'operator flags';
  setFlagsFromString(SMALL_YOUNG_GENERATION_FLAG);
  return 'kept small';
}
