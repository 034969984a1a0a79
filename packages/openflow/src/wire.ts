import { OfDecodeError, OfEncodeError } from './errors.js';

/**
 * Big-endian byte writer that grows as needed. Lengths are never typed by hand:
 * callers `mark()` a position, write the body, then `patchU16(mark, length)`.
 */
export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  pos = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  private ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.view.setUint16(this.pos, v & 0xffff);
    this.pos += 2;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.view.setUint32(this.pos, v >>> 0);
    this.pos += 4;
    return this;
  }

  u64(v: bigint): this {
    this.ensure(8);
    this.view.setBigUint64(this.pos, BigInt.asUintN(64, v));
    this.pos += 8;
    return this;
  }

  /** A 48-bit value (MAC address) as big-endian bytes. */
  u48(v: bigint): this {
    const hi = Number(v >> 32n);
    this.ensure(6);
    this.view.setUint16(this.pos, hi & 0xffff);
    this.view.setUint32(this.pos + 2, Number(v & 0xffffffffn));
    this.pos += 6;
    return this;
  }

  /** Writes `v` as an unsigned big-endian integer of `n` bytes. */
  uint(v: bigint, n: number): this {
    this.ensure(n);
    let x = v;
    for (let i = n - 1; i >= 0; i--) {
      this.buf[this.pos + i] = Number(x & 0xffn);
      x >>= 8n;
    }
    this.pos += n;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  zeros(n: number): this {
    this.ensure(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
    return this;
  }

  /** A fixed-size, NUL-padded ASCII string field. */
  fixedString(s: string, n: number, field: string): this {
    const enc = new TextEncoder().encode(s);
    if (enc.length >= n) throw new OfEncodeError(`${field} '${s}' is longer than ${n - 1} bytes`, { field });
    this.bytes(enc);
    return this.zeros(n - enc.length);
  }

  /** Pads with zeros so that (pos - start) is a multiple of 8. */
  padTo8(start: number): this {
    const rem = (this.pos - start) % 8;
    return rem === 0 ? this : this.zeros(8 - rem);
  }

  /**
   * A property TLV (Nicira action and message properties): type, a length that
   * counts the 4-byte header and the body but not the padding, the body, then zeros
   * to a multiple of 8.
   */
  prop(type: number, body: (w: this) => void): this {
    const start = this.pos;
    this.u16(type).u16(0);
    body(this);
    this.patchU16(start + 2, this.pos - start);
    return this.padTo8(start);
  }

  patchU16(at: number, v: number): void {
    if (v > 0xffff) throw new OfEncodeError(`encoded length ${v} does not fit in 16 bits`, { length: v });
    this.view.setUint16(at, v);
  }

  patchU8(at: number, v: number): void {
    this.buf[at] = v;
  }

  /** A copy of the bytes written so far. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  /**
   * The bytes written so far, not copied: valid only until the next write or reset
   * (for a caller that turns them into something else at once, e.g. a string).
   */
  written(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

/**
 * Bounds-checked big-endian reader over a window of a byte array. Every read past
 * the window throws OfDecodeError with the absolute offset (relative to `base`).
 */
export class Reader {
  private readonly view: DataView;
  pos: number;

  /**
   * @param buf the whole message
   * @param start first byte of this reader's window
   * @param end one past the last byte of the window
   */
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
    view?: DataView,
  ) {
    // Sub-readers share their parent's DataView: creating one per action is measurable.
    this.view = view ?? new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = start;
  }

  /** A reader over [start, end) of the same buffer (sharing the view). */
  window(start: number, end: number): Reader {
    return new Reader(this.buf, start, end, this.view);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new OfDecodeError(`truncated ${what}: needs ${n} bytes, ${this.end - this.pos} left`, this.pos, { what });
    }
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  u64(what = 'u64'): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos);
    this.pos += 8;
    return v;
  }

  uint(n: number, what = 'uint'): bigint {
    this.need(n, what);
    let v = 0n;
    for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(this.buf[this.pos + i]!);
    this.pos += n;
    return v;
  }

  u48(what = 'u48'): bigint {
    this.need(6, what);
    const hi = this.view.getUint16(this.pos);
    const lo = this.view.getUint32(this.pos + 2);
    this.pos += 6;
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** A copy of the next `n` bytes. */
  bytes(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  skip(n: number, what = 'padding'): void {
    this.need(n, what);
    this.pos += n;
  }

  /** A NUL-padded ASCII string of fixed size. */
  fixedString(n: number, what: string): string {
    const b = this.bytes(n, what);
    const nul = b.indexOf(0);
    return new TextDecoder().decode(nul < 0 ? b : b.subarray(0, nul));
  }

  /** A reader over the next `n` bytes; this reader moves past them. */
  sub(n: number, what: string): Reader {
    this.need(n, what);
    const r = new Reader(this.buf, this.pos, this.pos + n, this.view);
    this.pos += n;
    return r;
  }

  fail(message: string, at = this.pos, context: Record<string, unknown> = {}): never {
    throw new OfDecodeError(message, at, context);
  }
}

export function hex(n: number | bigint, width = 0): string {
  return '0x' + n.toString(16).padStart(width, '0');
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lower-case hex of bytes, no separators. */
export function bytesToHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i]!];
  return s;
}

/** Bytes of a hex string (whitespace ignored). */
export function hexToBytes(text: string): Uint8Array {
  const t = text.replace(/\s+/g, '');
  if (t.length % 2 !== 0 || /[^0-9a-f]/i.test(t)) throw new OfEncodeError(`'${text.slice(0, 40)}' is not an even-length hex string`);
  const out = new Uint8Array(t.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(t.slice(i * 2, i * 2 + 2), 16);
  return out;
}
