import type { Ipv4Address, Ipv6Address } from '@dragonflow/base';

/** Adds `bytes[start, end)` as big-endian 16-bit words to a running one's-complement sum. */
export function sum16(bytes: Uint8Array, start = 0, end = bytes.length, initial = 0): number {
  let sum = initial;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (i < end) sum += bytes[i]! << 8;
  return sum;
}

/** Folds a running sum to 16 bits and complements it: the Internet checksum (RFC 1071). */
export function finishChecksum(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}

/** The Internet checksum of a byte range. */
export function internetChecksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return finishChecksum(sum16(bytes, start, end));
}

/** Sum of the IPv4 pseudo-header for a transport checksum. */
export function pseudoSumV4(src: Ipv4Address, dst: Ipv4Address, protocol: number, length: number): number {
  return (src.value >>> 16) + (src.value & 0xffff) + (dst.value >>> 16) + (dst.value & 0xffff) + protocol + length;
}

/** Sum of the IPv6 pseudo-header (RFC 8200 §8.1) for a transport checksum. */
export function pseudoSumV6(src: Ipv6Address, dst: Ipv6Address, nextHeader: number, length: number): number {
  const buf = new Uint8Array(32);
  src.writeTo(buf, 0);
  dst.writeTo(buf, 16);
  return sum16(buf) + (length >>> 16) + (length & 0xffff) + nextHeader;
}
