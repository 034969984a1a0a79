import { OFP_HEADER_LEN } from './consts.js';
import { OfDecodeError } from './errors.js';

/**
 * Reassembles OpenFlow messages from a TCP byte stream. Push chunks of any size;
 * get whole messages back, in order. A message wholly inside one chunk is returned
 * as a view into that chunk (no copy); a message spanning chunks is copied once.
 *
 * Bounded: between pushes at most one partial message is held, and a message is at
 * most `maxMessageLength` bytes (the 16-bit length field caps it at 65535 anyway).
 * A length below the 8-byte header or above the limit throws OfDecodeError with the
 * stream offset of the length field; the framer then stays broken (the stream cannot
 * be resynchronised), and the connection must be closed.
 */
export class OfFramer {
  private partial: Uint8Array | null = null;
  private partialLen = 0;
  private partialStart = 0;
  /** Bytes consumed from the stream before the current chunk. */
  private consumed = 0;
  private broken: OfDecodeError | null = null;

  constructor(private readonly maxMessageLength = 0xffff) {}

  /** Bytes held waiting for the rest of a message. */
  get buffered(): number {
    return this.partialLen;
  }

  push(chunk: Uint8Array): Uint8Array[] {
    if (this.broken) throw this.broken;
    const out: Uint8Array[] = [];
    let off = 0;
    while (off < chunk.length) {
      if (this.partial) {
        if (this.partialLen < OFP_HEADER_LEN) {
          const n = Math.min(OFP_HEADER_LEN - this.partialLen, chunk.length - off);
          this.partial.set(chunk.subarray(off, off + n), this.partialLen);
          this.partialLen += n;
          off += n;
          if (this.partialLen < OFP_HEADER_LEN) break;
          const len = this.checkLength(this.partial, 0, this.partialStart);
          if (len > this.partial.length) {
            const grown = new Uint8Array(len);
            grown.set(this.partial.subarray(0, this.partialLen));
            this.partial = grown;
          }
        }
        const len = lengthAt(this.partial, 0);
        const n = Math.min(len - this.partialLen, chunk.length - off);
        this.partial.set(chunk.subarray(off, off + n), this.partialLen);
        this.partialLen += n;
        off += n;
        if (this.partialLen === len) {
          out.push(this.partial.subarray(0, len));
          this.partial = null;
          this.partialLen = 0;
        }
        continue;
      }
      const left = chunk.length - off;
      if (left >= OFP_HEADER_LEN) {
        const len = this.checkLength(chunk, off, this.consumed + off);
        if (left >= len) {
          out.push(chunk.subarray(off, off + len));
          off += len;
          continue;
        }
        this.partial = new Uint8Array(len);
      } else {
        this.partial = new Uint8Array(OFP_HEADER_LEN);
      }
      this.partial.set(chunk.subarray(off));
      this.partialLen = left;
      this.partialStart = this.consumed + off;
      off = chunk.length;
    }
    this.consumed += chunk.length;
    return out;
  }

  private checkLength(b: Uint8Array, pos: number, streamPos: number): number {
    const len = lengthAt(b, pos);
    if (len < OFP_HEADER_LEN || len > this.maxMessageLength) {
      this.broken = new OfDecodeError(`OpenFlow message length ${len} is outside ${OFP_HEADER_LEN}..${this.maxMessageLength}`, streamPos + 2, { length: len });
      this.partial = null;
      this.partialLen = 0;
      throw this.broken;
    }
    return len;
  }

  /** Forgets any partial message and a previous error (for a new stream). */
  reset(): void {
    this.partial = null;
    this.partialLen = 0;
    this.consumed = 0;
    this.broken = null;
  }
}

function lengthAt(b: Uint8Array, pos: number): number {
  return (b[pos + 2]! << 8) | b[pos + 3]!;
}
