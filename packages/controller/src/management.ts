import { mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import { DfError, describeError, listenUnix, removeUnixSocket } from '@dragonflow/base';
import type { Registry } from 'prom-client';

export interface ManagementHandlers {
  /** The health document and its HTTP status (200 ok/degraded, 503 starting). */
  health(): { status: number; body: unknown };
  /** The switch's sync alone (the health document's `sync`): cheap enough to poll in a tight loop, unlike the document, which lists every port. */
  sync(): unknown;
  readonly registry: Registry;
}

/** `tcp:HOST:PORT` or `unix:PATH` → what `server.listen` takes. */
export function parseManagementListen(listen: string): { host: string; port: number } | { path: string } {
  const unix = /^unix:(.+)$/.exec(listen);
  if (unix) return { path: unix[1]! };
  const tcp = /^tcp:(\[[^\]]+\]|[^:]+):(\d+)$/.exec(listen);
  if (tcp) return { host: tcp[1]!.replace(/^\[|\]$/g, ''), port: Number(tcp[2]) };
  throw new DfError('CONFIG_INVALID', `management.listen: '${listen}' must be tcp:HOST:PORT or unix:PATH`, { context: { key: 'management.listen' } });
}

/**
 * The controller's management endpoint: GET /healthz (JSON) and GET /metrics
 * (Prometheus text). On a unix socket it is reachable from any network namespace
 * that shares the filesystem: `curl --unix-socket PATH http://x/healthz`.
 */
export class ManagementServer {
  private constructor(
    private readonly server: Server,
    readonly where: string,
    private readonly path: string | undefined,
  ) {}

  static async start(listen: string, handlers: ManagementHandlers): Promise<ManagementServer> {
    const target = parseManagementListen(listen);
    const server = createServer((req, res) => void handle(req, res, handlers));
    if ('path' in target) {
      // 0600: the health report names the chassis, its DB and its ports — for the operator only.
      mkdirSync(dirname(target.path), { recursive: true, mode: 0o700 });
      try {
        await listenUnix(server, target.path, { mode: 0o600, code: 'MANAGEMENT_LISTEN' });
      } catch (err) {
        throw new DfError('MANAGEMENT_LISTEN', `cannot serve /healthz and /metrics on ${listen}: ${describeError(err)}`, { cause: err, context: { key: 'management.listen', listen } });
      }
    } else {
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err) => reject(new DfError('MANAGEMENT_LISTEN', `cannot serve /healthz and /metrics on ${listen}: ${err.message}`, { cause: err, context: { key: 'management.listen', listen } })));
        server.listen(target.port, target.host, resolve);
      });
    }
    const addr = server.address();
    const where = 'path' in target ? `unix:${target.path}` : typeof addr === 'object' && addr ? `tcp:${target.host}:${addr.port}` : listen;
    return new ManagementServer(server, where, 'path' in target ? target.path : undefined);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.path) removeUnixSocket(this.path);
  }
}

async function handle(req: IncomingMessage, res: ServerResponse, h: ManagementHandlers): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  try {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET' }).end();
    } else if (path === '/healthz') {
      const { status, body } = h.health();
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body, bigintJson, 2) + '\n');
    } else if (path === '/sync') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(h.sync(), bigintJson) + '\n');
    } else if (path === '/metrics') {
      const text = await h.registry.metrics();
      res.writeHead(200, { 'content-type': h.registry.contentType }).end(text);
    } else if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('df-controller: GET /healthz (JSON health), GET /sync (the switch\'s sync alone), GET /metrics (Prometheus)\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz, /sync or /metrics\n');
    }
  } catch (err) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err instanceof Error ? err.message : String(err)}\n`);
  }
}

function bigintJson(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
