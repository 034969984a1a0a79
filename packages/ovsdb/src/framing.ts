import { DfError } from '@dragonflow/base';
import { OvsdbErrorCode } from './errors.js';

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isJsonWhitespace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

export interface JsonFramerOptions {
  /** A message larger than this is a protocol error (protects memory from a runaway peer). */
  maxMessageBytes?: number;
}

const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

/**
 * Splits an OVSDB byte stream into JSON texts. ovsdb-server writes JSON-RPC messages
 * back to back with no delimiter, so a message ends where its outermost object closes.
 * The scanner works on bytes, so a UTF-8 character split across two chunks is fine:
 * bytes of multi-byte characters are all >= 0x80 and never look like JSON syntax.
 *
 * No I/O: feed chunks with `push`, get parsed values back. After the first error the
 * framer refuses further input; the connection carrying it must be dropped.
 */
export class JsonFramer {
  private readonly maxMessageBytes: number;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  /** Pieces of the message under construction that arrived in earlier chunks. */
  private partial: Uint8Array[] = [];
  private partialBytes = 0;
  private inMessage = false;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Stream offset of the first byte of the message under construction. */
  private messageStart = 0;
  /** Stream offset of the first byte of the next chunk. */
  private streamOffset = 0;
  private failure: DfError | undefined;

  constructor(options: JsonFramerOptions = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  /** True while a message has started but not ended (for diagnosing a dropped connection). */
  get hasPartialMessage(): boolean {
    return this.inMessage;
  }

  push(chunk: Uint8Array): unknown[] {
    if (this.failure) throw this.failure;
    try {
      return this.scan(chunk);
    } catch (err) {
      this.failure = err instanceof DfError ? err : new DfError(OvsdbErrorCode.PROTOCOL, 'unexpected framing failure', { cause: err });
      throw this.failure;
    }
  }

  private scan(chunk: Uint8Array): unknown[] {
    const out: unknown[] = [];
    const base = this.streamOffset;
    this.streamOffset += chunk.length;
    // Index in `chunk` where the message under construction starts (or 0 when it began earlier).
    let startInChunk = this.inMessage ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (!this.inMessage) {
        if (isJsonWhitespace(b)) continue;
        if (b !== OPEN_BRACE && b !== OPEN_BRACKET) {
          throw new DfError(OvsdbErrorCode.PROTOCOL, `unexpected byte 0x${b.toString(16).padStart(2, '0')} between JSON-RPC messages`, {
            context: { offset: base + i },
          });
        }
        this.inMessage = true;
        this.depth = 1;
        this.inString = false;
        this.escaped = false;
        this.messageStart = base + i;
        startInChunk = i;
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === BACKSLASH) this.escaped = true;
        else if (b === QUOTE) this.inString = false;
      } else if (b === QUOTE) {
        this.inString = true;
      } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
        this.depth++;
      } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
        this.depth--;
        if (this.depth === 0) {
          out.push(this.complete(chunk.subarray(startInChunk, i + 1)));
          startInChunk = -1;
          continue;
        }
      }
      if (base + i + 1 - this.messageStart > this.maxMessageBytes) {
        throw new DfError(OvsdbErrorCode.PROTOCOL, `JSON-RPC message exceeds ${this.maxMessageBytes} bytes`, {
          context: { offset: this.messageStart, maxMessageBytes: this.maxMessageBytes },
        });
      }
    }
    if (this.inMessage && startInChunk >= 0) {
      // Copy: the caller may reuse its buffer.
      const rest = chunk.slice(startInChunk);
      this.partial.push(rest);
      this.partialBytes += rest.length;
    }
    return out;
  }

  private complete(tail: Uint8Array): unknown {
    let bytes = tail;
    if (this.partial.length > 0) {
      bytes = new Uint8Array(this.partialBytes + tail.length);
      let at = 0;
      for (const piece of this.partial) {
        bytes.set(piece, at);
        at += piece.length;
      }
      bytes.set(tail, at);
      this.partial = [];
      this.partialBytes = 0;
    }
    this.inMessage = false;
    const offset = this.messageStart;
    let text: string;
    try {
      text = this.decoder.decode(bytes);
    } catch (cause) {
      throw new DfError(OvsdbErrorCode.PROTOCOL, 'JSON-RPC message is not valid UTF-8', { cause, context: { offset } });
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (cause) {
      throw new DfError(OvsdbErrorCode.PROTOCOL, `JSON-RPC message is not valid JSON: ${(cause as Error).message}`, {
        cause,
        context: { offset, length: bytes.length },
      });
    }
  }
}
