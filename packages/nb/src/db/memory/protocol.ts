import { DfError } from '@dragonflow/base';
import { NbErrorCode } from '../../errors.js';

/*
 * Wire protocol of the served memory DB: each message is a frame of a 4-byte
 * big-endian length followed by that many bytes of UTF-8 JSON.
 *
 *   request   {"id": n, "op": "commit", "args": [...]}
 *   first     {"id": n, "op": "hello", "args": [{"token": "..."}]}   (authenticates the connection)
 *   response  {"id": n, "ok": true, "result": ...}
 *           | {"id": n, "ok": false, "error": {"code": "NB_CONFLICT", "message": "...", "context": {...}}}
 *
 * The change feed is pulled: {"op":"changes","args":[fromRevision, maxBatches, waitMs]}
 * answers as soon as a batch at or after fromRevision exists, or with [] after
 * waitMs; {"op":"cancel","args":[requestId]} ends such a wait early. The client
 * always knows its position, so a reconnect resumes exactly where it stopped.
 */

/** Largest frame the protocol can carry at all (what a client accepts from its server). */
export const MAX_FRAME = 256 * 1024 * 1024;
/** Default cap on a request frame a server accepts from an authenticated client. */
export const DEFAULT_MAX_REQUEST_FRAME = 8 * 1024 * 1024;
/** Cap on frames before a connection has authenticated (a hello is tiny). */
export const MAX_HELLO_FRAME = 64 * 1024;

export type MemoryOp =
  | 'hello'
  | 'get'
  | 'getMany'
  | 'list'
  | 'snapshot'
  | 'currentRevision'
  | 'commit'
  | 'allocateKey'
  | 'grantLease'
  | 'keepAlive'
  | 'revokeLease'
  | 'changes'
  | 'cancel';

export interface Request {
  id: number;
  op: MemoryOp;
  args: unknown[];
}

export interface WireError {
  code: string;
  message: string;
  context?: Record<string, unknown>;
}

export type Response = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: WireError };

export interface Hello {
  epoch: string;
  revision: number;
  oldestRevision: number;
}

export function encodeFrame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  if (body.length > MAX_FRAME) throw new DfError(NbErrorCode.INVALID, `message of ${body.length} bytes exceeds the ${MAX_FRAME}-byte frame limit`);
  const frame = Buffer.allocUnsafe(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

/** Splits a byte stream into JSON messages; input may arrive cut at any byte. */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** `maxFrame` is checked on the length prefix, before any of the body is buffered. */
  constructor(public maxFrame = MAX_FRAME) {}

  /** Feeds bytes; returns every complete message. Throws on a corrupt stream. */
  push(data: Buffer): unknown[] {
    this.chunks.push(data);
    this.buffered += data.length;
    const out: unknown[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const head = this.peek(4);
      const len = head.readUInt32BE(0);
      if (len > this.maxFrame) throw new DfError(NbErrorCode.INVALID, `frame of ${len} bytes exceeds the ${this.maxFrame}-byte limit`, { context: { length: len, limit: this.maxFrame } });
      if (this.buffered < 4 + len) break;
      const frame = this.take(4 + len);
      const text = frame.subarray(4).toString('utf8');
      try {
        out.push(JSON.parse(text));
      } catch (cause) {
        throw new DfError(NbErrorCode.INVALID, 'frame is not JSON', { cause, context: { length: len } });
      }
    }
    return out;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    const all = Buffer.concat(this.chunks);
    this.chunks = [all];
    return all;
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const frame = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return frame;
  }
}

export function toWireError(err: unknown): WireError {
  if (err instanceof DfError) return { code: err.code, message: err.message, context: { ...err.context } };
  return { code: 'NB_INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

export function fromWireError(e: WireError): DfError {
  return new DfError(e.code, e.message, { context: e.context ?? {} });
}

/** Parses `unix:/path`, `/path`, `tcp:host:port` or `host:port`. */
export function parseEndpoint(endpoint: string): { path: string } | { host: string; port: number } {
  const e = endpoint.trim();
  if (e.startsWith('unix:')) return { path: e.slice(5) };
  if (e.startsWith('/') || e.startsWith('.')) return { path: e };
  const hp = e.startsWith('tcp:') ? e.slice(4) : e.replace(/^tcp:\/\//, '');
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(hp);
  if (!m) {
    throw new DfError(NbErrorCode.CONFIG, `'${endpoint}' is not a memory DB endpoint (expected unix:/path/to/socket or tcp:host:port)`, { context: { field: 'endpoint' } });
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}
