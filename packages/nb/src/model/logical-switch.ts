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

/**
 * The first tunnel key of the HA fallback band: a stranded chassis tunnels a punt
 * to the fallback chassis with key FALLBACK_TUNNEL_BASE + the source port's key
 * (docs/ha.md, "Fallback path"). The band runs up to NAT_REDIRECT_TUNNEL_KEY.
 */
export const FALLBACK_TUNNEL_BASE = 0xf0_0000;

/**
 * Tunnel keys that carry something other than a network, on every tunnel type: the
 * top sixteenth of the 24-bit VNI space (the HA fallback band, then the NAT
 * redirect). A network with one of these keys would be taken for a stranded port's
 * punt or a routed packet by the chassis that receives it, so none may have one.
 */
export const RESERVED_TUNNEL_KEYS = { min: FALLBACK_TUNNEL_BASE, max: NAT_REDIRECT_TUNNEL_KEY } as const;

/** Whether a tunnel key is reserved (RESERVED_TUNNEL_KEYS) and so never a network's segmentation id. */
export function isReservedTunnelKey(key: number): boolean {
  return key >= RESERVED_TUNNEL_KEYS.min && key <= RESERVED_TUNNEL_KEYS.max;
}

/**
 * Inclusive segmentation id range per network type (flat has none). VXLAN and
 * Geneve stop below the reserved band; GRE's 32-bit keys go on above it, the band
 * itself refused by isReservedTunnelKey.
 */
export const SEGMENTATION_RANGES: Readonly<Record<Exclude<NetworkType, 'flat'>, readonly [number, number]>> = {
  vxlan: [1, RESERVED_TUNNEL_KEYS.min - 1],
  geneve: [1, RESERVED_TUNNEL_KEYS.min - 1],
  gre: [1, 0xffffffff],
  vlan: [1, 4094],
};

/** Why a tunnel network may not have this segmentation id, for an error message. */
export function reservedTunnelKeyReason(key: number): string {
  return key === NAT_REDIRECT_TUNNEL_KEY
    ? `${key} is reserved: it is the tunnel key of centralized NAT's redirect to the gateway chassis`
    : `${key} is reserved: tunnel keys ${RESERVED_TUNNEL_KEYS.min}..${RESERVED_TUNNEL_KEYS.max} carry the HA fallback's punts and the NAT redirect, never a network`;
}

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
      else if (isTunnelType(t) && isReservedTunnelKey(ls.segmentationId)) issue(ctx, ['segmentationId'], reservedTunnelKeyReason(ls.segmentationId));
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
