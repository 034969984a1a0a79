import { type Socket, createConnection } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { Backoff, type Clock, DfError, isDfError, systemClock } from '@dragonflow/base';
import { BehaviorSubject, type Observable } from 'rxjs';
import { NbErrorCode } from '../../errors.js';
import type { ChangeBatch, ChangeFeed, CommitResult, ConnectionState, Lease, NbDriver, Revision, Snapshot, StoredRecord, TxnOp, WatchOptions } from '../driver.js';
import { closedError, compactedError } from '../errors.js';
import { PollingFeed } from '../feed.js';
import { FrameDecoder, type Hello, type MemoryOp, type Response, encodeFrame, fromWireError, parseEndpoint } from './protocol.js';

export interface MemoryClientOptions {
  /** `unix:/path/to/socket` or `tcp:host:port`. */
  endpoint: string;
  /** The token the server knows this client by (its role decides what it may do). */
  token?: string;
  /** TLS for a `tcp:` endpoint served with TLS (the CA that signed the server's certificate). */
  tls?: Pick<ConnectionOptions, 'ca' | 'servername' | 'rejectUnauthorized'>;
  clock?: Clock;
  /** How long a request waits for a connection before failing with NB_UNAVAILABLE (default 10 s). */
  requestTimeoutMs?: number;
  /** Long-poll duration of the change feed (default 5 s). */
  pollWaitMs?: number;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/**
 * The memory driver of a DB served by MemoryServer in another process. Reconnects
 * by itself with backoff; feeds resume from their own position, so a dropped
 * connection or a restarted server (same file) loses no change. If the server comes
 * back with a different DB (another epoch), feeds end with NB_COMPACTED.
 */
export class MemoryClientDriver implements NbDriver {
  readonly kind = 'memory';
  private readonly state = new BehaviorSubject<ConnectionState>('disconnected');
  private readonly clock: Clock;
  private readonly where: { path: string } | { host: string; port: number };
  private socket: Socket | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private epoch: string | undefined;
  private epochGen = 0;
  private oldest = 1;
  private closed = false;
  // Every chassis reconnects when the serving process restarts: spread them out.
  private readonly reconnect = new Backoff({ initialMs: 50, maxMs: 1_000, jitter: 0.5 });
  private readyWaiters: (() => void)[] = [];
  private cancelReconnect: (() => void) | undefined;
  private readonly feeds = new Set<PollingFeed>();
  /** Set while the server refuses our token: waiting will not help, so requests fail at once. */
  private authError: DfError | undefined;
  private readyFailers: ((e: DfError) => void)[] = [];

  constructor(private readonly options: MemoryClientOptions) {
    this.clock = options.clock ?? systemClock;
    this.where = parseEndpoint(options.endpoint);
    this.dial();
  }

  /** Connects and waits for the first hello; throws NB_UNAVAILABLE if the server does not answer in time. */
  static async connect(options: MemoryClientOptions): Promise<MemoryClientDriver> {
    const d = new MemoryClientDriver(options);
    try {
      await d.ready();
    } catch (e) {
      await d.close();
      throw e;
    }
    return d;
  }

  get endpoint(): string {
    return 'path' in this.where ? `unix:${this.where.path}` : `tcp:${this.where.host}:${this.where.port}`;
  }

  get connection$(): Observable<ConnectionState> {
    return this.state.asObservable();
  }

  async get(table: string, id: string): Promise<StoredRecord | undefined> {
    return ((await this.request('get', [table, id])) as StoredRecord | null) ?? undefined;
  }

  async getMany(table: string, ids: readonly string[]): Promise<(StoredRecord | undefined)[]> {
    return ((await this.request('getMany', [table, ids])) as (StoredRecord | null)[]).map((r) => r ?? undefined);
  }

  list(table: string): Promise<Snapshot> {
    return this.request('list', [table]) as Promise<Snapshot>;
  }

  snapshot(tables?: readonly string[]): Promise<Snapshot> {
    return this.request('snapshot', [tables ?? null]) as Promise<Snapshot>;
  }

  currentRevision(): Promise<Revision> {
    return this.request('currentRevision', []) as Promise<Revision>;
  }

  commit(ops: readonly TxnOp[]): Promise<CommitResult> {
    return this.request('commit', [ops]) as Promise<CommitResult>;
  }

  allocateKey(namespace: string, max?: number): Promise<number> {
    return this.request('allocateKey', [namespace, max ?? null]) as Promise<number>;
  }

  async grantLease(ttlMs: number): Promise<Lease> {
    const { id } = (await this.request('grantLease', [ttlMs])) as { id: string };
    return {
      id,
      ttlMs,
      keepAlive: async () => {
        await this.request('keepAlive', [id]);
      },
      revoke: async () => {
        await this.request('revokeLease', [id]);
      },
    };
  }

  watch(fromRevision: Revision, options: WatchOptions = {}): ChangeFeed {
    if (this.closed) throw closedError('memory client');
    const gen = this.epochGen;
    const waitMs = this.options.pollWaitMs ?? 5_000;
    const feed = new PollingFeed(
      fromRevision,
      {
        read: async (from: Revision, max: number, signal: AbortSignal): Promise<ChangeBatch[]> => {
          await this.ready();
          if (this.epochGen !== gen) throw compactedError(from, this.oldest, 'the server now holds a different DB (epoch changed)');
          const batches = (await this.request('changes', [from, max, waitMs], signal)) as ChangeBatch[];
          if (this.epochGen !== gen) throw compactedError(from, this.oldest, 'the server now holds a different DB (epoch changed)');
          return batches;
        },
      },
      { ...options, clock: this.clock, onClose: () => this.feeds.delete(feed) },
    );
    this.feeds.add(feed);
    return feed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cancelReconnect?.();
    for (const f of [...this.feeds]) f.close();
    this.socket?.destroy();
    this.failPending(closedError('memory client'));
    for (const w of this.readyWaiters) w();
    this.readyWaiters = [];
    this.state.next('closed');
    this.state.complete();
  }

  /** Resolves when connected (hello done); NB_UNAVAILABLE after requestTimeoutMs. */
  private ready(): Promise<void> {
    if (this.closed) return Promise.reject(closedError('memory client'));
    if (this.state.value === 'connected') return Promise.resolve();
    if (this.authError) return Promise.reject(this.authError);
    const timeout = this.options.requestTimeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const done = (): void => {
        cancel();
        this.readyFailers = this.readyFailers.filter((f) => f !== fail);
        if (this.closed) reject(closedError('memory client'));
        else resolve();
      };
      const fail = (e: DfError): void => {
        cancel();
        this.readyWaiters = this.readyWaiters.filter((w) => w !== done);
        reject(e);
      };
      this.readyFailers.push(fail);
      const cancel = this.clock.setTimer(timeout, () => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== done);
        this.readyFailers = this.readyFailers.filter((f) => f !== fail);
        reject(new DfError(NbErrorCode.UNAVAILABLE, `memory DB at ${this.endpoint} is not reachable (waited ${timeout} ms)`, { context: { endpoint: this.endpoint } }));
      });
      this.readyWaiters.push(done);
    });
  }

  private async request(op: MemoryOp, args: unknown[], signal?: AbortSignal): Promise<unknown> {
    if (this.closed) throw closedError('memory client');
    if (op !== 'hello') await this.ready();
    const socket = this.socket;
    if (!socket || socket.destroyed) throw new DfError(NbErrorCode.UNAVAILABLE, `connection to ${this.endpoint} lost`, { context: { endpoint: this.endpoint } });
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        if (this.pending.has(id) && this.socket === socket && !socket.destroyed) socket.write(encodeFrame({ id: this.nextId++, op: 'cancel', args: [id] }));
      };
      this.pending.set(id, {
        resolve: (v) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(v);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.write(encodeFrame({ id, op, args }));
      if (signal?.aborted) onAbort();
    });
  }

  private dial(): void {
    if (this.closed) return;
    const where = this.where;
    const tls = this.options.tls;
    const socket: Socket =
      'path' in where ? createConnection(where.path) : tls ? tlsConnect({ host: where.host, port: where.port, ...tls }) : createConnection(where.port, where.host);
    this.socket = socket;
    socket.setNoDelay?.(true);
    const decoder = new FrameDecoder();
    socket.on(tls && !('path' in where) ? 'secureConnect' : 'connect', () => {
      this.request('hello', [{ token: this.options.token ?? '' }])
        .then((h) => this.onHello(h as Hello))
        .catch((err: unknown) => {
          if (isDfError(err, NbErrorCode.FORBIDDEN)) this.onRefused(err);
          socket.destroy();
        });
    });
    socket.on('data', (data) => {
      let msgs: unknown[];
      try {
        msgs = decoder.push(data);
      } catch {
        socket.destroy();
        return;
      }
      for (const m of msgs) {
        const r = m as Response;
        const p = this.pending.get(r.id);
        if (!p) continue;
        this.pending.delete(r.id);
        if (r.ok) p.resolve(r.result);
        else p.reject(fromWireError(r.error));
      }
    });
    socket.on('error', () => undefined); // 'close' follows
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.failPending(new DfError(NbErrorCode.UNAVAILABLE, `connection to ${this.endpoint} lost`, { context: { endpoint: this.endpoint } }));
      if (this.closed) return;
      if (this.state.value !== 'disconnected') this.state.next('disconnected');
      this.cancelReconnect = this.clock.setTimer(this.reconnect.next(), () => this.dial());
    });
  }

  private onRefused(err: DfError): void {
    this.authError = new DfError(NbErrorCode.FORBIDDEN, `memory DB at ${this.endpoint} refused this client: ${err.message}`, { cause: err, context: { endpoint: this.endpoint } });
    const failers = this.readyFailers;
    this.readyFailers = [];
    this.readyWaiters = [];
    for (const f of failers) f(this.authError);
  }

  private onHello(h: Hello): void {
    this.authError = undefined;
    this.readyFailers = [];
    if (this.epoch !== undefined && h.epoch !== this.epoch) this.epochGen++;
    this.epoch = h.epoch;
    this.oldest = h.oldestRevision;
    this.reconnect.reset();
    this.state.next('connected');
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiters) w();
  }

  private failPending(err: DfError): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(err);
  }
}
