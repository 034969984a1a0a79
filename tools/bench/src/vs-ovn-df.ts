/**
 * bench:vs-ovn, Dragonflow's side: the real df-controller process (its own OVSDB
 * binding, OpenFlow connection, apps and binder) on a private ovs-vswitchd, following
 * a memory NB DB served by another process (convergence-run's DB process, standing in
 * for df-api: the commit path is the DB's, df-api's validation is not timed).
 * "Installed" is the controller's own barrier-confirmed revision (GET /healthz
 * `sync.syncedRevision` ≥ the commit's revision, with every desired flow installed).
 */
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { MemoryClientDriver, chassisIdFromName, decodeObject, uuidV5, type TxnOp } from '@dragonflow/nb';
import { createNetns, deleteNetns, makeTempDir, removeDir, run, shortId, sleep, spawnDaemon, startOvs, stopPid, waitFor, type CleanupStack, type OvsInstance } from '@dragonflow/sandbox';
import { NETWORKS, baseTopology, id, neutronDefaultGroup, vmPort } from './convergence-topology.js';
import { put, startDbProcess, cpuSeconds, type DbCommands } from './nb-process.js';
import { REPEATS, VM_IFACE_TYPE, addVmInterfaces, countFlows, dhcpServerIp, dhcpServerMac, rssOf, type SideResult } from './vs-ovn-scenario.js';

export const DF_TOKEN = 'vs-ovn-bench-token';
const CHASSIS = 'bench-vs-ovn';
const PROJECT = 'bench';
const GROUP = uuidV5('7b3c1f0e-55aa-4c1d-8e0f-2a6b9d4c3e21', 'default');
const APPS = ['@dragonflow/app-l2', '@dragonflow/app-portsec', '@dragonflow/app-sg', '@dragonflow/app-dhcp', '@dragonflow/app-l3-proactive'];

const port = (i: number, chassisId: string | null): TxnOp => vmPort(i, chassisId, { projectId: PROJECT, securityGroupIds: [GROUP] });

/** What the DB process commits for this side (`serveDbIfAsked` in vs-ovn.ts). */
export const DF_DB_COMMANDS: DbCommands = {
  // The controller registers its own chassis: the base has none.
  base: ([chassisId]) => [
    ...baseTopology(chassisId!, CHASSIS).filter((op) => op.type !== 'put' || op.table !== 'chassis'),
    ...Array.from({ length: NETWORKS }, (_, n) =>
      put('logical_port', { id: id('dhcp', n), key: 50 + n, networkId: id('net', n), macAddress: dhcpServerMac(n), fixedIps: [{ subnetId: id('subnet', n), ipAddress: dhcpServerIp(n) }], deviceOwner: 'network:dhcp', deviceId: `dhcp-${n}` }),
    ),
    neutronDefaultGroup(GROUP, PROJECT, 0),
  ],
  ports: ([from, to, chassisId]) => Array.from({ length: Number(to) - Number(from) }, (_, k) => port(Number(from) + k, chassisId!)),
  unbound: ([i]) => [port(Number(i), null)],
  rules: ([k]) => [neutronDefaultGroup(GROUP, PROJECT, Number(k))],
};

function controllerBinary(): string {
  const req = createRequire(import.meta.url);
  // The package's main is dist/index.js; its binary sits beside it.
  return join(dirname(req.resolve('@dragonflow/controller')), 'bin.js');
}

interface Health {
  readonly status: string;
  readonly sync: { readonly syncedRevision: number; readonly desiredFlows: number; readonly installedFlows: number };
}

function getText(socket: string, path: string): Promise<string | undefined> {
  return new Promise((resolveText) => {
    const req = request({ socketPath: socket, path }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolveText(body));
    });
    req.on('error', () => resolveText(undefined));
    req.end();
  });
}

async function health(socket: string): Promise<Health | undefined> {
  const body = await getText(socket, '/healthz');
  return body?.startsWith('{') ? (JSON.parse(body) as Health) : undefined;
}

/**
 * Where the controller's memory is, from its /metrics (prom-client's process
 * metrics): V8's heap by space (size the space holds / bytes live in it) and
 * what lives outside the heap. Printed beside the RSS so a change shows where it acted.
 */
async function heapBreakdown(socket: string): Promise<string> {
  const text = (await getText(socket, '/metrics')) ?? '';
  const value = (name: string, space?: string): number => {
    const re = new RegExp(`^${name}${space ? `\\{space="${space}"\\}` : ''} (\\S+)`, 'm');
    return Number(re.exec(text)?.[1] ?? NaN) / 1024 / 1024;
  };
  const spaces = ['new', 'old', 'code', 'map', 'large_object'].map((s) => `${s} ${value('nodejs_heap_space_size_total_bytes', s).toFixed(0)}/${value('nodejs_heap_space_size_used_bytes', s).toFixed(0)}`);
  const collections = /^df_controller_heap_collections_total (\S+)/m.exec(text)?.[1] ?? '–';
  return `heap MB (size/used): ${spaces.join(', ')}; external ${value('nodejs_external_memory_bytes').toFixed(0)}; collections after a burst ${collections}`;
}

/**
 * Waits until revision `rev` is confirmed with every desired flow installed, polling
 * /sync (the health document's `sync` alone: the document lists every port, and
 * building it for every poll taxed the controller being measured) every 2 ms at first
 * and then every 2 % of the time waited so far (the error stays within 2 %).
 */
async function confirmed(socket: string, rev: number): Promise<void> {
  const t0 = performance.now();
  for (;;) {
    const body = await getText(socket, '/sync');
    const sync = body?.startsWith('{') ? (JSON.parse(body) as Health['sync']) : undefined;
    if (sync && sync.syncedRevision >= rev && sync.desiredFlows === sync.installedFlows) return;
    await sleep(Math.max(2, (performance.now() - t0) / 50));
  }
}

function addInterfaces(ovs: OvsInstance, indexes: readonly number[], portId: (i: number) => string): Promise<void> {
  return addVmInterfaces(ovs, indexes, portId);
}

/** The namespace a side runs in: IPv6 off, so the VM interfaces send no router solicitations. */
export async function benchNetns(cleanup: CleanupStack, prefix: string): Promise<string> {
  const netns = `${prefix}-${shortId()}`.slice(0, 15);
  await createNetns(netns);
  cleanup.defer(`delete netns ${netns}`, () => deleteNetns(netns));
  await run('sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'], { netns });
  return netns;
}

export async function runDragonflow(cleanup: CleanupStack, script: string, n: number): Promise<SideResult> {
  const netns = await benchNetns(cleanup, 'dfvsovn');
  const ovs = await startOvs({ netns, enableDummy: VM_IFACE_TYPE === 'dummy' });
  cleanup.defer('stop our OVS', () => ovs.stop());
  const db = await startDbProcess(cleanup, script);
  const chassisId = chassisIdFromName(CHASSIS);
  await db.request(`base ${chassisId}`);

  const dir = makeTempDir('df-bench-vsovn-');
  // Kept with DF_BENCH_LOG_LEVEL, for its log.
  cleanup.defer('remove the controller directory', () => (process.env['DF_BENCH_LOG_LEVEL'] ? undefined : removeDir(dir)));
  const tokenFile = join(dir, 'nb.token');
  writeFileSync(tokenFile, `${DF_TOKEN}\n`, { mode: 0o600 });
  const management = join(dir, 'df-controller.sock');
  const config = {
    chassis: { name: CHASSIS, tunnelIp: '192.0.2.1', tunnelTypes: ['vxlan'] },
    db: { driver: 'memory', endpoints: [db.endpoint], tokenFile },
    ovsdb: { endpoint: ovs.dbRemote },
    // ovs-vswitchd connects only to unix sockets inside its own run directory.
    openflow: { listen: `unix:${join(ovs.dir, 'controller.sock')}` },
    bridge: { integration: 'br-int', datapathType: 'netdev', mappings: {} },
    apps: APPS,
    // The bench package depends on every app: they resolve from its directory.
    appsFrom: resolve(dirname(script), '..'),
    management: { listen: `unix:${management}` },
    // DF_BENCH_LOG_LEVEL=info: the controller's log says when it collected after a burst (and why it waited).
    logLevel: process.env['DF_BENCH_LOG_LEVEL'] ?? 'warn',
    // DF_BENCH_V8_MEMORY=1: V8's own heap sizing and no collection after a burst (the controller before its memory defaults), for before/after runs.
    ...(process.env['DF_BENCH_V8_MEMORY'] === '1' ? { memory: { smallYoungGeneration: false, collectAfterBurst: false } } : {}),
  };
  const configFile = join(dir, 'df-controller.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const log = join(dir, 'df-controller.log');
  // DF_BENCH_CPU_PROFILE=DIR: the controller writes a V8 CPU profile there when it stops (node --cpu-prof).
  // DF_BENCH_HEAP_SNAPSHOT=DIR: a heap snapshot of the controller there after the bulk (node --heapsnapshot-signal).
  const profile = process.env['DF_BENCH_CPU_PROFILE'];
  const snapshots = process.env['DF_BENCH_HEAP_SNAPSHOT'];
  const flags = [...(process.env['DF_BENCH_CONTROLLER_NODE_FLAGS'] ?? '').split(' ').filter(Boolean), ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${resolve(profile)}`] : []), ...(snapshots ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${resolve(snapshots)}`] : [])];
  const pid = spawnDaemon(process.execPath, [...flags, controllerBinary(), '--config', configFile], { netns, logFile: log });
  cleanup.defer('stop df-controller', () => stopPid(pid));
  let last: Health | undefined;
  await waitFor(async () => (last = await health(management))?.status === 'ok', { what: 'df-controller healthy', timeoutMs: 60_000, logFile: log, pid }).catch((err: unknown) => {
    throw new Error(`df-controller did not become healthy; last /healthz: ${JSON.stringify(last)}`, { cause: err });
  });

  // The VM interfaces exist before the ports (as the OVN side's): ports 0..N-1 for the bulk, then REPEATS single ports.
  const portId = (i: number): string => id('port', i);
  await addInterfaces(ovs, Array.from({ length: n + REPEATS }, (_, i) => i), portId);
  const driver = await MemoryClientDriver.connect({ endpoint: db.endpoint, token: DF_TOKEN });
  cleanup.defer('close the bench DB client', () => driver.close());
  await confirmed(management, await driver.currentRevision());

  await db.request(`prepare ports 0 ${n} ${chassisId}`);
  const cpu0 = { controller: cpuSeconds(pid), vswitchd: cpuSeconds(ovs.pids.vswitchd), central: cpuSeconds(db.pid) };
  const t0 = performance.now();
  await confirmed(management, await db.request('bulk'));
  const bulkMs = performance.now() - t0;
  const cpu = { controller: cpuSeconds(pid) - cpu0.controller, vswitchd: cpuSeconds(ovs.pids.vswitchd) - cpu0.vswitchd, central: cpuSeconds(db.pid) - cpu0.central };
  // Printed now too, not only in the table at the end: a later step that fails must not lose it.
  console.log(`  dragonflow N=${n}: bulk commit → installed ${(bulkMs / 1000).toFixed(2)} s; CPU over the bulk: controller ${cpu.controller.toFixed(2)} s, ovs-vswitchd ${cpu.vswitchd.toFixed(2)} s, NB DB process ${cpu.central.toFixed(2)} s`);
  // The binder marks the N ports ACTIVE after their flows, each with its own write: let it finish (every port, not one) before the next figures.
  const bulkIds = Array.from({ length: n }, (_, i) => portId(i));
  await waitFor(async () => (await driver.getMany('logical_port', bulkIds)).every((rec) => rec !== undefined && decodeObject('logical_port', rec.value, 0).status === 'ACTIVE'), {
    what: 'the bulk ports ACTIVE',
    timeoutMs: 300_000,
    intervalMs: 50,
  });
  if (process.env['DF_BENCH_LOG_LEVEL']) console.log(`  dragonflow N=${n}: the last bulk port ACTIVE at ${new Date().toISOString()}; controller log ${log}`);
  await sleep(1000);
  const flows = countFlows(await ovs.ofctl('-O', 'OpenFlow13', 'dump-flows', 'br-int'));
  const controllerRss = rssOf(pid);
  console.log(`  dragonflow N=${n}: controller RSS ${(controllerRss / 1024 / 1024).toFixed(0)} MB; ${await heapBreakdown(management)}`);
  // The same 5 s later: what the measurement above caught in passing (a collection not yet done) shows here.
  await sleep(5000);
  console.log(`  dragonflow N=${n}, 5 s later: controller RSS ${(rssOf(pid) / 1024 / 1024).toFixed(0)} MB; ${await heapBreakdown(management)}`);
  if (snapshots) {
    process.kill(pid, 'SIGUSR2');
    await sleep(15_000);
  }
  const centralRss = rssOf(db.pid);

  const timed = async (command: string): Promise<number> => {
    const t = performance.now();
    await confirmed(management, await db.request(command));
    return performance.now() - t;
  };
  const onePort: number[] = [];
  for (let k = 0; k < REPEATS; k++) onePort.push(await timed(`ports ${n + k} ${n + k + 1} ${chassisId}`));
  const plug: number[] = [];
  for (let k = 0; k < REPEATS; k++) {
    const i = n + REPEATS + k;
    await confirmed(management, await db.request(`unbound ${i}`));
    const t = performance.now();
    await addInterfaces(ovs, [i], portId);
    await waitFor(async () => {
      const rec = await driver.get('logical_port', portId(i));
      return rec !== undefined && decodeObject('logical_port', rec.value, rec.version).status === 'ACTIVE';
    }, { what: `port ${i} ACTIVE`, timeoutMs: 30_000, intervalMs: 2 });
    plug.push(performance.now() - t);
  }
  const oneRule: number[] = [];
  for (let k = 1; k <= REPEATS; k++) oneRule.push(await timed(`rules ${k}`));
  return { side: 'dragonflow', ports: n, bulkMs, flows, controllerRss, cpu, centralRss, onePort, plug, oneRule };
}
