import { finishChecksum, internetChecksum, pseudoSumV4, pseudoSumV6, sum16 } from './checksum.js';
import { PacketEncodeError } from './errors.js';
import { ETH_TYPE, IP_PROTO, type ArpPacket, type EtherPayload, type EthernetFrame, type Icmpv6Packet, type IpPayload, type Ipv4Packet, type Ipv6Packet } from './types.js';

function check(value: number, bits: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
    throw new PacketEncodeError(`${what} ${value} does not fit in ${bits} bits`, { field: what, value });
  }
  return value;
}

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
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
 */
export function encodeEthernet(frame: EthernetFrame): Uint8Array {
  const body = encodeEtherPayload(frame.payload);
  const out = new Uint8Array(14 + 4 * frame.vlans.length + body.length);
  frame.dst.writeTo(out, 0);
  frame.src.writeTo(out, 6);
  let off = 12;
  for (const tag of frame.vlans) {
    put16(out, off, check(tag.tpid, 16, 'vlan tpid'));
    put16(out, off + 2, (check(tag.pcp, 3, 'vlan pcp') << 13) | (check(tag.dei, 1, 'vlan dei') << 12) | check(tag.vid, 12, 'vlan vid'));
    off += 4;
  }
  put16(out, off, check(etherTypeOf(frame.payload), 16, 'ether type'));
  out.set(body, off + 2);
  return out;
}

function encodeEtherPayload(p: EtherPayload): Uint8Array {
  switch (p.kind) {
    case 'arp':
      return encodeArp(p);
    case 'ipv4':
      return encodeIpv4(p);
    case 'ipv6':
      return encodeIpv6(p);
    default:
      return p.data.slice();
  }
}

function encodeArp(p: ArpPacket): Uint8Array {
  const b = new Uint8Array(28);
  put16(b, 0, 1);
  put16(b, 2, ETH_TYPE.IPV4);
  b[4] = 6;
  b[5] = 4;
  put16(b, 6, check(p.op, 16, 'arp op'));
  p.sha.writeTo(b, 8);
  p.spa.writeTo(b, 14);
  p.tha.writeTo(b, 18);
  p.tpa.writeTo(b, 24);
  return b;
}

type Pseudo = (protocol: number, length: number) => number;

function encodeIpv4(p: Ipv4Packet): Uint8Array {
  if (p.options.length % 4 !== 0 || p.options.length > 40) {
    throw new PacketEncodeError(`IPv4 options must be a multiple of 4 bytes up to 40, got ${p.options.length}`, { field: 'ipv4 options' });
  }
  const protocol = ipProtocolOf(p.payload);
  const fragment = p.fragOffset !== 0 || (p.flags & 1) === 1;
  const l4 = encodeIpPayload(p.payload, fragment ? null : (proto, len) => pseudoSumV4(p.src, p.dst, proto, len));
  const ihl = 20 + p.options.length;
  const total = ihl + l4.length;
  check(total, 16, 'IPv4 total length');
  const b = new Uint8Array(total);
  b[0] = 0x40 | (ihl / 4);
  b[1] = (check(p.dscp, 6, 'ip dscp') << 2) | check(p.ecn, 2, 'ip ecn');
  put16(b, 2, total);
  put16(b, 4, check(p.id, 16, 'ip id'));
  put16(b, 6, (check(p.flags, 3, 'ip flags') << 13) | check(p.fragOffset, 13, 'ip fragment offset'));
  b[8] = check(p.ttl, 8, 'ip ttl');
  b[9] = check(protocol, 8, 'ip protocol');
  p.src.writeTo(b, 12);
  p.dst.writeTo(b, 16);
  b.set(p.options, 20);
  put16(b, 10, internetChecksum(b, 0, ihl));
  b.set(l4, ihl);
  return b;
}

function encodeIpv6(p: Ipv6Packet): Uint8Array {
  const protocol = ipProtocolOf(p.payload);
  const l4 = encodeIpPayload(p.payload, (proto, len) => pseudoSumV6(p.src, p.dst, proto, len));
  check(l4.length, 16, 'IPv6 payload length');
  const b = new Uint8Array(40 + l4.length);
  const tc = (check(p.dscp, 6, 'ip dscp') << 2) | check(p.ecn, 2, 'ip ecn');
  put32(b, 0, ((6 << 28) | (tc << 20) | check(p.flowLabel, 20, 'ipv6 flow label')) >>> 0);
  put16(b, 4, l4.length);
  b[6] = check(protocol, 8, 'ipv6 next header');
  b[7] = check(p.hopLimit, 8, 'ipv6 hop limit');
  p.src.writeTo(b, 8);
  p.dst.writeTo(b, 24);
  b.set(l4, 40);
  return b;
}

/** `pseudo` is null for a fragment, whose transport checksum cannot be computed here. */
function encodeIpPayload(p: IpPayload, pseudo: Pseudo | null): Uint8Array {
  switch (p.kind) {
    case 'icmp': {
      const b = new Uint8Array(8 + p.data.length);
      b[0] = check(p.type, 8, 'icmp type');
      b[1] = check(p.code, 8, 'icmp code');
      put32(b, 4, check(p.rest, 32, 'icmp rest of header'));
      b.set(p.data, 8);
      put16(b, 2, internetChecksum(b));
      return b;
    }
    case 'icmpv6': {
      const body = p.nd ? encodeNd(p) : p.body;
      const b = new Uint8Array(4 + body.length);
      b[0] = check(p.type, 8, 'icmpv6 type');
      b[1] = check(p.code, 8, 'icmpv6 code');
      b.set(body, 4);
      if (pseudo) put16(b, 2, finishChecksum(sum16(b, 0, b.length, pseudo(IP_PROTO.ICMPV6, b.length))));
      return b;
    }
    case 'udp': {
      const b = new Uint8Array(8 + p.payload.length);
      put16(b, 0, check(p.srcPort, 16, 'udp source port'));
      put16(b, 2, check(p.dstPort, 16, 'udp destination port'));
      put16(b, 4, check(b.length, 16, 'udp length'));
      b.set(p.payload, 8);
      if (pseudo) {
        const c = finishChecksum(sum16(b, 0, b.length, pseudo(IP_PROTO.UDP, b.length)));
        put16(b, 6, c === 0 ? 0xffff : c);
      }
      return b;
    }
    case 'tcp': {
      if (p.options.length % 4 !== 0 || p.options.length > 40) {
        throw new PacketEncodeError(`TCP options must be a multiple of 4 bytes up to 40, got ${p.options.length}`, { field: 'tcp options' });
      }
      const hl = 20 + p.options.length;
      const b = new Uint8Array(hl + p.payload.length);
      put16(b, 0, check(p.srcPort, 16, 'tcp source port'));
      put16(b, 2, check(p.dstPort, 16, 'tcp destination port'));
      put32(b, 4, check(p.seq, 32, 'tcp seq'));
      put32(b, 8, check(p.ack, 32, 'tcp ack'));
      put16(b, 12, ((hl / 4) << 12) | check(p.flags, 9, 'tcp flags'));
      put16(b, 14, check(p.window, 16, 'tcp window'));
      put16(b, 18, check(p.urgent, 16, 'tcp urgent pointer'));
      b.set(p.options, 20);
      b.set(p.payload, hl);
      if (pseudo) put16(b, 16, finishChecksum(sum16(b, 0, b.length, pseudo(IP_PROTO.TCP, b.length))));
      return b;
    }
    default:
      return p.data.slice();
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

