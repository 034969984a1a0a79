import { BehaviorSubject, Subject, type Observable } from 'rxjs';
import { Backoff, DfError, systemClock, type Clock } from '@dragonflow/base';
import { JsonRpcConnection, type RequestOptions } from './connection.js';
import { OvsdbErrorCode, OvsdbTransactionError } from './errors.js';
import type { JsonRpcNotification, JsonValue } from './jsonrpc.js';
import { Monitor, type MonitorHost, type MonitorMethod, type MonitorRequests } from './monitor.js';
import { encodeOperation, type Operation, type OperationResult, type Row } from './operations.js';
import { decodeColumn, parseSchema, tableOf, type DatabaseSchema } from './schema.js';
import { formatRemote, openSocket, parseRemote, type Remote } from './transport.js';
import { Uuid, type OvsdbValue } from './values.js';

/**
 * `connecting`: opening a socket; `syncing`: connected, re-monitoring; `connected`: every
 * monitor is in sync; `backoff`: waiting before the next attempt; `closed`: for good.
 */
export type ConnectionState = 'connecting' | 'syncing' | 'connected' | 'backoff' | 'closed';

export interface OvsdbClientOptions {
  /** `unix:PATH` or `tcp:HOST:PORT`. */
  remote: string;
  clock?: Clock;
  /** Reconnect after the connection drops (default true). */
  reconnect?: boolean;
  /** First retry delay; doubles on every failure up to `maxBackoffMs`. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * After this long with nothing received we send `echo`; after as long again the
   * connection is considered dead and dropped. 0 turns probing off. Default 5000.
   */
  probeIntervalMs?: number;
  /** Per-attempt socket connect timeout (default 5000). */
  connectTimeoutMs?: number;
  /** Default answer timeout of every request (none by default). */
  requestTimeoutMs?: number;
}

export interface ConnectOptions extends OvsdbClientOptions {
  /** How long `OvsdbClient.connect` keeps trying before it gives up (default 10000). */
  timeoutMs?: number;
}

export interface TransactOptions extends RequestOptions {
  /** Appended as a `comment` operation; shows in ovsdb-server's log and in `ovsdb-tool show-log`. */
  comment?: string;
}

/**
 * An RFC 7047 client for one remote: requests, monitors that survive reconnects,
 * liveness probing with `echo`, and reconnection with exponential backoff.
 */
export class OvsdbClient {
  readonly remote: Remote;
  private readonly clock: Clock;
  private readonly options: Required<Omit<OvsdbClientOptions, 'clock' | 'requestTimeoutMs' | 'remote'>> & { requestTimeoutMs: number | undefined };
  private conn: JsonRpcConnection | undefined;
  private readonly stateSubject = new BehaviorSubject<ConnectionState>('backoff');
  private readonly errorSubject = new Subject<DfError>();
  private readonly monitors = new Map<string, Monitor>();
  private readonly schemas = new Map<string, Promise<DatabaseSchema>>();
  private nextMonitorId = 1;
  private readonly backoff: Backoff;
  private cancelRetry: (() => void) | undefined;
  private cancelProbe: (() => void) | undefined;
  private started = false;
  private closing = false;
  private lastErrorValue: DfError | undefined;
  private connectionsMade = 0;

  /** Connection state changes; a new subscriber gets the current state first. */
  readonly state$: Observable<ConnectionState> = this.stateSubject.asObservable();
  /** Why connections failed or dropped (for logs); never errors itself. */
  readonly errors$: Observable<DfError> = this.errorSubject.asObservable();

  constructor(options: OvsdbClientOptions) {
    this.remote = parseRemote(options.remote);
    this.clock = options.clock ?? systemClock;
    this.options = {
      reconnect: options.reconnect ?? true,
      initialBackoffMs: options.initialBackoffMs ?? 100,
      maxBackoffMs: options.maxBackoffMs ?? 5000,
      probeIntervalMs: options.probeIntervalMs ?? 5000,
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      requestTimeoutMs: options.requestTimeoutMs,
    };
    this.backoff = new Backoff({ initialMs: this.options.initialBackoffMs, maxMs: Math.max(this.options.initialBackoffMs, this.options.maxBackoffMs) });
  }

  /** Creates a client and waits until it is connected (retrying with backoff meanwhile). */
  static async connect(options: ConnectOptions): Promise<OvsdbClient> {
    const client = new OvsdbClient(options);
    client.start();
    try {
      await client.whenConnected(options.timeoutMs ?? 10_000);
    } catch (err) {
      await client.close();
      throw err;
    }
    return client;
  }

  get state(): ConnectionState {
    return this.stateSubject.value;
  }

  /** The last connection error, if any. */
  get lastError(): DfError | undefined {
    return this.lastErrorValue;
  }

  /** How many times a connection was established (1 + the number of reconnects). */
  get connectionCount(): number {
    return this.connectionsMade;
  }

  /** Starts connecting in the background. */
  start(): void {
    if (this.started || this.closing) return;
    this.started = true;
    void this.attempt();
  }

  /** Resolves once the state is `connected`; rejects after `timeoutMs` with OVSDB_CONNECT. */
  whenConnected(timeoutMs = 10_000): Promise<void> {
    if (this.state === 'connected') return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let cancelTimer: (() => void) | undefined = undefined;
      const sub = this.stateSubject.subscribe((state) => {
        if (state === 'connected') {
          cancelTimer?.();
          queueMicrotask(() => sub.unsubscribe());
          resolve();
        } else if (state === 'closed') {
          cancelTimer?.();
          queueMicrotask(() => sub.unsubscribe());
          reject(new DfError(OvsdbErrorCode.CLOSED, `OVSDB client for ${formatRemote(this.remote)} is closed`, { cause: this.lastErrorValue }));
        }
      });
      cancelTimer = this.clock.setTimer(timeoutMs, () => {
        sub.unsubscribe();
        const why = this.lastErrorValue ? `: ${this.lastErrorValue.message}` : '';
        reject(
          new DfError(OvsdbErrorCode.CONNECT, `could not connect to OVSDB at ${formatRemote(this.remote)} within ${timeoutMs} ms${why}`, {
            cause: this.lastErrorValue,
            context: { remote: formatRemote(this.remote) },
          }),
        );
      });
    });
  }

  async listDbs(options?: RequestOptions): Promise<string[]> {
    const result = await this.request('list_dbs', [], options);
    if (!Array.isArray(result) || !result.every((d) => typeof d === 'string')) {
      throw new DfError(OvsdbErrorCode.PROTOCOL, 'list_dbs answer is not an array of names');
    }
    return result as string[];
  }

  /** The database's schema; read once per client and kept. */
  getSchema(db: string): Promise<DatabaseSchema> {
    let cached = this.schemas.get(db);
    if (!cached) {
      cached = this.request('get_schema', [db]).then(parseSchema);
      this.schemas.set(db, cached);
      cached.catch(() => this.schemas.delete(db));
    }
    return cached;
  }

  /** Sends `echo` and returns what came back (the server echoes the params). */
  async echo(payload: readonly JsonValue[] = []): Promise<JsonValue[]> {
    const result = await this.request('echo', payload);
    if (!Array.isArray(result)) throw new DfError(OvsdbErrorCode.PROTOCOL, 'echo answer is not an array');
    return result;
  }

  /**
   * Runs the operations as one atomic transaction. A failed operation rejects with an
   * OvsdbTransactionError naming the operation and the server's error; nothing was applied.
   */
  async transact(db: string, operations: readonly Operation[], options: TransactOptions = {}): Promise<OperationResult[]> {
    const ops = options.comment !== undefined ? [...operations, { op: 'comment', comment: options.comment } as const] : operations;
    const needsSchema = ops.some((o) => o.op === 'select');
    const schema = needsSchema ? await this.getSchema(db) : undefined;
    const params: JsonValue[] = [db, ...ops.map(encodeOperation)];
    const result = await this.request('transact', params, options);
    if (!Array.isArray(result)) throw new DfError(OvsdbErrorCode.PROTOCOL, 'transact answer is not an array', { context: { db } });
    const out: OperationResult[] = [];
    for (let i = 0; i < result.length; i++) {
      const r = result[i];
      const op = ops[i];
      if (r !== null && typeof r === 'object' && !Array.isArray(r) && typeof r['error'] === 'string') {
        const details = typeof r['details'] === 'string' ? r['details'] : undefined;
        const what = op ? `operation ${i} (${op.op}${'table' in op ? ` ${op.table}` : ''})` : 'the commit';
        throw new OvsdbTransactionError(`OVSDB transaction on ${db} failed at ${what}: ${r['error']}${details ? ` — ${details}` : ''}`, r['error'], details, i, {
          db,
          op: op?.op,
          table: op && 'table' in op ? op.table : undefined,
        });
      }
      if (!op) continue;
      out.push(decodeResult(op, r, schema, i));
    }
    if (out.length < operations.length) {
      throw new DfError(OvsdbErrorCode.PROTOCOL, `transact answered ${result.length} results for ${ops.length} operations`, { context: { db } });
    }
    return out.slice(0, operations.length);
  }

  /**
   * Starts a monitor. Resolves once the initial rows are loaded. The monitor follows
   * the client across reconnects until cancelled.
   */
  async monitor(db: string, requests: MonitorRequests, method: MonitorMethod = 'monitor_cond'): Promise<Monitor> {
    if (this.closing) throw new DfError(OvsdbErrorCode.CLOSED, 'OVSDB client is closed');
    const monitor = new Monitor(this.monitorHost, `m${this.nextMonitorId++}`, db, requests, method);
    this.monitors.set(monitor.id, monitor);
    try {
      await monitor.subscribe();
    } catch (err) {
      this.monitors.delete(monitor.id);
      monitor.complete();
      throw err;
    }
    return monitor;
  }

  /** Closes the connection for good; pending requests reject with OVSDB_CLOSED. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.cancelRetry?.();
    this.cancelProbe?.();
    for (const m of this.monitors.values()) m.complete();
    this.monitors.clear();
    const conn = this.conn;
    this.conn = undefined;
    conn?.close();
    this.setState('closed');
    this.errorSubject.complete();
    this.stateSubject.complete();
  }

  /** Drops the current connection as if the network failed (a reconnect follows). For tests and operators. */
  dropConnection(reason = 'dropped on request'): void {
    const conn = this.conn;
    if (!conn) return;
    this.lastErrorValue = new DfError(OvsdbErrorCode.DISCONNECTED, reason);
    conn.close();
  }

  private request(method: string, params: readonly JsonValue[], options: RequestOptions = {}): Promise<JsonValue> {
    if (this.closing) return Promise.reject(new DfError(OvsdbErrorCode.CLOSED, `cannot send ${method}: client is closed`, { context: { method } }));
    const conn = this.conn;
    if (!conn || conn.closed) {
      return Promise.reject(
        new DfError(OvsdbErrorCode.DISCONNECTED, `cannot send ${method}: not connected to ${formatRemote(this.remote)}`, {
          cause: this.lastErrorValue,
          context: { method, remote: formatRemote(this.remote), state: this.state },
        }),
      );
    }
    const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs;
    return conn.request(method, params, timeoutMs === undefined ? options : { ...options, timeoutMs });
  }

  private readonly monitorHost: MonitorHost = {
    connection: () => this.conn,
    schemaFor: (db) => this.getSchema(db),
    forget: (m) => this.monitors.delete(m.id),
    fail: (error) => this.failConnection(error),
  };

  private failConnection(error: DfError): void {
    const conn = this.conn;
    if (!conn) return;
    this.lastErrorValue = error;
    this.errorSubject.next(error);
    conn.close();
  }

  private setState(state: ConnectionState): void {
    if (this.stateSubject.value !== state && !this.stateSubject.closed) this.stateSubject.next(state);
  }

  private async attempt(): Promise<void> {
    this.cancelRetry = undefined;
    if (this.closing) return;
    this.setState('connecting');
    let socket;
    try {
      socket = await openSocket(this.remote, this.options.connectTimeoutMs);
    } catch (err) {
      this.recordError(err);
      this.scheduleRetry();
      return;
    }
    if (this.closing) {
      socket.destroy();
      return;
    }
    const conn: JsonRpcConnection = new JsonRpcConnection(
      socket,
      {
        onNotification: (n) => this.onNotification(n),
        onClose: (error) => this.onConnectionClosed(conn, error),
      },
      this.clock,
    );
    this.conn = conn;
    this.connectionsMade++;
    this.setState('syncing');
    try {
      for (const monitor of [...this.monitors.values()]) await monitor.subscribe();
    } catch (err) {
      this.recordError(err);
      // Closing triggers onConnectionClosed, which schedules the next attempt.
      conn.close();
      return;
    }
    if (this.conn !== conn || conn.closed) return;
    this.backoff.reset();
    this.setState('connected');
    this.startProbe(conn);
  }

  private recordError(err: unknown): void {
    const error = err instanceof DfError ? err : new DfError(OvsdbErrorCode.DISCONNECTED, String(err), { cause: err });
    this.lastErrorValue = error;
    if (!this.errorSubject.closed) this.errorSubject.next(error);
  }

  private onConnectionClosed(conn: JsonRpcConnection, error: DfError | undefined): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    this.cancelProbe?.();
    this.cancelProbe = undefined;
    if (error) this.recordError(error);
    if (this.closing) return;
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closing) return;
    if (!this.options.reconnect) {
      void this.close();
      return;
    }
    this.setState('backoff');
    this.cancelRetry = this.clock.setTimer(this.backoff.next(), () => void this.attempt());
  }

  private startProbe(conn: JsonRpcConnection): void {
    const interval = this.options.probeIntervalMs;
    if (interval <= 0) return;
    let echoSentAt: number | undefined;
    const tick = (): void => {
      if (this.conn !== conn || conn.closed) return;
      const now = this.clock.now();
      const idle = now - conn.lastReceived;
      if (echoSentAt !== undefined && conn.lastReceived < echoSentAt && now - echoSentAt >= interval) {
        this.failConnection(new DfError(OvsdbErrorCode.TIMEOUT, `no answer from ${formatRemote(this.remote)} to echo for ${interval} ms; reconnecting`));
        return;
      }
      if (idle >= interval && (echoSentAt === undefined || conn.lastReceived >= echoSentAt)) {
        echoSentAt = now;
        conn.request('echo', ['df-probe']).catch(() => undefined);
      }
      this.cancelProbe = this.clock.setTimer(Math.max(1, interval / 2), tick);
    };
    this.cancelProbe = this.clock.setTimer(Math.max(1, interval / 2), tick);
  }

  private onNotification(n: JsonRpcNotification): void {
    if (n.method !== 'update' && n.method !== 'update2') return;
    const [id, updates] = n.params;
    if (typeof id !== 'string' || updates === undefined) {
      this.failConnection(new DfError(OvsdbErrorCode.PROTOCOL, `malformed ${n.method} notification`));
      return;
    }
    this.monitors.get(id)?.onUpdate(updates, n.method === 'update' ? 1 : 2);
  }
}

function decodeResult(op: Operation, r: unknown, schema: DatabaseSchema | undefined, index: number): OperationResult {
  if (r === null || typeof r !== 'object' || Array.isArray(r)) return {};
  const obj = r as Record<string, unknown>;
  const out: { uuid?: Uuid; rows?: Row[]; count?: number } = {};
  const uuid = obj['uuid'];
  if (Array.isArray(uuid) && uuid[0] === 'uuid' && typeof uuid[1] === 'string') out.uuid = new Uuid(uuid[1]);
  if (typeof obj['count'] === 'number') out.count = obj['count'];
  if (Array.isArray(obj['rows']) && op.op === 'select' && schema) {
    const ts = tableOf(schema, op.table);
    out.rows = (obj['rows'] as unknown[]).map((row, j) => {
      if (row === null || typeof row !== 'object' || Array.isArray(row)) {
        throw new DfError(OvsdbErrorCode.PROTOCOL, `select row ${j} is not an object`, { context: { operationIndex: index } });
      }
      const decoded: Record<string, OvsdbValue> = {};
      for (const [name, value] of Object.entries(row as Record<string, unknown>)) {
        const column = ts.columns.get(name);
        if (!column) throw new DfError(OvsdbErrorCode.PROTOCOL, `select returned unknown column ${op.table}.${name}`, { context: { operationIndex: index } });
        decoded[name] = decodeColumn(column, value, `${op.table}.${name}`);
      }
      return Object.freeze(decoded);
    });
  }
  return out;
}
