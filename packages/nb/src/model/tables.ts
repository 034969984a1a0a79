import type { z } from 'zod';
import type { Versioned } from './base.js';
import { chassisSchema } from './chassis.js';
import { floatingIpSchema } from './floating-ip.js';
import { chassisLivenessSchema } from './liveness.js';
import { logicalPortSchema } from './logical-port.js';
import { logicalRouterSchema } from './logical-router.js';
import { logicalSwitchSchema } from './logical-switch.js';
import { securityGroupSchema } from './security-group.js';
import { subnetSchema } from './subnet.js';

export type Chassis = z.output<typeof chassisSchema> & Versioned;
export type ChassisLiveness = z.output<typeof chassisLivenessSchema> & Versioned;
export type LogicalSwitch = z.output<typeof logicalSwitchSchema> & Versioned;
export type Subnet = z.output<typeof subnetSchema> & Versioned;
export type LogicalPort = z.output<typeof logicalPortSchema> & Versioned;
export type LogicalRouter = z.output<typeof logicalRouterSchema> & Versioned;
export type FloatingIp = z.output<typeof floatingIpSchema> & Versioned;
export type SecurityGroup = z.output<typeof securityGroupSchema> & Versioned;
export type SecurityGroupRule = SecurityGroup['rules'][number];
export type RouterPort = LogicalRouter['ports'][number];
export type FixedIp = LogicalPort['fixedIps'][number];
export type RbacPolicy = LogicalSwitch['rbacPolicies'][number];

/** Table name → object type. Table names are the ones `dfctl db ls TABLE` takes. */
export interface NbObjectMap {
  chassis: Chassis;
  chassis_liveness: ChassisLiveness;
  logical_switch: LogicalSwitch;
  subnet: Subnet;
  logical_port: LogicalPort;
  logical_router: LogicalRouter;
  floating_ip: FloatingIp;
  security_group: SecurityGroup;
}
export type TableName = keyof NbObjectMap;
export type NbObject<T extends TableName = TableName> = NbObjectMap[T];

export const NB_SCHEMAS = {
  chassis: chassisSchema,
  chassis_liveness: chassisLivenessSchema,
  logical_switch: logicalSwitchSchema,
  subnet: subnetSchema,
  logical_port: logicalPortSchema,
  logical_router: logicalRouterSchema,
  floating_ip: floatingIpSchema,
  security_group: securityGroupSchema,
} as const;

type Schema<T extends TableName> = (typeof NB_SCHEMAS)[T];

/**
 * What a caller gives to create an object: the schema's input, with `id` optional
 * (a random UUID is generated) and no `key` or `version` (the DB allocates them).
 */
export type NbCreateInput<T extends TableName> = Omit<z.input<Schema<T>>, 'id' | 'key'> & { id?: string };

/**
 * Tables in dependency order: an object only references objects of tables listed
 * before it (security groups may reference themselves). Changes of one commit are
 * delivered in this order for creates and updates, in reverse for deletes.
 */
export const TABLES: readonly TableName[] = [
  'chassis',
  'chassis_liveness',
  'security_group',
  'logical_switch',
  'subnet',
  'logical_port',
  'logical_router',
  'floating_ip',
];

export const TABLE_RANK: Readonly<Record<string, number>> = Object.fromEntries(TABLES.map((t, i) => [t, i]));

export function isTableName(t: string): t is TableName {
  return Object.prototype.hasOwnProperty.call(NB_SCHEMAS, t);
}

/** Tables whose objects carry a unique small integer `key`, allocated by the DB driver. */
export const KEYED_TABLES = ['logical_switch', 'logical_port', 'logical_router', 'security_group'] as const satisfies readonly TableName[];
export type KeyedTable = (typeof KEYED_TABLES)[number];

export function isKeyedTable(t: TableName): t is KeyedTable {
  return (KEYED_TABLES as readonly string[]).includes(t);
}

/** Internal tables NbApi keeps beside the model (never shown as model objects). */
export const CLAIM_TABLE = '_claim';
export const GUARD_TABLE = '_guard';
