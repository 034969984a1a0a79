import type { NbObjectMap, TableName } from './tables.js';

/**
 * Secondary indexes kept by every in-memory view of the topology (NbApi's mirror and
 * a controller's local cache). An index maps a value to the ids of the objects of one
 * table that have it; an object may have several values (e.g. one per fixed IP).
 */
type IndexFns<T extends TableName> = Record<string, (o: NbObjectMap[T]) => readonly string[]>;

function one(v: string | null): readonly string[] {
  return v === null || v === '' ? [] : [v];
}

export const NB_INDEXES = {
  chassis: {
    name: (c) => [c.name],
  },
  chassis_liveness: {},
  security_group: {
    key: (g) => [String(g.key)],
    project: (g) => [g.projectId],
    /** Groups whose rules name this group as remote. */
    remoteGroup: (g) => [...new Set(g.rules.flatMap((r) => one(r.remoteGroupId)))],
  },
  logical_switch: {
    key: (ls) => [String(ls.key)],
    project: (ls) => [ls.projectId],
  },
  subnet: {
    network: (s) => [s.networkId],
    project: (s) => [s.projectId],
  },
  logical_port: {
    key: (p) => [String(p.key)],
    network: (p) => [p.networkId],
    chassis: (p) => one(p.chassisId),
    deviceId: (p) => one(p.deviceId),
    deviceOwner: (p) => one(p.deviceOwner),
    subnet: (p) => [...new Set(p.fixedIps.map((f) => f.subnetId))],
    securityGroup: (p) => p.securityGroupIds,
    /** `<networkId>/<ip>` for each fixed IP. */
    ip: (p) => p.fixedIps.map((f) => `${p.networkId}/${f.ipAddress}`),
    /** `<networkId>/<mac>`. */
    mac: (p) => [`${p.networkId}/${p.macAddress}`],
    project: (p) => [p.projectId],
  },
  logical_router: {
    key: (r) => [String(r.key)],
    /** Networks the router has an interface or its gateway on. */
    network: (r) => [...new Set([...r.ports.map((p) => p.networkId), ...one(r.externalGateway?.networkId ?? null)])],
    port: (r) => [...r.ports.map((p) => p.portId), ...one(r.externalGateway?.portId ?? null)],
    project: (r) => [r.projectId],
  },
  floating_ip: {
    port: (f) => one(f.portId),
    router: (f) => one(f.routerId),
    floatingNetwork: (f) => [f.floatingNetworkId],
    /** `<floatingNetworkId>/<ip>`. */
    address: (f) => [`${f.floatingNetworkId}/${f.floatingIpAddress}`],
    project: (f) => [f.projectId],
  },
} as const satisfies { [T in TableName]: IndexFns<T> };

/** Names of the indexes of table T. */
export type IndexName<T extends TableName> = keyof (typeof NB_INDEXES)[T] & string;

export function indexFns<T extends TableName>(table: T): IndexFns<T> {
  return NB_INDEXES[table] as unknown as IndexFns<T>;
}
