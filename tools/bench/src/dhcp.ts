/**
 * DHCPv4 through real Open vSwitch: exchange latency (DISCOVER→OFFER, REQUEST→ACK,
 * p50/p99) and leases per second with many clients, `@dragonflow/app-dhcp` against
 * OVN's native DHCP (ovn-controller answering from the SB's DHCP_Options), both in
 * one run, one after the other (issue 13: p50 ≤ 1 ms, ≥ 5,000 leases/s, ahead of OVN).
 *
 *   pnpm --filter @dragonflow/bench bench:dhcp
 *
 * Each side: one ovs-vswitchd (userspace datapath) in a network namespace of its
 * own, br-int with DF_BENCH_PORTS (default 200) internal ports, one per client
 * (its MAC, a fixed address on 10.1.0.0/16). Ours: the controller runtime (NB local
 * cache over the memory driver, `@dragonflow/app-l2` + `@dragonflow/app-dhcp`) in
 * this process on br-int's unix controller socket, as df-controller runs it; the
 * app's per-port punt budget is raised (`punt: { rate: 1e6, burst: 1e6 }`): the
 * default (5/s, burst 20) is sized for a boot and its renewals, not for a port doing
 * hundreds of exchanges. The app's punt meter (20,000 packets/s, burst 2,000, for the
 * whole chassis) is left out as well, as OVN is measured (no control-plane meter): at
 * ~10,000 leases/s it drops DHCP messages in the switch (`datapath_drop_meter`), and
 * each costs its client a 1 s retransmission. DF_BENCH_PUNT_METER=1 keeps it.
 * OVN: NB + SB ovsdb-servers, ovn-northd, ovn-controller.
 *
 * The clients are `dhcp-client.py` (python3, one packet socket per port's kernel
 * interface, frames written by hand) in the switch's namespace. Latency: one client,
 * DF_BENCH_EXCHANGES (default 500) exchanges one after the other, from the client's
 * send() of its message to its recv() of the answer: the whole path (kernel → OVS →
 * the controller → packet-out → OVS → kernel) plus the client's own syscalls. Leases/s:
 * every port at once, DF_BENCH_LEASES (default 25) leases each, back to back
 * (DISCOVER+REQUEST = one lease). Ours also prints the controller's share, read off
 * its OpenFlow connection (dhcp-trace.ts). DF_BENCH_SIDES=ours or ovn runs one side.
 * DF_BENCH_OVS_STATS=1 prints, per side, ovs-vswitchd's coverage counters per message
 * (latency and leases/s runs), its datapath flows and a DISCOVER's ofproto/trace;
 * DF_BENCH_PERF=<dir> records the latency run with `perf record` (scheduler and the
 * message-carrying syscalls; DF_BENCH_PERF_SAMPLE=1: CPU samples) for
 * dhcp-timeline.py (dhcp-ovs-stats.ts). Needs root, Open vSwitch, python3, OVN
 * (ovn-central, ovn-host). Never fails on a goal: it prints the verdicts.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import l2 from '@dragonflow/app-l2';
import dhcp from '@dragonflow/app-dhcp';
import { CoreMetrics, OfListener, silentLogger, startChassisRuntime, switchChannel, validateApps } from '@dragonflow/core/host';
import { MemoryDriver, NbApi, chassisIdFromName } from '@dragonflow/nb';
import { CleanupStack, createNetns, deleteNetns, requireBinary, run, shortId, startOvs, type OvsInstance } from '@dragonflow/sandbox';
import { ControllerTrace } from './dhcp-trace.js';
import { startOvnDhcp, type BenchPort, type DhcpSubnet } from './dhcp-ovn.js';
import { coverage, coverageDelta, datapathFlows, recordTimeline, traceDiscover } from './dhcp-ovs-stats.js';

const COMMAND = 'pnpm --filter @dragonflow/bench bench:dhcp';
const PORTS = Number(process.env['DF_BENCH_PORTS'] ?? 200);
const EXCHANGES = Number(process.env['DF_BENCH_EXCHANGES'] ?? 500);
const LEASES = Number(process.env['DF_BENCH_LEASES'] ?? 25);
const GOAL = { p50Ms: 1, leasesPerSecond: 5000 };
const PUNT_METER = process.env['DF_BENCH_PUNT_METER'] === '1';
/** Prints ovs-vswitchd's coverage deltas per message, the datapath flows and a DISCOVER's ofproto/trace, per side. */
const OVS_STATS = process.env['DF_BENCH_OVS_STATS'] === '1';
/** A directory for a `perf record` of the latency run's first 1.5 s per side (dhcp-ovs-stats.ts). */
const PERF_DIR = process.env['DF_BENCH_PERF'];
const CLIENT = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'src', 'dhcp-client.py');
const SUBNET: DhcpSubnet = { cidr: '10.1.0.0/16', gateway: '10.1.0.1', serverIp: '10.1.0.2', serverMac: 'fa:16:3e:00:00:02', mtu: 1450 };

const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? Number.NaN;
const hex = (n: number): string => n.toString(16).padStart(2, '0');
const PORT_LIST: BenchPort[] = Array.from({ length: PORTS }, (_, i) => {
  const h = i + 10;
  return { iface: `dp${i}`, mac: `fa:16:3e:10:${hex((h >> 8) & 255)}:${hex(h & 255)}`, ip: `10.1.${h >> 8}.${h & 255}` };
});

interface LatencyResult {
  readonly offer: number[];
  readonly ack: number[];
  readonly lost: number;
  readonly clientCpuSeconds: number;
}
interface ThroughputResult {
  readonly leases: number;
  readonly naks: number;
  readonly seconds: number;
  readonly retransmits: number;
  readonly unfinished: number;
  readonly clientCpuSeconds: number;
}
interface SideResult {
  readonly side: string;
  readonly latency: LatencyResult;
  readonly throughput: ThroughputResult;
  readonly serverCpu: string;
  /** Ours only: the controller's share, from its OpenFlow connection. */
  readonly trace?: string;
  /** DF_BENCH_OVS_STATS=1: what the switch did per message. */
  readonly ovsStats?: string;
}

/**
 * The side being set up or measured. Its cleanup runs once, from its own `finally`
 * or on SIGINT/SIGTERM/SIGHUP (its daemons are detached and would outlive us),
 * whichever comes first; the other waits for it.
 */
let active: CleanupStack | undefined;
let stopping: Promise<string[]> | undefined;
const stopActive = (): Promise<string[]> => {
  const c = active;
  if (!c) return Promise.resolve([]);
  active = undefined;
  stopping = c.run();
  return stopping;
};
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    console.error(`${sig}: stopping what this run started`);
    void stopActive()
      .then((problems) => problems.length && console.error(`cleanup: ${problems.join('; ')}`))
      .finally(() => process.exit(130));
  });
}

/** Runs the python client in `netns` on `ports`. */
async function client<T>(netns: string, ports: readonly BenchPort[], mode: 'latency' | 'throughput', count: number): Promise<T> {
  const job = { ifaces: ports.map((p) => ({ name: p.iface, mac: p.mac })), mode, count };
  const r = await run('/usr/bin/python3', [CLIENT], { netns, input: JSON.stringify(job), timeoutMs: 300_000 });
  return JSON.parse(r.stdout) as T;
}

/** The namespace both sides start from: IPv6 off (no router solicitations from the client interfaces), removed by `cleanup`. */
async function benchNetns(cleanup: CleanupStack, prefix: string): Promise<string> {
  const netns = `${prefix}-${shortId()}`.slice(0, 15);
  await createNetns(netns);
  cleanup.defer(`delete netns ${netns}`, () => deleteNetns(netns));
  await run('sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'], { netns });
  return netns;
}

async function linksUp(netns: string): Promise<void> {
  await run('ip', ['-batch', '-'], { netns, input: PORT_LIST.map((p) => `link set dev ${p.iface} up`).join('\n') + '\n' });
}

/** CPU seconds (user+system) of the processes named, from /proc (clock ticks of 1/100 s). */
function cpuOf(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / 100;
}

/** Warm-up, latency, throughput on one prepared side. */
async function measure(side: string, netns: string, ovs: OvsInstance, serverCpu: () => Promise<number>, trace?: ControllerTrace): Promise<SideResult> {
  await client<LatencyResult>(netns, PORT_LIST.slice(0, 1), 'latency', 50);
  trace?.reset();
  const cov0 = OVS_STATS ? await coverage(ovs) : undefined;
  const timeline = PERF_DIR ? recordTimeline(PERF_DIR, side, 1.5) : undefined;
  const t0 = performance.now();
  const latency = await client<LatencyResult>(netns, PORT_LIST.slice(0, 1), 'latency', EXCHANGES);
  // For node --trace-gc, whose lines carry the ms since the process started: which collections fell in the run.
  if (OVS_STATS) console.log(`${side}: latency run from ${t0.toFixed(0)} to ${performance.now().toFixed(0)} ms`);
  await timeline;
  const cov1 = OVS_STATS ? await coverage(ovs) : undefined;
  const flows = OVS_STATS ? await datapathFlows(ovs) : undefined;
  const inController = trace?.controllerMs();
  await client<ThroughputResult>(netns, PORT_LIST, 'throughput', 1);
  const cpu0 = await serverCpu();
  trace?.reset();
  const cov2 = OVS_STATS ? await coverage(ovs) : undefined;
  const throughput = await client<ThroughputResult>(netns, PORT_LIST, 'throughput', LEASES);
  const cpu = (await serverCpu()) - cpu0;
  const cov3 = OVS_STATS ? await coverage(ovs) : undefined;
  const b = trace?.barriers();
  const traced =
    inController && b
      ? `in the controller (packet-in read → packet-out written) p50 ${inController.p50.toFixed(3)} ms p99 ${inController.p99.toFixed(3)} ms; leases/s run: ${b.packetOuts} packet-outs in ${b.batches} batches (${b.unconfirmed} without a barrier)${b.batches > b.unconfirmed ? `, barrier round trip p50 ${b.p50.toFixed(3)} ms` : ''}`
      : undefined;
  let ovsStats: string | undefined;
  if (cov0 && cov1 && cov2 && cov3) {
    const p0 = PORT_LIST[0]!;
    ovsStats = [
      `ovs-vswitchd coverage, latency run (${2 * EXCHANGES} messages):`,
      coverageDelta(cov0, cov1, 2 * EXCHANGES),
      `ovs-vswitchd coverage, leases/s run (${2 * throughput.leases} messages):`,
      coverageDelta(cov2, cov3, 2 * throughput.leases),
      `after the latency run, ${flows ?? ''}`,
      `ofproto/trace of a DISCOVER from ${p0.iface}:`,
      await traceDiscover(ovs, p0.iface, p0.mac),
    ].join('\n');
  }
  return { side, latency, throughput, serverCpu: `${((cpu / throughput.seconds) * 100).toFixed(0)} % of a core`, ...(traced ? { trace: traced } : {}), ...(ovsStats ? { ovsStats } : {}) };
}

async function ours(): Promise<SideResult> {
  const cleanup = new CleanupStack();
  active = cleanup;
  try {
    const netns = await benchNetns(cleanup, 'dfdhcp');
    const ovs = await startOvs({ netns });
    cleanup.defer('stop our OVS', () => ovs.stop());
    const driver = MemoryDriver.create();
    const nb = await NbApi.open(driver);
    cleanup.defer('close the NB', async () => {
      await nb.close();
      await driver.close();
    });
    const chassisName = 'bench-dhcp';
    const chassisId = chassisIdFromName(chassisName);
    await nb.create('chassis', { id: chassisId, name: chassisName, tunnelIp: '192.0.2.1', tunnelTypes: ['vxlan'] });
    const net = await nb.create('logical_switch', { name: 'net', networkType: 'vxlan', segmentationId: 1001, mtu: SUBNET.mtu });
    const sub = await nb.create('subnet', { networkId: net.id, cidr: SUBNET.cidr, ipVersion: 4, gatewayIp: SUBNET.gateway, enableDhcp: true });
    await nb.create('logical_port', { networkId: net.id, macAddress: SUBNET.serverMac, fixedIps: [{ subnetId: sub.id, ipAddress: SUBNET.serverIp }], deviceOwner: 'network:dhcp', deviceId: `dhcp-${net.id}` });
    const portIds: string[] = [];
    await nb.transaction(async (tx) => {
      for (const p of PORT_LIST) portIds.push((await tx.create('logical_port', { networkId: net.id, macAddress: p.mac, fixedIps: [{ subnetId: sub.id, ipAddress: p.ip }], chassisId, deviceOwner: 'compute:nova' })).id);
    });

    await ovs.vsctl('add-br', 'br-int', '--', 'set', 'bridge', 'br-int', 'datapath_type=netdev', 'fail_mode=secure', 'protocols=OpenFlow13', 'other_config:disable-in-band=true');
    const vsArgs: string[] = [];
    for (const [i, p] of PORT_LIST.entries()) vsArgs.push('--', 'add-port', 'br-int', p.iface, '--', 'set', 'interface', p.iface, 'type=internal', `mac="${p.mac}"`, `ofport_request=${i + 1}`);
    await ovs.vsctl(...vsArgs.slice(1));
    await linksUp(netns);

    const sock = join(ovs.dir, 'controller.sock');
    const listener = await OfListener.start({ logger: silentLogger(), unixPath: sock });
    cleanup.defer('close the OpenFlow listener', () => listener.close());
    const apps = validateApps([
      { package: '@dragonflow/app-l2', descriptor: l2 },
      { package: '@dragonflow/app-dhcp', descriptor: dhcp, options: { punt: { rate: 1e6, burst: 1e6 } } },
    ]);
    const { runtime } = await startChassisRuntime({
      driver,
      apps,
      chassisId,
      metrics: new CoreMetrics(),
      // No meter in front of the punts (the host's hook gives none), unless asked for.
      ...(PUNT_METER ? {} : { puntMeters: { meterFor: () => undefined } }),
      beforeStart: (parts) => {
        cleanup.defer('stop the controller runtime', () => parts.stop());
        // No tunnel port exists: a single chassis, nothing leaves it.
        parts.runtime.setInfraPorts({ tunnels: { vxlan: 9000 }, providers: {} });
        for (const [i, id] of portIds.entries()) parts.runtime.bindPort({ kind: 'bound', portId: id, ofport: i + 1, interfaceName: PORT_LIST[i]!.iface });
      },
    });
    await ovs.vsctl('set-controller', 'br-int', `unix:${sock}`);
    const conn = await listener.waitForSwitch(undefined, 20_000);
    const trace = new ControllerTrace(conn);
    await runtime.attachSwitch(trace.wrap(switchChannel(conn)));
    await runtime.waitForRevision(await driver.currentRevision());
    await runtime.settle();
    // The controller is this process; the switch's CPU is ovs-vswitchd's.
    const selfCpu = (): Promise<number> => {
      const u = process.cpuUsage();
      return Promise.resolve((u.user + u.system) / 1e6 + cpuOf([ovs.pids.vswitchd]));
    };
    return await measure('dragonflow', netns, ovs, selfCpu, trace);
  } finally {
    const problems = active === cleanup ? await stopActive() : await stopping;
    if (problems?.length) console.error(`cleanup (ours): ${problems.join('; ')}`);
  }
}

async function ovn(): Promise<SideResult> {
  const cleanup = new CleanupStack();
  active = cleanup;
  try {
    const netns = await benchNetns(cleanup, 'dfdhcpovn');
    const { ovs, controllerPid } = await startOvnDhcp(cleanup, netns, SUBNET, PORT_LIST);
    await linksUp(netns);
    return await measure('ovn', netns, ovs, () => Promise.resolve(cpuOf([controllerPid, ovs.pids.vswitchd])));
  } finally {
    const problems = active === cleanup ? await stopActive() : await stopping;
    if (problems?.length) console.error(`cleanup (ovn): ${problems.join('; ')}`);
  }
}

function report(r: SideResult): { p50: number; rate: number } {
  const { latency: l, throughput: t } = r;
  const rate = t.leases / t.seconds;
  const p50 = quantile(l.offer, 0.5);
  console.log(
    `${r.side.padEnd(10)} DISCOVER→OFFER p50 ${p50.toFixed(3)} ms p99 ${quantile(l.offer, 0.99).toFixed(3)} ms | REQUEST→ACK p50 ${quantile(l.ack, 0.5).toFixed(3)} ms p99 ${quantile(l.ack, 0.99).toFixed(3)} ms (${l.offer.length} exchanges, ${l.lost} lost)`,
  );
  console.log(
    `${''.padEnd(10)} ${Math.round(rate).toLocaleString('en')} leases/s (${t.leases} leases by ${PORTS} clients in ${t.seconds.toFixed(2)} s, ${t.naks} NAKs, ${t.retransmits} retransmissions, ${t.unfinished} clients unfinished; server side ${r.serverCpu}, client ${((t.clientCpuSeconds / t.seconds) * 100).toFixed(0)} % of a core)`,
  );
  if (r.trace) console.log(`${''.padEnd(10)} ${r.trace}`);
  if (r.ovsStats) console.log(r.ovsStats);
  return { p50, rate };
}

async function main(): Promise<void> {
  for (const b of ['ovs-vswitchd', 'ovn-northd', 'ovn-controller', 'python3']) requireBinary(b);
  const started = Date.now();
  const load0 = loadavg();
  // DF_BENCH_SIDES=ours or ovn runs one side alone (no ratio then).
  const sides = (process.env['DF_BENCH_SIDES'] ?? 'ours,ovn').split(',');
  const results: SideResult[] = [];
  if (sides.includes('ours')) results.push(await ours());
  if (sides.includes('ovn')) results.push(await ovn());
  console.log(`DHCPv4 through Open vSwitch (userspace datapath), ${PORTS} client ports, ${EXCHANGES} sequential exchanges for latency, ${LEASES} leases per client for leases/s`);
  console.log(`our punt meter: ${PUNT_METER ? 'in place (20,000 packets/s, burst 2,000)' : 'left out (DF_BENCH_PUNT_METER=1 keeps it)'}`);
  console.log(`load average before: ${load0.map((x) => x.toFixed(2)).join(' ')}; after: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (2 cores shared)`);
  const figures = results.map(report);
  const a = figures[0];
  const b = figures[1];
  if (!a || !b || results[0]?.side !== 'dragonflow') return;
  const lat = a.p50 <= GOAL.p50Ms ? `meets p50 ≤ ${GOAL.p50Ms} ms` : `misses p50 ≤ ${GOAL.p50Ms} ms by ${(a.p50 - GOAL.p50Ms).toFixed(3)} ms`;
  const thr = a.rate >= GOAL.leasesPerSecond ? `meets ≥ ${GOAL.leasesPerSecond.toLocaleString('en')} leases/s` : `misses ≥ ${GOAL.leasesPerSecond.toLocaleString('en')} leases/s by ${Math.round(GOAL.leasesPerSecond - a.rate).toLocaleString('en')}/s (${((1 - a.rate / GOAL.leasesPerSecond) * 100).toFixed(0)} %)`;
  console.log(`ours / OVN: DISCOVER→OFFER p50 ${(a.p50 / b.p50).toFixed(2)}× (lower is better: ${a.p50 < b.p50 ? 'ahead' : 'behind'}), leases/s ${(a.rate / b.rate).toFixed(2)}× (higher is better: ${a.rate > b.rate ? 'ahead' : 'behind'})`);
  console.log(`goals: ${lat}; ${thr}`);
  console.log(`(${((Date.now() - started) / 1000).toFixed(0)} s) reproduce: ${COMMAND}`);
}

main().catch(async (err: unknown) => {
  console.error(err);
  await stopping;
  process.exit(1);
});
