import { packet } from '@dragonflow/core';
import type { Ipv6Address, MacAddress } from '@dragonflow/base';
import { REPLY_TTL } from '../flows.js';

/** ICMPv6 errors the router sends (RFC 4443). */
export const ICMPV6_ERROR = {
  NO_ROUTE: { type: 1, code: 0 },
  ADDRESS_UNREACHABLE: { type: 1, code: 3 },
  HOP_LIMIT_EXCEEDED: { type: 3, code: 0 },
} as const;

/** RFC 4443 §2.4(c): an error quotes as much of the offending packet as fits in the minimum MTU (1280). */
const MAX_QUOTE = 1280 - 40 - 8;

/**
 * The ICMPv6 error about `original` (the frame's bytes as received), from the
 * router's `from` address and MAC to the sender. Undefined where RFC 4443 §2.4(e)
 * says not to send one: about an ICMPv6 error, or to a multicast or unspecified
 * source, or a packet sent to a multicast address.
 */
export function icmpv6Error(original: Uint8Array, frame: packet.EthernetFrame, error: { readonly type: number; readonly code: number }, from: { mac: MacAddress; ip: Ipv6Address }): packet.EthernetFrame | undefined {
  const ip = frame.payload;
  if (ip.kind !== 'ipv6') return undefined;
  if (ip.payload.kind === 'icmpv6' && ip.payload.type < 128) return undefined;
  if (frame.src.isMulticast || ip.src.value === 0n || ip.src.value >> 120n === 0xffn || ip.dst.value >> 120n === 0xffn) return undefined;
  const ipOffset = 14 + 4 * frame.vlans.length;
  const quoted = original.slice(ipOffset, Math.min(original.length, ipOffset + MAX_QUOTE));
  const body = new Uint8Array(4 + quoted.length);
  body.set(quoted, 4);
  return packet.ethernet({ src: from.mac, dst: frame.src, payload: packet.ipv6({ src: from.ip, dst: ip.src, hopLimit: REPLY_TTL, payload: { kind: 'icmpv6', type: error.type, code: error.code, body } }) });
}

/** The echo reply to an echo request sent to one of the router's addresses (`to`), from the MAC it was sent to. */
export function icmpv6EchoReply(frame: packet.EthernetFrame, to: Ipv6Address): packet.EthernetFrame | undefined {
  const ip = frame.payload;
  if (ip.kind !== 'ipv6' || ip.payload.kind !== 'icmpv6' || ip.payload.type !== 128) return undefined;
  return packet.ethernet({
    src: frame.dst,
    dst: frame.src,
    payload: packet.ipv6({ src: to, dst: ip.src, hopLimit: REPLY_TTL, payload: { kind: 'icmpv6', type: 129, code: 0, body: ip.payload.body.slice() } }),
  });
}
