import { z } from 'zod';
import { baseFields, issue } from './base.js';
import { ipField, uuidField } from './fields.js';

export const FLOATING_IP_STATUSES = ['DOWN', 'ACTIVE', 'ERROR'] as const;

/**
 * A floating IP on an external network, optionally associated with (a fixed IP of)
 * a port. `floatingPortId` is the port (device owner network:floatingip) holding
 * the address on the external network; `routerId` the router doing the NAT.
 */
export const floatingIpSchema = z
  .object({
    ...baseFields,
    floatingNetworkId: uuidField,
    floatingIpAddress: ipField,
    floatingPortId: uuidField.nullable().default(null),
    portId: uuidField.nullable().default(null),
    fixedIpAddress: ipField.nullable().default(null),
    routerId: uuidField.nullable().default(null),
    status: z.enum(FLOATING_IP_STATUSES).default('DOWN'),
    /** Neutron's dns_name and dns_domain (dns-integration): stored for DNS services, no DNS is served. */
    dnsName: z.string().max(255).default(''),
    dnsDomain: z.string().max(255).default(''),
  })
  .strict()
  .superRefine((f, ctx) => {
    if (f.portId === null && f.fixedIpAddress !== null) issue(ctx, ['fixedIpAddress'], 'needs portId');
    if (f.portId !== null && f.fixedIpAddress === null) issue(ctx, ['fixedIpAddress'], 'is required when portId is set');
    if (f.portId === null && f.routerId !== null) issue(ctx, ['routerId'], 'needs portId');
  });
