/**
 * The local cache's part of a scale-out controller's memory, measured apart:
 *   pnpm --filter @dragonflow/bench exec node --expose-gc dist/scale-out-cache.js
 *
 * The clouds of bench:scale-out's memory comparison (2,000 ports on 100 chassis and
 * 10,000 on 500, 20 ports per chassis in both) in an in-process memory NB; 20
 * selective local caches of running chassis start on it and the heap they add is
 * divided by 20. The cache holds the chassis' tenants plus every chassis record, and
 * keeps a stub of every object in the DB (its shadow index, which decides scope).
 */
import { LocalCache, MemoryDriver, MemoryStore } from '@dragonflow/nb';
import { chassisId, chassisOps, tenantOps, tenants, type CloudShape } from './scale-out-topology.js';

const CACHES = 20;

function heap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

async function main(): Promise<void> {
  console.log('| P | chassis in NB | objects in NB | objects a cache holds | chassis records held | heap per cache |');
  console.log('|---|---|---|---|---|---|');
  for (const shape of [
    { ports: 2000, hosts: 100, running: 100, spread: 10 },
    { ports: 10_000, hosts: 500, running: 100, spread: 10 },
  ] satisfies CloudShape[]) {
    const store = new MemoryStore();
    const writer = new MemoryDriver(store);
    const ops = [...chassisOps(shape)];
    for (let t = 0; t < tenants(shape); t++) ops.push(...tenantOps(shape, t));
    for (let i = 0; i < ops.length; i += 100) await writer.commit(ops.slice(i, i + 100));
    const before = heap();
    const caches: LocalCache[] = [];
    for (let c = 0; c < CACHES; c++) {
      const cache = new LocalCache(new MemoryDriver(store), { chassisId: chassisId(c) });
      await cache.start();
      caches.push(cache);
    }
    const perCache = (heap() - before) / CACHES;
    console.log(`| ${shape.ports.toLocaleString('en')} | ${shape.hosts} | ${ops.length.toLocaleString('en')} | ${caches[0]!.size()} | ${caches[0]!.size('chassis')} | ${(perCache / 1024 / 1024).toFixed(2)} MB |`);
    for (const c of caches) await c.stop();
    store.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
