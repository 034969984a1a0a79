import { MacAddress } from '@dragonflow/base';
import { packet } from '@dragonflow/core';
import type { DhcpOutcome, LeaseFacts } from './responder.js';

const { finishChecksum, sum16 } = packet;

/** An answer the responder decided on. */
export type Reply = Extract<DhcpOutcome, { kind: 'reply' }>;

/** An answer's frame, encoded layer by layer: from the server's port to the client (or broadcast). */
export function encodeAnswer(facts: Pick<LeaseFacts, 'serverMac' | 'serverIp'>, out: Reply): Uint8Array {
  return packet.encodeEthernet(
    packet.ethernet({
      src: facts.serverMac,
      dst: out.dstIp.value === 0xffff_ffff ? MacAddress.BROADCAST : out.dstMac,
      payload: packet.ipv4({
        src: facts.serverIp,
        dst: out.dstIp,
        ttl: 64,
        payload: packet.udp({ srcPort: packet.DHCP_SERVER_PORT, dstPort: packet.DHCP_CLIENT_PORT, payload: packet.encodeDhcp(out.message) }),
      }),
    }),
  );
}

// Offsets in an untagged Ethernet frame carrying IPv4 without options, UDP, DHCP.
const IP = 14;
const IP_CHECKSUM = IP + 10;
const IP_SRC = IP + 12;
const IP_DST = IP + 16;
const UDP = 34;
const UDP_CHECKSUM = UDP + 6;
const DHCP = 42;
const XID = DHCP + 4;
const FLAGS = DHCP + 10;
const CIADDR = DHCP + 12;
const CHADDR = DHCP + 28;
const PROTO_UDP = 17;

const put32 = (b: Uint8Array, o: number, v: number): void => {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
};

const put16 = (b: Uint8Array, o: number, v: number): void => {
  b[o] = v >>> 8;
  b[o + 1] = v & 0xff;
};

/** What differs between the answers one lease gives to one kind of request. */
export interface AnswerFields {
  readonly xid: number;
  readonly flags: number;
  /** The reply's ciaddr (an INFORM's echoed address, else 0), as a number. */
  readonly ciaddr: number;
  /** Where the answer goes (broadcast — then to ff:ff:ff:ff:ff:ff —, the client's address or the offered one), as a number. */
  readonly dstIp: number;
}

/**
 * An OFFER's or ACK's whole frame for one lease and one client request, encoded
 * once: a client asks with the same message every time but for its xid and flags,
 * so the answers of a lease differ only in those, the ciaddr echoed, and where the
 * answer goes. `fill` copies the frame and writes them, and the two checksums from
 * the template's sums plus theirs — no message, option or layer objects, no encoder
 * and no pass over the bytes per answer.
 */
export class AnswerTemplate {
  private constructor(
    private readonly frame: Uint8Array,
    /** The IPv4 header's sum with the destination and checksum zero. */
    private readonly ipBase: number,
    /** The UDP checksum's sum (pseudo-header and datagram) with the destination, checksum, xid, flags and ciaddr zero. */
    private readonly udpBase: number,
  ) {}

  /**
   * The template of an encoded answer, or undefined when the frame is not the plain
   * layout `fill` patches (untagged Ethernet, IPv4 without options, UDP, a DHCP
   * message with a 6-byte chaddr).
   */
  static of(encoded: Uint8Array): AnswerTemplate | undefined {
    const frame = encoded.slice();
    if (frame.length < DHCP + 240 || frame[12] !== 0x08 || frame[13] !== 0x00 || frame[IP] !== 0x45 || frame[IP + 9] !== PROTO_UDP || frame[DHCP + 2] !== 6) return undefined;
    const udpLength = frame.length - UDP;
    if (((frame[UDP + 4]! << 8) | frame[UDP + 5]!) !== udpLength) return undefined;
    // The fields `fill` writes are zero in the sums: a checksum is a sum of 16-bit words, so theirs are added per answer.
    for (const [at, n] of [[IP_DST, 4], [IP_CHECKSUM, 2], [UDP_CHECKSUM, 2], [XID, 4], [FLAGS, 2], [CIADDR, 4]] as const) frame.fill(0, at, at + n);
    const ipBase = sum16(frame, IP, UDP);
    const udpBase = sum16(frame, UDP, frame.length, sum16(frame, IP_SRC, IP_SRC + 4) + PROTO_UDP + udpLength);
    return new AnswerTemplate(frame, ipBase, udpBase);
  }

  /** The answer with `f` written in: a frame of its own. */
  fill(f: AnswerFields): Uint8Array {
    const b = this.frame.slice();
    const dst = f.dstIp >>> 0;
    const xid = f.xid >>> 0;
    const ciaddr = f.ciaddr >>> 0;
    const flags = f.flags & 0xffff;
    if (dst === 0xffff_ffff) b.fill(0xff, 0, 6);
    else b.copyWithin(0, CHADDR, CHADDR + 6);
    const dstSum = (dst >>> 16) + (dst & 0xffff);
    put32(b, IP_DST, dst);
    put16(b, IP_CHECKSUM, finishChecksum(this.ipBase + dstSum));
    put32(b, XID, xid);
    put16(b, FLAGS, flags);
    put32(b, CIADDR, ciaddr);
    const udp = finishChecksum(this.udpBase + dstSum + (xid >>> 16) + (xid & 0xffff) + flags + (ciaddr >>> 16) + (ciaddr & 0xffff));
    // RFC 768: a computed 0 is sent as all ones (0 means "no checksum").
    put16(b, UDP_CHECKSUM, udp === 0 ? 0xffff : udp);
    return b;
  }
}
