import { isIP } from 'node:net';
import { type Server, type Socket, createServer } from 'node:net';
import { type TlsOptions, createServer as createTlsServer } from 'node:tls';
import { DfError, listenUnix, removeUnixSocket } from '@dragonflow/base';
import { NbErrorCode } from '../../errors.js';
import { type GrantState, type NbGrant, authorize, checkGrants, matchGrant } from './auth.js';
import { handleRequest } from './handler.js';
import { DEFAULT_MAX_REQUEST_FRAME, FrameDecoder, MAX_HELLO_FRAME, type Request, type Response, encodeFrame, parseEndpoint, toWireError } from './protocol.js';
import type { MemoryStore } from './store.js';

export interface MemoryServerOptions {
  store: MemoryStore;
  /** Endpoints to listen on: `unix:/path` and/or `tcp:127.0.0.1:PORT` (port 0 picks one). */
  listen: readonly string[];
  /** Tokens a connection may present in its hello, with the rights each gives (at least one). */
  grants: readonly NbGrant[];
  /** Mode of the unix sockets: 0o600 (default, the owner only) or 0o660 (and its group). */
  socketMode?: number;
  /** TLS for TCP endpoints (PEM key and certificate). TCP on a non-loopback address needs it. */
  tls?: Pick<TlsOptions, 'key' | 'cert' | 'ca'>;
  /** Largest request frame accepted from an authenticated client (default 8 MiB). */
  maxFrameBytes?: number;
  /** Most connections served at once; more are closed on accept (default 128). */
  maxConnections?: number;
  /** How long a new connection has to authenticate (default 10 s). */
  helloTimeoutMs?: number;
  /** Longest long-poll a client may ask for (default 30 s). */
  maxWaitMs?: number;
  /** Told about every connection the server closes on its own, with the reason (for the log). */
  onPeerClosed?: (event: { peer: string; reason: string }) => void;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || (isIP(host) === 4 && host.startsWith('127.')) || host === '::1';
}

/**
 * Serves a MemoryStore to other processes over unix sockets and TCP, with the
 * framed JSON protocol of `protocol.ts`. Several controllers (each in its own network
 * namespace, reaching the root namespace through a unix socket) and df-api can then
 * share one embedded DB. Every connection authenticates with a token first (see
 * auth.ts for what each role may do); frames and connections are capped so no peer
 * can make the server buffer without bound.
 */
export class MemoryServer {
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly socketPaths: string[] = [];
  private readonly grantStates = new Map<NbGrant, GrantState>();
  private readonly dropped = new WeakSet<Socket>();
  readonly endpoints: string[] = [];
  private closed = false;
  /** Connections closed by the server (bad frame, cap, failed hello), for tests and metrics. */
  peersClosed = 0;

  private constructor(private readonly options: MemoryServerOptions) {}

  static async start(options: MemoryServerOptions): Promise<MemoryServer> {
    checkGrants(options.grants ?? []);
    for (const ep of options.listen) {
      const where = parseEndpoint(ep);
      if ('host' in where && !isLoopback(where.host) && !options.tls) {
        throw new DfError(NbErrorCode.CONFIG, `${ep}: the memory DB serves TCP beyond loopback only with TLS (give a key and certificate) — tokens would cross the network in clear`, { context: { endpoint: ep, field: 'listen' } });
      }
    }
    const server = new MemoryServer(options);
    try {
      for (const ep of options.listen) await server.listenOn(ep);
    } catch (e) {
      await server.close();
      throw e;
    }
    return server;
  }

  get store(): MemoryStore {
    return this.options.store;
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  /** Cuts every client connection (clients reconnect and resume on their own). */
  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  /** Stops listening and disconnects clients. The store stays open (its owner closes it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.dropConnections();
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    for (const p of this.socketPaths) removeUnixSocket(p);
  }

  private async listenOn(endpoint: string): Promise<void> {
    const where = parseEndpoint(endpoint);
    const onSocket = (socket: Socket): void => this.serve(socket);
    if ('path' in where) {
      const server = createServer(onSocket);
      this.servers.push(server);
      await listenUnix(server, where.path, { mode: this.options.socketMode ?? 0o600, code: NbErrorCode.CONFIG });
      this.socketPaths.push(where.path);
      this.endpoints.push(`unix:${where.path}`);
      return;
    }
    // A peer that never finishes the TLS handshake is cut after the same time a plain one gets to say hello.
    const server = this.options.tls ? createTlsServer({ ...this.options.tls, handshakeTimeout: this.options.helloTimeoutMs ?? 10_000 }, onSocket) : createServer(onSocket);
    this.servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new DfError(NbErrorCode.CONFIG, `cannot listen on ${endpoint}: ${err.message}`, { cause: err, context: { endpoint } })));
      server.listen(where.port, where.host, () => resolve());
    });
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : where.port;
    this.endpoints.push(`tcp:${where.host}:${port}`);
  }

  /** Closes a peer's connection on the server's initiative, saying why (to the log). `flush`: let a last answer reach it first. */
  private drop(socket: Socket, peer: string, reason: string, flush = false): void {
    if (socket.destroyed || this.dropped.has(socket)) return;
    this.dropped.add(socket);
    this.peersClosed++;
    this.options.onPeerClosed?.({ peer, reason });
    if (!flush) {
      socket.destroy();
      return;
    }
    socket.pause(); // nothing more is read from it
    socket.end();
    setTimeout(() => socket.destroy(), 1_000).unref();
  }

  private serve(socket: Socket): void {
    const peer = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'unix';
    if (this.closed) {
      socket.destroy();
      return;
    }
    const cap = this.options.maxConnections ?? 128;
    if (this.sockets.size >= cap) {
      this.drop(socket, peer, `connection cap of ${cap} reached`);
      return;
    }
    this.sockets.add(socket);
    socket.setNoDelay?.(true);
    const decoder = new FrameDecoder(MAX_HELLO_FRAME);
    const waits = new Map<number, AbortController>();
    let grant: NbGrant | undefined;
    const helloTimer = setTimeout(() => this.drop(socket, peer, 'no hello with a valid token in time'), this.options.helloTimeoutMs ?? 10_000);
    const send = (r: Response): void => {
      if (!socket.destroyed) socket.write(encodeFrame(r));
    };
    socket.on('data', (data: Buffer) => {
      let messages: unknown[];
      try {
        messages = decoder.push(data);
      } catch (err) {
        this.drop(socket, peer, `corrupt stream: ${(err as Error).message}`); // a corrupt stream cannot be resynchronized
        return;
      }
      for (const m of messages) {
        if (socket.destroyed) return;
        const req = m as Request;
        if (m === null || typeof m !== 'object' || typeof req.id !== 'number' || typeof req.op !== 'string' || (req.args !== undefined && !Array.isArray(req.args))) {
          this.drop(socket, peer, 'a frame that is not a request ({id: number, op: string, args: []})');
          return;
        }
        if (!grant) {
          if (req.op !== 'hello') {
            send({ id: req.id, ok: false, error: toWireError(new DfError(NbErrorCode.FORBIDDEN, 'authenticate first: hello with a token')) });
            this.drop(socket, peer, `'${req.op}' before authenticating`, true);
            return;
          }
          const arg = (req.args ?? [])[0] as { token?: unknown } | undefined;
          grant = matchGrant(this.options.grants, arg?.token);
          if (!grant) {
            send({ id: req.id, ok: false, error: toWireError(new DfError(NbErrorCode.FORBIDDEN, 'the memory DB refused the token (none or not known)')) });
            this.drop(socket, peer, 'hello without a valid token', true);
            return;
          }
          clearTimeout(helloTimer);
          decoder.maxFrame = this.options.maxFrameBytes ?? DEFAULT_MAX_REQUEST_FRAME;
        }
        const g = grant;
        let state = this.grantStates.get(g);
        if (!state) this.grantStates.set(g, (state = { leases: new Set() }));
        try {
          authorize(g, state, req.op, req.args ?? [], this.options.store);
        } catch (err) {
          send({ id: req.id, ok: false, error: toWireError(err) });
          continue;
        }
        const st = state;
        handleRequest(this.options.store, req, send, waits, this.options.maxWaitMs ?? 30_000, (lease, granted) => (granted ? st.leases.add(lease) : st.leases.delete(lease)));
      }
    });
    const cleanup = (): void => {
      clearTimeout(helloTimer);
      this.sockets.delete(socket);
      for (const w of waits.values()) w.abort();
      waits.clear();
    };
    socket.on('close', cleanup);
    socket.on('error', cleanup);
  }
}
