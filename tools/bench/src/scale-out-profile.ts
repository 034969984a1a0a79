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
 *
 * DF_BENCH_PROFILE_NB=etcd: the NB is a real etcd (one member, started here; run it
 * under the heavy lock) and each controller has its own etcd driver, so the etcd
 * client's watch decoding is counted too; the probes are committed by a child
 * process, so its CPU is not counted here. Three figures:
 * - the writer alone: the same creates before any controller runs (this process' CPU
 *   per create then: the commit in-process, or the messages to the etcd writer);
 * - idle: each controller's CPU per second with no change at all (liveness renewals,
 *   the driver's lease keep-alives, timers), measured over DF_BENCH_PROFILE_IDLE_MS;
 * - per create per controller, with the writer's share and the idle rate over the
 *   creates' wall time taken out: what one out-of-scope change costs a controller.
 */
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { EtcdDriver } from '@dragonflow/db-etcd';
import { MemoryDriver, MemoryStore, type NbDriver, type TxnOp } from '@dragonflow/nb';
import { startEtcd } from '@dragonflow/sandbox';
import { loadCloud } from './scale-out-nb.js';
import { chassisOps, probe, tenantOps, tenants, type CloudShape } from './scale-out-topology.js';
import { startControllerOn, type Controller } from './scale-out-worker.js';
import { startCpuProfile } from './cpu-profile.js';

const CONTROLLERS = Number(process.env.DF_BENCH_PROFILE_CONTROLLERS ?? '5');
const CREATES = Number(process.env.DF_BENCH_PROFILE_CREATES ?? '100');
const IDLE_MS = Number(process.env.DF_BENCH_PROFILE_IDLE_MS ?? '5000');
const ON_ETCD = process.env.DF_BENCH_PROFILE_NB === 'etcd';
const FIRST = 50;
/** DF_BENCH_PROFILE_SCOPE=in: the probes are in a tenant every running controller holds (the in-scope cost instead). */
const IN_SCOPE = process.env.DF_BENCH_PROFILE_SCOPE === 'in';
const RUNNING_CHASSIS = Array.from({ length: CONTROLLERS }, (_, i) => FIRST + i);

const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;

/** Commits probe `k`; its revision. */
type Writer = (k: number) => Promise<number>;

interface Nb {
  /** In-process writer (memory NB) or a child process' (etcd: its CPU is not the controllers'). */
  readonly write: Writer;
  connect(): Promise<NbDriver>;
  close(): Promise<void>;
}

const built = new Map<number, TxnOp>();
function probeOp(shape: CloudShape, k: number): TxnOp {
  let op = built.get(k);
  if (!op) built.set(k, (op = { ...probe(shape, k).op, expectVersion: 0 }));
  return op;
}
const prepare = (ks: readonly number[]): void => ks.forEach((k) => probeOp(shape, k));

async function openNb(shape: CloudShape): Promise<Nb> {
  if (ON_ETCD) {
    const etcd = await startEtcd();
    const options = { endpoints: etcd.endpoint, prefix: '/scale/' };
    const loader = await EtcdDriver.connect(options);
    await loadCloud(loader, shape);
    await loader.close();
    const child = fork(fileURLToPath(import.meta.url), ['writer'], { env: { ...process.env, DF_BENCH_PROFILE_ENDPOINTS: etcd.endpoint } });
    const answers: ((revision: number) => void)[] = [];
    child.on('message', (m: { revision: number }) => answers.shift()?.(m.revision));
    child.on('exit', (code) => {
      if (code) throw new Error(`the writer process failed (${code})`);
    });
    return {
      write: (k) =>
        new Promise((resolve) => {
          answers.push(resolve);
          child.send({ k });
        }),
      connect: () => EtcdDriver.connect(options),
      close: async () => {
        child.kill();
        await etcd.stop();
      },
    };
  }
  const store = new MemoryStore();
  const writer = new MemoryDriver(store);
  const ops = [...chassisOps(shape)];
  for (let t = 0; t < tenants(shape); t++) ops.push(...tenantOps(shape, t));
  for (let i = 0; i < ops.length; i += 100) await writer.commit(ops.slice(i, i + 100));
  return { write: async (k) => (await writer.commit([probeOp(shape, k)])).revision, connect: async () => new MemoryDriver(store), close: async () => store.close() };
}

/** The etcd writer's process: commits the probes it is sent, answers each with its revision. */
async function writerProcess(shape: CloudShape): Promise<void> {
  // Listening before connecting: a message that comes with no listener is lost.
  const connected = EtcdDriver.connect({ endpoints: process.env.DF_BENCH_PROFILE_ENDPOINTS!.split(','), prefix: '/scale/' });
  process.on('message', (m: { k: number }) => {
    void connected
      .then((driver) => driver.commit([probeOp(shape, m.k)]))
      .then(({ revision }) => process.send!({ revision }))
      .catch((err: unknown) => {
        console.error(err);
        process.exit(1);
      });
  });
  process.on('disconnect', () => void connected.then((d) => d.close()).finally(() => process.exit(0)));
}

/** Probes `from` … `from + n − 1` that none of the running controllers hold, committed one at a time; each awaited by `confirm`. */
async function creates(write: Writer, from: number, n: number, confirm: (revision: number) => Promise<unknown>): Promise<{ count: number; cpu: number; wall: number }> {
  // Chosen (and their ops built, in the etcd writer) before the clock starts: the bench's own work is not the controllers'.
  const ks: number[] = [];
  const mine = (c: number): boolean => c >= FIRST && c < FIRST + CONTROLLERS;
  for (let k = from; k < from + n; k++) {
    const needs = probe(shape, k).needs;
    if (IN_SCOPE ? RUNNING_CHASSIS.every((c) => needs.includes(c)) : !needs.some(mine)) ks.push(k);
  }
  prepare(ks);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const k of ks) await confirm(await write(k));
  return { count: ks.length, cpu: cpuMs(process.cpuUsage(cpu0)), wall: performance.now() - t0 };
}

const shape: CloudShape = { ports: 10_000, hosts: 100, running: 100, spread: 10 };

async function main(): Promise<void> {
  const nb = await openNb(shape);
  // The writer's own CPU per create, before any controller runs (other probe ids: they stay in the cloud).
  const alone = await creates(nb.write, CREATES, CREATES, async () => {});
  // Controllers of chassis far from the probes' tenants (probe k is in tenant k mod tenants, on its 10 chassis).
  const running: Controller[] = [];
  for (let c = 0; c < CONTROLLERS; c++) running.push(await startControllerOn(await nb.connect(), shape, FIRST + c));
  const held = running[0]!.chassis.cache;
  // Let start-up settle (the first flush, the collection after the snapshot), then measure idle.
  await new Promise((r) => setTimeout(r, 2000));
  (globalThis as { gc?: () => void }).gc?.();
  const idle0 = process.cpuUsage();
  const idleT0 = performance.now();
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const idlePerMs = cpuMs(process.cpuUsage(idle0)) / (performance.now() - idleT0);
  const profile = await startCpuProfile(process.env.DF_BENCH_PROFILE_OUT);
  const m = await creates(nb.write, 0, CREATES, (revision) => Promise.all(running.map((c) => c.chassis.runtime.waitForRevision(revision))));
  await profile.stop();
  const writerPer = alone.cpu / alone.count;
  const perCreate = m.cpu / m.count;
  const idlePerCreate = (idlePerMs * m.wall) / m.count;
  console.log(`NB: ${ON_ETCD ? 'etcd (one member), a driver per controller' : 'in-process memory'}; probes ${IN_SCOPE ? 'in every running controller\'s scope' : 'out of every running controller\'s scope'}`);
  console.log('| controllers | ports a controller holds | creates | wall per create | CPU per create per controller (all) | writer alone per create | idle CPU per controller | per create per controller, less writer and idle |');
  console.log('|---|---|---|---|---|---|---|---|');
  console.log(
    `| ${CONTROLLERS} | ${held.size('logical_port')} | ${m.count} | ${(m.wall / m.count).toFixed(2)} ms | ${(perCreate / CONTROLLERS).toFixed(3)} ms | ${writerPer.toFixed(3)} ms | ${((idlePerMs * 1000) / CONTROLLERS).toFixed(2)} ms/s | ${((perCreate - writerPer - idlePerCreate) / CONTROLLERS).toFixed(3)} ms |`,
  );
  for (const c of running) {
    await c.registration.stop();
    await c.chassis.stop();
    await c.driver.close();
  }
  await nb.close();
}

(process.argv[2] === 'writer' ? writerProcess(shape) : main()).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
