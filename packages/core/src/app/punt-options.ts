import { z } from 'zod';

/**
 * The `punt` option of an app's config, for its `punt.limits`: the per-port budget
 * (rate per second, burst, seconds a port over it is cut off in the switch). Missing
 * keys take the app's defaults, else the core's (`DEFAULT_PUNT_LIMITS`).
 * `z.object({ punt: puntLimitsOption() })`, then `punt: { tables, limits: (o) => o.punt }`.
 */
export function puntLimitsOption() {
  return z
    .object({
      rate: z.number().positive('must be > 0').optional(),
      burst: z.number().int('must be an integer').min(1, 'must be at least 1').optional(),
      suppressSeconds: z.number().int('must be an integer').min(1, 'must be at least 1').max(3600, 'must be at most 3600').optional(),
    })
    .strict()
    .default({});
}
