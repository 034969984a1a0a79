import { Ipv6Address, type MacAddress } from '@dragonflow/base';
import { put16, put32, u16, u32 } from '../bytes.js';
import { PacketDecodeError, PacketEncodeError } from '../errors.js';

/** DHCPv6 message types (RFC 8415 §7.3). */
export const Dhcp6Type = {
  SOLICIT: 1,
  ADVERTISE: 2,
  REQUEST: 3,
  CONFIRM: 4,
  RENEW: 5,
  REBIND: 6,
  REPLY: 7,
  RELEASE: 8,
  DECLINE: 9,
  RECONFIGURE: 10,
  INFORMATION_REQUEST: 11,
  RELAY_FORW: 12,
  RELAY_REPL: 13,
} as const;

/** DHCPv6 option codes used here (RFC 8415 §21, RFC 3646). */
export const Dhcp6Option = {
  CLIENTID: 1,
  SERVERID: 2,
  IA_NA: 3,
  IA_TA: 4,
  IAADDR: 5,
  ORO: 6,
  PREFERENCE: 7,
  ELAPSED_TIME: 8,
  STATUS_CODE: 13,
  RAPID_COMMIT: 14,
  DNS_SERVERS: 23,
  DOMAIN_LIST: 24,
} as const;

/** Status codes (RFC 8415 §21.13). */
export const Dhcp6Status = { SUCCESS: 0, UNSPEC_FAIL: 1, NO_ADDRS_AVAIL: 2, NO_BINDING: 3, NOT_ON_LINK: 4, USE_MULTICAST: 5 } as const;

export const DHCP6_CLIENT_PORT = 546;
export const DHCP6_SERVER_PORT = 547;
/** All_DHCP_Relay_Agents_and_Servers (RFC 8415 §7.1): where clients send. */
export const DHCP6_SERVERS_GROUP = 'ff02::1:2';

/** One option as it is on the wire; repeated options stay separate entries, in order. */
export interface Dhcp6Opt {
  readonly code: number;
  readonly data: Uint8Array;
}

/** A client/server message (RFC 8415 §8); relay messages are not handled here. */
export interface Dhcp6Message {
  readonly type: number;
  /** 24 bits. */
  readonly transactionId: number;
  readonly options: readonly Dhcp6Opt[];
}

/** Options in TLV form (2-byte code, 2-byte length), from `start` to the end; `base` offsets errors. */
export function decodeDhcp6Options(b: Uint8Array, start = 0, base = 0): Dhcp6Opt[] {
  const out: Dhcp6Opt[] = [];
  let o = start;
  while (o < b.length) {
    if (o + 4 > b.length) throw new PacketDecodeError('truncated DHCPv6 option header', base + o);
    const code = u16(b, o);
    const len = u16(b, o + 2);
    if (o + 4 + len > b.length) throw new PacketDecodeError(`DHCPv6 option ${code} of ${len} bytes runs past its container`, base + o, { option: code });
    out.push({ code, data: b.slice(o + 4, o + 4 + len) });
    o += 4 + len;
  }
  return out;
}

export function encodeDhcp6Options(options: readonly Dhcp6Opt[]): Uint8Array {
  const len = options.reduce((n, opt) => n + 4 + opt.data.length, 0);
  const out = new Uint8Array(len);
  let o = 0;
  for (const opt of options) {
    if (opt.data.length > 0xffff) throw new PacketEncodeError(`DHCPv6 option ${opt.code} of ${opt.data.length} bytes does not fit`, { option: opt.code });
    put16(out, o, opt.code);
    put16(out, o + 2, opt.data.length);
    out.set(opt.data, o + 4);
    o += 4 + opt.data.length;
  }
  return out;
}

export function decodeDhcp6(b: Uint8Array): Dhcp6Message {
  if (b.length < 4) throw new PacketDecodeError(`DHCPv6 message of ${b.length} bytes (needs 4)`, b.length);
  const type = b[0]!;
  if (type === Dhcp6Type.RELAY_FORW || type === Dhcp6Type.RELAY_REPL) throw new PacketDecodeError('DHCPv6 relay messages are not handled (the server is on-link)', 0, { type });
  return { type, transactionId: (b[1]! << 16) | (b[2]! << 8) | b[3]!, options: decodeDhcp6Options(b, 4, 0) };
}

export function encodeDhcp6(m: Dhcp6Message): Uint8Array {
  if (!Number.isInteger(m.transactionId) || m.transactionId < 0 || m.transactionId > 0xffffff) throw new PacketEncodeError(`DHCPv6 transaction id ${m.transactionId} is not 24 bits`);
  const opts = encodeDhcp6Options(m.options);
  const out = new Uint8Array(4 + opts.length);
  out[0] = m.type;
  out[1] = (m.transactionId >>> 16) & 0xff;
  out[2] = (m.transactionId >>> 8) & 0xff;
  out[3] = m.transactionId & 0xff;
  out.set(opts, 4);
  return out;
}

/** The first option with `code`, or undefined. */
export function dhcp6Option(options: readonly Dhcp6Opt[], code: number): Dhcp6Opt | undefined {
  return options.find((o) => o.code === code);
}

// ---- option bodies

/** An identity association for non-temporary addresses (RFC 8415 §21.4). */
export interface IaNa {
  readonly iaid: number;
  readonly t1: number;
  readonly t2: number;
  readonly options: readonly Dhcp6Opt[];
}

export function decodeIaNa(data: Uint8Array): IaNa {
  if (data.length < 12) throw new PacketDecodeError(`IA_NA of ${data.length} bytes (needs 12)`, data.length);
  return { iaid: u32(data, 0), t1: u32(data, 4), t2: u32(data, 8), options: decodeDhcp6Options(data, 12) };
}

export function encodeIaNa(ia: IaNa): Dhcp6Opt {
  const inner = encodeDhcp6Options(ia.options);
  const data = new Uint8Array(12 + inner.length);
  put32(data, 0, ia.iaid);
  put32(data, 4, ia.t1);
  put32(data, 8, ia.t2);
  data.set(inner, 12);
  return { code: Dhcp6Option.IA_NA, data };
}

/** An address inside an IA (RFC 8415 §21.6); lifetimes in seconds. */
export interface IaAddr {
  readonly address: Ipv6Address;
  readonly preferredLifetime: number;
  readonly validLifetime: number;
  readonly options: readonly Dhcp6Opt[];
}

export function decodeIaAddr(data: Uint8Array): IaAddr {
  if (data.length < 24) throw new PacketDecodeError(`IAADDR of ${data.length} bytes (needs 24)`, data.length);
  return { address: Ipv6Address.fromBytes(data.subarray(0, 16)), preferredLifetime: u32(data, 16), validLifetime: u32(data, 20), options: decodeDhcp6Options(data, 24) };
}

export function encodeIaAddr(a: IaAddr): Dhcp6Opt {
  const inner = encodeDhcp6Options(a.options);
  const data = new Uint8Array(24 + inner.length);
  data.set(a.address.toBytes(), 0);
  put32(data, 16, a.preferredLifetime);
  put32(data, 20, a.validLifetime);
  data.set(inner, 24);
  return { code: Dhcp6Option.IAADDR, data };
}

export function encodeStatus(code: number, message = ''): Dhcp6Opt {
  const text = new TextEncoder().encode(message);
  const data = new Uint8Array(2 + text.length);
  put16(data, 0, code);
  data.set(text, 2);
  return { code: Dhcp6Option.STATUS_CODE, data };
}

export function decodeStatus(data: Uint8Array): { code: number; message: string } {
  if (data.length < 2) throw new PacketDecodeError(`status code option of ${data.length} bytes (needs 2)`, data.length);
  return { code: u16(data, 0), message: new TextDecoder().decode(data.subarray(2)) };
}

/** The option codes an Option Request option names. */
export function decodeOro(data: Uint8Array): number[] {
  if (data.length % 2 !== 0) throw new PacketDecodeError(`option request option of odd length ${data.length}`, data.length);
  const out: number[] = [];
  for (let o = 0; o < data.length; o += 2) out.push(u16(data, o));
  return out;
}

export function encodeAddresses(code: number, addresses: readonly Ipv6Address[]): Dhcp6Opt {
  const data = new Uint8Array(16 * addresses.length);
  addresses.forEach((a, i) => data.set(a.toBytes(), 16 * i));
  return { code, data };
}

export function decodeAddresses(data: Uint8Array): Ipv6Address[] {
  if (data.length % 16 !== 0) throw new PacketDecodeError(`address list of ${data.length} bytes (not a multiple of 16)`, data.length);
  const out: Ipv6Address[] = [];
  for (let o = 0; o < data.length; o += 16) out.push(Ipv6Address.fromBytes(data.subarray(o, o + 16)));
  return out;
}

/** A domain search list (RFC 3646 §4): names in DNS wire format, uncompressed (RFC 8415 §10). */
export function encodeDomainList(names: readonly string[]): Dhcp6Opt {
  const parts: number[] = [];
  for (const name of names) {
    for (const label of name.replace(/\.$/, '').split('.')) {
      if (label.length === 0 || label.length > 63) throw new PacketEncodeError(`domain name ${name} has a label of ${label.length} characters`, { name });
      parts.push(label.length, ...new TextEncoder().encode(label));
    }
    parts.push(0);
  }
  return { code: Dhcp6Option.DOMAIN_LIST, data: Uint8Array.from(parts) };
}

export function decodeDomainList(data: Uint8Array): string[] {
  const out: string[] = [];
  let labels: string[] = [];
  let o = 0;
  while (o < data.length) {
    const len = data[o]!;
    if (len === 0) {
      out.push(labels.join('.'));
      labels = [];
      o++;
      continue;
    }
    if (len > 63 || o + 1 + len > data.length) throw new PacketDecodeError(`bad domain label of ${len} bytes`, o);
    labels.push(new TextDecoder().decode(data.subarray(o + 1, o + 1 + len)));
    o += 1 + len;
  }
  if (labels.length > 0) throw new PacketDecodeError('domain name without its final empty label', data.length);
  return out;
}

/** A DUID-LL (RFC 8415 §11.4: type 3, hardware type 1 Ethernet, the MAC): stable as long as the MAC is. */
export function duidLl(mac: MacAddress): Uint8Array {
  const out = new Uint8Array(10);
  out[1] = 3;
  out[3] = 1;
  out.set(mac.toBytes(), 4);
  return out;
}
