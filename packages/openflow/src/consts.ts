/** OpenFlow 1.3 wire version. */
export const OFP_VERSION = 0x04;
export const OFP_HEADER_LEN = 8;
/** Nicira / Open vSwitch experimenter id. */
export const NX_VENDOR_ID = 0x00002320;
/** ONF experimenter id. */
export const ONF_VENDOR_ID = 0x4f4e4600;

/** Reserved port numbers (OFPP_*). */
export const OfPort = {
  MAX: 0xffffff00,
  IN_PORT: 0xfffffff8,
  TABLE: 0xfffffff9,
  NORMAL: 0xfffffffa,
  FLOOD: 0xfffffffb,
  ALL: 0xfffffffc,
  CONTROLLER: 0xfffffffd,
  LOCAL: 0xfffffffe,
  ANY: 0xffffffff,
} as const;

/** Reserved group numbers (OFPG_*). */
export const OfGroup = { MAX: 0xffffff00, ALL: 0xfffffffc, ANY: 0xffffffff } as const;
/** OFPTT_ALL: every table (flow-stats, delete). */
export const OFPTT_ALL = 0xff;
/** OFP_NO_BUFFER. */
export const OFP_NO_BUFFER = 0xffffffff;
/** OFPCML_NO_BUFFER: send the whole packet to the controller. */
export const OFPCML_NO_BUFFER = 0xffff;
/** OFPVID_PRESENT: the VLAN-present bit of vlan_vid. */
export const OFPVID_PRESENT = 0x1000;

export const EthType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,
  QINQ: 0x88a8,
  IPV6: 0x86dd,
  MPLS: 0x8847,
  MPLS_MC: 0x8848,
} as const;

export const IpProto = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58, SCTP: 132 } as const;

/** ct_state bits (Open vSwitch). */
export const CtState = {
  NEW: 0x01,
  EST: 0x02,
  REL: 0x04,
  RPL: 0x08,
  INV: 0x10,
  TRK: 0x20,
  SNAT: 0x40,
  DNAT: 0x80,
} as const;

/** Message type numbers (OFPT_*). */
export const MsgType = {
  HELLO: 0,
  ERROR: 1,
  ECHO_REQUEST: 2,
  ECHO_REPLY: 3,
  EXPERIMENTER: 4,
  FEATURES_REQUEST: 5,
  FEATURES_REPLY: 6,
  GET_CONFIG_REQUEST: 7,
  GET_CONFIG_REPLY: 8,
  SET_CONFIG: 9,
  PACKET_IN: 10,
  FLOW_REMOVED: 11,
  PORT_STATUS: 12,
  PACKET_OUT: 13,
  FLOW_MOD: 14,
  GROUP_MOD: 15,
  PORT_MOD: 16,
  TABLE_MOD: 17,
  MULTIPART_REQUEST: 18,
  MULTIPART_REPLY: 19,
  BARRIER_REQUEST: 20,
  BARRIER_REPLY: 21,
  QUEUE_GET_CONFIG_REQUEST: 22,
  QUEUE_GET_CONFIG_REPLY: 23,
  ROLE_REQUEST: 24,
  ROLE_REPLY: 25,
  GET_ASYNC_REQUEST: 26,
  GET_ASYNC_REPLY: 27,
  SET_ASYNC: 28,
  METER_MOD: 29,
} as const;

/** Multipart types (OFPMP_*). */
export const MultipartType = {
  DESC: 0,
  FLOW: 1,
  AGGREGATE: 2,
  TABLE: 3,
  PORT_STATS: 4,
  QUEUE: 5,
  GROUP: 6,
  GROUP_DESC: 7,
  GROUP_FEATURES: 8,
  METER: 9,
  METER_CONFIG: 10,
  METER_FEATURES: 11,
  TABLE_FEATURES: 12,
  PORT_DESC: 13,
  EXPERIMENTER: 0xffff,
} as const;

/** Packet-in reasons (OFPR_*). Open set: switches may send others. */
export const PacketInReason = { NO_MATCH: 0, ACTION: 1, INVALID_TTL: 2, ACTION_SET: 3, GROUP: 4, PACKET_OUT: 5 } as const;
/** Flow-removed reasons (OFPRR_*). */
export const FlowRemovedReason = { IDLE_TIMEOUT: 0, HARD_TIMEOUT: 1, DELETE: 2, GROUP_DELETE: 3, METER_DELETE: 4 } as const;

/** Flow-mod flags (OFPFF_*). */
export const FlowModFlags = { SEND_FLOW_REM: 1, CHECK_OVERLAP: 2, RESET_COUNTS: 4, NO_PKT_COUNTS: 8, NO_BYT_COUNTS: 16 } as const;

/** Switch config flags (OFPC_*). */
export const ConfigFlags = { FRAG_NORMAL: 0, FRAG_DROP: 1, FRAG_REASM: 2, FRAG_MASK: 3 } as const;

/** Port config bits (OFPPC_*) and state bits (OFPPS_*). */
export const PortConfig = { PORT_DOWN: 1, NO_RECV: 4, NO_FWD: 32, NO_PACKET_IN: 64 } as const;
export const PortState = { LINK_DOWN: 1, BLOCKED: 2, LIVE: 4 } as const;

/** Switch capabilities (OFPC_*). */
export const Capabilities = { FLOW_STATS: 1, TABLE_STATS: 2, PORT_STATS: 4, GROUP_STATS: 8, IP_REASM: 32, QUEUE_STATS: 64, PORT_BLOCKED: 256 } as const;

/** Meter flags (OFPMF_*). */
export const MeterFlags = { KBPS: 1, PKTPS: 2, BURST: 4, STATS: 8 } as const;

/** Nicira packet-in formats for NXT_SET_PACKET_IN_FORMAT. */
export const PacketInFormat = { STANDARD: 0, NXT_PACKET_IN: 1, NXT_PACKET_IN2: 2 } as const;

/** Nicira NXT_* message subtypes we speak. */
export const NxtSubtype = { SET_PACKET_IN_FORMAT: 16, SET_CONTROLLER_ID: 20, PACKET_IN2: 30, RESUME: 28 } as const;

/** Names of reserved ports, as ovs-ofctl prints them. */
export function portName(port: number): string {
  switch (port) {
    case OfPort.IN_PORT:
      return 'IN_PORT';
    case OfPort.TABLE:
      return 'TABLE';
    case OfPort.NORMAL:
      return 'NORMAL';
    case OfPort.FLOOD:
      return 'FLOOD';
    case OfPort.ALL:
      return 'ALL';
    case OfPort.CONTROLLER:
      return 'CONTROLLER';
    case OfPort.LOCAL:
      return 'LOCAL';
    case OfPort.ANY:
      return 'ANY';
    default:
      return String(port);
  }
}

export function packetInReasonName(reason: number): string {
  return ['no_match', 'action', 'invalid_ttl', 'action_set', 'group', 'packet_out'][reason] ?? `reason${reason}`;
}
