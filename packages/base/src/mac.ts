import { DfError } from './error.js';

const MAC_RE = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i;
const MAX = (1n << 48n) - 1n;

/** A 48-bit Ethernet address, parsed once at the edge. Immutable. */
export class MacAddress {
  static readonly BROADCAST = new MacAddress(MAX);
  static readonly ZERO = new MacAddress(0n);

  private constructor(readonly value: bigint) {}

  static parse(text: string, where = 'mac'): MacAddress {
    const m = MAC_RE.exec(text.trim());
    if (!m) throw new DfError('INVALID_MAC', `'${text}' is not a MAC address (expected aa:bb:cc:dd:ee:ff)`, { context: { field: where } });
    return new MacAddress(BigInt('0x' + m.slice(1, 7).join('')));
  }

  static fromBigInt(value: bigint): MacAddress {
    if (value < 0n || value > MAX) throw new DfError('INVALID_MAC', `MAC value ${value} is out of range`);
    return new MacAddress(value);
  }

  static fromBytes(bytes: Uint8Array, offset = 0): MacAddress {
    // Two numbers (16 + 32 bits) and one BigInt: every packet's addresses go through here.
    const b = (i: number): number => bytes[offset + i] ?? 0;
    const high = (b(0) << 8) | b(1);
    const low = ((b(2) << 24) | (b(3) << 16) | (b(4) << 8) | b(5)) >>> 0;
    return new MacAddress(BigInt(high * 0x1_0000_0000 + low));
  }

  static isValid(text: string): boolean {
    return MAC_RE.test(text.trim());
  }

  writeTo(bytes: Uint8Array, offset = 0): void {
    // 48 bits fit a double exactly: one conversion, then number arithmetic.
    const v = Number(this.value);
    const high = Math.floor(v / 0x1_0000_0000);
    const low = v >>> 0;
    bytes[offset] = high >>> 8;
    bytes[offset + 1] = high & 0xff;
    bytes[offset + 2] = low >>> 24;
    bytes[offset + 3] = (low >>> 16) & 0xff;
    bytes[offset + 4] = (low >>> 8) & 0xff;
    bytes[offset + 5] = low & 0xff;
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(6);
    this.writeTo(out);
    return out;
  }

  get isMulticast(): boolean {
    return ((this.value >> 40n) & 1n) === 1n;
  }

  get isBroadcast(): boolean {
    return this.value === MAX;
  }

  equals(other: MacAddress): boolean {
    return this.value === other.value;
  }

  toString(): string {
    return this.value
      .toString(16)
      .padStart(12, '0')
      .replace(/(..)(?!$)/g, '$1:');
  }

  toJSON(): string {
    return this.toString();
  }
}
