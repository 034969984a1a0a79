import { u16 } from './bytes.js';
import { ETH_TYPE, IP_PROTO } from './types.js';

/** An IPv4 UDP datagram found in a frame: its ports and a view of its payload. */
export interface Ipv4UdpView {
  readonly srcPort: number;
  readonly dstPort: number;
  /** A view of the frame's bytes (not a copy): valid as long as they are. */
  readonly payload: Uint8Array;
}

/**
 * The UDP payload of an IPv4 datagram in an Ethernet frame, found without decoding
 * the frame: for a punted packet whose handler reads only that (a DHCP request),
 * `decodeEthernet`'s addresses, tags and copies of each layer are work for nothing.
 * Gives what `decodeEthernet(bytes)` gives as `payload.payload` when that is a UDP
 * datagram (IPv4, not a fragment, any number of VLAN tags, Ethernet padding dropped),
 * and undefined where that is anything else or `decodeEthernet` throws.
 */
export function ipv4UdpPayload(bytes: Uint8Array): Ipv4UdpView | undefined {
  const n = bytes.length;
  if (n < 14) return undefined;
  let off = 12;
  let etherType = u16(bytes, off);
  while (etherType === ETH_TYPE.VLAN || etherType === ETH_TYPE.QINQ) {
    if (off + 6 > n) return undefined;
    off += 4;
    etherType = u16(bytes, off);
  }
  off += 2;
  if (etherType !== ETH_TYPE.IPV4 || off + 20 > n) return undefined;
  const ihl = (bytes[off]! & 0x0f) * 4;
  if (bytes[off]! >>> 4 !== 4 || ihl < 20 || off + ihl > n) return undefined;
  const totalLength = u16(bytes, off + 2);
  if (totalLength < ihl || off + totalLength > n) return undefined;
  const fragWord = u16(bytes, off + 6);
  if ((fragWord & 0x1fff) !== 0 || (fragWord & 0x2000) !== 0 || bytes[off + 9] !== IP_PROTO.UDP) return undefined;
  const udp = off + ihl;
  const end = off + totalLength;
  if (udp + 8 > end) return undefined;
  const length = u16(bytes, udp + 4);
  if (length < 8 || udp + length > end) return undefined;
  return { srcPort: u16(bytes, udp), dstPort: u16(bytes, udp + 2), payload: bytes.subarray(udp + 8, udp + length) };
}
