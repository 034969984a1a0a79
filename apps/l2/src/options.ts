import { z } from 'zod';

/**
 * The l2 app's options. `punt`: the per-port budget of neighbour solicitations
 * punted for an answer (rate per second, burst, seconds a port over it has its NS
 * dropped in the switch); missing keys take the core's defaults (100/s, 200, 5 s).
 */
export const l2OptionsSchema = z
  .object({
    punt: z
      .object({
        rate: z.number().positive('must be > 0').optional(),
        burst: z.number().int('must be an integer').min(1, 'must be at least 1').optional(),
        suppressSeconds: z.number().int('must be an integer').min(1, 'must be at least 1').max(3600, 'must be at most 3600').optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

export type L2Options = z.output<typeof l2OptionsSchema>;
