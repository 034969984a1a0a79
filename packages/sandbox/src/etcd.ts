import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { requireBinary } from './exec.js';
import { spawnDaemon, stopPid, waitFor } from './process.js';
import { LocalServer } from './server.js';
import { freePort, makeTempDir, removeDir } from './tmp.js';

export interface EtcdOptions {
  dir?: string;
  /** Client port (a free one when absent). */
  port?: number;
  peerPort?: number;
  name?: string;
}

/** A private single-member etcd (v3 API) on 127.0.0.1. */
export class EtcdServer extends LocalServer {
  constructor(
    dir: string,
    readonly port: number,
    readonly peerPort: number,
    readonly name: string,
    pid: number,
    created: boolean,
  ) {
    super(dir, pid, created);
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  get logFile(): string {
    return join(this.dir, 'etcd.log');
  }

  protected launch(): Promise<number> {
    return launchEtcd(this.dir, this.port, this.peerPort, this.name);
  }
}

async function launchEtcd(dir: string, port: number, peerPort: number, name: string): Promise<number> {
  const client = `http://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const logFile = join(dir, 'etcd.log');
  mkdirSync(join(dir, 'data'), { recursive: true, mode: 0o700 });
  const pid = spawnDaemon(
    requireBinary('etcd'),
    [
      `--name=${name}`,
      `--data-dir=${join(dir, 'data')}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=${name}=${peer}`,
      '--initial-cluster-state=new',
      '--log-level=warn',
      '--logger=zap',
    ],
    { logFile, env: { ETCD_UNSUPPORTED_ARCH: process.arch === 'x64' ? '' : process.arch } },
  );
  try {
    await waitFor(
      async () => {
        const res = await fetch(`${client}/health`).catch(() => undefined);
        if (!res?.ok) return false;
        const body = (await res.json()) as { health?: string };
        return body.health === 'true';
      },
      { what: `etcd to become healthy on ${client}`, timeoutMs: 15_000, logFile, pid },
    );
  } catch (err) {
    await stopPid(pid);
    throw err;
  }
  return pid;
}

export async function startEtcd(options: EtcdOptions = {}): Promise<EtcdServer> {
  const created = !options.dir;
  const dir = options.dir ?? makeTempDir('df-etcd-');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const port = options.port ?? (await freePort());
  let peerPort = options.peerPort ?? (await freePort());
  while (peerPort === port) peerPort = await freePort();
  const name = options.name ?? 'df';
  let pid: number;
  try {
    pid = await launchEtcd(dir, port, peerPort, name);
  } catch (err) {
    if (created) removeDir(dir);
    throw err;
  }
  return new EtcdServer(dir, port, peerPort, name, pid, created);
}
