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
 * answer goes. `fill` copies the frame, writes them and the two checksums — no
 * message, option or layer objects, no encoder per answer.
 */
export class AnswerTemplate {
  private constructor(
    private readonly frame: Uint8Array,
    /** The UDP pseudo-header's sum without the destination address. */
    private readonly pseudoBase: number,
  ) {}

  /**
   * The template of an encoded answer, or undefined when the frame is not the plain
   * layout `fill` patches (untagged Ethernet, IPv4 without options, UDP, a DHCP
   * message with a 6-byte chaddr).
   */
  static of(frame: Uint8Array): AnswerTemplate | undefined {
    if (frame.length < DHCP + 240 || frame[12] !== 0x08 || frame[13] !== 0x00 || frame[IP] !== 0x45 || frame[IP + 9] !== PROTO_UDP || frame[DHCP + 2] !== 6) return undefined;
    const udpLength = frame.length - UDP;
    if (((frame[UDP + 4]! << 8) | frame[UDP + 5]!) !== udpLength) return undefined;
    const pseudoBase = sum16(frame, IP_SRC, IP_SRC + 4) + PROTO_UDP + udpLength;
    return new AnswerTemplate(frame.slice(), pseudoBase);
  }

  /** The answer with `f` written in: a frame of its own. */
  fill(f: AnswerFields): Uint8Array {
    const b = this.frame.slice();
    const dst = f.dstIp >>> 0;
    if (dst === 0xffff_ffff) b.fill(0xff, 0, 6);
    else b.copyWithin(0, CHADDR, CHADDR + 6);
    put32(b, IP_DST, f.dstIp);
    b[IP_CHECKSUM] = 0;
    b[IP_CHECKSUM + 1] = 0;
    const ip = finishChecksum(sum16(b, IP, UDP));
    b[IP_CHECKSUM] = ip >>> 8;
    b[IP_CHECKSUM + 1] = ip & 0xff;
    put32(b, XID, f.xid);
    b[FLAGS] = f.flags >>> 8;
    b[FLAGS + 1] = f.flags & 0xff;
    put32(b, CIADDR, f.ciaddr);
    b[UDP_CHECKSUM] = 0;
    b[UDP_CHECKSUM + 1] = 0;
    const udp = finishChecksum(sum16(b, UDP, b.length, this.pseudoBase + (dst >>> 16) + (dst & 0xffff)));
    // RFC 768: a computed 0 is sent as all ones (0 means "no checksum").
    const c = udp === 0 ? 0xffff : udp;
    b[UDP_CHECKSUM] = c >>> 8;
    b[UDP_CHECKSUM + 1] = c & 0xff;
    return b;
  }
}
