/**
 * What a scale-out controller spends on a change it does not need, measured apart:
 *   pnpm --filter @dragonflow/bench exec node --expose-gc dist/scale-out-profile.js
 * (DF_BENCH_PROFILE_OUT=file.cpuprofile writes a CPU profile of the creates alone).
 *
 * The goal shape of bench:scale-out (10,000 ports, 100 chassis, 100 ports each) in an
 * in-process memory NB; DF_BENCH_PROFILE_CONTROLLERS (default 5) whole controllers
 * run (cache, runtime, apps, FakeSwitch); then DF_BENCH_PROFILE_CREATES probe ports
 * (default 100) are created one at a time, each confirmed on its own chassis, in
 * tenants none of the running controllers hold. The CPU time per create per
 * controller is the fleet's share of the NB's fan-out (every controller receives
 * every change).
 */
import { performance } from 'node:perf_hooks';
import { MemoryDriver, MemoryStore, type NbDriver } from '@dragonflow/nb';
import { chassisOps, probe, tenantOps, tenants, type CloudShape } from './scale-out-topology.js';
import { startControllerOn } from './scale-out-worker.js';
import { startCpuProfile } from './cpu-profile.js';

const CONTROLLERS = Number(process.env.DF_BENCH_PROFILE_CONTROLLERS ?? '5');
const CREATES = Number(process.env.DF_BENCH_PROFILE_CREATES ?? '100');

async function main(): Promise<void> {
  const shape: CloudShape = { ports: 10_000, hosts: 100, running: 100, spread: 10 };
  const store = new MemoryStore();
  const writer: NbDriver = new MemoryDriver(store);
  const ops = [...chassisOps(shape)];
  for (let t = 0; t < tenants(shape); t++) ops.push(...tenantOps(shape, t));
  for (let i = 0; i < ops.length; i += 100) await writer.commit(ops.slice(i, i + 100));
  // Controllers of chassis far from the probes' tenants (probe k is in tenant k mod tenants, on its 10 chassis).
  const running = [];
  for (let c = 0; c < CONTROLLERS; c++) running.push(await startControllerOn(new MemoryDriver(store), shape, 50 + c));
  const held = running[0]!.chassis.cache;
  const profile = await startCpuProfile(process.env.DF_BENCH_PROFILE_OUT);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let outOfScope = 0;
  for (let k = 0; k < CREATES; k++) {
    const p = probe(shape, k);
    if (p.needs.some((c) => c >= 50 && c < 50 + CONTROLLERS)) continue;
    outOfScope++;
    const { revision } = await writer.commit([{ ...p.op, expectVersion: 0 }]);
    await Promise.all(running.map((c) => c.chassis.runtime.waitForRevision(revision)));
  }
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  await profile.stop();
  console.log(`| controllers | ports a controller holds | out-of-scope creates | wall per create | CPU per create per controller |`);
  console.log('|---|---|---|---|---|');
  console.log(`| ${CONTROLLERS} | ${held.size('logical_port')} | ${outOfScope} | ${(wall / outOfScope).toFixed(2)} ms | ${((cpu.user + cpu.system) / 1000 / outOfScope / CONTROLLERS).toFixed(3)} ms |`);
  for (const c of running) {
    await c.registration.stop();
    await c.chassis.stop();
    await c.driver.close();
  }
  store.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
