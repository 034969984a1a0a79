import { packet } from '@dragonflow/core';
import type { RouterInterface } from './model.js';
import { REPLY_TTL } from './flows.js';

type EthernetFrame = packet.EthernetFrame;

/** ICMP types and codes the router sends (RFC 792). */
export const ICMP_ERROR = {
  TIME_EXCEEDED: { type: 11, code: 0 },
  HOST_UNREACHABLE: { type: 3, code: 1 },
  NET_UNREACHABLE: { type: 3, code: 0 },
} as const;

/** ICMP types that are errors themselves: never answered with an error (RFC 1122 3.2.2). */
const ERROR_TYPES = new Set([3, 4, 5, 11, 12]);

/**
 * The ICMP error a router sends about `original` (the frame bytes as received):
 * from the interface the packet came in on, to its sender, quoting the original IP
 * header and the first 8 bytes of its payload. Undefined when RFC 1122 says not to
 * answer: not IPv4, an ICMP error itself, a non-first fragment, or a sender that
 * is not a unicast host.
 */
export function icmpError(original: Uint8Array, frame: EthernetFrame, error: { readonly type: number; readonly code: number }, from: RouterInterface): EthernetFrame | undefined {
  const ip = frame.payload;
  if (ip.kind !== 'ipv4') return undefined;
  if (ip.payload.kind === 'icmp' && ERROR_TYPES.has(ip.payload.type)) return undefined;
  if (ip.fragOffset !== 0) return undefined;
  if (frame.src.isMulticast || ip.src.value === 0 || ip.src.value >>> 28 === 0xe || ip.src.value === 0xffffffff) return undefined;
  const ipOffset = 14 + 4 * frame.vlans.length;
  const ihl = ((original[ipOffset] ?? 0x45) & 0x0f) * 4;
  const quoted = original.slice(ipOffset, Math.min(original.length, ipOffset + ihl + 8));
  return packet.ethernet({
    src: from.mac,
    dst: frame.src,
    payload: packet.ipv4({ src: from.ip, dst: ip.src, ttl: REPLY_TTL, payload: packet.icmp({ type: error.type, code: error.code, data: quoted }) }),
  });
}
