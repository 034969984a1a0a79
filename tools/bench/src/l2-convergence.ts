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
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '@dragonflow/base';
import { packet } from '@dragonflow/core';
import { CoreMetrics, startChassisRuntime, switchChannel } from '@dragonflow/core/host';
import { MemoryClientDriver, chassisIdFromName } from '@dragonflow/nb';
import { CleanupStack } from '@dragonflow/sandbox';
import l2 from '@dragonflow/app-l2';
import { NETWORKS, VXLAN_OFPORT, baseTopology, id, vmPort } from './convergence-topology.js';
import { benchMac as mac, cpuSeconds, quantile, serveDb, startDbProcess } from './nb-process.js';
import { startBenchSwitch } from './ovs-switch.js';

/** A fixed token: the bench's DB lives in its own 0600 socket for one run. */
const BENCH_TOKEN = 'l2-convergence-bench-token';
const COMMAND = 'pnpm --filter @dragonflow/bench bench:l2';
const CHASSIS = 'bench-l2';
const ONE_MORE = 50;
const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(0)} MB`;
const ms = (x: number): string => `${x.toFixed(x < 10 ? 2 : 0)} ms`;

async function runOne(ports: number): Promise<void> {
  const cleanup = new CleanupStack();
  try {
    const { ovs, conn } = await startBenchSwitch(cleanup, {
      bridge: 'br-int',
      nsPrefix: 'dfl2b',
      beforeConnect: (o) =>
        o.vsctl('add-port', 'br-int', 'tun-vxlan', '--', 'set', 'interface', 'tun-vxlan', 'type=vxlan', 'options:remote_ip=flow', 'options:key=flow', `ofport_request=${VXLAN_OFPORT}`).then(() => undefined),
    });

    // The NB DB is served by another process (as df-api serves the sandbox's memory DB); the
    // controller's cache and the writer (standing in for df-api) are both its clients.
    const db = await startDbProcess(cleanup, fileURLToPath(import.meta.url));
    const controllerDriver = await MemoryClientDriver.connect({ endpoint: db.endpoint, token: BENCH_TOKEN });
    cleanup.defer('close controller driver', () => controllerDriver.close());
    const chassisId = chassisIdFromName(CHASSIS);
    await db.request(`base ${chassisId}`);

    const metrics = new CoreMetrics();
    const { runtime } = await startChassisRuntime({
      driver: controllerDriver,
      apps: [{ package: '@dragonflow/app-l2', descriptor: l2, options: undefined }],
      chassisId,
      metrics,
      clock: new ManualClock(),
      beforeStart: (chassis) => {
        cleanup.defer('stop the runtime and the local cache', () => chassis.stop());
        chassis.runtime.setInfraPorts({ tunnels: { vxlan: VXLAN_OFPORT }, providers: {} });
      },
    });
    await runtime.attachSwitch(switchChannel(conn));
    await runtime.waitForRevision(await controllerDriver.currentRevision());
    await runtime.settle();
    const flowsBefore = runtime.reconciler.desiredCount;

    // The OVSDB monitor reported the N interfaces (ofports 1..N); the ports are not in the NB yet.
    for (let i = 0; i < ports; i++) runtime.bindPort({ kind: 'bound', portId: id('port', i), ofport: i + 1, interfaceName: `tap${i}` });
    await db.request(`prepare ports ${ports} ${chassisId}`);
    global.gc?.();

    // ---- bulk: one commit → every flow confirmed by a barrier ----
    const cpu0 = process.cpuUsage();
    const ovsCpu0 = cpuSeconds(ovs.pids.vswitchd);
    const t0 = performance.now();
    const rev = await db.request('bulk');
    await runtime.waitForRevision(rev);
    const bulkMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const ovsCpu = cpuSeconds(ovs.pids.vswitchd) - ovsCpu0;
    await runtime.settle();
    const rssPeak = process.memoryUsage().rss;
    // what the process keeps once the burst is over (V8 hands unused pages back after a GC and a moment)
    global.gc?.();
    await new Promise((r) => setTimeout(r, 1000));
    global.gc?.();
    const mem = process.memoryUsage();
    const rssAfter = mem.rss;
    const heapAfter = mem.heapUsed;
    if (process.env['DF_BENCH_MEM']) console.log(JSON.stringify(Object.fromEntries(Object.entries(mem).map(([k, v]) => [k, mb(v)]))));
    // DF_BENCH_HEAPSNAPSHOT=DIR: a heap snapshot of the controller after the bulk (for memory work)
    if (process.env['DF_BENCH_HEAPSNAPSHOT']) console.log(`heap snapshot: ${writeHeapSnapshot(join(process.env['DF_BENCH_HEAPSNAPSHOT'], `l2-${ports}.heapsnapshot`))}`);

    const installed = (await conn.flowStats()).length;
    if (installed !== runtime.reconciler.desiredCount) throw new Error(`${installed} flows on the switch, ${runtime.reconciler.desiredCount} desired`);
    const errors = (await metrics.switchErrors.get()).values.reduce((n, v) => n + v.value, 0) + (await metrics.handlerErrors.get()).values.reduce((n, v) => n + v.value, 0);
    if (errors) throw new Error(`${errors} switch or handler errors`);

    // ---- a broadcast through the real switch reaches every other port of its network ----
    const bcast = packet.ethernet({ src: mac(0x10000), dst: 'ff:ff:ff:ff:ff:ff', payload: packet.ipv4({ src: '10.0.0.2', dst: '10.0.255.255', payload: packet.icmpEchoRequest({ id: 1, seq: 1 }) }) });
    const trace = await ovs.appctl('ofproto/trace', 'br-int', 'in_port=1', Buffer.from(packet.encodeEthernet(bcast)).toString('hex'));
    const attempted = new Set([...trace.matchAll(/^\s*output:(\d+)$/gm)].map((m) => Number(m[1])));
    const expected = Math.ceil(ports / NETWORKS);
    const tooMany = /over \d+ resubmit|over max translation depth|too many resubmits/i.test(trace);

    // ---- one more port with N present ----
    const one: number[] = [];
    for (let k = 0; k < ONE_MORE; k++) {
      const i = ports + k;
      runtime.bindPort({ kind: 'bound', portId: id('port', i), ofport: i + 1, interfaceName: `tap${i}` });
      const t = performance.now();
      const r = await db.request(`one ${i} ${chassisId}`);
      await runtime.waitForRevision(r);
      one.push(performance.now() - t);
    }

    const perPort = (installed - flowsBefore) / ports;
    console.log(
      [
        `N=${ports.toLocaleString('en')} ports over ${NETWORKS} networks (1 router), load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores, ovs-vswitchd ${(await ovs.tool('ovs-vswitchd', ['--version'])).split('\n')[0]!.split(' ').pop()} userspace, Node ${process.versions.node}`,
        `  bulk commit → confirmed:   ${(bulkMs / 1000).toFixed(3)} s   (${installed.toLocaleString('en')} flows on the switch, ${runtime.reconciler.totals.batches} barrier batches)`,
        `  controller CPU:            ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s (user ${(cpu.user / 1e6).toFixed(2)}, system ${(cpu.system / 1e6).toFixed(2)}); ovs-vswitchd CPU ${ovsCpu.toFixed(2)} s`,
        `  flows per port:            ${perPort.toFixed(2)}  (${installed.toLocaleString('en')} − ${flowsBefore} before the ports, / ${ports.toLocaleString('en')})`,
        `  controller RSS:            ${mb(rssAfter)} after GC (${mb(rssPeak)} before; heap ${mb(heapAfter)}); the NB DB is in another process`,
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
  const db = process.argv.indexOf('--serve-db');
  if (db > 0) {
    await serveDb(process.argv[db + 1]!, BENCH_TOKEN, DB_COMMANDS);
    return;
  }
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
