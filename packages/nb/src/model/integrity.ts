import { isTunnelType } from './logical-switch.js';
import type { NbObject, NbObjectMap, TableName } from './tables.js';

/** A reference from one object to another: the target must exist while referenced. */
export interface Reference {
  /** The referencing field, e.g. `fixedIps[0].subnetId`. */
  field: string;
  table: TableName;
  id: string;
}

/**
 * A uniqueness claim: at most one object holds a claim at a time. NbApi writes a
 * claim record in the same transaction as the object, created only if absent, so
 * two concurrent writers cannot both get it.
 */
export interface Claim {
  /** Stable claim id, e.g. `ip/<networkId>/10.0.0.5`. */
  claim: string;
  field: string;
  /** Human description for the conflict error. */
  what: string;
}

type RefsOf<T extends TableName> = (o: NbObjectMap[T]) => Reference[];
type ClaimsOf<T extends TableName> = (o: NbObjectMap[T]) => Claim[];

const REFERENCES: { [T in TableName]: RefsOf<T> } = {
  chassis: () => [],
  chassis_liveness: (l) => [{ field: 'id', table: 'chassis', id: l.id }],
  security_group: (g) =>
    g.rules.flatMap((r, i) => (r.remoteGroupId !== null && r.remoteGroupId !== g.id ? [{ field: `rules[${i}].remoteGroupId`, table: 'security_group' as const, id: r.remoteGroupId }] : [])),
  logical_switch: () => [],
  subnet: (s) => [{ field: 'networkId', table: 'logical_switch', id: s.networkId }],
  logical_port: (p) => [
    { field: 'networkId', table: 'logical_switch', id: p.networkId },
    ...p.fixedIps.map((f, i) => ({ field: `fixedIps[${i}].subnetId`, table: 'subnet' as const, id: f.subnetId })),
    ...p.securityGroupIds.map((g, i) => ({ field: `securityGroupIds[${i}]`, table: 'security_group' as const, id: g })),
    ...(p.chassisId !== null ? [{ field: 'chassisId', table: 'chassis' as const, id: p.chassisId }] : []),
  ],
  logical_router: (r) => [
    ...r.ports.flatMap((p, i) => [
      { field: `ports[${i}].portId`, table: 'logical_port' as const, id: p.portId },
      { field: `ports[${i}].networkId`, table: 'logical_switch' as const, id: p.networkId },
      { field: `ports[${i}].subnetId`, table: 'subnet' as const, id: p.subnetId },
    ]),
    ...(r.externalGateway
      ? [
          { field: 'externalGateway.networkId', table: 'logical_switch' as const, id: r.externalGateway.networkId },
          { field: 'externalGateway.portId', table: 'logical_port' as const, id: r.externalGateway.portId },
          ...r.externalGateway.fixedIps.map((f, i) => ({ field: `externalGateway.fixedIps[${i}].subnetId`, table: 'subnet' as const, id: f.subnetId })),
        ]
      : []),
  ],
  floating_ip: (f) => [
    { field: 'floatingNetworkId', table: 'logical_switch', id: f.floatingNetworkId },
    ...(f.floatingPortId !== null ? [{ field: 'floatingPortId', table: 'logical_port' as const, id: f.floatingPortId }] : []),
    ...(f.portId !== null ? [{ field: 'portId', table: 'logical_port' as const, id: f.portId }] : []),
    ...(f.routerId !== null ? [{ field: 'routerId', table: 'logical_router' as const, id: f.routerId }] : []),
  ],
};

const CLAIMS: { [T in TableName]: ClaimsOf<T> } = {
  chassis: (c) => [{ claim: `chassis-name/${c.name}`, field: 'name', what: `chassis name ${c.name}` }],
  chassis_liveness: () => [],
  security_group: () => [],
  logical_switch: (ls) => {
    if (ls.networkType === 'flat') {
      return [{ claim: `segment/flat/${ls.physicalNetwork ?? ''}`, field: 'physicalNetwork', what: `flat physical network ${ls.physicalNetwork}` }];
    }
    const seg = ls.segmentationId ?? ls.key;
    const physnet = isTunnelType(ls.networkType) ? '' : (ls.physicalNetwork ?? '');
    return [{ claim: `segment/${ls.networkType}/${physnet}/${seg}`, field: 'segmentationId', what: `${ls.networkType} segment ${physnet ? physnet + ':' : ''}${seg}` }];
  },
  subnet: () => [],
  logical_port: (p) => [
    { claim: `mac/${p.networkId}/${p.macAddress}`, field: 'macAddress', what: `MAC address ${p.macAddress} on network ${p.networkId}` },
    ...p.fixedIps.map((f, i) => ({ claim: `ip/${p.networkId}/${f.ipAddress}`, field: `fixedIps[${i}].ipAddress`, what: `IP address ${f.ipAddress} on network ${p.networkId}` })),
  ],
  logical_router: () => [],
  floating_ip: (f) => [
    { claim: `fip/${f.floatingNetworkId}/${f.floatingIpAddress}`, field: 'floatingIpAddress', what: `floating IP ${f.floatingIpAddress}` },
    ...(f.portId !== null && f.fixedIpAddress !== null
      ? [{ claim: `fip-assoc/${f.portId}/${f.fixedIpAddress}`, field: 'fixedIpAddress', what: `fixed IP ${f.fixedIpAddress} of port ${f.portId} (already has a floating IP)` }]
      : []),
  ],
};

/** Fields that cannot change after creation (besides id and key). */
export const IMMUTABLE_FIELDS: { readonly [T in TableName]: readonly (keyof NbObjectMap[T] & string)[] } = {
  chassis: ['name'],
  chassis_liveness: [],
  security_group: [],
  logical_switch: [],
  subnet: ['networkId', 'cidr', 'ipVersion'],
  logical_port: ['networkId'],
  logical_router: [],
  floating_ip: ['floatingNetworkId', 'floatingIpAddress'],
};

export function referencesOf<T extends TableName>(table: T, obj: NbObject<T>): Reference[] {
  return (REFERENCES[table] as RefsOf<T>)(obj);
}

export function claimsOf<T extends TableName>(table: T, obj: NbObject<T>): Claim[] {
  return (CLAIMS[table] as ClaimsOf<T>)(obj);
}

/** Tables that can reference `target` (for finding who still uses an object). */
export const REFERRING_TABLES: Readonly<Record<TableName, readonly TableName[]>> = {
  chassis: ['chassis_liveness', 'logical_port'],
  chassis_liveness: [],
  security_group: ['security_group', 'logical_port'],
  logical_switch: ['subnet', 'logical_port', 'logical_router', 'floating_ip'],
  subnet: ['logical_port', 'logical_router'],
  logical_port: ['logical_router', 'floating_ip'],
  logical_router: ['floating_ip'],
  floating_ip: [],
};
