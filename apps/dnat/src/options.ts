import { z } from 'zod';

export const dnatOptionsSchema = z
  .object({
    /**
     * Where a floating IP is translated. `distributed` (the default): on the chassis
     * of the port it is associated with, which answers ARP for it on the provider
     * network (no gateway on the path). `centralized`: on the router's active
     * gateway chassis, where the SNAT app carries the router's outbound traffic.
     */
    mode: z.enum(['distributed', 'centralized']).default('distributed'),
  })
  .strict();

export type DnatOptions = z.output<typeof dnatOptionsSchema>;
export type DnatMode = DnatOptions['mode'];
