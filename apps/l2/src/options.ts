import { puntLimitsOption } from '@dragonflow/core';
import { z } from 'zod';

/**
 * The l2 app's options. `punt`: the per-port budget of neighbour solicitations
 * punted for an answer (rate per second, burst, seconds a port over it has its NS
 * dropped in the switch); missing keys take the core's defaults (100/s, 200, 5 s).
 */
export const l2OptionsSchema = z
  .object({
    punt: puntLimitsOption(),
    /**
     * Switch every network of the local topology, not only those with a port bound
     * here: for a fallback chassis (docs/ha.md "Fallback path"), whose topology is
     * not selective and whose pipeline handles the punts of other chassis' ports.
     */
    allNetworks: z.boolean().optional(),
  })
  .strict();

export type L2Options = z.output<typeof l2OptionsSchema>;
