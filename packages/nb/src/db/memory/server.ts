import { existsSync, unlinkSync } from 'node:fs';
import { type Server, type Socket, createConnection, createServer } from 'node:net';
import { DfError } from '@dragonflow/base';
import { NbErrorCode } from '../../errors.js';
import type { TxnOp } from '../driver.js';
import { FrameDecoder, type Hello, type Request, type Response, encodeFrame, parseEndpoint, toWireError } from './protocol.js';
import type { MemoryStore } from './store.js';

export interface MemoryServerOptions {
  store: MemoryStore;
  /** Endpoints to listen on: `unix:/path` and/or `tcp:127.0.0.1:PORT` (port 0 picks one). */
  listen: readonly string[];
  /** Longest long-poll a client may ask for (default 30 s). */
  maxWaitMs?: number;
}

/**
 * Serves a MemoryStore to other processes over unix sockets and TCP, with the
 * framed JSON protocol of `protocol.ts`. Several controllers (each in its own network
 * namespace, reaching the root namespace through a unix socket) and df-api can then
 * share one embedded DB.
 */
export class MemoryServer {
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly socketPaths: string[] = [];
  readonly endpoints: string[] = [];
  private closed = false;

  private constructor(private readonly options: MemoryServerOptions) {}

  static async start(options: MemoryServerOptions): Promise<MemoryServer> {
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
    for (const p of this.socketPaths) {
      try {
        unlinkSync(p);
      } catch {
        // already gone
      }
    }
  }

  private async listenOn(endpoint: string): Promise<void> {
    const where = parseEndpoint(endpoint);
    const server = createServer((socket) => this.serve(socket));
    if ('path' in where) {
      if (existsSync(where.path)) {
        if (await socketAnswers(where.path)) {
          throw new DfError(NbErrorCode.CONFIG, `another process already serves ${where.path}`, { context: { endpoint } });
        }
        unlinkSync(where.path); // stale socket of a dead server
      }
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(where.path, () => resolve());
      });
      this.socketPaths.push(where.path);
      this.endpoints.push(`unix:${where.path}`);
    } else {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(where.port, where.host, () => resolve());
      });
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : where.port;
      this.endpoints.push(`tcp:${where.host}:${port}`);
    }
    this.servers.push(server);
  }

  private serve(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.setNoDelay?.(true);
    const decoder = new FrameDecoder();
    const waits = new Map<number, AbortController>();
    const send = (r: Response): void => {
      if (!socket.destroyed) socket.write(encodeFrame(r));
    };
    socket.on('data', (data) => {
      let messages: unknown[];
      try {
        messages = decoder.push(data);
      } catch {
        socket.destroy(); // a corrupt stream cannot be resynchronized
        return;
      }
      for (const m of messages) this.handle(m as Request, send, waits);
    });
    const cleanup = (): void => {
      this.sockets.delete(socket);
      for (const w of waits.values()) w.abort();
      waits.clear();
    };
    socket.on('close', cleanup);
    socket.on('error', cleanup);
  }

  private handle(req: Request, send: (r: Response) => void, waits: Map<number, AbortController>): void {
    const store = this.options.store;
    const ok = (result: unknown): void => send({ id: req.id, ok: true, result });
    try {
      const a = req.args ?? [];
      switch (req.op) {
        case 'hello':
          return ok({ epoch: store.epoch, revision: store.revision, oldestRevision: store.oldestRevision } satisfies Hello);
        case 'get':
          return ok(store.get(String(a[0]), String(a[1])) ?? null);
        case 'getMany':
          return ok((a[1] as string[]).map((id) => store.get(String(a[0]), id) ?? null));
        case 'list':
          return ok(store.list(String(a[0])));
        case 'snapshot':
          return ok(store.snapshot((a[0] as string[] | null) ?? undefined));
        case 'currentRevision':
          return ok(store.revision);
        case 'commit':
          return ok(store.commit(a[0] as TxnOp[]));
        case 'allocateKey':
          return ok(store.allocateKey(String(a[0]), (a[1] as number | null) ?? undefined));
        case 'grantLease':
          return ok(store.grantLease(Number(a[0])));
        case 'keepAlive':
          store.keepAlive(String(a[0]));
          return ok(null);
        case 'revokeLease':
          store.revokeLease(String(a[0]));
          return ok(null);
        case 'cancel':
          waits.get(Number(a[0]))?.abort();
          return ok(null);
        case 'changes': {
          const from = Number(a[0]);
          const max = Math.max(1, Number(a[1]) || 1);
          const now = store.readChanges(from, max);
          if (now.length > 0) return ok(now);
          const ctl = new AbortController();
          waits.set(req.id, ctl);
          const wait = Math.min(Number(a[2]) || 0, this.options.maxWaitMs ?? 30_000);
          const timer = setTimeout(() => ctl.abort(), wait);
          void store.waitForChange(from, ctl.signal).then(() => {
            clearTimeout(timer);
            waits.delete(req.id);
            try {
              ok(store.closed ? [] : store.readChanges(from, max));
            } catch (err) {
              send({ id: req.id, ok: false, error: toWireError(err) });
            }
          });
          return;
        }
        default:
          throw new DfError(NbErrorCode.INVALID, `unknown operation '${String(req.op)}'`, { context: { op: req.op } });
      }
    } catch (err) {
      send({ id: req.id, ok: false, error: toWireError(err) });
    }
  }
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
