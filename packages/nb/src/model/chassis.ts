import { z } from 'zod';
import { baseFields } from './base.js';
import { ipField } from './fields.js';

export const TUNNEL_TYPES = ['vxlan', 'geneve', 'gre'] as const;
export type TunnelType = (typeof TUNNEL_TYPES)[number];

/**
 * A compute or gateway node running df-controller. Its id is derived from its name
 * (see `chassisIdFromName`), so a restarted controller finds its own record again.
 * Liveness is not a field: it is a lease-bound record in the `chassis_liveness`
 * table kept by the chassis registry.
 */
export const chassisSchema = z
  .object({
    ...baseFields,
    name: z.string().min(1, 'must not be empty').max(255, 'must be at most 255 characters'),
    /** Underlay address other chassis tunnel to. */
    tunnelIp: ipField,
    tunnelTypes: z.array(z.enum(TUNNEL_TYPES)).min(1, 'must name at least one tunnel type').default(['vxlan']),
    /** Provider network name → OVS bridge carrying it on this chassis. */
    bridgeMappings: z.record(z.string().min(1), z.string().min(1)).default({}),
    /** The chassis can act as gateway (SNAT, external networks). */
    gateway: z.boolean().default(false),
    /** The availability zone the chassis is in (Neutron's availability_zone extension lists the zones of all chassis). */
    availabilityZone: z
      .string()
      .min(1, 'must not be empty')
      .max(255, 'must be at most 255 characters')
      .regex(/^[A-Za-z0-9_.:-]+$/, 'may only hold letters, digits and _ . : -')
      .default('nova'),
    externalIds: z.record(z.string(), z.string()).default({}),
  })
  .strict();
