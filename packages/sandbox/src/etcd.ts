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

/** A private single-member etcd (v3 API) on 127.0.0.1, or one member of a cluster (startEtcdCluster). */
export class EtcdServer extends LocalServer {
  constructor(
    dir: string,
    readonly port: number,
    readonly peerPort: number,
    readonly name: string,
    pid: number,
    created: boolean,
    /** `--initial-cluster` of a cluster member (every member's name=peer URL); absent: a single member. */
    readonly initialCluster?: string,
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
    return launchEtcd(this.dir, this.port, this.peerPort, this.name, this.initialCluster);
  }
}

/** Starts the etcd process (not waiting for it): its pid. */
function spawnEtcd(dir: string, port: number, peerPort: number, name: string, initialCluster: string): number {
  const client = `http://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  mkdirSync(join(dir, 'data'), { recursive: true, mode: 0o700 });
  return spawnDaemon(
    requireBinary('etcd'),
    [
      `--name=${name}`,
      `--data-dir=${join(dir, 'data')}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=${initialCluster}`,
      '--initial-cluster-state=new',
      '--log-level=warn',
      '--logger=zap',
    ],
    { logFile: join(dir, 'etcd.log'), env: { ETCD_UNSUPPORTED_ARCH: process.arch === 'x64' ? '' : process.arch } },
  );
}

/** Resolves once the member on `port` reports itself healthy (a cluster member: once the cluster has a leader). */
async function waitHealthy(dir: string, port: number, pid: number): Promise<void> {
  const client = `http://127.0.0.1:${port}`;
  const logFile = join(dir, 'etcd.log');
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
}

async function launchEtcd(dir: string, port: number, peerPort: number, name: string, initialCluster = `${name}=http://127.0.0.1:${peerPort}`): Promise<number> {
  const pid = spawnEtcd(dir, port, peerPort, name, initialCluster);
  await waitHealthy(dir, port, pid);
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

/** A private etcd cluster of several members on 127.0.0.1, each in its own directory. */
export class EtcdCluster {
  constructor(readonly members: readonly EtcdServer[]) {}

  /** Every member's client URL. */
  get endpoints(): string[] {
    return this.members.map((m) => m.endpoint);
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.stop()));
  }
}

/**
 * Starts a `size`-member cluster (default 3): all members at once (a member reports
 * healthy only once a quorum elected a leader), then waits for each. A member can be
 * killed and restarted like a single server (`kill()`, `restart()`), keeping its data.
 */
export async function startEtcdCluster(size = 3): Promise<EtcdCluster> {
  const ports = new Set<number>();
  while (ports.size < size * 2) ports.add(await freePort());
  const [clientPorts, peerPorts] = [[...ports].slice(0, size), [...ports].slice(size)];
  const names = clientPorts.map((_, i) => `df${i}`);
  const initialCluster = names.map((n, i) => `${n}=http://127.0.0.1:${peerPorts[i]}`).join(',');
  const dirs = names.map(() => makeTempDir('df-etcd-'));
  const pids: number[] = [];
  try {
    for (let i = 0; i < size; i++) pids.push(spawnEtcd(dirs[i]!, clientPorts[i]!, peerPorts[i]!, names[i]!, initialCluster));
    await Promise.all(pids.map((pid, i) => waitHealthy(dirs[i]!, clientPorts[i]!, pid)));
  } catch (err) {
    await Promise.all(pids.map((pid) => stopPid(pid)));
    for (const d of dirs) removeDir(d);
    throw err;
  }
  return new EtcdCluster(names.map((n, i) => new EtcdServer(dirs[i]!, clientPorts[i]!, peerPorts[i]!, n, pids[i]!, true, initialCluster)));
}
