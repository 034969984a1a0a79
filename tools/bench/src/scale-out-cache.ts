/**
 * The local cache's part of a scale-out controller's memory, measured apart:
 *   pnpm --filter @dragonflow/bench exec node --expose-gc dist/scale-out-cache.js
 *
 * The clouds of bench:scale-out's memory comparison (2,000 ports on 100 chassis and
 * 10,000 on 500, 20 ports per chassis in both) in an in-process memory NB; 20
 * selective local caches of running chassis start on it and the heap they add is
 * divided by 20. The cache holds the chassis' tenants plus every chassis record, and
 * keeps a stub of every object in the DB (its shadow index, which decides scope).
 *
 * With DF_BENCH_HEAP=1 it runs whole controllers instead (as bench:scale-out's workers
 * do: liveness, cache, runtime, apps, FakeSwitch; DF_BENCH_HEAP_CONTROLLERS of them,
 * default 5) and writes a V8 heap snapshot before and after starting them at each
 * cloud size: the table then says what a controller adds, by kind of object, at
 * both sizes — where memory grows with the cloud rather than with the chassis' ports.
 * DF_BENCH_HEAP_NB=etcd: the NB is a real etcd (one member, started here) and each
 * controller has its own etcd driver, as in bench:scale-out (run it under the heavy lock);
 * =socket: the memory NB served on a unix socket, each controller its own client, so
 * every controller decodes its own copy of every record as over a network.
 */
import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { EtcdDriver } from '@dragonflow/db-etcd';
import { LocalCache, MemoryClientDriver, MemoryDriver, MemoryServer, MemoryStore, type NbDriver } from '@dragonflow/nb';
import { startEtcd } from '@dragonflow/sandbox';
import { loadCloud } from './scale-out-nb.js';
import { heapGrowth, heapSummary } from './heap-summary.js';
import { chassisId, chassisOps, tenantOps, tenants, type CloudShape } from './scale-out-topology.js';
import { startControllerOn } from './scale-out-worker.js';

const WHOLE = process.env.DF_BENCH_HEAP === '1';
const CACHES = WHOLE ? Number(process.env.DF_BENCH_HEAP_CONTROLLERS ?? '5') : 20;
const ON_ETCD = process.env.DF_BENCH_HEAP_NB === 'etcd';
const ON_SOCKET = process.env.DF_BENCH_HEAP_NB === 'socket';

/** The cloud of `shape` in an NB: in-process memory, or a real etcd. */
async function loadedNb(shape: CloudShape): Promise<{ objects: number; connect: () => Promise<NbDriver>; close: () => Promise<void> }> {
  if (ON_SOCKET) {
    const { store, objects } = await loadedStore(shape);
    const dir = mkdtempSync(join(tmpdir(), 'df-heap-'));
    const token = 'scale-out-heap-harness';
    const server = await MemoryServer.start({ store, listen: [`unix:${join(dir, 'nb.sock')}`], grants: [{ token, role: 'admin' }] });
    return {
      objects,
      connect: () => MemoryClientDriver.connect({ endpoint: server.endpoints[0]!, token }),
      close: async () => {
        await server.close();
        store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  if (!ON_ETCD) {
    const { store, objects } = await loadedStore(shape);
    return { objects, connect: async () => new MemoryDriver(store), close: async () => store.close() };
  }
  const etcd = await startEtcd();
  const options = { endpoints: etcd.endpoint, prefix: '/scale/' };
  const writer = await EtcdDriver.connect(options);
  const objects = await loadCloud(writer, shape);
  await writer.close();
  return { objects, connect: () => EtcdDriver.connect(options), close: () => etcd.stop() };
}

function heap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const SHAPES = [
  { ports: 2000, hosts: 100, running: 100, spread: 10 },
  { ports: 10_000, hosts: 500, running: 100, spread: 10 },
] satisfies CloudShape[];

async function loadedStore(shape: CloudShape): Promise<{ store: MemoryStore; objects: number }> {
  const store = new MemoryStore();
  const writer = new MemoryDriver(store);
  const ops = [...chassisOps(shape)];
  for (let t = 0; t < tenants(shape); t++) ops.push(...tenantOps(shape, t));
  for (let i = 0; i < ops.length; i += 100) await writer.commit(ops.slice(i, i + 100));
  return { store, objects: ops.length };
}

async function caches(): Promise<void> {
  console.log('| P | chassis in NB | objects in NB | objects a cache holds | chassis records held | heap per cache |');
  console.log('|---|---|---|---|---|---|');
  for (const shape of SHAPES) {
    const { store, objects } = await loadedStore(shape);
    const before = heap();
    const held: LocalCache[] = [];
    for (let c = 0; c < CACHES; c++) {
      const cache = new LocalCache(new MemoryDriver(store), { chassisId: chassisId(c) });
      await cache.start();
      held.push(cache);
    }
    const perCache = (heap() - before) / CACHES;
    console.log(`| ${shape.ports.toLocaleString('en')} | ${shape.hosts} | ${objects.toLocaleString('en')} | ${held[0]!.size()} | ${held[0]!.size('chassis')} | ${(perCache / 1024 / 1024).toFixed(2)} MB |`);
    for (const c of held) await c.stop();
    store.close();
  }
}

const kb = (b: number): string => `${(b / 1024).toFixed(0)} KB`;

async function controllers(): Promise<void> {
  const growth: ReturnType<typeof heapGrowth>[] = [];
  const lines: string[] = [];
  for (const shape of SHAPES) {
    const nb = await loadedNb(shape);
    const objects = nb.objects;
    const before = heap();
    const fileA = writeHeapSnapshot(join(tmpdir(), `df-heap-${process.pid}-${shape.ports}-a.heapsnapshot`));
    const running = [];
    for (let c = 0; c < CACHES; c++) running.push(await startControllerOn(await nb.connect(), shape, c));
    const after = heap();
    const fileB = writeHeapSnapshot(join(tmpdir(), `df-heap-${process.pid}-${shape.ports}-b.heapsnapshot`));
    const c0 = running[0]!;
    lines.push(`| ${shape.ports.toLocaleString('en')} | ${shape.hosts} | ${objects.toLocaleString('en')} | ${c0.chassis.cache.size()} | ${c0.chassis.cache.size('chassis')} | ${c0.chassis.runtime.reconciler.desiredCount} | ${((after - before) / CACHES / 1024 / 1024).toFixed(2)} MB |`);
    for (const c of running) {
      await c.registration.stop();
      await c.chassis.stop();
      await c.driver.close();
    }
    await nb.close();
    growth.push(heapGrowth(heapSummary(fileA), heapSummary(fileB)));
    unlinkSync(fileA);
    unlinkSync(fileB);
  }
  console.log('| P | chassis in NB | objects in NB | objects a cache holds | chassis records held | desired flows | heap per controller |');
  console.log('|---|---|---|---|---|---|---|');
  for (const l of lines) console.log(l);
  // By kind: per controller at each size, largest difference between the sizes first.
  const [small, large] = growth as [ReturnType<typeof heapGrowth>, ReturnType<typeof heapGrowth>];
  const at = (rows: ReturnType<typeof heapGrowth>, kind: string): { bytes: number; count: number } => rows.find((r) => r.kind === kind) ?? { bytes: 0, count: 0 };
  const kinds = [...new Set([...small, ...large].map((r) => r.kind))]
    .map((kind) => ({ kind, s: at(small, kind), l: at(large, kind) }))
    .sort((x, y) => y.l.bytes - y.s.bytes - (x.l.bytes - x.s.bytes))
    // The largest growths, and the strings whatever they did (ids are strings).
    .filter((k, i) => i < 12 || k.kind.includes('string'));
  console.log(`\n| kind (self size, per controller) | P = ${SHAPES[0]!.ports.toLocaleString('en')} | P = ${SHAPES[1]!.ports.toLocaleString('en')} | growth | objects at P = ${SHAPES[1]!.ports.toLocaleString('en')} |`);
  console.log('|---|---|---|---|---|');
  for (const k of kinds) console.log(`| ${k.kind} | ${kb(k.s.bytes / CACHES)} | ${kb(k.l.bytes / CACHES)} | ${kb((k.l.bytes - k.s.bytes) / CACHES)} | ${Math.round(k.l.count / CACHES).toLocaleString('en')} |`);
}

async function main(): Promise<void> {
  await (WHOLE ? controllers() : caches());
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
