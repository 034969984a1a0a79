import { Ipv4Address, Ipv6Address } from '@dragonflow/base';
import { CtState } from '@dragonflow/openflow';
import type { Connection } from './conntrack.js';
import type { PacketState } from './packet-state.js';

/** A connection tuple in one direction. ICMP echo-style messages use their id as both ports. */
export interface ConnTuple {
  readonly v6: boolean;
  readonly src: bigint;
  readonly dst: bigint;
  readonly proto: number;
  readonly sport: number;
  readonly dport: number;
  readonly icmpType?: number;
  readonly icmpCode?: number;
}

export type Extracted =
  | { readonly kind: 'normal'; readonly tuple: ConnTuple; readonly tcpFlags?: number }
  /** An ICMP error; `inner` is the quoted packet's tuple. */
  | { readonly kind: 'related'; readonly tuple: ConnTuple; readonly inner: ConnTuple }
  | { readonly kind: 'invalid'; readonly tuple?: ConnTuple };

/** ICMP request → reply types (and back), as conntrack pairs them. */
const ICMP_PAIR: Record<number, number> = { 8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 128: 129, 129: 128 };
const ICMPV4_ERRORS = new Set([3, 4, 5, 11, 12]);

/** The tuple a reply to `t` carries. */
export function replyOf(t: ConnTuple): ConnTuple {
  return {
    v6: t.v6,
    src: t.dst,
    dst: t.src,
    proto: t.proto,
    sport: t.dport,
    dport: t.sport,
    ...(t.icmpType !== undefined ? { icmpType: ICMP_PAIR[t.icmpType] ?? t.icmpType, icmpCode: t.icmpCode ?? 0 } : {}),
  };
}

/** `t` with its source (src NAT) or destination (dst NAT) address and port replaced. */
export function natTuple(t: ConnTuple, kind: 'src' | 'dst', addr: bigint | undefined, port: number): ConnTuple {
  const ports = t.proto === 6 || t.proto === 17;
  if (kind === 'src') return { ...t, src: addr ?? t.src, sport: ports ? port : t.sport };
  return { ...t, dst: addr ?? t.dst, dport: ports ? port : t.dport };
}

/** The packet's conntrack tuple, an ICMP error's quoted tuple, or why conntrack cannot track it. */
export function extractTuple(state: PacketState): Extracted {
  const ip = state.ip;
  if (!ip) return { kind: 'invalid' };
  if (ip.kind === 'ipv4' && (ip.fragOffset !== 0 || (ip.flags & 1) !== 0)) return { kind: 'invalid' };
  const v6 = ip.kind === 'ipv6';
  const src = v6 ? ip.src.value : BigInt(ip.src.value);
  const dst = v6 ? ip.dst.value : BigInt(ip.dst.value);
  const l4 = ip.payload;
  switch (l4.kind) {
    case 'tcp':
    case 'udp':
      return { kind: 'normal', tuple: { v6, src, dst, proto: l4.kind === 'tcp' ? 6 : 17, sport: l4.srcPort, dport: l4.dstPort }, ...(l4.kind === 'tcp' ? { tcpFlags: l4.flags } : {}) };
    case 'icmp': {
      const id = l4.rest >>> 16;
      const tuple: ConnTuple = { v6, src, dst, proto: 1, sport: id, dport: id, icmpType: l4.type, icmpCode: l4.code };
      if (!ICMPV4_ERRORS.has(l4.type)) return ICMP_PAIR[l4.type] !== undefined ? { kind: 'normal', tuple } : { kind: 'invalid', tuple };
      const inner = quotedTuple(l4.data);
      // the quoted packet must be one the error's destination sent
      if (!inner || inner.src !== dst) return { kind: 'invalid', tuple };
      return { kind: 'related', tuple: { ...tuple, sport: 0, dport: 0 }, inner };
    }
    case 'icmpv6': {
      const id = l4.type === 128 || l4.type === 129 ? (l4.body[0]! << 8) | l4.body[1]! : 0;
      const tuple: ConnTuple = { v6, src, dst, proto: 58, sport: id, dport: id, icmpType: l4.type, icmpCode: l4.code };
      return ICMP_PAIR[l4.type] !== undefined ? { kind: 'normal', tuple } : { kind: 'invalid', tuple };
    }
    default:
      return { kind: 'normal', tuple: { v6, src, dst, proto: l4.protocol, sport: 0, dport: 0 } };
  }
}

/** The tuple of the IPv4 header and 8 bytes an ICMP error quotes. */
function quotedTuple(d: Uint8Array): ConnTuple | undefined {
  if (d.length < 20 || d[0]! >> 4 !== 4) return undefined;
  const ihl = (d[0]! & 0xf) * 4;
  if (d.length < ihl + 8) return undefined;
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const proto = d[9]!;
  const src = BigInt(v.getUint32(12));
  const dst = BigInt(v.getUint32(16));
  if (proto === 6 || proto === 17) return { v6: false, src, dst, proto, sport: v.getUint16(ihl), dport: v.getUint16(ihl + 2) };
  if (proto === 1) {
    const id = v.getUint16(ihl + 4);
    return { v6: false, src, dst, proto, sport: id, dport: id, icmpType: d[ihl]!, icmpCode: d[ihl + 1]! };
  }
  return { v6: false, src, dst, proto, sport: 0, dport: 0 };
}

/**
 * Rewrites the packet as the connection's NAT says for its direction and returns the
 * ct_state NAT bit: the original direction gets the connection's NAT, a reply the
 * reverse (un-SNAT rewrites the destination and reports dnat, and vice versa). An
 * ICMP error has its outer address and the header it quotes rewritten.
 */
export function applyNat(state: PacketState, conn: Connection, reply: boolean, related: boolean): number {
  const { orig: o, translated: n, nat } = conn;
  if (!nat) return 0;
  if (related) {
    // The quoted packet went the other way: a reply-direction error quotes a forward packet.
    const l4 = state.l4;
    let quote: Uint8Array | undefined;
    if (l4?.kind === 'icmp') quote = l4.data = Uint8Array.from(l4.data);
    if (nat === 'src') {
      if (reply) {
        setAddr(state, 'dst', o.src);
        if (quote) rewriteQuote(quote, 'src', o.src, o.proto, o.sport);
      } else {
        setAddr(state, 'src', n.src);
        if (quote) rewriteQuote(quote, 'dst', n.src, o.proto, n.sport);
      }
    } else if (reply) {
      setAddr(state, 'src', o.dst);
      if (quote) rewriteQuote(quote, 'dst', o.dst, o.proto, o.dport);
    } else {
      setAddr(state, 'dst', n.dst);
      if (quote) rewriteQuote(quote, 'src', n.dst, o.proto, n.dport);
    }
  } else if (nat === 'src') {
    if (reply) setEnd(state, 'dst', o.src, o.sport);
    else setEnd(state, 'src', n.src, n.sport);
  } else if (reply) setEnd(state, 'src', o.dst, o.dport);
  else setEnd(state, 'dst', n.dst, n.dport);
  const forwardBit = nat === 'src' ? CtState.SNAT : CtState.DNAT;
  const reverseBit = nat === 'src' ? CtState.DNAT : CtState.SNAT;
  return reply ? reverseBit : forwardBit;
}

function setAddr(state: PacketState, end: 'src' | 'dst', addr: bigint): void {
  const ip = state.ip;
  if (ip?.kind === 'ipv4') ip[end] = Ipv4Address.fromNumber(Number(addr));
  else if (ip?.kind === 'ipv6') ip[end] = Ipv6Address.fromBigInt(addr);
}

function setEnd(state: PacketState, end: 'src' | 'dst', addr: bigint, port: number): void {
  setAddr(state, end, addr);
  const l4 = state.l4;
  if (l4?.kind === 'tcp' || l4?.kind === 'udp') l4[end === 'src' ? 'srcPort' : 'dstPort'] = port;
}

/** One's-complement update of a checksum for a 16-bit word changing (RFC 1624). */
function csumUpdate(csum: number, old: number, now: number): number {
  let s = (~csum & 0xffff) + (~old & 0xffff) + now;
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/**
 * Rewrites an address (and port) of the IPv4 header an ICMP error quotes, updating
 * the quoted IP and UDP/TCP checksums incrementally as Open vSwitch does (the quote
 * is cut short, so they cannot be recomputed).
 */
function rewriteQuote(d: Uint8Array, end: 'src' | 'dst', addr: bigint, proto: number, port: number): void {
  if (d.length < 20) return;
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const ihl = (d[0]! & 0xf) * 4;
  const at = end === 'src' ? 12 : 16;
  const l4csumAt = proto === 17 ? ihl + 6 : proto === 6 ? ihl + 16 : -1;
  const hasL4Csum = l4csumAt >= 0 && d.length >= l4csumAt + 2 && !(proto === 17 && v.getUint16(l4csumAt) === 0);
  const newAddr = Number(addr);
  for (const half of [0, 2]) {
    const old = v.getUint16(at + half);
    const now = (half === 0 ? newAddr >>> 16 : newAddr) & 0xffff;
    v.setUint16(10, csumUpdate(v.getUint16(10), old, now));
    if (hasL4Csum) v.setUint16(l4csumAt, csumUpdate(v.getUint16(l4csumAt), old, now));
    v.setUint16(at + half, now);
  }
  if ((proto === 6 || proto === 17) && d.length >= ihl + 4) {
    const portAt = ihl + (end === 'src' ? 0 : 2);
    const old = v.getUint16(portAt);
    if (hasL4Csum) v.setUint16(l4csumAt, csumUpdate(v.getUint16(l4csumAt), old, port));
    v.setUint16(portAt, port);
  }
}
