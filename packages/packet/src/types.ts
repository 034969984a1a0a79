import type { Ipv4Address, Ipv6Address, MacAddress } from '@dragonflow/base';

/** EtherType values the codec understands. */
export const ETH_TYPE = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,
  QINQ: 0x88a8,
  IPV6: 0x86dd,
} as const;

/** IP protocol numbers the codec understands. */
export const IP_PROTO = {
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  ICMPV6: 58,
} as const;

/** One 802.1Q (or 802.1ad) tag. */
export interface VlanTag {
  /** 0x8100 (802.1Q) or 0x88a8 (802.1ad). */
  tpid: number;
  pcp: number;
  dei: number;
  vid: number;
}

/** An Ethernet frame; `vlans` is outermost first. */
export interface EthernetFrame {
  dst: MacAddress;
  src: MacAddress;
  vlans: VlanTag[];
  payload: EtherPayload;
}

export type EtherPayload = ArpPacket | Ipv4Packet | Ipv6Packet | RawEtherPayload;

export interface RawEtherPayload {
  kind: 'raw';
  etherType: number;
  data: Uint8Array;
}

/** ARP for IPv4 over Ethernet (htype 1, ptype 0x0800). */
export interface ArpPacket {
  kind: 'arp';
  /** 1 request, 2 reply. */
  op: number;
  sha: MacAddress;
  spa: Ipv4Address;
  tha: MacAddress;
  tpa: Ipv4Address;
}

export interface Ipv4Packet {
  kind: 'ipv4';
  dscp: number;
  ecn: number;
  id: number;
  /** bit 1 DF, bit 0 MF (the three flag bits shifted down: 0b010 = DF). */
  flags: number;
  fragOffset: number;
  ttl: number;
  src: Ipv4Address;
  dst: Ipv4Address;
  /** Header options (a multiple of 4 bytes); empty for a 20-byte header. */
  options: Uint8Array;
  payload: IpPayload;
}

export interface Ipv6Packet {
  kind: 'ipv6';
  dscp: number;
  ecn: number;
  flowLabel: number;
  hopLimit: number;
  src: Ipv6Address;
  dst: Ipv6Address;
  payload: IpPayload;
}

export type IpPayload = IcmpPacket | Icmpv6Packet | UdpPacket | TcpPacket | RawIpPayload;

/** An IP payload the codec does not parse (another protocol, or a non-first fragment). */
export interface RawIpPayload {
  kind: 'raw';
  protocol: number;
  data: Uint8Array;
}

export interface IcmpPacket {
  kind: 'icmp';
  type: number;
  code: number;
  /** The 32-bit "rest of header" (identifier << 16 | sequence for echo). */
  rest: number;
  data: Uint8Array;
}

/** Neighbour discovery contents of an NS (135) or NA (136). */
export interface NdInfo {
  target: Ipv6Address;
  /** NA flags in the top 3 bits of the reserved word: R=0x80000000, S=0x40000000, O=0x20000000. */
  flags: number;
  /** Source link-layer address option (NS). */
  sll?: MacAddress;
  /** Target link-layer address option (NA). */
  tll?: MacAddress;
  /** Any other options, kept as bytes so a rewrite does not lose them. */
  extraOptions?: Uint8Array;
}

export interface Icmpv6Packet {
  kind: 'icmpv6';
  type: number;
  code: number;
  /** Everything after the 4-byte ICMPv6 header; empty (and ignored on encode) when `nd` is set. */
  body: Uint8Array;
  /** Parsed for types 135 and 136; encoded from when present. */
  nd?: NdInfo;
}

export interface UdpPacket {
  kind: 'udp';
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

export interface TcpPacket {
  kind: 'tcp';
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** The 9 flag bits (NS..FIN), FIN = 0x001, SYN = 0x002, RST = 0x004, PSH = 0x008, ACK = 0x010. */
  flags: number;
  window: number;
  urgent: number;
  options: Uint8Array;
  payload: Uint8Array;
}

export const TCP_FLAGS = { FIN: 0x001, SYN: 0x002, RST: 0x004, PSH: 0x008, ACK: 0x010, URG: 0x020 } as const;
export const ICMP_TYPE = { ECHO_REPLY: 0, DEST_UNREACHABLE: 3, ECHO_REQUEST: 8, TIME_EXCEEDED: 11 } as const;
export const ICMPV6_TYPE = {
  DEST_UNREACHABLE: 1,
  TIME_EXCEEDED: 3,
  ECHO_REQUEST: 128,
  ECHO_REPLY: 129,
  ROUTER_SOLICIT: 133,
  ROUTER_ADVERT: 134,
  NEIGHBOR_SOLICIT: 135,
  NEIGHBOR_ADVERT: 136,
} as const;
export const ARP_OP = { REQUEST: 1, REPLY: 2 } as const;
