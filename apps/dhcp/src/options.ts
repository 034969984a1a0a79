import { puntLimitsOption } from '@dragonflow/core';
import { z } from 'zod';

/**
 * Unsolicited router advertisements (RFC 4861 §6.2.1): sent every
 * [minIntervalSeconds, maxIntervalSeconds] (uniformly drawn), defaults as Neutron
 * configures radvd (30 and 100 s); a router lifetime of 3 × the maximum interval
 * (RFC 4861's default, capped at 9000 s); radvd's prefix lifetimes.
 */
const routerAdvertisementOptions = z
  .object({
    minIntervalSeconds: z.number().min(3, 'must be at least 3 (RFC 4861 §6.2.1)').default(30),
    maxIntervalSeconds: z.number().min(4, 'must be at least 4 (RFC 4861 §6.2.1)').max(1800, 'must be at most 1800 (RFC 4861 §6.2.1)').default(100),
    routerLifetimeSeconds: z.number().int('must be an integer').min(0).max(9000, 'must be at most 9000 (RFC 4861 §6.2.1)').optional(),
    validLifetimeSeconds: z.number().int('must be an integer').min(0).max(0xffff_ffff).default(86400),
    preferredLifetimeSeconds: z.number().int('must be an integer').min(0).max(0xffff_ffff).default(14400),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.minIntervalSeconds > 0.75 * o.maxIntervalSeconds) ctx.addIssue({ code: 'custom', path: ['minIntervalSeconds'], message: 'must be at most 0.75 × maxIntervalSeconds (RFC 4861 §6.2.1)' });
    if (o.preferredLifetimeSeconds > o.validLifetimeSeconds) ctx.addIssue({ code: 'custom', path: ['preferredLifetimeSeconds'], message: 'must not exceed validLifetimeSeconds' });
  })
  .default({ minIntervalSeconds: 30, maxIntervalSeconds: 100, validLifetimeSeconds: 86400, preferredLifetimeSeconds: 14400 });

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
    /** Router advertisements for subnets with an ipv6_ra_mode (docs/ipv6.md). */
    routerAdvertisement: routerAdvertisementOptions,
    /**
     * Answer the DHCPv4, DHCPv6 and router solicitations of every port bound to a
     * chassis in the local cache, not only this chassis' ports: a fallback chassis
     * (docs/ha.md "Fallback path") answers stranded ports, whose punts it classifies
     * as theirs; the replies go back through the egress stage, by tunnel.
     * Unsolicited router advertisements stay with each port's own chassis.
     */
    allNetworks: z.boolean().default(false),
  })
  .strict();

export type DhcpOptions = z.output<typeof dhcpOptionsSchema>;
