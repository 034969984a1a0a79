import { Ipv4Address, Ipv6Address } from '@dragonflow/base';
import { finishChecksum, internetChecksum, pseudoSumV4, pseudoSumV6, sum16 } from './checksum.js';
import { u16 } from './bytes.js';
import { ETH_TYPE, IP_PROTO } from './types.js';

/**
 * Verifies every checksum in a frame's bytes and names the ones that are wrong
 * ('ipv4', 'icmp', 'icmpv6', 'udp', 'tcp'); an empty list means all are right.
 * Truncated frames report 'truncated'.
 */
export function checksumErrors(bytes: Uint8Array): string[] {
  const errors: string[] = [];
  if (bytes.length < 14) return ['truncated'];
  let off = 12;
  let etherType = u16(bytes, off);
  while (etherType === ETH_TYPE.VLAN || etherType === ETH_TYPE.QINQ) {
    off += 4;
    if (off + 2 > bytes.length) return ['truncated'];
    etherType = u16(bytes, off);
  }
  off += 2;
  if (etherType === ETH_TYPE.IPV4) {
    if (off + 20 > bytes.length) return ['truncated'];
    const ihl = (bytes[off]! & 0x0f) * 4;
    const total = u16(bytes, off + 2);
    if (off + total > bytes.length || total < ihl) return ['truncated'];
    if (internetChecksum(bytes, off, off + ihl) !== 0) errors.push('ipv4');
    const fragWord = u16(bytes, off + 6);
    if ((fragWord & 0x3fff) !== 0) return errors;
    const protocol = bytes[off + 9]!;
    const src = Ipv4Address.fromBytes(bytes, off + 12);
    const dst = Ipv4Address.fromBytes(bytes, off + 16);
    const l4 = off + ihl;
    const len = total - ihl;
    if (protocol === IP_PROTO.ICMP) {
      if (internetChecksum(bytes, l4, l4 + len) !== 0) errors.push('icmp');
    } else if (protocol === IP_PROTO.UDP || protocol === IP_PROTO.TCP) {
      const skip = protocol === IP_PROTO.UDP && len >= 8 && u16(bytes, l4 + 6) === 0;
      if (!skip && finishChecksum(sum16(bytes, l4, l4 + len, pseudoSumV4(src, dst, protocol, len))) !== 0) errors.push(protocol === IP_PROTO.UDP ? 'udp' : 'tcp');
    }
  } else if (etherType === ETH_TYPE.IPV6) {
    if (off + 40 > bytes.length) return ['truncated'];
    const len = u16(bytes, off + 4);
    if (off + 40 + len > bytes.length) return ['truncated'];
    const protocol = bytes[off + 6]!;
    const src = Ipv6Address.fromBytes(bytes, off + 8);
    const dst = Ipv6Address.fromBytes(bytes, off + 24);
    const l4 = off + 40;
    if (protocol === IP_PROTO.ICMPV6 || protocol === IP_PROTO.UDP || protocol === IP_PROTO.TCP) {
      if (finishChecksum(sum16(bytes, l4, l4 + len, pseudoSumV6(src, dst, protocol, len))) !== 0) {
        errors.push(protocol === IP_PROTO.ICMPV6 ? 'icmpv6' : protocol === IP_PROTO.UDP ? 'udp' : 'tcp');
      }
    }
  }
  return errors;
}
