import type { Socket } from 'node:net';
import { DfError, systemClock, type Clock } from '@dragonflow/base';
import { OvsdbErrorCode } from './errors.js';
import { JsonFramer } from './framing.js';
import {
  encodeNotification,
  encodeRequest,
  encodeResponse,
  toJsonRpcMessage,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonValue,
} from './jsonrpc.js';

export interface RequestOptions {
  /** Aborting sends RFC 7047 `cancel` and rejects the request with OVSDB_CANCELED at once. */
  signal?: AbortSignal;
  /** Milliseconds to wait for the answer; none by default. */
  timeoutMs?: number;
}

export interface ConnectionHandlers {
  onNotification(notification: JsonRpcNotification): void;
  /** Called once, when the connection is gone; `error` says why unless we closed it. */
  onClose(error: DfError | undefined): void;
}

interface Pending {
  method: string;
  resolve(value: JsonValue): void;
  reject(error: DfError): void;
  cancelTimer: (() => void) | undefined;
  detachSignal: (() => void) | undefined;
}

/** Turns a JSON-RPC error member into a DfError naming the method. */
export function rpcError(method: string, error: JsonValue): DfError {
  let name = 'error';
  let details: string | undefined;
  if (typeof error === 'string') name = error;
  else if (typeof error === 'object' && error !== null && !Array.isArray(error)) {
    if (typeof error['error'] === 'string') name = error['error'];
    if (typeof error['details'] === 'string') details = error['details'];
  }
  const code = name === 'canceled' ? OvsdbErrorCode.CANCELED : OvsdbErrorCode.RPC;
  return new DfError(code, `${method} failed: ${name}${details ? ` (${details})` : ''}`, { context: { method, error: name, details } });
}

/**
 * One JSON-RPC session over one socket: matches answers to requests by id, answers
 * the server's `echo`, passes notifications on. It never reconnects; OvsdbClient does.
 */
export class JsonRpcConnection {
  private readonly framer = new JsonFramer();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private isClosed = false;
  private lastReceivedAt: number;

  constructor(
    private readonly socket: Socket,
    private readonly handlers: ConnectionHandlers,
    private readonly clock: Clock = systemClock,
  ) {
    this.lastReceivedAt = clock.now();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (cause) => this.shutdown(new DfError(OvsdbErrorCode.DISCONNECTED, `OVSDB connection failed: ${cause.message}`, { cause })));
    socket.on('close', () => this.shutdown(new DfError(OvsdbErrorCode.DISCONNECTED, 'OVSDB connection closed by the server')));
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Clock time of the last message received (any kind). */
  get lastReceived(): number {
    return this.lastReceivedAt;
  }

  get outstanding(): number {
    return this.pending.size;
  }

  request(method: string, params: readonly JsonValue[], options: RequestOptions = {}): Promise<JsonValue> {
    if (this.isClosed) return Promise.reject(new DfError(OvsdbErrorCode.DISCONNECTED, `cannot send ${method}: not connected`, { context: { method } }));
    const id = this.nextId++;
    return new Promise<JsonValue>((resolve, reject) => {
      const entry: Pending = { method, resolve, reject, cancelTimer: undefined, detachSignal: undefined };
      if (options.timeoutMs !== undefined) {
        entry.cancelTimer = this.clock.setTimer(options.timeoutMs, () => {
          this.settle(id)?.reject(
            new DfError(OvsdbErrorCode.TIMEOUT, `${method} got no answer within ${options.timeoutMs} ms`, { context: { method, id } }),
          );
        });
      }
      const signal = options.signal;
      if (signal) {
        // RFC 7047 §4.1.4 `cancel` asks the server to give up; ovsdb-server (3.1) logs it and
        // does nothing, so we also stop waiting here. A transaction blocked in a `wait` may
        // therefore still commit later if its condition becomes true.
        const onAbort = (): void => {
          if (!this.pending.has(id)) return;
          if (!this.isClosed) this.write(encodeNotification('cancel', [id]));
          this.settle(id)?.reject(
            new DfError(OvsdbErrorCode.CANCELED, `${method} was canceled`, { context: { method, id, reason: String(signal.reason ?? 'aborted') } }),
          );
        };
        if (signal.aborted) queueMicrotask(onAbort);
        else {
          signal.addEventListener('abort', onAbort, { once: true });
          entry.detachSignal = () => signal.removeEventListener('abort', onAbort);
        }
      }
      this.pending.set(id, entry);
      this.write(encodeRequest(method, params, id));
    });
  }

  notify(method: string, params: readonly JsonValue[]): void {
    if (!this.isClosed) this.write(encodeNotification(method, params));
  }

  close(): void {
    this.shutdown(undefined);
  }

  private write(text: string): void {
    this.socket.write(text);
  }

  private settle(id: number): Pending | undefined {
    const entry = this.pending.get(id);
    if (!entry) return undefined;
    this.pending.delete(id);
    entry.cancelTimer?.();
    entry.detachSignal?.();
    return entry;
  }

  private onData(chunk: Buffer): void {
    if (this.isClosed) return;
    let values: unknown[];
    try {
      values = this.framer.push(chunk);
    } catch (err) {
      this.shutdown(err as DfError);
      return;
    }
    for (const value of values) {
      if (this.isClosed) return;
      let message: JsonRpcMessage;
      try {
        message = toJsonRpcMessage(value);
      } catch (err) {
        this.shutdown(err as DfError);
        return;
      }
      this.lastReceivedAt = this.clock.now();
      this.dispatch(message);
    }
  }

  private dispatch(message: JsonRpcMessage): void {
    switch (message.kind) {
      case 'response': {
        const entry = typeof message.id === 'number' ? this.settle(message.id) : undefined;
        // An answer to nothing we are waiting for (e.g. after a timeout) is dropped.
        if (!entry) return;
        if (message.error !== null) entry.reject(rpcError(entry.method, message.error));
        else entry.resolve(message.result);
        return;
      }
      case 'request':
        if (message.method === 'echo') this.write(encodeResponse(message.id, message.params));
        else this.write(encodeResponse(message.id, null, { error: 'unknown method', details: message.method }));
        return;
      case 'notification':
        this.handlers.onNotification(message);
        return;
    }
  }

  private shutdown(error: DfError | undefined): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.socket.destroy();
    const reason = error ?? new DfError(OvsdbErrorCode.CLOSED, 'OVSDB connection closed');
    for (const id of [...this.pending.keys()]) {
      const entry = this.settle(id);
      entry?.reject(
        new DfError(reason.code === OvsdbErrorCode.CLOSED ? OvsdbErrorCode.CLOSED : OvsdbErrorCode.DISCONNECTED, `${entry.method} did not complete: ${reason.message}`, {
          cause: reason,
          context: { method: entry.method },
        }),
      );
    }
    this.handlers.onClose(error);
  }
}
