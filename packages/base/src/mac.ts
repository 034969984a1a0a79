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
    let v = 0n;
    for (let i = 0; i < 6; i++) v = (v << 8n) | BigInt(bytes[offset + i] ?? 0);
    return new MacAddress(v);
  }

  static isValid(text: string): boolean {
    return MAC_RE.test(text.trim());
  }

  writeTo(bytes: Uint8Array, offset = 0): void {
    let v = this.value;
    for (let i = 5; i >= 0; i--) {
      bytes[offset + i] = Number(v & 0xffn);
      v >>= 8n;
    }
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
