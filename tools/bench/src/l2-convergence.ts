/**
 * L2 convergence on one chassis, against a real Open vSwitch (userspace datapath,
 * in its own network namespace), with the controller's own pieces in process:
 * the NB local cache (selective topology) over the memory driver, the runtime with
 * `@dragonflow/app-l2`, the reconciler and the OpenFlow connection.
 *
 *   pnpm --filter @dragonflow/bench bench:l2          (DF_BENCH_PORTS=1000,10000 by default)
 *
 * Topology: 10 networks (VXLAN) with a /16 subnet each, one router with an
 * interface on each, N VM ports spread round-robin over the networks, all bound to
 * this chassis (their OVS interfaces are reported before the ports are committed,
 * as the OVSDB monitor would). Measured, each N in a fresh process:
 *
 * - bulk: one NB commit creating the N ports → every flow confirmed by a barrier
 *   (`runtime.waitForRevision`), the controller's CPU time over that interval and
 *   ovs-vswitchd's, RSS and heap afterwards;
 * - flows per port: flows on the switch (read back) / N;
 * - one more port with N present: commit → confirmed, median and p99 of 50;
 * - a broadcast traced through the real switch (`ofproto/trace`) reaches every
 *   other port of its network (OVS's resubmit limits hold).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { fileURLToPath } from 'node:url';
import { packet } from '@dragonflow/core';
import { CleanupStack } from '@dragonflow/sandbox';
import l2 from '@dragonflow/app-l2';
import { mb, ms, startConvergence } from './convergence-run.js';
import { NETWORKS, baseTopology, vmPort } from './convergence-topology.js';
import { benchMac as mac, quantile, serveDbIfAsked } from './nb-process.js';

/** A fixed token: the bench's DB lives in its own 0600 socket for one run. */
const BENCH_TOKEN = 'l2-convergence-bench-token';
const COMMAND = 'pnpm --filter @dragonflow/bench bench:l2';
const CHASSIS = 'bench-l2';
const ONE_MORE = 50;

async function runOne(ports: number): Promise<void> {
  const cleanup = new CleanupStack();
  try {
    const c = await startConvergence(cleanup, {
      script: fileURLToPath(import.meta.url),
      token: BENCH_TOKEN,
      chassisName: CHASSIS,
      nsPrefix: 'dfl2b',
      apps: [{ package: '@dragonflow/app-l2', descriptor: l2 }],
    });
    c.bindPorts(0, ports);
    await c.db.request(`prepare ports ${ports} ${c.chassisId}`);

    // ---- bulk: one commit → every flow confirmed by a barrier ----
    const b = await c.bulk();
    if (process.env['DF_BENCH_MEM']) console.log(JSON.stringify(Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, mb(v)]))));
    // DF_BENCH_HEAPSNAPSHOT=DIR: a heap snapshot of the controller after the bulk (for memory work)
    if (process.env['DF_BENCH_HEAPSNAPSHOT']) console.log(`heap snapshot: ${writeHeapSnapshot(join(process.env['DF_BENCH_HEAPSNAPSHOT'], `l2-${ports}.heapsnapshot`))}`);
    await c.checkErrors();

    // ---- a broadcast through the real switch reaches every other port of its network ----
    const bcast = packet.ethernet({ src: mac(0x10000), dst: 'ff:ff:ff:ff:ff:ff', payload: packet.ipv4({ src: '10.0.0.2', dst: '10.0.255.255', payload: packet.icmpEchoRequest({ id: 1, seq: 1 }) }) });
    const trace = await c.ovs.appctl('ofproto/trace', 'br-int', 'in_port=1', Buffer.from(packet.encodeEthernet(bcast)).toString('hex'));
    const attempted = new Set([...trace.matchAll(/^\s*output:(\d+)$/gm)].map((m) => Number(m[1])));
    const expected = Math.ceil(ports / NETWORKS);
    const tooMany = /over \d+ resubmit|over max translation depth|too many resubmits/i.test(trace);

    // ---- one more port with N present ----
    const one: number[] = [];
    for (let k = 0; k < ONE_MORE; k++) {
      const i = ports + k;
      c.bindPorts(i, i + 1);
      one.push(await c.commitConfirmed(`one ${i} ${c.chassisId}`));
    }

    const perPort = (b.installed - c.flowsBefore) / ports;
    console.log(
      [
        await c.header(ports, `ports over ${NETWORKS} networks (1 router)`),
        `  bulk commit → confirmed:   ${(b.ms / 1000).toFixed(3)} s   (${b.installed.toLocaleString('en')} flows on the switch, ${c.runtime.reconciler.totals.batches} barrier batches)`,
        `  controller CPU:            ${(b.cpu.user + b.cpu.system).toFixed(2)} s (user ${b.cpu.user.toFixed(2)}, system ${b.cpu.system.toFixed(2)}); ovs-vswitchd CPU ${b.ovsCpu.toFixed(2)} s`,
        `  flows per port:            ${perPort.toFixed(2)}  (${b.installed.toLocaleString('en')} − ${c.flowsBefore} before the ports, / ${ports.toLocaleString('en')})`,
        `  controller RSS:            ${mb(b.rssAfter)} after GC (${mb(b.rssPeak)} before; heap ${mb(b.heapAfter)}); the NB DB is in another process`,
        `  one more port → confirmed: median ${ms(quantile(one, 0.5))}, p99 ${ms(quantile(one, 0.99))}, max ${ms(Math.max(...one))} (${ONE_MORE} ports, one commit each)`,
        `  broadcast from port 1 (ofproto/trace): ${attempted.size - 1} of ${expected - 1} other ports of its network${tooMany ? ' — OVS RESUBMIT LIMIT HIT' : ''}`,
      ].join('\n'),
    );
    if (tooMany || attempted.size < expected) process.exitCode = 1;
  } finally {
    const problems = await cleanup.run();
    if (problems.length) console.error(`cleanup: ${problems.join('; ')}`);
  }
}

/** What the DB process commits on command: the base topology, N ports (prepared, then `bulk`), one more port. */
const DB_COMMANDS = {
  base: ([chassisId]: readonly string[]) => baseTopology(chassisId!, CHASSIS),
  ports: ([n, chassisId]: readonly string[]) => Array.from({ length: Number(n) }, (_, i) => vmPort(i, chassisId!)),
  one: ([i, chassisId]: readonly string[]) => [vmPort(Number(i), chassisId!)],
};

async function main(): Promise<void> {
  if (await serveDbIfAsked(BENCH_TOKEN, DB_COMMANDS)) return;
  const i = process.argv.indexOf('--ports');
  if (i > 0) {
    await runOne(Number(process.argv[i + 1]));
    return;
  }
  // Each N in a fresh process, so RSS and heap are its own.
  const sizes = (process.env['DF_BENCH_PORTS'] ?? '1000,10000').split(',').map(Number);
  for (const n of sizes) {
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--ports', String(n)], { stdio: 'inherit' });
    if (r.status !== 0) process.exitCode = 1;
  }
  console.log(`targets (TARGETS.md): N=1,000 ≤ 0.5 s, N=10,000 ≤ 5 s, one more port ≤ 10 ms median, ≤ 10 flows per port, RSS at N=10,000 ≤ 250 MB`);
  console.log(`reproduce: ${COMMAND}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
