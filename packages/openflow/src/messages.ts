import type { MacAddress } from '@dragonflow/base';
import type { Action } from './actions.js';
import type { Instruction } from './instructions.js';
import type { Match } from './match.js';

/**
 * Every OpenFlow 1.3 message (plus the Nicira ones we speak) as a plain object,
 * discriminated by `type`. `xid` is the transaction id; encoders take it from the
 * object, the connection assigns it.
 *
 * Closed enumerations (commands, group types, roles) are string literals; open
 * ones a switch may extend (reasons, error codes, flags) are numbers with named
 * constants in consts.ts / errors-table.ts.
 */

export interface Hello {
  readonly type: 'hello';
  readonly xid: number;
  /** Header version (the highest version the sender speaks). Defaults to 0x04. */
  readonly version?: number;
  /** Versions in the hello's version bitmap element, if it has one. */
  readonly versions?: readonly number[];
}

export interface ErrorMsg {
  readonly type: 'error';
  readonly xid: number;
  /** Header version; only differs from 0x04 when refusing a peer (HELLO_FAILED). */
  readonly version?: number;
  /** OFPET_* (0xffff for experimenter errors). */
  readonly errorType: number;
  /** OFPxxC_* code, or the experimenter's error type when errorType is 0xffff. */
  readonly code: number;
  /** Experimenter id when errorType is 0xffff (Open vSwitch uses 0x2320 for NX errors). */
  readonly experimenter?: number;
  /** Usually the first 64+ bytes of the request that failed. */
  readonly data: Uint8Array;
}

export interface EchoRequest {
  readonly type: 'echo_request';
  readonly xid: number;
  readonly data: Uint8Array;
}
export interface EchoReply {
  readonly type: 'echo_reply';
  readonly xid: number;
  readonly data: Uint8Array;
}

/** An experimenter (vendor) message we do not model. */
export interface ExperimenterMsg {
  readonly type: 'experimenter';
  readonly xid: number;
  readonly experimenter: number;
  readonly expType: number;
  readonly data: Uint8Array;
}

export interface FeaturesRequest {
  readonly type: 'features_request';
  readonly xid: number;
}
export interface FeaturesReply {
  readonly type: 'features_reply';
  readonly xid: number;
  readonly datapathId: bigint;
  readonly nBuffers: number;
  readonly nTables: number;
  readonly auxiliaryId: number;
  readonly capabilities: number;
  readonly reserved: number;
}

export interface GetConfigRequest {
  readonly type: 'get_config_request';
  readonly xid: number;
}
export interface GetConfigReply {
  readonly type: 'get_config_reply';
  readonly xid: number;
  readonly flags: number;
  readonly missSendLen: number;
}
export interface SetConfig {
  readonly type: 'set_config';
  readonly xid: number;
  readonly flags: number;
  readonly missSendLen: number;
}

export interface PacketIn {
  readonly type: 'packet_in';
  readonly xid: number;
  readonly bufferId: number;
  readonly totalLen: number;
  /** OFPR_* (see PacketInReason). */
  readonly reason: number;
  readonly tableId: number;
  readonly cookie: bigint;
  /** Pipeline fields: in_port, metadata, tunnel and registers the switch reports. */
  readonly match: Match;
  readonly data: Uint8Array;
}

export interface FlowRemoved {
  readonly type: 'flow_removed';
  readonly xid: number;
  readonly cookie: bigint;
  readonly priority: number;
  /** OFPRR_* (see FlowRemovedReason). */
  readonly reason: number;
  readonly tableId: number;
  readonly durationSec: number;
  readonly durationNsec: number;
  readonly idleTimeout: number;
  readonly hardTimeout: number;
  readonly packetCount: bigint;
  readonly byteCount: bigint;
  readonly match: Match;
}

/** ofp_port. */
export interface PortDesc {
  readonly portNo: number;
  readonly hwAddr: MacAddress;
  readonly name: string;
  /** OFPPC_* bits. */
  readonly config: number;
  /** OFPPS_* bits. */
  readonly state: number;
  readonly curr: number;
  readonly advertised: number;
  readonly supported: number;
  readonly peer: number;
  readonly currSpeed: number;
  readonly maxSpeed: number;
}

export type PortStatusReason = 'add' | 'delete' | 'modify';
export interface PortStatus {
  readonly type: 'port_status';
  readonly xid: number;
  readonly reason: PortStatusReason;
  readonly port: PortDesc;
}

export interface PacketOut {
  readonly type: 'packet_out';
  readonly xid: number;
  /** OFP_NO_BUFFER (0xffffffff) when `data` carries the packet. */
  readonly bufferId: number;
  readonly inPort: number;
  readonly actions: readonly Action[];
  readonly data: Uint8Array;
}

export type FlowModCommand = 'add' | 'modify' | 'modify_strict' | 'delete' | 'delete_strict';
export interface FlowMod {
  readonly type: 'flow_mod';
  readonly xid: number;
  readonly cookie: bigint;
  /** For modify/delete: only flows whose cookie & cookieMask == cookie & cookieMask. */
  readonly cookieMask: bigint;
  readonly tableId: number;
  readonly command: FlowModCommand;
  readonly idleTimeout: number;
  readonly hardTimeout: number;
  readonly priority: number;
  readonly bufferId: number;
  /** For delete: only flows that output to this port (OFPP_ANY = any). */
  readonly outPort: number;
  readonly outGroup: number;
  /** OFPFF_* bits (see FlowModFlags). */
  readonly flags: number;
  readonly match: Match;
  readonly instructions: readonly Instruction[];
}

export type GroupModCommand = 'add' | 'modify' | 'delete';
export type GroupType = 'all' | 'select' | 'indirect' | 'ff';
export interface Bucket {
  readonly weight: number;
  readonly watchPort: number;
  readonly watchGroup: number;
  readonly actions: readonly Action[];
}
export interface GroupMod {
  readonly type: 'group_mod';
  readonly xid: number;
  readonly command: GroupModCommand;
  readonly groupType: GroupType;
  readonly groupId: number;
  readonly buckets: readonly Bucket[];
}

export type MeterModCommand = 'add' | 'modify' | 'delete';
export type MeterBand =
  | { readonly type: 'drop'; readonly rate: number; readonly burstSize: number }
  | { readonly type: 'dscp_remark'; readonly rate: number; readonly burstSize: number; readonly precLevel: number }
  | { readonly type: 'experimenter'; readonly rate: number; readonly burstSize: number; readonly experimenter: number };
export interface MeterMod {
  readonly type: 'meter_mod';
  readonly xid: number;
  readonly command: MeterModCommand;
  /** OFPMF_* bits (see MeterFlags). */
  readonly flags: number;
  readonly meterId: number;
  readonly bands: readonly MeterBand[];
}

export interface BarrierRequest {
  readonly type: 'barrier_request';
  readonly xid: number;
}
export interface BarrierReply {
  readonly type: 'barrier_reply';
  readonly xid: number;
}

export type ControllerRole = 'nochange' | 'equal' | 'master' | 'slave';
export interface RoleRequest {
  readonly type: 'role_request';
  readonly xid: number;
  readonly role: ControllerRole;
  readonly generationId: bigint;
}
export interface RoleReply {
  readonly type: 'role_reply';
  readonly xid: number;
  readonly role: ControllerRole;
  readonly generationId: bigint;
}

/** Async message masks: index 0 applies as master/equal, index 1 as slave. Bit n = reason n. */
export interface AsyncConfig {
  readonly packetInMask: readonly [number, number];
  readonly portStatusMask: readonly [number, number];
  readonly flowRemovedMask: readonly [number, number];
}
export interface GetAsyncRequest {
  readonly type: 'get_async_request';
  readonly xid: number;
}
export interface GetAsyncReply extends AsyncConfig {
  readonly type: 'get_async_reply';
  readonly xid: number;
}
export interface SetAsync extends AsyncConfig {
  readonly type: 'set_async';
  readonly xid: number;
}

// ---------- multipart ----------

export interface FlowStatsRequestBody {
  readonly kind: 'flow';
  readonly tableId: number;
  readonly outPort: number;
  readonly outGroup: number;
  readonly cookie: bigint;
  readonly cookieMask: bigint;
  readonly match: Match;
}
export type MultipartRequestBody =
  | { readonly kind: 'desc' }
  | FlowStatsRequestBody
  | { readonly kind: 'table' }
  | { readonly kind: 'port_stats'; readonly portNo: number }
  | { readonly kind: 'port_desc' }
  | { readonly kind: 'group_desc' }
  /** OFPMP_METER_CONFIG for one meter, or every meter with OFPM_ALL (0xffffffff). */
  | { readonly kind: 'meter_config'; readonly meterId: number }
  | { readonly kind: 'unknown'; readonly mpType: number; readonly data: Uint8Array };

export interface MultipartRequest {
  readonly type: 'multipart_request';
  readonly xid: number;
  /** OFPMPF_REQ_MORE. */
  readonly more: boolean;
  readonly body: MultipartRequestBody;
}

export interface SwitchDesc {
  readonly mfrDesc: string;
  readonly hwDesc: string;
  readonly swDesc: string;
  readonly serialNum: string;
  readonly dpDesc: string;
}

export interface FlowStats {
  readonly tableId: number;
  readonly durationSec: number;
  readonly durationNsec: number;
  readonly priority: number;
  readonly idleTimeout: number;
  readonly hardTimeout: number;
  readonly flags: number;
  readonly cookie: bigint;
  readonly packetCount: bigint;
  readonly byteCount: bigint;
  readonly match: Match;
  readonly instructions: readonly Instruction[];
}

export interface TableStats {
  readonly tableId: number;
  readonly activeCount: number;
  readonly lookupCount: bigint;
  readonly matchedCount: bigint;
}

export interface PortStats {
  readonly portNo: number;
  readonly rxPackets: bigint;
  readonly txPackets: bigint;
  readonly rxBytes: bigint;
  readonly txBytes: bigint;
  readonly rxDropped: bigint;
  readonly txDropped: bigint;
  readonly rxErrors: bigint;
  readonly txErrors: bigint;
  readonly rxFrameErr: bigint;
  readonly rxOverErr: bigint;
  readonly rxCrcErr: bigint;
  readonly collisions: bigint;
  readonly durationSec: number;
  readonly durationNsec: number;
}

export interface GroupDesc {
  readonly groupType: GroupType;
  readonly groupId: number;
  readonly buckets: readonly Bucket[];
}

export interface MeterConfig {
  /** OFPMF_* bits (see MeterFlags). */
  readonly flags: number;
  readonly meterId: number;
  readonly bands: readonly MeterBand[];
}

export type MultipartReplyBody =
  | { readonly kind: 'desc'; readonly desc: SwitchDesc }
  | { readonly kind: 'flow'; readonly flows: readonly FlowStats[] }
  | { readonly kind: 'table'; readonly tables: readonly TableStats[] }
  | { readonly kind: 'port_stats'; readonly ports: readonly PortStats[] }
  | { readonly kind: 'port_desc'; readonly ports: readonly PortDesc[] }
  | { readonly kind: 'group_desc'; readonly groups: readonly GroupDesc[] }
  | { readonly kind: 'meter_config'; readonly meters: readonly MeterConfig[] }
  | { readonly kind: 'unknown'; readonly mpType: number; readonly data: Uint8Array };

export interface MultipartReply {
  readonly type: 'multipart_reply';
  readonly xid: number;
  /** OFPMPF_REPLY_MORE: more parts of this reply follow with the same xid. */
  readonly more: boolean;
  readonly body: MultipartReplyBody;
}

export type MultipartKind = MultipartRequestBody['kind'];

// ---------- Nicira extensions ----------

/** NXT_SET_PACKET_IN_FORMAT: ask for NXT_PACKET_IN2 (format 2) to receive controller() userdata. */
export interface NxSetPacketInFormat {
  readonly type: 'nx_set_packet_in_format';
  readonly xid: number;
  /** PacketInFormat.* */
  readonly format: number;
}

/**
 * NXT_PACKET_IN2: what Open vSwitch sends for packets punted while the controller
 * asked for packet-in format 2. Carries controller(userdata=...) bytes.
 */
export interface NxPacketIn2 {
  readonly type: 'nx_packet_in2';
  readonly xid: number;
  readonly data: Uint8Array;
  /** Present when the packet was truncated. */
  readonly fullLen?: number;
  readonly bufferId?: number;
  readonly tableId: number;
  /** Absent when the switch did not report one (e.g. a packet-out). */
  readonly cookie?: bigint;
  readonly reason: number;
  readonly metadata: Match;
  readonly userdata?: Uint8Array;
  /** Opaque continuation for NXT_RESUME (present for controller(pause)). */
  readonly continuation?: Uint8Array;
}

/** A message type this codec does not model; the body is kept as bytes. */
export interface UnknownMsg {
  readonly type: 'unknown';
  readonly xid: number;
  readonly msgType: number;
  readonly body: Uint8Array;
}

export type OfMessage =
  | Hello
  | ErrorMsg
  | EchoRequest
  | EchoReply
  | ExperimenterMsg
  | FeaturesRequest
  | FeaturesReply
  | GetConfigRequest
  | GetConfigReply
  | SetConfig
  | PacketIn
  | FlowRemoved
  | PortStatus
  | PacketOut
  | FlowMod
  | GroupMod
  | MeterMod
  | MultipartRequest
  | MultipartReply
  | BarrierRequest
  | BarrierReply
  | RoleRequest
  | RoleReply
  | GetAsyncRequest
  | GetAsyncReply
  | SetAsync
  | NxSetPacketInFormat
  | NxPacketIn2
  | UnknownMsg;

export type OfMessageType = OfMessage['type'];
/** The message object of a given type: `MessageOf<'flow_mod'>` is FlowMod. */
export type MessageOf<T extends OfMessageType> = Extract<OfMessage, { type: T }>;
