import ipaddr from 'ipaddr.js';
import { DfError } from './error.js';

/** An IPv4 address held as an unsigned 32-bit number. Immutable. */
export class Ipv4Address {
  readonly family = 4 as const;
  private constructor(readonly value: number) {}

  static parse(text: string, where = 'ip_address'): Ipv4Address {
    const t = text.trim();
    if (!ipaddr.IPv4.isValidFourPartDecimal(t)) {
      throw new DfError('INVALID_IP', `'${text}' is not an IPv4 address`, { context: { field: where } });
    }
    const b = ipaddr.IPv4.parse(t).octets;
    return new Ipv4Address(((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0);
  }

  static fromNumber(value: number): Ipv4Address {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new DfError('INVALID_IP', `IPv4 value ${value} is out of range`);
    }
    return new Ipv4Address(value >>> 0);
  }

  static fromBytes(bytes: Uint8Array, offset = 0): Ipv4Address {
    return new Ipv4Address(((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0);
  }

  writeTo(bytes: Uint8Array, offset = 0): void {
    bytes[offset] = this.value >>> 24;
    bytes[offset + 1] = (this.value >>> 16) & 0xff;
    bytes[offset + 2] = (this.value >>> 8) & 0xff;
    bytes[offset + 3] = this.value & 0xff;
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(4);
    this.writeTo(out);
    return out;
  }

  toBigInt(): bigint {
    return BigInt(this.value);
  }

  equals(other: IpAddress): boolean {
    return other.family === 4 && other.value === this.value;
  }

  toString(): string {
    const v = this.value;
    return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

const V6_MAX = (1n << 128n) - 1n;

/** An IPv6 address held as an unsigned 128-bit bigint. Immutable. */
export class Ipv6Address {
  readonly family = 6 as const;
  private constructor(readonly value: bigint) {}

  static parse(text: string, where = 'ip_address'): Ipv6Address {
    const t = text.trim();
    if (!ipaddr.IPv6.isValid(t) || t.includes('%')) {
      throw new DfError('INVALID_IP', `'${text}' is not an IPv6 address`, { context: { field: where } });
    }
    return Ipv6Address.fromBytes(Uint8Array.from(ipaddr.IPv6.parse(t).toByteArray()));
  }

  static fromBigInt(value: bigint): Ipv6Address {
    if (value < 0n || value > V6_MAX) throw new DfError('INVALID_IP', `IPv6 value ${value} is out of range`);
    return new Ipv6Address(value);
  }

  static fromBytes(bytes: Uint8Array, offset = 0): Ipv6Address {
    let v = 0n;
    for (let i = 0; i < 16; i++) v = (v << 8n) | BigInt(bytes[offset + i] ?? 0);
    return new Ipv6Address(v);
  }

  writeTo(bytes: Uint8Array, offset = 0): void {
    let v = this.value;
    for (let i = 15; i >= 0; i--) {
      bytes[offset + i] = Number(v & 0xffn);
      v >>= 8n;
    }
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(16);
    this.writeTo(out);
    return out;
  }

  toBigInt(): bigint {
    return this.value;
  }

  equals(other: IpAddress): boolean {
    return other.family === 6 && other.value === this.value;
  }

  toString(): string {
    return ipaddr.fromByteArray(Array.from(this.toBytes())).toString();
  }

  toJSON(): string {
    return this.toString();
  }
}

export type IpAddress = Ipv4Address | Ipv6Address;

/** Parses an IPv4 or IPv6 address; `where` names the field in the error. */
export function parseIp(text: string, where = 'ip_address'): IpAddress {
  if (typeof text !== 'string') throw new DfError('INVALID_IP', `${where} must be a string`, { context: { field: where } });
  if (text.includes(':')) return Ipv6Address.parse(text, where);
  return Ipv4Address.parse(text, where);
}

export function isValidIp(text: string): boolean {
  try {
    parseIp(text);
    return true;
  } catch {
    return false;
  }
}

function bitsOf(family: 4 | 6): number {
  return family === 4 ? 32 : 128;
}

function ipFromBigInt(family: 4 | 6, v: bigint): IpAddress {
  return family === 4 ? Ipv4Address.fromNumber(Number(v)) : Ipv6Address.fromBigInt(v);
}

/** An IP network in CIDR form (address with host bits zero, and a prefix length). */
export class IpNetwork {
  private constructor(
    readonly address: IpAddress,
    readonly prefixLength: number,
  ) {}

  /**
   * Parses "a.b.c.d/n" or "x::/n". With `strict` (the default), host bits must be zero,
   * as Neutron requires for a subnet CIDR; the error suggests the network address.
   */
  static parse(text: string, where = 'cidr', strict = true): IpNetwork {
    if (typeof text !== 'string') throw new DfError('INVALID_CIDR', `${where} must be a string`, { context: { field: where } });
    const slash = text.indexOf('/');
    if (slash < 0) throw new DfError('INVALID_CIDR', `'${text}' is not a CIDR (expected address/prefix)`, { context: { field: where } });
    let address: IpAddress;
    try {
      address = parseIp(text.slice(0, slash), where);
    } catch (cause) {
      throw new DfError('INVALID_CIDR', `'${text}' is not a CIDR: bad address`, { cause, context: { field: where } });
    }
    const prefixText = text.slice(slash + 1);
    const bits = bitsOf(address.family);
    const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
    if (!(prefix >= 0 && prefix <= bits)) {
      throw new DfError('INVALID_CIDR', `'${text}' is not a CIDR: prefix must be 0..${bits}`, { context: { field: where } });
    }
    const net = IpNetwork.of(address, prefix);
    if (strict && !net.address.equals(address)) {
      throw new DfError('INVALID_CIDR', `'${text}' has host bits set; did you mean '${net.toString()}'?`, { context: { field: where } });
    }
    return net;
  }

  /** The network of `address` with `prefixLength` bits (host bits cleared). */
  static of(address: IpAddress, prefixLength: number): IpNetwork {
    const bits = bitsOf(address.family);
    const mask = IpNetwork.maskOf(bits, prefixLength);
    return new IpNetwork(ipFromBigInt(address.family, address.toBigInt() & mask), prefixLength);
  }

  private static maskOf(bits: number, prefix: number): bigint {
    const all = (1n << BigInt(bits)) - 1n;
    return prefix === 0 ? 0n : (all >> BigInt(bits - prefix)) << BigInt(bits - prefix);
  }

  get family(): 4 | 6 {
    return this.address.family;
  }

  /** The netmask as an address (e.g. 255.255.255.0). */
  get netmask(): IpAddress {
    return ipFromBigInt(this.family, IpNetwork.maskOf(bitsOf(this.family), this.prefixLength));
  }

  /** Number of addresses in the network. */
  get size(): bigint {
    return 1n << BigInt(bitsOf(this.family) - this.prefixLength);
  }

  get first(): IpAddress {
    return this.address;
  }

  get last(): IpAddress {
    return ipFromBigInt(this.family, this.address.toBigInt() + this.size - 1n);
  }

  /** The broadcast address (IPv4 only; the last address). */
  get broadcast(): IpAddress {
    return this.last;
  }

  contains(ip: IpAddress): boolean {
    if (ip.family !== this.family) return false;
    const v = ip.toBigInt();
    const base = this.address.toBigInt();
    return v >= base && v < base + this.size;
  }

  overlaps(other: IpNetwork): boolean {
    return other.family === this.family && (this.contains(other.address) || other.contains(this.address));
  }

  /** The address `offset` places after the network address. */
  at(offset: bigint): IpAddress {
    if (offset < 0n || offset >= this.size) {
      throw new DfError('INVALID_IP', `offset ${offset} is outside ${this.toString()}`);
    }
    return ipFromBigInt(this.family, this.address.toBigInt() + offset);
  }

  equals(other: IpNetwork): boolean {
    return this.prefixLength === other.prefixLength && this.address.equals(other.address);
  }

  toString(): string {
    return `${this.address.toString()}/${this.prefixLength}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

/** The address `delta` after `ip` (negative goes backwards). */
export function offsetIp(ip: IpAddress, delta: bigint): IpAddress {
  return ipFromBigInt(ip.family, ip.toBigInt() + delta);
}

/** Compares two addresses of the same family; IPv4 sorts before IPv6. */
export function compareIp(a: IpAddress, b: IpAddress): number {
  if (a.family !== b.family) return a.family - b.family;
  const d = a.toBigInt() - b.toBigInt();
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}
