/**
 * The DB servers the northbound benchmarks run against, each started in a temp dir
 * and stopped afterwards: the in-process memory store, the memory store served over
 * a unix socket, a real etcd and a real redis (append-only file, fsync always).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdDriver } from '@dragonflow/db-etcd';
import { RedisDriver } from '@dragonflow/db-redis';
import { MemoryClientDriver, MemoryDriver, MemoryServer, MemoryStore, type NbDriver } from '@dragonflow/nb';
import { startEtcd, startRedis } from '@dragonflow/sandbox';

export interface BenchTarget {
  name: string;
  /** A new client of the one DB (several may be open at once). */
  connect(): Promise<NbDriver>;
  stop(): Promise<void>;
}

export const TARGET_NAMES = ['memory', 'memory-served', 'etcd', 'redis'] as const;

export async function startTarget(name: (typeof TARGET_NAMES)[number]): Promise<BenchTarget> {
  switch (name) {
    case 'memory': {
      const store = new MemoryStore();
      return { name: 'memory (in-process)', connect: async () => new MemoryDriver(store), stop: async () => store.close() };
    }
    case 'memory-served': {
      const dir = mkdtempSync(join(tmpdir(), 'df-bench-mem-'));
      const store = new MemoryStore({ file: join(dir, 'nb.jsonl') });
      const token = 'nb-targets-bench-admin-token';
      const server = await MemoryServer.start({ store, listen: [`unix:${join(dir, 'nb.sock')}`], grants: [{ role: 'admin', token }] });
      return {
        name: 'memory (served, unix socket, journaled)',
        connect: () => MemoryClientDriver.connect({ endpoint: server.endpoints[0]!, token }),
        stop: async () => {
          await server.close();
          store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    case 'etcd': {
      const etcd = await startEtcd();
      return { name: 'etcd 3.4', connect: () => EtcdDriver.connect({ endpoints: etcd.endpoint, prefix: '/bench/' }), stop: () => etcd.stop() };
    }
    case 'redis': {
      const redis = await startRedis({ persistent: true });
      return { name: 'redis 7 (AOF, fsync always)', connect: () => RedisDriver.connect({ url: redis.url, prefix: 'bench:' }), stop: () => redis.stop() };
    }
  }
}

/** Targets named in DF_BENCH_DRIVERS (comma-separated), or all. */
export function selectedTargets(): (typeof TARGET_NAMES)[number][] {
  const env = process.env['DF_BENCH_DRIVERS'];
  if (!env) return [...TARGET_NAMES];
  const names = env.split(',').map((s) => s.trim());
  for (const n of names) if (!(TARGET_NAMES as readonly string[]).includes(n)) throw new Error(`DF_BENCH_DRIVERS: unknown '${n}' (expected ${TARGET_NAMES.join(', ')})`);
  return names as (typeof TARGET_NAMES)[number][];
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
