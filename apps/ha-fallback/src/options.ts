import { z } from 'zod';

/** The ha-fallback app's options in the controller config (`apps: [{ name: '@dragonflow/app-ha-fallback', options: {...} }]`). */
export const haFallbackOptionsSchema = z
  .object({
    /**
     * The chassis (by name) that take over punts, in order: a chassis falls back to
     * the first one that is not itself. Give every controller the same list. Default:
     * the gateway chassis, by name.
     */
    fallbackChassis: z.array(z.string().min(1, 'must not be empty')).min(1, 'must name at least one chassis').optional(),
    /** The liveness flow's hard timeout (s): how long punts keep going to a dead controller, at most (plus up to 1 s of the switch's expiry check). */
    livenessSeconds: z.number().int('must be an integer').min(1, 'must be at least 1').max(60, 'must be at most 60').default(1),
    /** How often the liveness flow is re-added (ms); default a third of livenessSeconds, so two refreshes may be lost. */
    refreshMs: z.number().int('must be an integer').min(50, 'must be at least 50').optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.refreshMs !== undefined && o.refreshMs >= o.livenessSeconds * 1000) ctx.addIssue({ code: 'custom', path: ['refreshMs'], message: 'must be below livenessSeconds × 1000 (the liveness flow would expire between refreshes)' });
  })
  .default({ livenessSeconds: 1 });

export type HaFallbackOptions = z.output<typeof haFallbackOptionsSchema>;

/** The refresh period in force (ms). */
export const refreshPeriod = (o: HaFallbackOptions): number => o.refreshMs ?? Math.floor((o.livenessSeconds * 1000) / 3);
