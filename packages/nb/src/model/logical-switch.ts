import { z } from 'zod';
import { baseFields, issue } from './base.js';
import { projectIdField, timestampField, uniqueKeyField, uuidField } from './fields.js';

export const NETWORK_TYPES = ['vxlan', 'geneve', 'gre', 'vlan', 'flat'] as const;
export type NetworkType = (typeof NETWORK_TYPES)[number];

/**
 * The tunnel key no network may have: centralized NAT carries packets already
 * routed towards the outside to the router's gateway chassis over the tunnel with
 * this key (docs/nat.md, "Centralized redirect"), so it must never mean a network.
 */
export const NAT_REDIRECT_TUNNEL_KEY = 0xffffff;

/** Inclusive segmentation id range per network type (flat has none); NAT_REDIRECT_TUNNEL_KEY is never one. */
export const SEGMENTATION_RANGES: Readonly<Record<Exclude<NetworkType, 'flat'>, readonly [number, number]>> = {
  vxlan: [1, NAT_REDIRECT_TUNNEL_KEY - 1],
  geneve: [1, NAT_REDIRECT_TUNNEL_KEY - 1],
  gre: [1, 0xffffffff],
  vlan: [1, 4094],
};

export function isTunnelType(t: NetworkType): t is 'vxlan' | 'geneve' | 'gre' {
  return t === 'vxlan' || t === 'geneve' || t === 'gre';
}

export const RBAC_ACTIONS = ['access_as_shared', 'access_as_external'] as const;
export type RbacAction = (typeof RBAC_ACTIONS)[number];

/**
 * Neutron's RBAC policy on a network: `targetProject` ('*' for every project) may use
 * the network (access_as_shared: attach ports) or use it as an external network
 * (access_as_external: router gateways, floating IPs). Kept on the network it grants.
 */
export const rbacPolicySchema = z
  .object({
    id: uuidField,
    /** The project that made the grant. */
    projectId: projectIdField,
    action: z.enum(RBAC_ACTIONS),
    targetProject: z.union([z.literal('*'), projectIdField.min(1, 'must not be empty')]),
    createdAt: timestampField.optional(),
    updatedAt: timestampField.optional(),
  })
  .strict();

/**
 * A network (Neutron "network"). `key` is the small integer the pipeline puts in
 * the metadata register. For tunnel types a null `segmentationId` means "use the
 * key as the VNI"; vlan needs an id and a physical network, flat a physical network.
 */
export const logicalSwitchSchema = z
  .object({
    ...baseFields,
    key: uniqueKeyField,
    networkType: z.enum(NETWORK_TYPES).default('vxlan'),
    segmentationId: z.number().int('must be an integer').nullable().default(null),
    physicalNetwork: z.string().min(1, 'must not be empty').max(64, 'must be at most 64 characters').nullable().default(null),
    mtu: z.number().int('must be an integer').min(68, 'must be at least 68').max(9216, 'must be at most 9216').default(1450),
    /** Neutron router:external — usable as a router gateway and for floating IPs. */
    external: z.boolean().default(false),
    shared: z.boolean().default(false),
    adminStateUp: z.boolean().default(true),
    /** Default port_security_enabled of new ports on this network. */
    portSecurityEnabled: z.boolean().default(true),
    /**
     * Who else may use the network. `shared` is true exactly when an access_as_shared
     * grant to '*' exists, `external` when any access_as_external grant does (networks
     * stored before grants existed have none: their flags alone say it).
     */
    rbacPolicies: z.array(rbacPolicySchema).default([]),
    /** Zones the network should be in (Neutron's availability_zone_hints; where it is follows from its ports). */
    availabilityZoneHints: z.array(z.string().min(1).max(255)).default([]),
    /** Neutron's dns_domain (dns-integration): stored for DNS services, no DNS is served. */
    dnsDomain: z.string().max(255).default(''),
  })
  .strict()
  .superRefine((ls, ctx) => {
    const t = ls.networkType;
    if (t === 'flat') {
      if (ls.segmentationId !== null) issue(ctx, ['segmentationId'], 'must be empty for a flat network');
    } else if (ls.segmentationId !== null) {
      const [lo, hi] = SEGMENTATION_RANGES[t];
      if (ls.segmentationId < lo || ls.segmentationId > hi) issue(ctx, ['segmentationId'], `must be ${lo}..${hi} for a ${t} network`);
      else if (ls.segmentationId === NAT_REDIRECT_TUNNEL_KEY) issue(ctx, ['segmentationId'], `${NAT_REDIRECT_TUNNEL_KEY} is reserved (the NAT redirect's tunnel key)`);
    } else if (t === 'vlan') {
      issue(ctx, ['segmentationId'], 'is required for a vlan network (1..4094)');
    }
    const grants = new Set<string>();
    ls.rbacPolicies.forEach((p, i) => {
      const k = `${p.action} ${p.targetProject}`;
      if (grants.has(k)) issue(ctx, ['rbacPolicies', i], `grants ${k} twice`);
      grants.add(k);
    });
    if (t === 'vlan' || t === 'flat') {
      if (ls.physicalNetwork === null) issue(ctx, ['physicalNetwork'], `is required for a ${t} network`);
    } else if (ls.physicalNetwork !== null) {
      issue(ctx, ['physicalNetwork'], `must be empty for a ${t} (tunnelled) network`);
    }
  });
