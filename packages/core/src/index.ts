// @dragonflow/core — the app API, and nothing else: what an app package (first- or
// third-party) needs to declare its tables, compute its flows, handle its events
// and answer its punts. What only the controller, the testing package and the
// benchmarks use (runtime, reconciler, OpenFlow connection, cache wiring, cookie
// layout, app loading) is behind '@dragonflow/core/host'.
import 'reflect-metadata';
export { inject, injectable } from 'tsyringe';
// ---- declaring an app ----
export { CORE_API_VERSION, defineApp, isAppDescriptor, type AppDescriptor, type AppEventName, type AppHandlers, type AppProvider, type AppStage, type OptionsSchema } from './app/descriptor.js';
export { AppFlows, AppTables, type AppContext, type AppTopology, type Owner, type PacketOutSpec, type ReplyTarget, type SendOptions } from './app/context.js';
export { APP_CONTEXT, APP_FLOWS, APP_OPTIONS, APP_TABLES, CLOCK, LOGGER, TOPOLOGY } from './app/tokens.js';
export { puntLimitsOption } from './app/punt-options.js';
export { AppZones } from './app/zones.js';
export { arpReplyActions } from './app/responders.js';
export { ZONE_BLOCKS, type ZoneScope } from './pipeline/zones.js';
export { DEFAULT_PUNT_LIMITS, PUNT_SUPPRESS_PRIORITY, type AppPunt, type PuntLimits, type PuntMeterSpec, type PuntSpec, type PuntStats, type PuntTable } from './app/punt.js';
// ---- the pipeline's names: stages, tables, registers, flags ----
export { STAGES, isStage, type Stage } from './pipeline/stages.js';
export type { MissBehaviour, TableSpec } from './pipeline/tables.js';
export {
  FIXED_REGISTERS,
  FLAG_FROM_PROVIDER,
  FLAG_FROM_TUNNEL,
  FLAG_NAT_DONE,
  FLAG_ROUTED,
  METADATA_NETWORK_MASK,
  PUNT_ORIGIN_MARK,
  PUNT_ORIGIN_TABLE_MASK,
  REG_DST_PORT,
  REG_PUNT_ORIGIN,
  REG_FLAGS,
  REG_ROUTER,
  REG_SRC_PORT,
  SCRATCH_REGISTERS,
  type OwnerKind,
  type ScratchRegister,
} from './pipeline/registers.js';
// ---- building flows and groups ----
export { flow, type DesiredFlow, type FlowSpec, type TableRef } from './reconciler/flow.js';
export type { DesiredGroup } from './reconciler/reconciler.js';
export { group, type FailoverBucket } from './reconciler/groups.js';
export { meter, type DesiredMeter, type MeterRate } from './reconciler/meters.js';
// ---- the events apps handle ----
export type { AppAdoptableFlows, AppFlowRemoved, AppInstalledFlow, AppPacketIn, InfraPorts, InfraPortsEvent, InfraTunnelType, LocalBinding, LocalPortEvent, ModelChange, RemotePortEvent, SwitchEvent } from './runtime/events.js';
export type { TopologyReader } from './runtime/topology.js';
export type { Logger } from './observe/logger.js';
// ---- what app authors need from the codec, the packet library, the model and typed addresses ----
export {
  act,
  inst,
  match,
  CtState,
  EthType,
  FlowModFlags,
  IpProto,
  OFPVID_PRESENT,
  OfGroup,
  OfPort,
  PacketInReason,
  FlowRemovedReason,
  type Action,
  type Bucket,
  type Instruction,
  type Match,
  type MatchSpec,
} from '@dragonflow/openflow';
export * as openflow from '@dragonflow/openflow';
export * as packet from '@dragonflow/packet';
export { IpNetwork, Ipv4Address, Ipv6Address, MacAddress } from '@dragonflow/base';
export { activeGatewayChassis, activeGatewayOf, type GatewayPlacement, type LivenessOf } from '@dragonflow/nb';
export { DeviceOwner, FALLBACK_TUNNEL_BASE, NAT_REDIRECT_TUNNEL_KEY, isAutoAddressSubnet, isDhcpv6Stateful, raFlagsOf, type RaFlags } from '@dragonflow/nb';
export type { Chassis, FloatingIp, LogicalPort, LogicalRouter, LogicalSwitch, NbObject, RouterPort, SecurityGroup, Subnet, TableName } from '@dragonflow/nb';
