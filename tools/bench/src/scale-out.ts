/**
 * bench:scale-out — C chassis controllers following one NB (a 3-member etcd cluster,
 * or one redis server), P ports spread over them.
 *   pnpm --filter @dragonflow/bench bench:scale-out
 * Options (environment): DF_BENCH_DRIVERS=etcd,redis  DF_BENCH_CHASSIS=50,100,200
 * DF_BENCH_PORTS=2000  DF_BENCH_PROBES=100  DF_BENCH_SPREAD=10  DF_BENCH_WORKERS=4
 * DF_BENCH_MEMORY=1 (P=2,000 vs 10,000 at 20 ports per chassis, 100 controllers, etcd)
 * DF_BENCH_KILL=1 (an etcd member killed during creates, on the memory run's cloud)
 * DF_BENCH_GOAL=1 (100 controllers × 10,000 ports, 100 ports each, etcd)
 * DF_BENCH_WAVE=4 (controllers each worker starts at once).
 *
 * Every controller is the runtime df-controller runs (NB local cache with selective
 * topology, apps l2, portsec, sg, dhcp, l3-proactive, reconciler, chassis liveness)
 * on a FakeSwitch, in worker processes (see scale-out-worker.ts). A probe is one new
 * VM port written to the NB; it is confirmed when every chassis whose selective
 * topology holds its network has its revision in the desired state and confirmed by
 * a barrier on its switch.
 */
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { isDfError } from '@dragonflow/base';
import { NbErrorCode, type NbDriver, type TxnOp } from '@dragonflow/nb';
import { sleep } from '@dragonflow/sandbox';
import { Fleet, type FleetStats } from './scale-out-fleet.js';
import { connectNb, loadCloud, startNb, type NbCounters, type NbServer } from './scale-out-nb.js';
import { probe, type CloudShape } from './scale-out-topology.js';
import { monotonicMs } from './scale-out-worker.js';
import { quantile } from './nb-process.js';

const COMMAND = 'pnpm --filter @dragonflow/bench bench:scale-out';
const env = (name: string, fallback: string): string => process.env[name] ?? fallback;
const list = (name: string, fallback: string): number[] => env(name, fallback).split(',').map(Number);
const DRIVERS = env('DF_BENCH_DRIVERS', 'etcd,redis').split(',') as ('etcd' | 'redis')[];
const CHASSIS = list('DF_BENCH_CHASSIS', '50,100,200');
const PORTS = list('DF_BENCH_PORTS', '2000');
const PROBES = Number(env('DF_BENCH_PROBES', '100'));
const SPREAD = Number(env('DF_BENCH_SPREAD', '10'));
const WORKERS = Number(env('DF_BENCH_WORKERS', '4'));
const WAVE = Number(env('DF_BENCH_WAVE', '4'));
const TARGET_P99_MS = 100;
/** A probe not confirmed everywhere by then is reported as lost. */
const CONFIRM_TIMEOUT_MS = 60_000;

interface Run {
  readonly driver: 'etcd' | 'redis';
  readonly shape: CloudShape;
  readonly probes: number;
  readonly kill: boolean;
  readonly what: string;
}

interface ProbeResult {
  readonly k: number;
  readonly committedMs: number;
  /** Commit start → last chassis that needs the port confirmed it (NaN: not everywhere in time). */
  readonly allMs: number;
  readonly firstMs: number;
  readonly missing: number;
  /** Chassis that confirmed the port without being expected to hold it. */
  readonly extra: number;
  readonly attempts: number;
}

interface RunResult {
  readonly run: Run;
  readonly nb: string;
  readonly startMs: number;
  readonly probes: readonly ProbeResult[];
  readonly load: { readonly seconds: number; readonly requests: number; readonly events: number; readonly watchers: number; readonly cpu: number; readonly controllersCpu: number };
  readonly memory: FleetStats;
  readonly kill?: KillResult;
}

interface KillResult {
  readonly member: string;
  readonly creates: number;
  readonly confirmed: number;
  readonly failedAttempts: number;
  /** The slowest create's commit (first try → success), after the kill. */
  readonly slowestCommitMs: number;
  /** Longest time without a successful commit, around the kill. */
  readonly writeGapMs: number;
  /** Kill → first probe created after it confirmed everywhere. */
  readonly recoveryMs: number;
  readonly before: readonly ProbeResult[];
  readonly after: readonly ProbeResult[];
}

/** Creates the probe port (create-only, so a retried commit whose first try went through is seen as done): its revision and tries. */
async function createPort(writer: NbDriver, op: TxnOp, onRetry: () => void): Promise<{ revision: number; attempts: number }> {
  for (let attempts = 1; ; attempts++) {
    try {
      return { revision: (await writer.commit([{ ...op, expectVersion: 0 }])).revision, attempts };
    } catch (err) {
      if (isDfError(err, NbErrorCode.CONFLICT)) {
        const rec = await writer.get(op.table, op.id);
        if (rec) return { revision: rec.modRevision, attempts };
      }
      onRetry();
      await sleep(20);
    }
  }
}

async function oneProbe(fleet: Fleet, writer: NbDriver, shape: CloudShape, k: number, onRetry: () => void = () => undefined): Promise<ProbeResult> {
  const p = probe(shape, k);
  await fleet.arm(p.portId, p.host, 5000 + k);
  const t0 = monotonicMs();
  const { attempts } = await createPort(writer, p.op, onRetry);
  const committedMs = monotonicMs() - t0;
  const got = await fleet.confirmed(p.portId, p.needs, CONFIRM_TIMEOUT_MS);
  const needed = p.needs.map((c) => got.get(c));
  const missing = needed.filter((t) => t === undefined).length;
  const times = needed.filter((t): t is number => t !== undefined).map((t) => t - t0);
  return { k, committedMs, allMs: missing ? NaN : Math.max(...times), firstMs: Math.min(...times), missing, extra: [...got.keys()].filter((c) => !p.needs.includes(c)).length, attempts };
}

/** Creates go on one every `intervalMs` (not waiting for confirmations); the etcd leader is SIGKILLed after a third of them. */
async function killRun(fleet: Fleet, writer: NbDriver, nb: NbServer, shape: CloudShape, first: number, creates: number, intervalMs: number): Promise<KillResult> {
  let failedAttempts = 0;
  let killedAt = 0;
  let member = '';
  const commits: number[] = [];
  const runs: Promise<ProbeResult & { start: number }>[] = [];
  for (let i = 0; i < creates; i++) {
    if (i === Math.floor(creates / 3)) {
      killedAt = monotonicMs();
      member = await nb.killLeader!();
    }
    const start = monotonicMs();
    runs.push(
      oneProbe(fleet, writer, shape, first + i, () => failedAttempts++).then((r) => {
        commits.push(start + r.committedMs);
        return { ...r, start };
      }),
    );
    await sleep(intervalMs);
  }
  const results = await Promise.all(runs);
  const done = [killedAt, ...commits.sort((a, b) => a - b)];
  let writeGapMs = 0;
  for (let i = 1; i < done.length; i++) if (done[i - 1]! >= killedAt - 1000) writeGapMs = Math.max(writeGapMs, done[i]! - done[i - 1]!);
  const firstAfter = results.find((r) => r.start >= killedAt && !Number.isNaN(r.allMs));
  return {
    member,
    creates,
    confirmed: results.filter((r) => r.missing === 0).length,
    failedAttempts,
    slowestCommitMs: Math.max(...results.filter((r) => r.start >= killedAt).map((r) => r.committedMs)),
    writeGapMs,
    recoveryMs: firstAfter ? firstAfter.start + firstAfter.allMs - killedAt : NaN,
    before: results.filter((r) => r.start < killedAt),
    after: results.filter((r) => r.start >= killedAt),
  };
}

async function runOnce(r: Run): Promise<RunResult> {
  const nb = await startNb(r.driver);
  let fleet: Fleet | undefined;
  try {
    const writer = await connectNb(nb.target);
    const objects = await loadCloud(writer, r.shape);
    const started = await Fleet.start(nb.target, r.shape, WORKERS, WAVE);
    fleet = started.fleet;
    console.error(`  ${r.what}: ${objects} objects loaded, ${r.shape.running} controllers up in ${(started.ms / 1000).toFixed(1)} s`);
    await sleep(1000);
    const cpu0 = (await fleet.stats()).cpu;
    const c0: NbCounters = await nb.counters();
    const probes: ProbeResult[] = [];
    for (let k = 0; k < r.probes; k++) probes.push(await oneProbe(fleet, writer, r.shape, k));
    const c1 = await nb.counters();
    const memory = await fleet.stats();
    const seconds = (c1.at - c0.at) / 1000;
    const load = { seconds, requests: c1.requests - c0.requests, events: c1.events - c0.events, watchers: c1.watchers, cpu: c1.cpu - c0.cpu, controllersCpu: memory.cpu - cpu0 };
    const kill = r.kill && nb.killLeader ? await killRun(fleet, writer, nb, r.shape, r.probes, 60, 100) : undefined;
    await writer.close();
    return { run: r, nb: nb.name, startMs: started.ms, probes, load, memory, ...(kill ? { kill } : {}) };
  } finally {
    await fleet?.stop();
    await nb.stop();
  }
}

const ms = (x: number): string => (Number.isNaN(x) ? '—' : `${x.toFixed(x < 10 ? 1 : 0)} ms`);
const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(1)} MB`;
const avg = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

function latencyRow(res: RunResult): string {
  const all = res.probes.map((p) => p.allMs).filter((x) => !Number.isNaN(x));
  const lost = res.probes.filter((p) => p.missing > 0).length;
  const s = res.run.shape;
  const p99 = quantile(all, 0.99);
  const goal = res.run.driver === 'etcd' ? (p99 <= TARGET_P99_MS ? 'met' : `missed ×${(p99 / TARGET_P99_MS).toFixed(1)}`) : '';
  return `| ${res.run.driver} | ${s.running} | ${s.ports.toLocaleString('en')} | ${s.spread} | ${ms(quantile(all, 0.5))} | ${ms(p99)} | ${ms(Math.max(...all))} | ${ms(quantile(res.probes.map((p) => p.firstMs), 0.5))} | ${ms(quantile(res.probes.map((p) => p.committedMs), 0.5))} | ${lost} | ${res.probes.reduce((n, p) => n + p.extra, 0)} | ${goal} |`;
}

function loadRow(res: RunResult): string {
  const l = res.load;
  const n = res.probes.length;
  return `| ${res.run.driver} | ${res.run.shape.running} | ${res.run.shape.ports.toLocaleString('en')} | ${(l.requests / l.seconds).toFixed(0)} | ${l.watchers} | ${(l.events / l.seconds).toFixed(0)} | ${(l.events / n).toFixed(0)} | ${((100 * l.cpu) / l.seconds).toFixed(0)} % | ${((1000 * l.controllersCpu) / n / res.run.shape.running).toFixed(2)} ms |`;
}

function memoryRow(res: RunResult): string {
  const s = res.run.shape;
  const c = res.memory.chassis;
  return `| ${res.run.driver} | ${s.ports.toLocaleString('en')} | ${s.hosts} | ${s.running} | ${avg(c.map((x) => x.localPorts)).toFixed(0)} | ${avg(c.map((x) => x.cachedPorts)).toFixed(0)} | ${avg(c.map((x) => x.cachedObjects)).toFixed(0)} | ${avg(c.map((x) => x.desiredFlows)).toFixed(0)} | ${mb(res.memory.heap / s.running)} | ${mb(res.memory.rss / s.running)} | ${c.reduce((n, x) => n + x.errors, 0)} |`;
}

function runsToDo(): Run[] {
  const runs: Run[] = [];
  for (const driver of DRIVERS)
    for (const ports of PORTS)
      for (const running of CHASSIS) runs.push({ driver, shape: { ports, hosts: running, running, spread: SPREAD }, probes: PROBES, kill: false, what: `${driver} C=${running} P=${ports}` });
  if (env('DF_BENCH_MEMORY', '1') === '1' && DRIVERS.includes('etcd')) {
    // 20 ports per chassis at both sizes: the bigger cloud has more chassis, 100 of which run.
    if (!runs.some((r) => r.driver === 'etcd' && r.shape.running === 100 && r.shape.ports === 2000 && r.shape.hosts === 100))
      runs.push({ driver: 'etcd', shape: { ports: 2000, hosts: 100, running: 100, spread: SPREAD }, probes: PROBES, kill: false, what: 'etcd memory P=2000' });
    runs.push({ driver: 'etcd', shape: { ports: 10_000, hosts: 500, running: 100, spread: SPREAD }, probes: PROBES, kill: env('DF_BENCH_KILL', '1') === '1', what: 'etcd memory P=10000' });
  } else if (env('DF_BENCH_KILL', '1') === '1' && DRIVERS.includes('etcd')) {
    const r = runs.find((x) => x.driver === 'etcd');
    if (r) runs[runs.indexOf(r)] = { ...r, kill: true };
  }
  if (env('DF_BENCH_GOAL', '0') === '1') runs.push({ driver: 'etcd', shape: { ports: 10_000, hosts: 100, running: 100, spread: SPREAD }, probes: PROBES, kill: false, what: 'etcd goal C=100 P=10000' });
  return runs;
}

async function main(): Promise<void> {
  const load0 = loadavg()[0]!;
  const results: RunResult[] = [];
  for (const r of runsToDo()) {
    console.error(`running ${r.what} …`);
    results.push(await runOnce(r));
  }
  const header = `load average ${load0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB (${(freemem() / 2 ** 30).toFixed(0)} free at the end), Node ${process.versions.node}, ${WORKERS} worker processes`;
  console.log(`# Scale-out — ${COMMAND}\n\n${header}\nEach run: one NB, C controllers (runtime + local cache + l2, portsec, sg, dhcp, l3-proactive; FakeSwitch each), tenants of 10 networks × 10 ports behind one router, each tenant spread over ${SPREAD} chassis.\n`);
  console.log('## Commit → confirmed on every chassis that needs it (one new port at a time)\n');
  console.log('| NB | C | P | chassis per port | p50 | p99 | max | first chassis p50 | commit p50 | not confirmed | extra chassis | goal ≤ 100 ms p99 |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) console.log(latencyRow(r));
  console.log('\n## The NB\'s load during the single creates\n');
  console.log('| NB | C | P | requests/s | watchers | events sent/s | events per create | server CPU (of one core) | controllers\' CPU per create per controller |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of results) console.log(loadRow(r));
  console.log('\n## Memory per controller (heap: V8 heap used after a GC, less the workers\' own; RSS: the workers\' RSS ÷ controllers)\n');
  console.log('| NB | P | chassis in NB | controllers | ports hosted | ports in cache | objects in cache | desired flows | heap per controller | RSS per controller | errors |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) console.log(memoryRow(r));
  for (const r of results) {
    const k = r.kill;
    if (!k) continue;
    const lat = (xs: readonly ProbeResult[]): string => {
      const v = xs.map((p) => p.allMs).filter((x) => !Number.isNaN(x));
      return `p50 ${ms(quantile(v, 0.5))}, max ${ms(Math.max(...v))}`;
    };
    console.log(`\n## An etcd member killed (SIGKILL, the leader: ${k.member}) during creates — C=${r.run.shape.running}, P=${r.run.shape.ports.toLocaleString('en')}\n`);
    console.log('| creates (one per 100 ms) | confirmed everywhere | lost | failed commit attempts (retried) | slowest commit after the kill | longest time without a commit | kill → first later create confirmed everywhere | before the kill | after the kill |');
    console.log('|---|---|---|---|---|---|---|---|---|');
    console.log(`| ${k.creates} | ${k.confirmed} | ${k.creates - k.confirmed} | ${k.failedAttempts} | ${ms(k.slowestCommitMs)} | ${ms(k.writeGapMs)} | ${ms(k.recoveryMs)} | ${lat(k.before)} | ${lat(k.after)} |`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
