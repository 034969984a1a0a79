import { z } from 'zod';

/** How the punt path to the controller is protected (per source port). */
export const puntOptionsSchema = z
  .object({
    /** Punts handled per second and port, sustained. */
    rate: z.number().positive('must be > 0').default(100),
    /** Punts a port may send at once after a quiet period. */
    burst: z.number().int('must be an integer').min(1, 'must be at least 1').default(200),
    /** A port over its budget has its punts dropped in the switch for this long (seconds). */
    suppressSeconds: z.number().int('must be an integer').min(1, 'must be at least 1').max(3600, 'must be at most 3600').default(5),
  })
  .strict();

const base = {
  punt: puntOptionsSchema.default(() => puntOptionsSchema.parse({})),
  /**
   * A destination on a connected subnet with no port there: answer with ICMP host
   * unreachable from the router port ('icmp', rate limited like every punt), or drop.
   */
  unreachable: z.enum(['icmp', 'drop']).default('icmp'),
  /**
   * Route for every network of the local topology, not only those with a port bound
   * here: for a fallback chassis (docs/ha.md "Fallback path"), whose topology is not
   * selective and which routes the punted first packets of other chassis' ports.
   */
  allNetworks: z.boolean().optional(),
};

export const proactiveOptionsSchema = z.object(base).strict();

export const reactiveOptionsSchema = z
  .object({
    ...base,
    /** Idle timeout of the exact flows the controller installs (seconds). */
    idleTimeout: z.number().int('must be an integer').min(1, 'must be at least 1').max(65535, 'must be at most 65535').default(60),
    /**
     * Exact flows one source port may have installed at once; past it the least
     * recently punted of its flows is evicted. Bounds what one VM's traffic (a scan
     * behind a broad extra route) can make the controller and the switch hold.
     */
    maxExactFlowsPerPort: z.number().int('must be an integer').min(1, 'must be at least 1').default(1024),
    /** Exact flows one router may have installed on this chassis at once (least recently punted evicted first). */
    maxExactFlowsPerRouter: z.number().int('must be an integer').min(1, 'must be at least 1').default(16384),
  })
  .strict();

export type PuntOptions = z.output<typeof puntOptionsSchema>;
export type ProactiveOptions = z.output<typeof proactiveOptionsSchema>;
export type ReactiveOptions = z.output<typeof reactiveOptionsSchema>;
/** What the shared router code needs of either app's options. */
export type L3Options = ProactiveOptions;
