import { Ipv4Address, Ipv6Address, MacAddress } from '@dragonflow/base';
import { u16, u32 } from './bytes.js';
import { PacketDecodeError } from './errors.js';
import {
  ETH_TYPE,
  IP_PROTO,
  type ArpPacket,
  type EtherPayload,
  type EthernetFrame,
  type IcmpPacket,
  type Icmpv6Packet,
  type IpPayload,
  type Ipv4Packet,
  type Ipv6Packet,
  type NdInfo,
  type TcpPacket,
  type UdpPacket,
  type VlanTag,
} from './types.js';

function need(bytes: Uint8Array, offset: number, n: number, what: string, end = bytes.length): void {
  if (offset + n > end) throw new PacketDecodeError(`truncated ${what}: needs ${n} bytes, ${Math.max(0, end - offset)} left`, offset, { what });
}

/**
 * Parses an Ethernet frame (with any number of 802.1Q/802.1ad tags) down to its
 * transport header. Unknown EtherTypes and IP protocols are kept as raw bytes;
 * trailing Ethernet padding after an IP datagram is dropped. Checksums are not
 * verified here (see `checksumErrors`).
 */
export function decodeEthernet(bytes: Uint8Array): EthernetFrame {
  need(bytes, 0, 14, 'Ethernet header');
  const dst = MacAddress.fromBytes(bytes, 0);
  const src = MacAddress.fromBytes(bytes, 6);
  let off = 12;
  let etherType = u16(bytes, off);
  const vlans: VlanTag[] = [];
  while (etherType === ETH_TYPE.VLAN || etherType === ETH_TYPE.QINQ) {
    need(bytes, off + 2, 4, '802.1Q tag');
    const tci = u16(bytes, off + 2);
    vlans.push({ tpid: etherType, pcp: tci >>> 13, dei: (tci >>> 12) & 1, vid: tci & 0x0fff });
    off += 4;
    etherType = u16(bytes, off);
  }
  off += 2;
  return { dst, src, vlans, payload: decodeEtherPayload(bytes, off, etherType) };
}

function decodeEtherPayload(bytes: Uint8Array, off: number, etherType: number): EtherPayload {
  switch (etherType) {
    case ETH_TYPE.ARP:
      return decodeArp(bytes, off);
    case ETH_TYPE.IPV4:
      return decodeIpv4(bytes, off);
    case ETH_TYPE.IPV6:
      return decodeIpv6(bytes, off);
    default:
      return { kind: 'raw', etherType, data: bytes.slice(off) };
  }
}

function decodeArp(b: Uint8Array, off: number): ArpPacket {
  need(b, off, 28, 'ARP packet');
  const htype = u16(b, off);
  const ptype = u16(b, off + 2);
  if (htype !== 1 || ptype !== ETH_TYPE.IPV4 || b[off + 4] !== 6 || b[off + 5] !== 4) {
    throw new PacketDecodeError(`unsupported ARP (htype ${htype}, ptype 0x${ptype.toString(16)})`, off);
  }
  return {
    kind: 'arp',
    op: u16(b, off + 6),
    sha: MacAddress.fromBytes(b, off + 8),
    spa: Ipv4Address.fromBytes(b, off + 14),
    tha: MacAddress.fromBytes(b, off + 18),
    tpa: Ipv4Address.fromBytes(b, off + 24),
  };
}

function decodeIpv4(b: Uint8Array, off: number): Ipv4Packet {
  need(b, off, 20, 'IPv4 header');
  const version = b[off]! >>> 4;
  const ihl = (b[off]! & 0x0f) * 4;
  if (version !== 4) throw new PacketDecodeError(`IPv4 header has version ${version}`, off);
  if (ihl < 20) throw new PacketDecodeError(`IPv4 header length ${ihl} is below 20`, off);
  need(b, off, ihl, 'IPv4 header with options');
  const totalLength = u16(b, off + 2);
  if (totalLength < ihl) throw new PacketDecodeError(`IPv4 total length ${totalLength} is below the header length ${ihl}`, off + 2);
  need(b, off, totalLength, 'IPv4 datagram');
  const fragWord = u16(b, off + 6);
  const flags = fragWord >>> 13;
  const fragOffset = fragWord & 0x1fff;
  const protocol = b[off + 9]!;
  const end = off + totalLength;
  const fragment = fragOffset !== 0 || (flags & 1) === 1;
  return {
    kind: 'ipv4',
    dscp: b[off + 1]! >>> 2,
    ecn: b[off + 1]! & 3,
    id: u16(b, off + 4),
    flags,
    fragOffset,
    ttl: b[off + 8]!,
    src: Ipv4Address.fromBytes(b, off + 12),
    dst: Ipv4Address.fromBytes(b, off + 16),
    options: b.slice(off + 20, off + ihl),
    payload: fragment ? { kind: 'raw', protocol, data: b.slice(off + ihl, end) } : decodeIpPayload(b, off + ihl, end, protocol),
  };
}

function decodeIpv6(b: Uint8Array, off: number): Ipv6Packet {
  need(b, off, 40, 'IPv6 header');
  const word = u32(b, off);
  if (word >>> 28 !== 6) throw new PacketDecodeError(`IPv6 header has version ${word >>> 28}`, off);
  const tc = (word >>> 20) & 0xff;
  const payloadLength = u16(b, off + 4);
  need(b, off + 40, payloadLength, 'IPv6 payload');
  const end = off + 40 + payloadLength;
  return {
    kind: 'ipv6',
    dscp: tc >>> 2,
    ecn: tc & 3,
    flowLabel: word & 0xfffff,
    hopLimit: b[off + 7]!,
    src: Ipv6Address.fromBytes(b, off + 8),
    dst: Ipv6Address.fromBytes(b, off + 24),
    payload: decodeIpPayload(b, off + 40, end, b[off + 6]!),
  };
}

function decodeIpPayload(b: Uint8Array, off: number, end: number, protocol: number): IpPayload {
  switch (protocol) {
    case IP_PROTO.ICMP:
      return decodeIcmp(b, off, end);
    case IP_PROTO.ICMPV6:
      return decodeIcmpv6(b, off, end);
    case IP_PROTO.UDP:
      return decodeUdp(b, off, end);
    case IP_PROTO.TCP:
      return decodeTcp(b, off, end);
    default:
      return { kind: 'raw', protocol, data: b.slice(off, end) };
  }
}

function decodeIcmp(b: Uint8Array, off: number, end: number): IcmpPacket {
  need(b, off, 8, 'ICMP header', end);
  return { kind: 'icmp', type: b[off]!, code: b[off + 1]!, rest: u32(b, off + 4), data: b.slice(off + 8, end) };
}

function decodeIcmpv6(b: Uint8Array, off: number, end: number): Icmpv6Packet {
  need(b, off, 4, 'ICMPv6 header', end);
  const type = b[off]!;
  const out: Icmpv6Packet = { kind: 'icmpv6', type, code: b[off + 1]!, body: b.slice(off + 4, end) };
  if (type === 135 || type === 136) {
    out.nd = decodeNd(b, off + 4, end);
    out.body = new Uint8Array(0);
  }
  return out;
}

function decodeNd(b: Uint8Array, off: number, end: number): NdInfo {
  need(b, off, 20, 'neighbour discovery message', end);
  const nd: NdInfo = { flags: u32(b, off), target: Ipv6Address.fromBytes(b, off + 4) };
  const extra: Uint8Array[] = [];
  let o = off + 20;
  while (o + 2 <= end) {
    const optType = b[o]!;
    const optLen = b[o + 1]! * 8;
    if (optLen === 0) throw new PacketDecodeError('neighbour discovery option of length 0', o);
    need(b, o, optLen, 'neighbour discovery option', end);
    if (optLen === 8 && optType === 1 && !nd.sll) nd.sll = MacAddress.fromBytes(b, o + 2);
    else if (optLen === 8 && optType === 2 && !nd.tll) nd.tll = MacAddress.fromBytes(b, o + 2);
    else extra.push(b.slice(o, o + optLen));
    o += optLen;
  }
  if (extra.length > 0) nd.extraOptions = concat(extra);
  return nd;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function decodeUdp(b: Uint8Array, off: number, end: number): UdpPacket {
  need(b, off, 8, 'UDP header', end);
  const length = u16(b, off + 4);
  if (length < 8 || off + length > end) throw new PacketDecodeError(`UDP length ${length} does not fit the datagram`, off + 4);
  return { kind: 'udp', srcPort: u16(b, off), dstPort: u16(b, off + 2), payload: b.slice(off + 8, off + length) };
}

function decodeTcp(b: Uint8Array, off: number, end: number): TcpPacket {
  need(b, off, 20, 'TCP header', end);
  const dataOffset = (b[off + 12]! >>> 4) * 4;
  if (dataOffset < 20) throw new PacketDecodeError(`TCP data offset ${dataOffset} is below 20`, off + 12);
  need(b, off, dataOffset, 'TCP header with options', end);
  return {
    kind: 'tcp',
    srcPort: u16(b, off),
    dstPort: u16(b, off + 2),
    seq: u32(b, off + 4),
    ack: u32(b, off + 8),
    flags: u16(b, off + 12) & 0x01ff,
    window: u16(b, off + 14),
    urgent: u16(b, off + 18),
    options: b.slice(off + 20, off + dataOffset),
    payload: b.slice(off + dataOffset, end),
  };
}
