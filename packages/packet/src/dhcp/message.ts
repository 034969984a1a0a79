import { Ipv4Address, MacAddress } from '@dragonflow/base';
import { PacketDecodeError, PacketEncodeError } from '../errors.js';

/** DHCP message types (option 53, RFC 2132 §9.6). */
export const DhcpMessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
export type DhcpMessageTypeValue = (typeof DhcpMessageType)[keyof typeof DhcpMessageType];

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
/** The BOOTP broadcast flag (RFC 2131 §2, figure 2). */
export const DHCP_FLAG_BROADCAST = 0x8000;

const MAGIC_COOKIE = 0x63825363;
/** op(1) htype(1) hlen(1) hops(1) xid(4) secs(2) flags(2) 4 addresses(16) chaddr(16) sname(64) file(128). */
const FIXED_LEN = 236;
/** RFC 1542 §3.1.1: a relay agent may drop a BOOTP message shorter than 300 bytes; clients and servers pad to it. */
const MIN_LEN = 300;
const OPT_PAD = 0;
const OPT_END = 255;

/**
 * A DHCPv4 message (RFC 2131). Options keep their wire order; an option that the
 * sender split into several instances (RFC 3396) is one entry, concatenated.
 */
export interface DhcpMessage {
  /** 1 BOOTREQUEST (client → server), 2 BOOTREPLY. */
  readonly op: 1 | 2;
  readonly xid: number;
  readonly secs: number;
  readonly flags: number;
  readonly hops: number;
  readonly ciaddr: Ipv4Address;
  readonly yiaddr: Ipv4Address;
  readonly siaddr: Ipv4Address;
  readonly giaddr: Ipv4Address;
  /** The client's hardware address (htype 1, hlen 6: Ethernet). */
  readonly chaddr: MacAddress;
  readonly sname: string;
  readonly file: string;
  readonly options: ReadonlyMap<number, Uint8Array>;
}

const ZERO = Ipv4Address.fromNumber(0);

/** A message with defaults for what a reply or a test usually leaves alone. */
export function dhcpMessage(init: Partial<DhcpMessage> & Pick<DhcpMessage, 'op' | 'xid' | 'chaddr'>): DhcpMessage {
  // An empty options map only when none is given (a server's reply passes its own, per answer).
  return { secs: 0, flags: 0, hops: 0, ciaddr: ZERO, yiaddr: ZERO, siaddr: ZERO, giaddr: ZERO, sname: '', file: '', ...init, options: init.options ?? new Map() };
}

// One of each for the module: building a codec per field was a visible share of a message's cost.
const LATIN1 = new TextDecoder('latin1');
const UTF8 = new TextEncoder();

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  if (end === 0) return '';
  return LATIN1.decode(end < 0 ? bytes : bytes.subarray(0, end));
}

/** Reads one options area into `into`, concatenating repeated codes (RFC 3396). Returns whether END was seen. */
function readOptions(bytes: Uint8Array, base: number, into: Map<number, Uint8Array>): boolean {
  let i = 0;
  while (i < bytes.length) {
    const code = bytes[i]!;
    if (code === OPT_PAD) {
      i++;
      continue;
    }
    if (code === OPT_END) return true;
    if (i + 1 >= bytes.length) throw new PacketDecodeError(`DHCP option ${code} has no length byte`, base + i, { option: code });
    const len = bytes[i + 1]!;
    if (i + 2 + len > bytes.length) throw new PacketDecodeError(`DHCP option ${code} says ${len} bytes, ${bytes.length - i - 2} remain`, base + i, { option: code });
    const data = bytes.slice(i + 2, i + 2 + len);
    const prev = into.get(code);
    if (prev) {
      const joined = new Uint8Array(prev.length + data.length);
      joined.set(prev);
      joined.set(data, prev.length);
      into.set(code, joined);
    } else {
      into.set(code, data);
    }
    i += 2 + len;
  }
  return false;
}

/** Decodes a DHCPv4 message (a UDP payload). Option overload (52) into sname/file is honoured. */
export function decodeDhcp(bytes: Uint8Array): DhcpMessage {
  if (bytes.length < FIXED_LEN + 4) throw new PacketDecodeError(`DHCP message of ${bytes.length} bytes is shorter than the ${FIXED_LEN + 4}-byte minimum`, bytes.length);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const op = bytes[0]!;
  if (op !== 1 && op !== 2) throw new PacketDecodeError(`DHCP op ${op} is neither 1 (request) nor 2 (reply)`, 0);
  if (bytes[1] !== 1 || bytes[2] !== 6) throw new PacketDecodeError(`DHCP htype ${bytes[1]} / hlen ${bytes[2]}: only Ethernet (1/6) is handled`, 1);
  if (v.getUint32(FIXED_LEN) !== MAGIC_COOKIE) throw new PacketDecodeError('DHCP magic cookie missing (a plain BOOTP message?)', FIXED_LEN);
  const options = new Map<number, Uint8Array>();
  readOptions(bytes.subarray(FIXED_LEN + 4), FIXED_LEN + 4, options);
  let sname = cString(bytes.subarray(44, 108));
  let file = cString(bytes.subarray(108, 236));
  const overload = options.get(52);
  if (overload && overload.length === 1) {
    if (overload[0]! & 1) {
      readOptions(bytes.subarray(108, 236), 108, options);
      file = '';
    }
    if (overload[0]! & 2) {
      readOptions(bytes.subarray(44, 108), 44, options);
      sname = '';
    }
    options.delete(52);
  }
  return {
    op,
    hops: bytes[3]!,
    xid: v.getUint32(4),
    secs: v.getUint16(8),
    flags: v.getUint16(10),
    ciaddr: Ipv4Address.fromBytes(bytes, 12),
    yiaddr: Ipv4Address.fromBytes(bytes, 16),
    siaddr: Ipv4Address.fromBytes(bytes, 20),
    giaddr: Ipv4Address.fromBytes(bytes, 24),
    chaddr: MacAddress.fromBytes(bytes, 28),
    sname,
    file,
    options,
  };
}

/**
 * Encodes a DHCPv4 message: options in map order, each longer than 255 bytes split
 * into consecutive instances (RFC 3396), END, and padding to the 300-byte minimum.
 */
export function encodeDhcp(m: DhcpMessage): Uint8Array {
  let optLen = 1; // END
  for (const [code, data] of m.options) {
    if (!Number.isInteger(code) || code <= OPT_PAD || code >= OPT_END) throw new PacketEncodeError(`DHCP option code ${code} is not 1..254`, { option: code });
    optLen += Math.max(1, Math.ceil(data.length / 255)) * 2 + data.length;
  }
  const out = new Uint8Array(Math.max(MIN_LEN, FIXED_LEN + 4 + optLen));
  const v = new DataView(out.buffer);
  out[0] = m.op;
  out[1] = 1;
  out[2] = 6;
  out[3] = m.hops;
  v.setUint32(4, m.xid >>> 0);
  v.setUint16(8, m.secs);
  v.setUint16(10, m.flags);
  m.ciaddr.writeTo(out, 12);
  m.yiaddr.writeTo(out, 16);
  m.siaddr.writeTo(out, 20);
  m.giaddr.writeTo(out, 24);
  m.chaddr.writeTo(out, 28);
  const text = (s: string, at: number, max: number, what: string): void => {
    if (s === '') return;
    const b = UTF8.encode(s);
    if (b.length >= max) throw new PacketEncodeError(`DHCP ${what} is ${b.length} bytes; at most ${max - 1} fit`, { field: what });
    out.set(b, at);
  };
  text(m.sname, 44, 64, 'sname');
  text(m.file, 108, 128, 'file');
  v.setUint32(FIXED_LEN, MAGIC_COOKIE);
  let at = FIXED_LEN + 4;
  for (const [code, data] of m.options) {
    if (data.length <= 255) {
      out[at] = code;
      out[at + 1] = data.length;
      out.set(data, at + 2);
      at += 2 + data.length;
      continue;
    }
    let off = 0;
    do {
      const chunk = data.subarray(off, off + 255);
      out[at] = code;
      out[at + 1] = chunk.length;
      out.set(chunk, at + 2);
      at += 2 + chunk.length;
      off += 255;
    } while (off < data.length);
  }
  out[at] = OPT_END;
  return out;
}
