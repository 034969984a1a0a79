import { type IpAddress, IpNetwork, compareIp, parseIp } from '@dragonflow/base';
import { z } from 'zod';
import { baseFields, issue } from './base.js';
import { cidrField, ipField, uuidField } from './fields.js';

export const IPV6_MODES = ['slaac', 'dhcpv6-stateful', 'dhcpv6-stateless'] as const;

export const hostRouteSchema = z.object({ destination: cidrField, nexthop: ipField }).strict();
export const allocationPoolSchema = z.object({ start: ipField, end: ipField }).strict();

/**
 * True for the network and broadcast addresses of an IPv4 subnet with room for hosts:
 * no port, gateway or pool may use them. (A /31 or /32 uses every address; IPv6 has no
 * broadcast address.)
 */
export function isNetworkOrBroadcast(net: IpNetwork, ip: IpAddress): boolean {
  return net.family === 4 && net.prefixLength <= 30 && (ip.equals(net.first) || ip.equals(net.last));
}

/**
 * An IP subnet of a network. The CIDR, the network and the IP version never change
 * after creation (NbApi refuses it), so ports can rely on them.
 */
export const subnetSchema = z
  .object({
    ...baseFields,
    networkId: uuidField,
    ipVersion: z.union([z.literal(4), z.literal(6)]),
    cidr: cidrField,
    /** Null: the subnet has no gateway. */
    gatewayIp: ipField.nullable().default(null),
    enableDhcp: z.boolean().default(true),
    dnsNameservers: z.array(ipField).default([]),
    hostRoutes: z.array(hostRouteSchema).default([]),
    /** Ranges IPAM allocates from; empty means "the whole CIDR but the gateway". */
    allocationPools: z.array(allocationPoolSchema).default([]),
    ipv6AddressMode: z.enum(IPV6_MODES).nullable().default(null),
    ipv6RaMode: z.enum(IPV6_MODES).nullable().default(null),
  })
  .strict()
  .superRefine((s, ctx) => {
    const net = IpNetwork.parse(s.cidr);
    if (net.family !== s.ipVersion) {
      issue(ctx, ['cidr'], `${s.cidr} is an IPv${net.family} network but ipVersion is ${s.ipVersion}`);
      return;
    }
    if (s.gatewayIp !== null) {
      const gw = parseIp(s.gatewayIp);
      if (!net.contains(gw)) issue(ctx, ['gatewayIp'], `${s.gatewayIp} is outside ${s.cidr}`);
      else if (isNetworkOrBroadcast(net, gw)) {
        issue(ctx, ['gatewayIp'], `${s.gatewayIp} is the network or broadcast address of ${s.cidr}`);
      }
    }
    if (net.family === 4 && (s.ipv6AddressMode !== null || s.ipv6RaMode !== null)) {
      issue(ctx, [s.ipv6AddressMode !== null ? 'ipv6AddressMode' : 'ipv6RaMode'], 'only applies to IPv6 subnets');
    }
    const pools: { start: IpAddress; end: IpAddress; i: number }[] = [];
    s.allocationPools.forEach((p, i) => {
      const start = parseIp(p.start);
      const end = parseIp(p.end);
      if (!net.contains(start)) return issue(ctx, ['allocationPools', i, 'start'], `${p.start} is outside ${s.cidr}`);
      if (!net.contains(end)) return issue(ctx, ['allocationPools', i, 'end'], `${p.end} is outside ${s.cidr}`);
      if (compareIp(start, end) > 0) return issue(ctx, ['allocationPools', i], `start ${p.start} is after end ${p.end}`);
      if (isNetworkOrBroadcast(net, start) || isNetworkOrBroadcast(net, end)) {
        return issue(ctx, ['allocationPools', i], `pool ${p.start}-${p.end} includes the network or broadcast address of ${s.cidr}`);
      }
      if (s.gatewayIp !== null) {
        const gw = parseIp(s.gatewayIp);
        if (compareIp(start, gw) <= 0 && compareIp(gw, end) <= 0) {
          return issue(ctx, ['allocationPools', i], `pool ${p.start}-${p.end} contains the gateway ${s.gatewayIp}`);
        }
      }
      pools.push({ start, end, i });
    });
    // Overlaps in n·log n: sorted by start, a pool overlaps another iff it starts before the furthest end seen so far.
    const sorted = [...pools].sort((a, b) => compareIp(a.start, b.start) || a.i - b.i);
    let reach: (typeof pools)[number] | undefined;
    for (const p of sorted) {
      if (reach && compareIp(p.start, reach.end) <= 0) {
        const [first, second] = reach.i < p.i ? [reach, p] : [p, reach];
        issue(ctx, ['allocationPools', second.i], `pool ${s.allocationPools[second.i]!.start}-${s.allocationPools[second.i]!.end} overlaps allocationPools[${first.i}]`);
        break;
      }
      if (!reach || compareIp(p.end, reach.end) > 0) reach = p;
    }
    s.hostRoutes.forEach((r, i) => {
      const dst = IpNetwork.parse(r.destination);
      if (dst.family !== s.ipVersion) issue(ctx, ['hostRoutes', i, 'destination'], `${r.destination} is not IPv${s.ipVersion}`);
      if (parseIp(r.nexthop).family !== s.ipVersion) issue(ctx, ['hostRoutes', i, 'nexthop'], `${r.nexthop} is not IPv${s.ipVersion}`);
    });
  });
