/**
 * Dragonflow and OVN side by side, in one run, at equal features (issue: "performance
 * side by side with OVN"): the scenario of vs-ovn-scenario.ts on each, one after the
 * other, each on its own private Open vSwitch (userspace datapath) in its own
 * network namespace, for each N; prints every figure for both and the ratio.
 *
 *   pnpm --filter @dragonflow/bench bench:vs-ovn
 *
 * DF_BENCH_PORTS=200,1000,2000 (default) the Ns; DF_BENCH_OURS_ONLY=10000 adds Ns run on
 * our side alone; DF_BENCH_SIDES=ours or ovn runs one side; DF_BENCH_CPU_PROFILE=DIR has
 * df-controller write a V8 CPU profile there; DF_BENCH_V8_MEMORY=1 runs it with its memory
 * defaults off (docs/controller.md "Memory"), for a before/after in one session; DF_BENCH_REPEATS
 * (default 10) the repetitions of each single change; DF_BENCH_VM_IFACE=dummy gives our side
 * dummy VM interfaces instead of taps (vs-ovn-scenario.ts, VM_IFACE_TYPE; ours alone).
 *
 * Needs root, Open vSwitch and OVN 23.03 (`ovn-central`, `ovn-host`; scripts/setup
 * installs them). A benchmark, not a test: it prints verdicts, it never fails on a goal.
 */
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { CleanupStack, requireBinary } from '@dragonflow/sandbox';
import { serveDbIfAsked, quantile } from './nb-process.js';
import { DF_DB_COMMANDS, DF_TOKEN, runDragonflow } from './vs-ovn-df.js';
import { runOvn } from './vs-ovn-ovn.js';
import { VM_IFACE_TYPE } from './vs-ovn-scenario.js';
import { REPEATS, type SideResult } from './vs-ovn-scenario.js';

const COMMAND = 'pnpm --filter @dragonflow/bench bench:vs-ovn';
const GOALS = { bulkFaster: 5, onePortFaster: 10 };

let active: CleanupStack | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void (active?.run() ?? Promise.resolve()).finally(() => process.exit(130)));
}

async function side(run: (cleanup: CleanupStack) => Promise<SideResult>): Promise<SideResult | undefined> {
  const cleanup = new CleanupStack();
  active = cleanup;
  try {
    return await run(cleanup);
  } catch (err) {
    console.error(err);
    process.exitCode = 1;
    return undefined;
  } finally {
    const problems = await cleanup.run();
    active = undefined;
    if (problems.length) console.error(`cleanup: ${problems.join('; ')}`);
  }
}

const secs = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(0)} MB`;
const med = (xs: readonly number[]): number => quantile([...xs], 0.5);

interface Row {
  readonly what: string;
  readonly value: (r: SideResult) => number;
  readonly show: (v: number) => string;
}

const ROWS: readonly Row[] = [
  { what: 'bulk commit → installed', value: (r) => r.bulkMs, show: secs },
  { what: 'flows in br-int', value: (r) => r.flows, show: (v) => v.toLocaleString('en') },
  { what: 'flows per port', value: (r) => r.flows / r.ports, show: (v) => v.toFixed(1) },
  { what: 'local controller RSS', value: (r) => r.controllerRss, show: mb },
  { what: 'local controller CPU (bulk)', value: (r) => r.cpu.controller, show: (v) => `${v.toFixed(2)} s` },
  { what: 'ovs-vswitchd CPU (bulk)', value: (r) => r.cpu.vswitchd, show: (v) => `${v.toFixed(2)} s` },
  { what: 'central CPU (bulk)', value: (r) => r.cpu.central, show: (v) => `${v.toFixed(2)} s` },
  { what: 'central RSS', value: (r) => r.centralRss, show: mb },
  { what: `+1 port commit → installed (median of ${REPEATS})`, value: (r) => med(r.onePort), show: secs },
  { what: `plug → ACTIVE / up (median of ${REPEATS})`, value: (r) => med(r.plug), show: secs },
  { what: `+1 rule, group of N → installed (median of ${REPEATS})`, value: (r) => med(r.oneRule), show: secs },
];

function table(n: number, ours: SideResult | undefined, ovn: SideResult | undefined): void {
  console.log(`\nN=${n.toLocaleString('en')} ports (10 networks, 1 router, port security, default group, DHCP), load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`);
  console.log(`  ${''.padEnd(44)} ${'dragonflow'.padStart(12)} ${'OVN'.padStart(12)} ${'ours / OVN'.padStart(11)}`);
  for (const row of ROWS) {
    const a = ours ? row.value(ours) : undefined;
    const b = ovn ? row.value(ovn) : undefined;
    const ratio = a !== undefined && b ? `${(a / b).toFixed(2)}×` : '–';
    console.log(`  ${row.what.padEnd(44)} ${(a !== undefined ? row.show(a) : '–').padStart(12)} ${(b !== undefined ? row.show(b) : '–').padStart(12)} ${ratio.padStart(11)}`);
  }
  if (n === 1000 && ours && ovn) {
    const verdict = (name: string, ok: boolean, detail: string): string => `${name}: ${ok ? 'met' : 'MISSED'} (${detail})`;
    const bulk = ovn.bulkMs / ours.bulkMs;
    const one = med(ovn.onePort) / med(ours.onePort);
    console.log(`  goals at N=1,000: ${[
      verdict(`commit → installed ≥ ${GOALS.bulkFaster}× faster`, bulk >= GOALS.bulkFaster, `${bulk.toFixed(1)}×`),
      verdict(`+1 port ≥ ${GOALS.onePortFaster}× faster`, one >= GOALS.onePortFaster, `${one.toFixed(1)}×`),
      verdict('flows ≤ half of OVN', ours.flows <= ovn.flows / 2, `${(ours.flows / ovn.flows).toFixed(2)}×`),
      verdict('controller RSS ≤ OVN', ours.controllerRss <= ovn.controllerRss, `${(ours.controllerRss / ovn.controllerRss).toFixed(2)}×`),
    ].join('; ')}`);
  }
}

async function main(): Promise<void> {
  if (await serveDbIfAsked(DF_TOKEN, DF_DB_COMMANDS)) return;
  for (const b of ['ovs-vswitchd', 'ovn-northd', 'ovn-controller', 'ovn-nbctl']) requireBinary(b);
  const script = fileURLToPath(import.meta.url);
  const started = Date.now();
  const sizes = (process.env['DF_BENCH_PORTS'] ?? '200,1000,2000').split(',').filter(Boolean).map(Number);
  const oursOnly = (process.env['DF_BENCH_OURS_ONLY'] ?? '').split(',').filter(Boolean).map(Number);
  // DF_BENCH_SIDES=ours or ovn runs one side alone (no ratio then).
  const sides = (process.env['DF_BENCH_SIDES'] ?? 'ours,ovn').split(',');
  for (const n of sizes) {
    const ours = sides.includes('ours') ? await side((c) => runDragonflow(c, script, n)) : undefined;
    const ovn = sides.includes('ovn') ? await side((c) => runOvn(c, n)) : undefined;
    table(n, ours, ovn);
  }
  for (const n of oursOnly) table(n, await side((c) => runDragonflow(c, script, n)), undefined);
  console.log(`\nDragonflow: df-controller process (apps l2, portsec, sg, dhcp, l3-proactive) on a memory NB served by a DB process (df-api's validation not timed);`);
  console.log(`VM interfaces: ${VM_IFACE_TYPE === 'dummy' ? "Open vSwitch's dummy netdevs (DF_BENCH_VM_IFACE=dummy: nothing for vswitchd to poll; bound by the controller as VM ports, no packets through them)" : 'internal ports (tap devices the userspace datapath polls)'};`);
  console.log(`OVN 23.03: ovn-northd + NB/SB ovsdb-servers + ovn-controller, commits by ovn-nbctl --wait=hv (its client time included). "central" = our NB DB process / northd + NB + SB.`);
  console.log(`(${((Date.now() - started) / 1000).toFixed(0)} s) reproduce: ${COMMAND}`);
}

main().catch(async (err: unknown) => {
  console.error(err);
  await active?.run();
  process.exit(1);
});
