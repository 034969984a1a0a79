export { OvsdbClient, type ConnectOptions, type ConnectionState, type OvsdbClientOptions, type TransactOptions } from './client.js';
export { JsonRpcConnection, rpcError, type ConnectionHandlers, type RequestOptions } from './connection.js';
export { OvsdbErrorCode, OvsdbTransactionError, type OvsdbErrorCodeValue } from './errors.js';
export { JsonFramer, type JsonFramerOptions } from './framing.js';
export { InterfaceMonitor, type InterfaceMonitorOptions } from './interface-monitor.js';
export { bfdForwarding } from './interface-state.js';
export {
  encodeNotification,
  encodeRequest,
  encodeResponse,
  toJsonRpcMessage,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type JsonValue,
} from './jsonrpc.js';
export { Monitor, type MonitorMethod, type MonitorRequests, type MonitorSelect, type MonitorTableRequest } from './monitor.js';
export {
  encodeOperation,
  type Condition,
  type ConditionFunction,
  type Mutation,
  type Mutator,
  type Operation,
  type OperationResult,
  type Row,
  type RowInput,
} from './operations.js';
export {
  columnKind,
  decodeColumn,
  defaultValue,
  parseSchema,
  type AtomicType,
  type BaseType,
  type ColumnKind,
  type ColumnSchema,
  type ColumnType,
  type DatabaseSchema,
  type TableSchema,
} from './schema.js';
export { TableCache, type RowChange } from './table-cache.js';
export { formatRemote, parseRemote, type Remote } from './transport.js';
export {
  atomKey,
  atomsEqual,
  decodeValue,
  encodeValue,
  mapToRecord,
  NamedUuid,
  optional,
  setOf,
  Uuid,
  valuesEqual,
  type Atom,
  type OvsdbMap,
  type OvsdbSet,
  type OvsdbValue,
  type OvsdbValueInput,
} from './values.js';
export { VswitchDb, providerPatchPorts } from './vswitch.js';
export {
  isBound,
  OPEN_VSWITCH_DB,
  type BridgeInfo,
  type BridgeOptions,
  type EnsureResult,
  type FailMode,
  type InterfaceChange,
  type InterfaceState,
  type PatchPairOptions,
  type PortOptions,
  type TunnelPortOptions,
  type TunnelType,
} from './vswitch-types.js';
