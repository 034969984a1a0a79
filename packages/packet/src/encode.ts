import { finishChecksum, internetChecksum, pseudoSumV4, pseudoSumV6, sum16 } from './checksum.js';
import { put16, put32 } from './bytes.js';
import { PacketEncodeError } from './errors.js';
import { ETH_TYPE, IP_PROTO, type ArpPacket, type EtherPayload, type EthernetFrame, type Icmpv6Packet, type IpPayload, type Ipv4Packet, type Ipv6Packet } from './types.js';

function check(value: number, bits: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
    throw new PacketEncodeError(`${what} ${value} does not fit in ${bits} bits`, { field: what, value });
  }
  return value;
}

/** The EtherType a payload is carried under. */
export function etherTypeOf(payload: EtherPayload): number {
  switch (payload.kind) {
    case 'arp':
      return ETH_TYPE.ARP;
    case 'ipv4':
      return ETH_TYPE.IPV4;
    case 'ipv6':
      return ETH_TYPE.IPV6;
    default:
      return payload.etherType;
  }
}

/** The IP protocol number of a transport payload. */
export function ipProtocolOf(payload: IpPayload): number {
  switch (payload.kind) {
    case 'icmp':
      return IP_PROTO.ICMP;
    case 'icmpv6':
      return IP_PROTO.ICMPV6;
    case 'udp':
      return IP_PROTO.UDP;
    case 'tcp':
      return IP_PROTO.TCP;
    default:
      return payload.protocol;
  }
}

/**
 * Serialises a frame. Lengths and every checksum (IPv4 header, ICMP, ICMPv6, UDP,
 * TCP) are computed here; callers never set them. No Ethernet padding is added.
 *
 * The frame is written into one buffer: each layer's encoder is told how many
 * bytes of headers go in front of it (`head`), allocates the whole frame when it is
 * the innermost one and writes at `head`, and the outer layers fill in their headers
 * in front — no buffer per layer, no copy of the payload per layer.
 */
export function encodeEthernet(frame: EthernetFrame): Uint8Array {
  const head = 14 + 4 * frame.vlans.length;
  const out = encodeEtherPayload(frame.payload, head);
  frame.dst.writeTo(out, 0);
  frame.src.writeTo(out, 6);
  let off = 12;
  for (const tag of frame.vlans) {
    put16(out, off, check(tag.tpid, 16, 'vlan tpid'));
    put16(out, off + 2, (check(tag.pcp, 3, 'vlan pcp') << 13) | (check(tag.dei, 1, 'vlan dei') << 12) | check(tag.vid, 12, 'vlan vid'));
    off += 4;
  }
  put16(out, off, check(etherTypeOf(frame.payload), 16, 'ether type'));
  return out;
}

/** A buffer of `head` bytes (left for the headers in front) followed by `data`. */
function behind(head: number, data: Uint8Array): Uint8Array {
  const b = new Uint8Array(head + data.length);
  b.set(data, head);
  return b;
}

function encodeEtherPayload(p: EtherPayload, head: number): Uint8Array {
  switch (p.kind) {
    case 'arp':
      return encodeArp(p, head);
    case 'ipv4':
      return encodeIpv4(p, head);
    case 'ipv6':
      return encodeIpv6(p, head);
    default:
      return behind(head, p.data);
  }
}

function encodeArp(p: ArpPacket, head: number): Uint8Array {
  const b = new Uint8Array(head + 28);
  const o = head;
  put16(b, o, 1);
  put16(b, o + 2, ETH_TYPE.IPV4);
  b[o + 4] = 6;
  b[o + 5] = 4;
  put16(b, o + 6, check(p.op, 16, 'arp op'));
  p.sha.writeTo(b, o + 8);
  p.spa.writeTo(b, o + 14);
  p.tha.writeTo(b, o + 18);
  p.tpa.writeTo(b, o + 24);
  return b;
}

type Pseudo = (protocol: number, length: number) => number;

function encodeIpv4(p: Ipv4Packet, head: number): Uint8Array {
  if (p.options.length % 4 !== 0 || p.options.length > 40) {
    throw new PacketEncodeError(`IPv4 options must be a multiple of 4 bytes up to 40, got ${p.options.length}`, { field: 'ipv4 options' });
  }
  const protocol = ipProtocolOf(p.payload);
  const fragment = p.fragOffset !== 0 || (p.flags & 1) === 1;
  const ihl = 20 + p.options.length;
  const b = encodeIpPayload(p.payload, fragment ? null : (proto, len) => pseudoSumV4(p.src, p.dst, proto, len), head + ihl);
  const o = head;
  const total = b.length - head;
  check(total, 16, 'IPv4 total length');
  b[o] = 0x40 | (ihl / 4);
  b[o + 1] = (check(p.dscp, 6, 'ip dscp') << 2) | check(p.ecn, 2, 'ip ecn');
  put16(b, o + 2, total);
  put16(b, o + 4, check(p.id, 16, 'ip id'));
  put16(b, o + 6, (check(p.flags, 3, 'ip flags') << 13) | check(p.fragOffset, 13, 'ip fragment offset'));
  b[o + 8] = check(p.ttl, 8, 'ip ttl');
  b[o + 9] = check(protocol, 8, 'ip protocol');
  p.src.writeTo(b, o + 12);
  p.dst.writeTo(b, o + 16);
  b.set(p.options, o + 20);
  put16(b, o + 10, internetChecksum(b, o, o + ihl));
  return b;
}

function encodeIpv6(p: Ipv6Packet, head: number): Uint8Array {
  const protocol = ipProtocolOf(p.payload);
  const b = encodeIpPayload(p.payload, (proto, len) => pseudoSumV6(p.src, p.dst, proto, len), head + 40);
  const o = head;
  const payloadLength = b.length - head - 40;
  check(payloadLength, 16, 'IPv6 payload length');
  const tc = (check(p.dscp, 6, 'ip dscp') << 2) | check(p.ecn, 2, 'ip ecn');
  put32(b, o, ((6 << 28) | (tc << 20) | check(p.flowLabel, 20, 'ipv6 flow label')) >>> 0);
  put16(b, o + 4, payloadLength);
  b[o + 6] = check(protocol, 8, 'ipv6 next header');
  b[o + 7] = check(p.hopLimit, 8, 'ipv6 hop limit');
  p.src.writeTo(b, o + 8);
  p.dst.writeTo(b, o + 24);
  return b;
}

/**
 * The transport segment at offset `head` of a buffer that ends with it. `pseudo` is
 * null for a fragment, whose transport checksum cannot be computed here.
 */
function encodeIpPayload(p: IpPayload, pseudo: Pseudo | null, head: number): Uint8Array {
  const o = head;
  switch (p.kind) {
    case 'icmp': {
      const b = new Uint8Array(o + 8 + p.data.length);
      b[o] = check(p.type, 8, 'icmp type');
      b[o + 1] = check(p.code, 8, 'icmp code');
      put32(b, o + 4, check(p.rest, 32, 'icmp rest of header'));
      b.set(p.data, o + 8);
      put16(b, o + 2, internetChecksum(b, o));
      return b;
    }
    case 'icmpv6': {
      const body = p.nd ? encodeNd(p) : p.body;
      const b = new Uint8Array(o + 4 + body.length);
      b[o] = check(p.type, 8, 'icmpv6 type');
      b[o + 1] = check(p.code, 8, 'icmpv6 code');
      b.set(body, o + 4);
      if (pseudo) put16(b, o + 2, finishChecksum(sum16(b, o, b.length, pseudo(IP_PROTO.ICMPV6, b.length - o))));
      return b;
    }
    case 'udp': {
      const b = new Uint8Array(o + 8 + p.payload.length);
      const length = b.length - o;
      put16(b, o, check(p.srcPort, 16, 'udp source port'));
      put16(b, o + 2, check(p.dstPort, 16, 'udp destination port'));
      put16(b, o + 4, check(length, 16, 'udp length'));
      b.set(p.payload, o + 8);
      if (pseudo) {
        const c = finishChecksum(sum16(b, o, b.length, pseudo(IP_PROTO.UDP, length)));
        put16(b, o + 6, c === 0 ? 0xffff : c);
      }
      return b;
    }
    case 'tcp': {
      if (p.options.length % 4 !== 0 || p.options.length > 40) {
        throw new PacketEncodeError(`TCP options must be a multiple of 4 bytes up to 40, got ${p.options.length}`, { field: 'tcp options' });
      }
      const hl = 20 + p.options.length;
      const b = new Uint8Array(o + hl + p.payload.length);
      put16(b, o, check(p.srcPort, 16, 'tcp source port'));
      put16(b, o + 2, check(p.dstPort, 16, 'tcp destination port'));
      put32(b, o + 4, check(p.seq, 32, 'tcp seq'));
      put32(b, o + 8, check(p.ack, 32, 'tcp ack'));
      put16(b, o + 12, ((hl / 4) << 12) | check(p.flags, 9, 'tcp flags'));
      put16(b, o + 14, check(p.window, 16, 'tcp window'));
      put16(b, o + 18, check(p.urgent, 16, 'tcp urgent pointer'));
      b.set(p.options, o + 20);
      b.set(p.payload, o + hl);
      if (pseudo) put16(b, o + 16, finishChecksum(sum16(b, o, b.length, pseudo(IP_PROTO.TCP, b.length - o))));
      return b;
    }
    default:
      return behind(head, p.data);
  }
}

function encodeNd(p: Icmpv6Packet): Uint8Array {
  const nd = p.nd!;
  const options: [number, typeof nd.sll][] = [];
  if (nd.sll) options.push([1, nd.sll]);
  if (nd.tll) options.push([2, nd.tll]);
  const extra = nd.extraOptions ?? new Uint8Array(0);
  const b = new Uint8Array(20 + 8 * options.length + extra.length);
  put32(b, 0, check(nd.flags, 32, 'nd flags'));
  b.set(extra, 20 + 8 * options.length);
  nd.target.writeTo(b, 4);
  options.forEach(([type, mac], i) => {
    b[20 + 8 * i] = type;
    b[21 + 8 * i] = 1;
    mac!.writeTo(b, 22 + 8 * i);
  });
  return b;
}

