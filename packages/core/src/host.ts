// @dragonflow/core/host — what hosts apps: the controller daemon, the testing
// harness and the benchmarks. Apps use the main entry ('@dragonflow/core') only.
import 'reflect-metadata';
// ---- loading and validating apps ----
export { validateApps, type AppCandidate, type LoadedApp } from './app/validate.js';
export { findPackageDir, loadApps, resolveAppEntry, type AppConfigEntry, type LoadAppsOptions } from './app/loader.js';
export { PIPELINE } from './app/tokens.js';
export { PUNT_METER_LOCAL_ID, PUNT_METER_OWNER, PUNT_OWNER_PREFIX, type PuntMeterHook } from './app/punt.js';
// ---- the pipeline allocator and the cookie layout ----
export { CORE_APP, CORE_ONLY_STAGES } from './pipeline/stages.js';
export { ZoneTable, allocateSharedZones } from './pipeline/zones.js';
export type { AllocatedTable } from './pipeline/tables.js';
export { allocatePipeline, CORE_TABLES, MAX_TABLE_ID, PipelineMap, type AllocatedApp, type StageRange, type PipelineJson, type PipelineRequest } from './pipeline/allocator.js';
export {
  COOKIE_APP_MASK,
  COOKIE_KIND_MASK,
  COOKIE_KIND_SHIFT,
  COOKIE_SLOT_MASK,
  COOKIE_SLOT_SHIFT,
  COOKIE_TAG_MASK,
  CORE_SLOT,
  MAX_APP_SLOTS,
  OWNER_KINDS,
  cookieKind,
  cookieKindName,
  cookieSlot,
  cookieTag,
  makeCookie,
  ownerHash,
  ownerKindOf,
} from './pipeline/registers.js';
// ---- the reconciler ----
export { effectiveFlags, isEphemeral } from './reconciler/flow.js';
export { actionsKey, flowIdentity, instructionsKey, matchFields, matchKey } from './reconciler/keys.js';
export { switchMeterId } from './reconciler/meters.js';
export {
  Reconciler,
  switchGroupId,
  type ExpiredFlow,
  type FlushStats,
  type OwnerFailure,
  type OwnerFailureEvent,
  type OwnerId,
  type ReconcilerError,
  type ReconcilerOptions,
} from './reconciler/reconciler.js';
export type { BatchError, BatchOutcome, EncodedRequest, RoleAnswer, SwitchAsyncMessage, SwitchChannel, SwitchRequest } from './reconciler/switch.js';
export { decodeEncoded, decodeFlow, requestMessage } from './reconciler/wire.js';
// ---- the app runtime and its inputs ----
export { ControllerRuntime, type RuntimeOptions } from './runtime/runtime.js';
export { AppHost } from './runtime/app-host.js';
export { CoreFlows, PIPELINE_OWNER, coreAppDescriptor } from './runtime/core-app.js';
export type { PortBindingInput } from './runtime/events.js';
export type { TopologyChange, TopologySource, TopologyUpdate } from './runtime/topology.js';
export { LocalCacheTopology, startChassisRuntime, type ChassisRuntime, type ChassisRuntimeOptions } from './runtime/local-cache-topology.js';
export { CoreMetrics } from './observe/metrics.js';
export { silentLogger } from './observe/logger.js';
// ---- the OpenFlow connection (listen/connect, handshake, keepalive, requests, errors) ----
export { OfConnection, type AsyncSwitchMessage, type BatchMessageError, type ConnectionState, type OfConnectionOptions, type OutgoingMessage, type SwitchErrorEvent } from './openflow/connection.js';
export { OfListener, connectSwitch, type OfListenerOptions, type SwitchConnectionEvent } from './openflow/listener.js';
export { OfConnectionError, OfSwitchError, type OfConnectionErrorCode } from './openflow/errors.js';
export { switchChannel } from './openflow/channel.js';
