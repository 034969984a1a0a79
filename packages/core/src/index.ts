// ---- pipeline, reconciler and app runtime (the surface apps use) ----
import 'reflect-metadata';
export { inject, injectable } from 'tsyringe';
export { CORE_API_VERSION, defineApp, isAppDescriptor, type AppDescriptor, type AppEventName, type AppHandlers, type AppProvider, type AppStage, type OptionsSchema } from './app/descriptor.js';
export { AppFlows, AppTables, type AppContext, type AppTopology, type Owner, type PacketOutSpec } from './app/context.js';
export { puntLimitsOption } from './app/punt-options.js';
export { DEFAULT_PUNT_LIMITS, PUNT_OWNER_PREFIX, PUNT_SUPPRESS_PRIORITY, type AppPunt, type PuntLimits, type PuntMeterHook, type PuntMeterSpec, type PuntSpec, type PuntStats, type PuntTable } from './app/punt.js';
export { APP_CONTEXT, APP_FLOWS, APP_OPTIONS, APP_TABLES, CLOCK, LOGGER, PIPELINE, TOPOLOGY } from './app/tokens.js';
export { validateApps, type AppCandidate, type LoadedApp } from './app/validate.js';
export { findPackageDir, loadApps, resolveAppEntry, type AppConfigEntry, type LoadAppsOptions } from './app/loader.js';
export { STAGES, CORE_APP, CORE_ONLY_STAGES, isStage, type Stage } from './pipeline/stages.js';
export type { AllocatedTable, MissBehaviour, TableSpec } from './pipeline/tables.js';
export { allocatePipeline, CORE_TABLES, MAX_TABLE_ID, PipelineMap, type AllocatedApp, type StageRange, type PipelineJson, type PipelineRequest } from './pipeline/allocator.js';
export {
  COOKIE_APP_MASK,
  COOKIE_KIND_MASK,
  COOKIE_KIND_SHIFT,
  COOKIE_SLOT_MASK,
  COOKIE_SLOT_SHIFT,
  COOKIE_TAG_MASK,
  CORE_SLOT,
  FIXED_REGISTERS,
  FLAG_FROM_PROVIDER,
  FLAG_FROM_TUNNEL,
  FLAG_ROUTED,
  MAX_APP_SLOTS,
  METADATA_NETWORK_MASK,
  REG_DST_PORT,
  REG_FLAGS,
  REG_ROUTER,
  REG_SRC_PORT,
  SCRATCH_REGISTERS,
  OWNER_KINDS,
  cookieKind,
  cookieKindName,
  cookieSlot,
  cookieTag,
  makeCookie,
  ownerHash,
  ownerKindOf,
  type OwnerKind,
  type ScratchRegister,
} from './pipeline/registers.js';
export { flow, effectiveFlags, isEphemeral, type DesiredFlow, type FlowSpec, type TableRef } from './reconciler/flow.js';
export { actionsKey, flowIdentity, instructionsKey, matchFields, matchKey } from './reconciler/keys.js';
export {
  Reconciler,
  switchGroupId,
  type DesiredGroup,
  type ExpiredFlow,
  type FlushStats,
  type OwnerFailure,
  type OwnerFailureEvent,
  type OwnerId,
  type ReconcilerError,
  type ReconcilerOptions,
} from './reconciler/reconciler.js';
export type { BatchError, BatchOutcome, EncodedRequest, SwitchAsyncMessage, SwitchChannel, SwitchRequest } from './reconciler/switch.js';
export { group, type FailoverBucket } from './reconciler/groups.js';
export { meter, switchMeterId, type DesiredMeter, type MeterRate } from './reconciler/meters.js';
export { decodeEncoded, decodeFlow, requestMessage } from './reconciler/wire.js';
export { ControllerRuntime, type RuntimeOptions } from './runtime/runtime.js';
export { AppHost } from './runtime/app-host.js';
export { CoreFlows, PIPELINE_OWNER, coreAppDescriptor } from './runtime/core-app.js';
export type { AppAdoptableFlows, AppFlowRemoved, AppInstalledFlow, AppPacketIn, InfraPorts, InfraPortsEvent, InfraTunnelType, LocalBinding, LocalPortEvent, ModelChange, PortBindingInput, RemotePortEvent, SwitchEvent } from './runtime/events.js';
export type { TopologyChange, TopologyReader, TopologySource, TopologyUpdate } from './runtime/topology.js';
export { LocalCacheTopology } from './runtime/local-cache-topology.js';
export { startChassisRuntime, type ChassisRuntime, type ChassisRuntimeOptions } from './runtime/local-cache-topology.js';
export { CoreMetrics } from './observe/metrics.js';
export { silentLogger, type Logger } from './observe/logger.js';
// ---- OpenFlow connection (listen/connect, handshake, keepalive, requests, errors) ----
export { OfConnection, type AsyncSwitchMessage, type BatchMessageError, type ConnectionState, type OfConnectionOptions, type OutgoingMessage, type SwitchErrorEvent } from './openflow/connection.js';
export { OfListener, connectSwitch, type OfListenerOptions, type SwitchConnectionEvent } from './openflow/listener.js';
export { OfConnectionError, OfSwitchError, type OfConnectionErrorCode } from './openflow/errors.js';
export { switchChannel } from './openflow/channel.js';
// What app authors need from the codec, the packet library and the model, through this one door.
export {
  act,
  inst,
  match,
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
export type { Chassis, FloatingIp, LogicalPort, LogicalRouter, LogicalSwitch, NbObject, RouterPort, SecurityGroup, Subnet, TableName } from '@dragonflow/nb';
export { DeviceOwner } from '@dragonflow/nb';
