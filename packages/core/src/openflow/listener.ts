import { existsSync, mkdirSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { describeError, listenUnix, removeUnixSocket } from '@dragonflow/base';
import { Subject, type Observable } from 'rxjs';
import { OfConnection, type OfConnectionOptions } from './connection.js';
import { OfConnectionError } from './errors.js';

export type SwitchConnectionEvent =
  | { readonly type: 'connected'; readonly datapathId: bigint; readonly connection: OfConnection; readonly replaced: boolean }
  | { readonly type: 'disconnected'; readonly datapathId: bigint; readonly connection: OfConnection; readonly reason: Error };

export interface OfListenerOptions extends Omit<OfConnectionOptions, 'peer'> {
  /** Listen on TCP (OVS target `tcp:HOST:PORT`); port 0 picks a free port. */
  readonly tcp?: { readonly host?: string; readonly port: number };
  /** Listen on a unix socket (OVS target `unix:PATH`). Created 0600; its directory, when the listener creates it, 0700. */
  readonly unixPath?: string;
  /**
   * Decides whether a switch that completed the handshake is the one this listener
   * serves: resolves undefined to accept, or the reason to refuse (the controller
   * accepts only the datapath id its bridge has in OVSDB). Absent: accept any.
   */
  readonly acceptDatapath?: (datapathId: bigint) => Promise<string | undefined>;
  /** Connections still in their handshake or acceptance check at once; more are closed on accept (default 16). */
  readonly maxPending?: number;
}

/**
 * Accepts switch connections on TCP and/or a unix socket. Each connection runs its
 * own handshake; a connection that fails (no common version, malformed message,
 * dead peer) is closed and logged while the listener keeps serving the others.
 * One connection per datapath: while one is open, a new connection claiming the
 * same datapath id is refused (closed with OF_DUPLICATE) — otherwise any local
 * process could take the switch over by posing as it. A switch that really
 * reconnected is accepted once its old connection is found dead (echo timeout).
 */
export class OfListener {
  private readonly servers: Server[] = [];
  private readonly bySwitch = new Map<bigint, OfConnection>();
  private readonly sockets = new Set<Socket>();
  private pending = 0;
  private readonly events = new Subject<SwitchConnectionEvent>();
  /** Switches connecting, being replaced and disconnecting. Completes on close(). */
  readonly events$: Observable<SwitchConnectionEvent> = this.events.asObservable();

  private constructor(private readonly options: OfListenerOptions) {}

  static async start(options: OfListenerOptions): Promise<OfListener> {
    if (!options.tcp && !options.unixPath) throw new OfConnectionError('OF_CONNECT', 'the OpenFlow listener needs a TCP port or a unix socket path');
    const l = new OfListener(options);
    try {
      if (options.tcp) await l.listen((s) => s.listen(options.tcp!.port, options.tcp!.host ?? '127.0.0.1'), `tcp:${options.tcp.host ?? '127.0.0.1'}:${options.tcp.port}`);
      if (options.unixPath) {
        const dir = dirname(options.unixPath);
        if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
        await l.listenUnix(options.unixPath);
      }
    } catch (err) {
      await l.close();
      throw err;
    }
    return l;
  }

  private listen(start: (s: Server) => void, where: string): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', (err) => reject(new OfConnectionError('OF_CONNECT', `cannot listen on ${where}: ${err.message}`, { cause: err, context: { where } })));
      server.once('listening', () => {
        this.options.logger.info({ where }, 'listening for OpenFlow switches');
        resolve();
      });
      start(server);
    });
  }

  private async listenUnix(path: string): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    this.servers.push(server);
    try {
      await listenUnix(server, path, { mode: 0o600, code: 'OF_CONNECT' });
    } catch (err) {
      throw new OfConnectionError('OF_CONNECT', `cannot listen on unix:${path}: ${describeError(err)}`, { cause: err, context: { where: `unix:${path}` } });
    }
    this.options.logger.info({ where: `unix:${path}` }, 'listening for OpenFlow switches');
  }

  /** The TCP port actually bound (useful with port 0). */
  get tcpPort(): number | undefined {
    for (const s of this.servers) {
      const a = s.address();
      if (a && typeof a === 'object') return (a as AddressInfo).port;
    }
    return undefined;
  }

  /** The connected switch with this datapath id, if any. */
  get(datapathId: bigint): OfConnection | undefined {
    return this.bySwitch.get(datapathId);
  }

  get connections(): OfConnection[] {
    return [...this.bySwitch.values()];
  }

  /** Resolves with the first switch to connect (or `datapathId` when given). */
  waitForSwitch(datapathId?: bigint, timeoutMs = 30_000): Promise<OfConnection> {
    const existing = datapathId === undefined ? this.connections[0] : this.get(datapathId);
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        sub.unsubscribe();
        reject(new OfConnectionError('OF_TIMEOUT', `no switch${datapathId === undefined ? '' : ' ' + datapathId.toString(16)} connected within ${timeoutMs} ms`));
      }, timeoutMs);
      const sub = this.events$.subscribe((e) => {
        if (e.type === 'connected' && (datapathId === undefined || e.datapathId === datapathId)) {
          clearTimeout(t);
          sub.unsubscribe();
          resolve(e.connection);
        }
      });
    });
  }

  private accept(socket: Socket): void {
    const peer = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'unix';
    const cap = this.options.maxPending ?? 16;
    if (this.pending >= cap) {
      this.options.logger.warn({ peer, pending: this.pending }, `refused a connection: ${cap} connections are already in their handshake`);
      socket.destroy();
      return;
    }
    this.pending++;
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    void this.establish(socket, peer).finally(() => this.pending--);
  }

  private async establish(socket: Socket, peer: string): Promise<void> {
    let conn: OfConnection;
    try {
      conn = await OfConnection.establish(socket, { ...this.options, peer });
    } catch (err) {
      this.options.logger.warn({ peer, err: describeError(err) }, 'switch connection failed during the handshake');
      return;
    }
    const dpid = conn.datapathId;
    let refusal: string | undefined;
    try {
      refusal = await this.options.acceptDatapath?.(dpid);
    } catch (err) {
      refusal = `cannot check its datapath id: ${describeError(err)}`;
    }
    if (refusal === undefined && this.bySwitch.get(dpid)?.isOpen) refusal = 'datapath already connected on another connection (a switch that reconnects is accepted once the old connection is found dead)';
    if (refusal !== undefined) {
      this.options.logger.warn({ peer, dpid: dpid.toString(16).padStart(16, '0'), reason: refusal }, 'refused a switch connection');
      conn.close(new OfConnectionError(refusal.startsWith('datapath already') ? 'OF_DUPLICATE' : 'OF_REFUSED', `refused: ${refusal}`, { context: { datapathId: dpid.toString(16) } }));
      return;
    }
    this.register(conn);
  }

  private register(conn: OfConnection): void {
    const dpid = conn.datapathId;
    const old = this.bySwitch.get(dpid);
    this.bySwitch.set(dpid, conn);
    conn.state$.subscribe({
      complete: () => {
        if (this.bySwitch.get(dpid) === conn) this.bySwitch.delete(dpid);
        this.events.next({ type: 'disconnected', datapathId: dpid, connection: conn, reason: conn.closedBecause ?? new OfConnectionError('OF_CLOSED', 'closed') });
      },
    });
    this.events.next({ type: 'connected', datapathId: dpid, connection: conn, replaced: old !== undefined });
  }

  /** Stops listening and closes every switch connection. */
  async close(): Promise<void> {
    for (const c of this.bySwitch.values()) c.close();
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    if (this.options.unixPath) removeUnixSocket(this.options.unixPath);
    this.events.complete();
  }
}

/**
 * Connects actively to a switch that listens (OVS controller targets `ptcp:PORT` or
 * `punix:PATH`, or a bridge's .mgmt socket). `target` is `tcp:HOST:PORT` or `unix:PATH`.
 */
export async function connectSwitch(target: string, options: OfConnectionOptions): Promise<OfConnection> {
  const m = /^(tcp):([^:]+|\[[^\]]+\]):(\d+)$/.exec(target) ?? /^(unix):(.+)$/.exec(target);
  if (!m) throw new OfConnectionError('OF_CONNECT', `'${target}' is not an OpenFlow target (expected tcp:HOST:PORT or unix:PATH)`, { context: { target } });
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = m[1] === 'tcp' ? createConnection({ host: m[2]!.replace(/^\[|\]$/g, ''), port: Number(m[3]) }) : createConnection(m[2]!);
    s.once('connect', () => resolve(s));
    s.once('error', (err) => reject(new OfConnectionError('OF_CONNECT', `cannot connect to ${target}: ${err.message}`, { cause: err, context: { target } })));
  });
  return OfConnection.establish(socket, { ...options, peer: options.peer ?? target });
}
