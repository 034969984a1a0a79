import { puntLimitsOption } from '@dragonflow/core';
import { z } from 'zod';

/**
 * The snat app's options (controller config, `options:` of '@dragonflow/app-snat'):
 *
 * - `mode`: `centralized` (default) — a router's traffic to the outside is
 *   translated on its active gateway chassis (other chassis redirect it there over
 *   the tunnel); `distributed` — every chassis translates its own VMs' traffic with
 *   its own address (`pool`).
 * - `pool` (distributed): addresses on the external subnet for the chassis' SNAT
 *   address, one per chassis (a CIDR or a list); see docs/nat.md for how a chassis
 *   picks its own.
 * - `arp`: how often next hops on the external network are asked for (seconds).
 * - `punt`: the budget of the ARP replies punted to the app.
 */
export const snatOptionsSchema = z
  .object({
    mode: z.enum(['centralized', 'distributed']).default('centralized'),
    /** distributed: this chassis' SNAT address (each controller's own config names its own). */
    address: z.string().optional(),
    /** distributed: addresses for the chassis' SNAT addresses, a CIDR or a list (one per chassis, by rank of name). */
    pool: z.union([z.string(), z.array(z.string()).min(1, 'must list at least one address')]).optional(),
    arp: z
      .object({
        refreshSeconds: z.number().int('must be an integer').min(1, 'must be at least 1').default(30),
        retrySeconds: z.number().int('must be an integer').min(1, 'must be at least 1').default(1),
      })
      .strict()
      .default({ refreshSeconds: 30, retrySeconds: 1 }),
    punt: puntLimitsOption(),
  })
  .strict();

export type SnatOptions = z.output<typeof snatOptionsSchema>;
