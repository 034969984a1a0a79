/**
 * Northbound DB drivers: commit rate and change-feed latency.
 *   pnpm --filter @dragonflow/bench bench:nb-drivers      (DF_BENCH_DRIVERS=memory,etcd to choose)
 *
 * - writes/s, one writer: single-key commits one after another (each awaited);
 * - writes/s, 8 writers: 8 clients committing concurrently;
 * - NbApi port creates/s: NbApi.create('logical_port') one after another (validation,
 *   reference checks, IP/MAC claims, guard — what df-api pays per port);
 * - feed latency: a subscriber on another connection; time from the start of a
 *   commit to the batch arriving at the subscriber, 1 000 commits, median and p99.
 */
import { performance } from 'node:perf_hooks';
import { NbApi, type NbDriver } from '@dragonflow/nb';
import { quantile, selectedTargets, startTarget } from './nb-targets.js';

const COMMAND = 'pnpm --filter @dragonflow/bench bench:nb-drivers';

async function writesPerSecond(drivers: NbDriver[], total: number, tag: string): Promise<number> {
  const per = Math.ceil(total / drivers.length);
  const start = performance.now();
  await Promise.all(
    drivers.map(async (d, w) => {
      for (let i = 0; i < per; i++) await d.commit([{ type: 'put', table: 'bench', id: `${tag}-${w}-${i}`, value: `{"n":${i}}` }]);
    }),
  );
  return (per * drivers.length) / ((performance.now() - start) / 1000);
}

async function feedLatency(writer: NbDriver, reader: NbDriver, n: number): Promise<{ p50: number; p99: number }> {
  const started = new Map<string, number>();
  const samples: number[] = [];
  const feed = reader.watch((await writer.currentRevision()) + 1, { tables: ['latency'] });
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const reading = (async () => {
    for await (const b of feed) {
      const now = performance.now();
      for (const e of b.events) {
        const t0 = started.get(e.id);
        if (t0 !== undefined) samples.push(now - t0);
      }
      if (samples.length >= n) {
        resolveAll();
        return;
      }
    }
  })();
  await new Promise((r) => setTimeout(r, 200));
  for (let i = 0; i < n; i++) {
    const id = `l${i}`;
    started.set(id, performance.now());
    await writer.commit([{ type: 'put', table: 'latency', id, value: '{}' }]);
  }
  await all;
  feed.close();
  await reading;
  samples.sort((a, b) => a - b);
  return { p50: quantile(samples, 0.5), p99: quantile(samples, 0.99) };
}

async function portCreates(driver: NbDriver, n: number): Promise<number> {
  const nb = await NbApi.open(driver);
  try {
    const ls = await nb.create('logical_switch', { name: 'bench' });
    const subnet = await nb.create('subnet', { networkId: ls.id, ipVersion: 4, cidr: '10.0.0.0/16' });
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      const ip = `10.0.${(i + 2) >> 8}.${(i + 2) & 255}`;
      const mac = `fa:16:3e:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
      await nb.create('logical_port', { networkId: ls.id, macAddress: mac, fixedIps: [{ subnetId: subnet.id, ipAddress: ip }] });
    }
    return n / ((performance.now() - start) / 1000);
  } finally {
    await nb.close();
  }
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  console.log(`# Northbound DB drivers — ${COMMAND}\n`);
  console.log('| driver | writes/s, 1 writer | writes/s, 8 writers | NbApi port creates/s | feed latency p50 | p99 |');
  console.log('|---|---|---|---|---|---|');
  for (const name of selectedTargets()) {
    const target = await startTarget(name);
    const clients: NbDriver[] = [];
    try {
      for (let i = 0; i < 9; i++) clients.push(await target.connect());
      const [first, second] = clients as [NbDriver, NbDriver];
      await writesPerSecond([first], 300, 'warm');
      const one = await writesPerSecond([first], 3_000, 'one');
      const eight = await writesPerSecond(clients.slice(1, 9), 4_000, 'eight');
      const lat = await feedLatency(first, second, 1_000);
      const ports = await portCreates(first, 1_000);
      console.log(`| ${target.name} | ${fmt(one)} | ${fmt(eight)} | ${fmt(ports)} | ${lat.p50.toFixed(2)} ms | ${lat.p99.toFixed(2)} ms |`);
    } finally {
      for (const c of clients) await c.close();
      await target.stop();
    }
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
