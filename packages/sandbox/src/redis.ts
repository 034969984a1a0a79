import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { requireBinary } from './exec.js';
import { spawnDaemon, stopPid, waitFor } from './process.js';
import { LocalServer } from './server.js';
import { freePort, makeTempDir, removeDir } from './tmp.js';

export interface RedisOptions {
  dir?: string;
  port?: number;
  /** Keep data across a restart with an append-only file (default true). */
  persistent?: boolean;
}

/** A private redis-server on 127.0.0.1. */
export class RedisServer extends LocalServer {
  constructor(
    dir: string,
    readonly port: number,
    private readonly persistent: boolean,
    pid: number,
    created: boolean,
  ) {
    super(dir, pid, created);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get logFile(): string {
    return join(this.dir, 'redis.log');
  }

  /** Data survives a restart when the server is persistent (append-only file). */
  protected launch(): Promise<number> {
    return launchRedis(this.dir, this.port, this.persistent);
  }
}

/** True when a redis-server answers PING on 127.0.0.1:`port` or on the unix socket `path` (within half a second). */
export function redisAnswers(where: { readonly port: number } | { readonly path: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = 'path' in where ? createConnection(where.path) : createConnection({ host: '127.0.0.1', port: where.port });
    socket.setTimeout(500);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    // Closed without an answer (something else holds the port): not redis, and not a hang.
    socket.once('close', () => resolve(false));
  });
}

async function launchRedis(dir: string, port: number, persistent: boolean): Promise<number> {
  const logFile = join(dir, 'redis.log');
  const pid = spawnDaemon(
    requireBinary('redis-server'),
    [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--save', '',
      '--appendonly', persistent ? 'yes' : 'no',
      '--appendfsync', 'always',
      '--logfile', logFile,
      '--daemonize', 'no',
    ],
    { logFile: join(dir, 'redis.out') },
  );
  try {
    await waitFor(() => redisAnswers({ port }), { what: `redis to answer PING on port ${port}`, timeoutMs: 10_000, logFile, pid });
  } catch (err) {
    await stopPid(pid);
    throw err;
  }
  return pid;
}

export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const created = !options.dir;
  const dir = options.dir ?? makeTempDir('df-redis-');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const port = options.port ?? (await freePort());
  const persistent = options.persistent ?? true;
  let pid: number;
  try {
    pid = await launchRedis(dir, port, persistent);
  } catch (err) {
    if (created) removeDir(dir);
    throw err;
  }
  return new RedisServer(dir, port, persistent, pid, created);
}
