import { puntLimitsOption } from '@dragonflow/core';
import { z } from 'zod';

/** The dhcp app's options in the controller config (`apps: [{ name: '@dragonflow/app-dhcp', options: {...} }]`). */
export const dhcpOptionsSchema = z
  .object({
    /** Lease time offered, in seconds (T1 is half of it, T2 seven eighths). */
    leaseSeconds: z.number().int('must be an integer').min(120, 'must be at least 120').max(0x7fff_ffff, 'must fit in 31 bits').default(86400),
    /** DNS servers for subnets that name none (`dns_nameservers` empty). */
    defaultDnsServers: z.array(z.ipv4({ message: 'must be IPv4 addresses' })).max(8, 'at most 8').default([]),
    /** Option 15 (domain name); empty sends none. Neutron's default is openstacklocal. */
    domainName: z.string().max(253, 'must be at most 253 characters').default('openstacklocal'),
    /**
     * Per-port budget of DHCP messages handed to the controller (DHCP_PUNT_LIMITS when
     * left out): a boot is 2–4 messages, a renewal 1; a port beyond it has its DHCP
     * dropped in the switch for `suppressSeconds`.
     */
    punt: puntLimitsOption(),
  })
  .strict();

export type DhcpOptions = z.output<typeof dhcpOptionsSchema>;
