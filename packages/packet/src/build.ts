import { Ipv4Address, Ipv6Address, MacAddress } from '@dragonflow/base';
import {
  ARP_OP,
  ETH_TYPE,
  ICMPV6_TYPE,
  ICMP_TYPE,
  type ArpPacket,
  type EtherPayload,
  type EthernetFrame,
  type IcmpPacket,
  type Icmpv6Packet,
  type IpPayload,
  type Ipv4Packet,
  type Ipv6Packet,
  type TcpPacket,
  type UdpPacket,
  type VlanTag,
} from './types.js';

/** A MAC or IP given either as a typed value or as text parsed here. */
export type MacLike = MacAddress | string;
export type Ipv4Like = Ipv4Address | string;
export type Ipv6Like = Ipv6Address | string;

export function mac(v: MacLike): MacAddress {
  return typeof v === 'string' ? MacAddress.parse(v) : v;
}

export function ip4(v: Ipv4Like): Ipv4Address {
  return typeof v === 'string' ? Ipv4Address.parse(v) : v;
}

export function ip6(v: Ipv6Like): Ipv6Address {
  return typeof v === 'string' ? Ipv6Address.parse(v) : v;
}

const bytes = (data?: Uint8Array | string): Uint8Array => (typeof data === 'string' ? new TextEncoder().encode(data) : (data ?? new Uint8Array(0)));

export interface EthernetOptions {
  src: MacLike;
  dst: MacLike;
  /** A VLAN id (802.1Q, pcp 0), one tag, or a stack of tags outermost first. */
  vlan?: number | VlanTag | VlanTag[];
  payload: EtherPayload;
}

export function ethernet(o: EthernetOptions): EthernetFrame {
  const vlans = o.vlan === undefined ? [] : typeof o.vlan === 'number' ? [{ tpid: ETH_TYPE.VLAN, pcp: 0, dei: 0, vid: o.vlan }] : Array.isArray(o.vlan) ? o.vlan : [o.vlan];
  return { dst: mac(o.dst), src: mac(o.src), vlans: vlans.map((t) => ({ ...t })), payload: o.payload };
}

export interface Ipv4Options {
  src: Ipv4Like;
  dst: Ipv4Like;
  ttl?: number;
  dscp?: number;
  ecn?: number;
  id?: number;
  /** 0b010 sets don't-fragment. */
  flags?: number;
  payload: IpPayload;
}

export function ipv4(o: Ipv4Options): Ipv4Packet {
  return {
    kind: 'ipv4',
    dscp: o.dscp ?? 0,
    ecn: o.ecn ?? 0,
    id: o.id ?? 0,
    flags: o.flags ?? 0,
    fragOffset: 0,
    ttl: o.ttl ?? 64,
    src: ip4(o.src),
    dst: ip4(o.dst),
    options: new Uint8Array(0),
    payload: o.payload,
  };
}

export interface Ipv6Options {
  src: Ipv6Like;
  dst: Ipv6Like;
  hopLimit?: number;
  dscp?: number;
  ecn?: number;
  flowLabel?: number;
  payload: IpPayload;
}

export function ipv6(o: Ipv6Options): Ipv6Packet {
  return { kind: 'ipv6', dscp: o.dscp ?? 0, ecn: o.ecn ?? 0, flowLabel: o.flowLabel ?? 0, hopLimit: o.hopLimit ?? 64, src: ip6(o.src), dst: ip6(o.dst), payload: o.payload };
}

export function udp(o: { srcPort: number; dstPort: number; payload?: Uint8Array | string }): UdpPacket {
  return { kind: 'udp', srcPort: o.srcPort, dstPort: o.dstPort, payload: bytes(o.payload) };
}

export function tcp(o: { srcPort: number; dstPort: number; flags?: number; seq?: number; ack?: number; window?: number; payload?: Uint8Array | string }): TcpPacket {
  return {
    kind: 'tcp',
    srcPort: o.srcPort,
    dstPort: o.dstPort,
    seq: o.seq ?? 0,
    ack: o.ack ?? 0,
    flags: o.flags ?? 0x002,
    window: o.window ?? 65535,
    urgent: 0,
    options: new Uint8Array(0),
    payload: bytes(o.payload),
  };
}

export interface EchoOptions {
  id?: number;
  seq?: number;
  data?: Uint8Array | string;
}

export function icmpEchoRequest(o: EchoOptions = {}): IcmpPacket {
  return { kind: 'icmp', type: ICMP_TYPE.ECHO_REQUEST, code: 0, rest: (((o.id ?? 0) << 16) | (o.seq ?? 0)) >>> 0, data: bytes(o.data) };
}

export function icmpEchoReply(o: EchoOptions = {}): IcmpPacket {
  return { ...icmpEchoRequest(o), type: ICMP_TYPE.ECHO_REPLY };
}

export function icmp(o: { type: number; code?: number; rest?: number; data?: Uint8Array }): IcmpPacket {
  return { kind: 'icmp', type: o.type, code: o.code ?? 0, rest: o.rest ?? 0, data: bytes(o.data) };
}

export function icmpv6Echo(o: EchoOptions & { reply?: boolean } = {}): Icmpv6Packet {
  const body = bytes(o.data);
  const out = new Uint8Array(4 + body.length);
  out[0] = ((o.id ?? 0) >>> 8) & 0xff;
  out[1] = (o.id ?? 0) & 0xff;
  out[2] = ((o.seq ?? 0) >>> 8) & 0xff;
  out[3] = (o.seq ?? 0) & 0xff;
  out.set(body, 4);
  return { kind: 'icmpv6', type: o.reply ? ICMPV6_TYPE.ECHO_REPLY : ICMPV6_TYPE.ECHO_REQUEST, code: 0, body: out };
}

export function arp(o: { op: number; sha: MacLike; spa: Ipv4Like; tha?: MacLike; tpa: Ipv4Like }): ArpPacket {
  return { kind: 'arp', op: o.op, sha: mac(o.sha), spa: ip4(o.spa), tha: o.tha === undefined ? MacAddress.ZERO : mac(o.tha), tpa: ip4(o.tpa) };
}

/** A broadcast "who has targetIp, tell srcIp". */
export function arpRequest(o: { srcMac: MacLike; srcIp: Ipv4Like; targetIp: Ipv4Like; vlan?: number }): EthernetFrame {
  return ethernet({
    src: o.srcMac,
    dst: MacAddress.BROADCAST,
    vlan: o.vlan,
    payload: arp({ op: ARP_OP.REQUEST, sha: o.srcMac, spa: o.srcIp, tpa: o.targetIp }),
  });
}

/** "srcIp is at srcMac", sent to the asker. */
export function arpReply(o: { srcMac: MacLike; srcIp: Ipv4Like; dstMac: MacLike; dstIp: Ipv4Like }): EthernetFrame {
  return ethernet({ src: o.srcMac, dst: o.dstMac, payload: arp({ op: ARP_OP.REPLY, sha: o.srcMac, spa: o.srcIp, tha: o.dstMac, tpa: o.dstIp }) });
}

/** The solicited-node multicast address of an IPv6 address (ff02::1:ffXX:XXXX). */
export function solicitedNodeAddress(target: Ipv6Like): Ipv6Address {
  return Ipv6Address.fromBigInt(0xff0200000000000000000001ff000000n | (ip6(target).value & 0xffffffn));
}

/** The Ethernet multicast MAC (33:33:…) of an IPv6 multicast address. */
export function ipv6MulticastMac(group: Ipv6Like): MacAddress {
  return MacAddress.fromBigInt(0x333300000000n | (ip6(group).value & 0xffffffffn));
}

/** A neighbour solicitation for `targetIp`, to its solicited-node group. */
export function neighborSolicitation(o: { srcMac: MacLike; srcIp: Ipv6Like; targetIp: Ipv6Like }): EthernetFrame {
  const group = solicitedNodeAddress(o.targetIp);
  return ethernet({
    src: o.srcMac,
    dst: ipv6MulticastMac(group),
    payload: ipv6({
      src: o.srcIp,
      dst: group,
      hopLimit: 255,
      payload: { kind: 'icmpv6', type: ICMPV6_TYPE.NEIGHBOR_SOLICIT, code: 0, body: new Uint8Array(0), nd: { target: ip6(o.targetIp), flags: 0, sll: mac(o.srcMac) } },
    }),
  });
}

/** A solicited neighbour advertisement (flags S and O, R when `router`). */
export function neighborAdvertisement(o: { srcMac: MacLike; srcIp: Ipv6Like; dstMac: MacLike; dstIp: Ipv6Like; router?: boolean }): EthernetFrame {
  const flags = ((o.router ? 0x80000000 : 0) | 0x40000000 | 0x20000000) >>> 0;
  return ethernet({
    src: o.srcMac,
    dst: o.dstMac,
    payload: ipv6({
      src: o.srcIp,
      dst: o.dstIp,
      hopLimit: 255,
      payload: { kind: 'icmpv6', type: ICMPV6_TYPE.NEIGHBOR_ADVERT, code: 0, body: new Uint8Array(0), nd: { target: ip6(o.srcIp), flags, tll: mac(o.srcMac) } },
    }),
  });
}

/** A deep copy (the typed MAC/IP values are immutable and shared). */
export function cloneFrame(f: EthernetFrame): EthernetFrame {
  return { dst: f.dst, src: f.src, vlans: f.vlans.map((t) => ({ ...t })), payload: cloneEther(f.payload) };
}

function cloneEther(p: EtherPayload): EtherPayload {
  switch (p.kind) {
    case 'arp':
      return { ...p };
    case 'ipv4':
      return { ...p, options: p.options.slice(), payload: cloneIp(p.payload) };
    case 'ipv6':
      return { ...p, payload: cloneIp(p.payload) };
    default:
      return { ...p, data: p.data.slice() };
  }
}

function cloneIp(p: IpPayload): IpPayload {
  switch (p.kind) {
    case 'icmp':
      return { ...p, data: p.data.slice() };
    case 'icmpv6': {
      const out: Icmpv6Packet = { ...p, body: p.body.slice() };
      if (p.nd) out.nd = { ...p.nd, ...(p.nd.extraOptions ? { extraOptions: p.nd.extraOptions.slice() } : {}) };
      return out;
    }
    case 'udp':
      return { ...p, payload: p.payload.slice() };
    case 'tcp':
      return { ...p, options: p.options.slice(), payload: p.payload.slice() };
    default:
      return { ...p, data: p.data.slice() };
  }
}
