import { IpNetwork, parseIp } from '@dragonflow/base';
import { z } from 'zod';
import { baseFields, issue } from './base.js';
import { cidrField, ipField, macField, uniqueKeyField, uuidField } from './fields.js';
import { fixedIpSchema } from './logical-port.js';

/**
 * A router interface. `portId` is the logical port (device owner
 * network:router_interface) that carries the same MAC and IP on the network, so L2
 * sees the router like any other port; `cidr` is the subnet's, kept here so flows
 * need no join.
 */
export const routerPortSchema = z
  .object({
    portId: uuidField,
    networkId: uuidField,
    subnetId: uuidField,
    macAddress: macField,
    ipAddress: ipField,
    cidr: cidrField,
  })
  .strict();

export const staticRouteSchema = z.object({ destination: cidrField, nexthop: ipField }).strict();

export const externalGatewaySchema = z
  .object({
    /** An external network (router:external). */
    networkId: uuidField,
    /** The router's port on it (device owner network:router_gateway). */
    portId: uuidField,
    enableSnat: z.boolean().default(true),
    fixedIps: z.array(fixedIpSchema).default([]),
    /**
     * The gateway chassis chosen for this gateway by df-api (ids, in order of
     * preference): the first is the active one while it lives, where centralized
     * NAT translates for the router; the others take over in this order when the
     * active one dies (activeGatewayChassis, docs/ha.md). Empty: no gateway chassis was
     * alive when the gateway was set (docs/nat.md).
     */
    chassisIds: z.array(uuidField).default([]),
    /**
     * Pre-emption: true, the first live chassis of `chassisIds` is always the active
     * one (a preferred chassis that comes back takes the gateway back); false (the
     * default), the live chassis that took the gateway over keeps it (docs/ha.md).
     */
    preempt: z.boolean().default(false),
  })
  .strict();

export const logicalRouterSchema = z
  .object({
    ...baseFields,
    key: uniqueKeyField,
    adminStateUp: z.boolean().default(true),
    ports: z.array(routerPortSchema).default([]),
    routes: z.array(staticRouteSchema).default([]),
    externalGateway: externalGatewaySchema.nullable().default(null),
    /** Zones the router should be in (Neutron's availability_zone_hints; it routes wherever its networks' ports are). */
    availabilityZoneHints: z.array(z.string().min(1).max(255)).default([]),
  })
  .strict()
  .superRefine((r, ctx) => {
    const nets: { net: IpNetwork; i: number }[] = [];
    const portIds = new Map<string, number>();
    r.ports.forEach((p, i) => {
      const prev = portIds.get(p.portId);
      if (prev !== undefined) issue(ctx, ['ports', i, 'portId'], `port ${p.portId} is attached twice (also ports[${prev}])`);
      portIds.set(p.portId, i);
      const net = IpNetwork.parse(p.cidr);
      if (!net.contains(parseIp(p.ipAddress))) issue(ctx, ['ports', i, 'ipAddress'], `${p.ipAddress} is outside ${p.cidr}`);
      for (const q of nets) {
        if (q.net.overlaps(net)) issue(ctx, ['ports', i, 'cidr'], `${p.cidr} overlaps ${q.net.toString()} of ports[${q.i}]`);
      }
      nets.push({ net, i });
    });
    const routes = new Set<string>();
    r.routes.forEach((rt, i) => {
      if (IpNetwork.parse(rt.destination).family !== parseIp(rt.nexthop).family) {
        issue(ctx, ['routes', i, 'nexthop'], `${rt.nexthop} is not of the same IP version as ${rt.destination}`);
      }
      const k = `${rt.destination} via ${rt.nexthop}`;
      if (routes.has(k)) issue(ctx, ['routes', i], `route ${k} is listed twice`);
      routes.add(k);
    });
    if (r.externalGateway && portIds.has(r.externalGateway.portId)) {
      issue(ctx, ['externalGateway', 'portId'], `port ${r.externalGateway.portId} is also an interface of the router`);
    }
  });
