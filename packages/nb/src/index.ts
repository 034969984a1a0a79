// Public surface of @dragonflow/nb. Everything not exported here is internal.

export { NbErrorCode, commitConflict, conflictDetails, type ConflictDetail } from './errors.js';

// Model
export { NB_SCHEMA_VERSION, type Versioned } from './model/base.js';
export { MAX_UNIQUE_KEY } from './model/fields.js';
export { TUNNEL_TYPES, chassisSchema, type TunnelType } from './model/chassis.js';
export { chassisLivenessSchema } from './model/liveness.js';
export { activeGatewayChassis, activeGatewayOf, claimEpoch, highestClaimEpoch, type GatewayPlacement, type LivenessOf } from './model/gateway.js';
export { FALLBACK_TUNNEL_BASE, NAT_REDIRECT_TUNNEL_KEY, NETWORK_TYPES, RBAC_ACTIONS, RESERVED_TUNNEL_KEYS, SEGMENTATION_RANGES, isReservedTunnelKey, isTunnelType, reservedTunnelKeyReason, logicalSwitchSchema, rbacPolicySchema, type NetworkType, type RbacAction } from './model/logical-switch.js';
export { IPV6_MODES, allocationPoolSchema, hostRouteSchema, isNetworkOrBroadcast, subnetSchema } from './model/subnet.js';
export { eui64Address, isAutoAddressSubnet, isDhcpv6Stateful, raFlagsOf, type RaFlags } from './model/ipv6.js';
export { DeviceOwner, PORT_STATUSES, addressPairSchema, extraDhcpOptSchema, fixedIpSchema, logicalPortSchema, type PortStatus } from './model/logical-port.js';
export { externalGatewaySchema, logicalRouterSchema, routerPortSchema, staticRouteSchema } from './model/logical-router.js';
export { FLOATING_IP_STATUSES, floatingIpSchema } from './model/floating-ip.js';
export { PROTOCOL_NUMBERS, protocolNumber, ruleIdentity, securityGroupRuleSchema, securityGroupSchema } from './model/security-group.js';
export {
  CLAIM_TABLE,
  GUARD_TABLE,
  KEYED_TABLES,
  NB_SCHEMAS,
  TABLES,
  TABLE_RANK,
  isKeyedTable,
  isTableName,
  type Chassis,
  type ChassisLiveness,
  type FixedIp,
  type RbacPolicy,
  type FloatingIp,
  type KeyedTable,
  type LogicalPort,
  type LogicalRouter,
  type LogicalSwitch,
  type NbCreateInput,
  type NbObject,
  type NbObjectMap,
  type RouterPort,
  type SecurityGroup,
  type SecurityGroupRule,
  type Subnet,
  type TableName,
} from './model/tables.js';
export { IMMUTABLE_FIELDS, REFERRING_TABLES, claimsOf, referencesOf, type Claim, type Reference } from './model/integrity.js';
export { NB_INDEXES, type IndexName } from './model/indexes.js';
export { fieldName, parseObject } from './model/validate.js';
export { decodeObject, encodeObject, stableStringify } from './model/codec.js';
export { chassisIdFromName, newId, uuidV5 } from './model/ids.js';
export * from './model/accessors.js';

// DB driver contract and the memory driver
export type {
  ChangeBatch,
  ChangeEvent,
  ChangeFeed,
  CommitResult,
  ConnectionState,
  Lease,
  NbDriver,
  Revision,
  Snapshot,
  StoredRecord,
  TxnOp,
  WatchOptions,
} from './db/driver.js';
export { PollingFeed, type BatchSource, type PollingFeedOptions } from './db/feed.js';
export { assertDistinctKeys, closedError, compactedError, keysExhausted, leaseExpired } from './db/errors.js';
export { MemoryStore, type MemoryStoreOptions } from './db/memory/store.js';
export { MemoryDriver } from './db/memory/driver.js';
export { MemoryServer, type MemoryServerOptions } from './db/memory/server.js';
export { type NbGrant, type NbRole } from './db/memory/auth.js';
export { MemoryClientDriver, type MemoryClientOptions } from './db/memory/client.js';
export { parseEndpoint } from './db/memory/protocol.js';

// NbApi
export { NbApi, type NbApiOptions, type TransactionOptions } from './api/nb-api.js';
export { NbTransaction } from './api/transaction.js';
export { DriverReader, type NbReader } from './api/reader.js';

// Views of the topology
export { TopologyStore, type AppliedChange, type Referrer } from './topology/store.js';
export { FeedFollower, type FollowerPhase, type FollowerState } from './topology/follower.js';
export { TopologyMirror } from './topology/mirror.js';

// A controller's local cache (selective topology) and its events
export { LocalCache, type LocalCacheOptions } from './cache/local-cache.js';
export type { CachePhase, CacheState, ChangeCause, NbChange, NbCacheUpdate } from './cache/events.js';

// Chassis registry with lease-based liveness
export { ChassisRegistration, ChassisRegistry, type ChassisInfo, type ChassisRegistryOptions, type LivenessState } from './chassis/registry.js';
