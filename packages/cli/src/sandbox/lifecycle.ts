import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { DfError, describeError } from '@dragonflow/base';
import type { HealthReport } from '@dragonflow/controller';
import { EXTERNAL, Sandbox, freePort, isAlive, listSandboxes, redisAnswers, requireBinary, spawnDaemon, stopPid, waitFor, type Chassis, type DhcpLease, type VmAddressing } from '@dragonflow/sandbox';
import { parse as parseYaml, stringify } from 'yaml';
import { externalAccessLines, gatewayChassisFor } from './external.js';
import { NeutronClient, type NeutronSubnet } from './neutron.js';
import type { AppOptions } from './options.js';
import {
  DEFAULT_SANDBOX_APPS,
  SERVICES_VERSION,
  binaryOf,
  cliPackageDir,
  controllerHealth,
  installedApps,
  isCliSandbox,
  linkApps,
  readServices,
  servicesPath,
  writeServices,
  type ControllerEntry,
  type DbKind,
  type ServicesState,
  type TunnelKind,
} from './services.js';

export type Out = (line: string) => void;

export interface UpOptions {
  readonly chassis?: number;
  readonly db?: DbKind;
  /** App packages; default: the installed first-party apps (DEFAULT_SANDBOX_APPS). */
  readonly apps?: readonly string[];
  /** Options of some of the apps (package → options), written into every controller's config. */
  readonly appOptions?: AppOptions;
  /** Tunnel types between the chassis (default vxlan); several give each chassis a port of each. */
  readonly tunnel?: TunnelKind | readonly TunnelKind[];
  readonly dir?: string;
  /** df-api's port on 127.0.0.1 (default 9696). */
  readonly apiPort?: number;
  readonly logLevel?: string;
  /** An external network: the flat provider network `public` on every chassis and the outside namespace (see docs/sandbox-dataplane.md). */
  readonly external?: boolean;
  /** With `external`: the chassis registered as gateways (default: the last one). */
  readonly gatewayChassis?: readonly number[];
  /** Every controller's chassis.livenessTtlMs: how long a dead chassis stays alive to the others (docs/ha.md). */
  readonly livenessTtlMs?: number;
  /** With @dragonflow/app-ha-fallback among the apps: the fallback chassis (default: the last one). */
  readonly fallbackChassis?: number;
  /** false: chassis.gatewayBfd.enabled false in every controller config (docs/ha.md). */
  readonly gatewayBfd?: false;
  readonly out?: Out;
}

export interface UpResult {
  readonly dir: string;
  readonly tag: string;
  readonly services: ServicesState;
  /** Seconds from start until every controller reported healthy. */
  readonly seconds: number;
}

const PHYSNET = 'physnet1';

/** The apps as `up` and `status` print them, each with its options (`--app-options`) if it has any. */
export function describeApps(apps: readonly string[], appOptions: AppOptions | undefined): string {
  if (apps.length === 0) return '(none: core pipeline only)';
  return apps.map((a) => (appOptions?.[a] ? `${a} ${JSON.stringify(appOptions[a])}` : a)).join(', ');
}

export function requireRoot(what: string): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new DfError('NEEDS_ROOT', `${what} creates network namespaces and starts Open vSwitch: run it as root (or with sudo)`);
  }
}

/** The CLI sandboxes registered on this machine (sandboxes made by tests without the CLI are not listed). */
export function cliSandboxes(): { tag: string; dir: string }[] {
  return listSandboxes()
    .filter((s) => isCliSandbox(s.dir))
    .map((s) => ({ tag: s.tag, dir: s.dir }));
}

/** The sandbox a command works on: --dir, else $DF_SANDBOX_DIR, else the only one that is up. */
export function resolveSandboxDir(dir?: string): string {
  const given = dir ?? process.env['DF_SANDBOX_DIR'];
  if (given) {
    if (!isCliSandbox(given)) throw new DfError('SANDBOX_NOT_FOUND', `no dfctl sandbox in ${given} (no ${servicesPath(given)}): start one with pnpm dfctl sandbox up`, { context: { dir: given } });
    return given;
  }
  const all = cliSandboxes();
  if (all.length === 0) throw new DfError('SANDBOX_NOT_FOUND', 'no sandbox is up: start one with pnpm dfctl sandbox up');
  if (all.length > 1) throw new DfError('SANDBOX_AMBIGUOUS', `${all.length} sandboxes are up (${all.map((s) => s.dir).join(', ')}): choose one with --dir`);
  return all[0]!.dir;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Only stop a recorded pid while it is still the process we started (pids get reused). */
function ours(pid: number | undefined, needle: string): pid is number {
  if (pid === undefined || !isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
  } catch {
    return false;
  }
}

async function startDbServer(s: ServicesState, out: Out): Promise<void> {
  const db = s.db;
  if (db.kind === 'memory') return;
  const dataDir = db.dataDir!;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (db.kind === 'etcd') {
    const client = db.apiEndpoints[0]!;
    const peerPort = await freePort();
    const peer = `http://127.0.0.1:${peerPort}`;
    // The unix listener's name must look like host:port to etcd; it is created in the cwd.
    db.pid = spawnDaemon(
      requireBinary('etcd'),
      [
        '--name=sandbox',
        `--data-dir=${join(dataDir, 'data')}`,
        `--listen-client-urls=${client},unix://etcd.sock:0`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=sandbox=${peer}`,
        '--initial-cluster-state=new',
        '--log-level=warn',
        '--logger=zap',
      ],
      { logFile: db.log, cwd: dataDir },
    );
    writeServices(s);
    await waitFor(
      async () => {
        const res = await fetch(`${client}/health`).catch(() => undefined);
        return res?.ok && existsSync(join(dataDir, 'etcd.sock:0'));
      },
      { what: `etcd on ${client}`, timeoutMs: 20_000, logFile: db.log, pid: db.pid },
    );
    out(`• etcd ${client} + ${db.controllerEndpoint} (pid ${db.pid})`);
  } else {
    const port = Number(new URL(db.apiEndpoints[0]!).port);
    const sock = db.controllerEndpoint.replace(/^unix:/, '');
    db.pid = spawnDaemon(
      requireBinary('redis-server'),
      ['--port', String(port), '--bind', '127.0.0.1', '--unixsocket', sock, '--unixsocketperm', '700', '--dir', dataDir, '--save', '', '--appendonly', 'no', '--logfile', db.log, '--daemonize', 'no'],
      { logFile: `${db.log}.out` },
    );
    writeServices(s);
    await waitFor(() => redisAnswers({ path: sock }), { what: `redis on ${sock}`, timeoutMs: 10_000, logFile: db.log, pid: db.pid });
    out(`• redis ${db.apiEndpoints[0]} + ${db.controllerEndpoint} (pid ${db.pid})`);
  }
}

/**
 * The tokens of the sandbox's served memory DB, files 0600 in its directory: an admin
 * one (dfctl db --config df-api.yaml) and one per chassis, granting the controller role
 * for that chassis only (its rows, its bindings).
 */
export function nbTokenFile(dir: string, who: 'admin' | string): string {
  return join(dir, `nb-${who}.token`);
}

function writeNbToken(file: string): void {
  if (!existsSync(file)) writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
}

async function startApi(s: ServicesState, chassisNames: readonly string[], logLevel: string, out: Out): Promise<void> {
  let db: Record<string, unknown> = { driver: s.db.kind, endpoints: [...s.db.apiEndpoints] };
  if (s.db.kind === 'memory') {
    const grants = [{ role: 'admin', tokenFile: nbTokenFile(s.dir, 'admin') }, ...chassisNames.map((chassis) => ({ role: 'controller', chassis, tokenFile: nbTokenFile(s.dir, chassis) }))];
    for (const g of grants) writeNbToken(g.tokenFile);
    db = { driver: 'memory', file: join(s.dir, 'nb.journal'), serve: [s.db.controllerEndpoint], grants };
  }
  // Networks created without a type get the sandbox's first tunnel type (the chassis have no port for others).
  writeFileSync(s.api.config, stringify({ listen: { host: '127.0.0.1', port: s.api.port }, db, network: { tenantNetworkType: s.tunnels[0] }, logLevel }));
  s.api.pid = spawnDaemon(process.execPath, [binaryOf('@dragonflow/api'), '--config', s.api.config], { logFile: s.api.log });
  writeServices(s);
  const api = new NeutronClient(s.api.url);
  await waitFor(async () => (await api.alive()) && (s.db.kind !== 'memory' || existsSync(s.db.controllerEndpoint.replace(/^unix:/, ''))), {
    what: `df-api on ${s.api.url}`,
    timeoutMs: 30_000,
    logFile: s.api.log,
    pid: s.api.pid,
  });
  out(`• df-api ${s.api.url} (pid ${s.api.pid})`);
}

/** The ha-fallback app's package, and the apps a fallback chassis runs for every network (`allNetworks`). */
export const HA_FALLBACK_APP = '@dragonflow/app-ha-fallback';
const ALL_NETWORKS_APPS = ['@dragonflow/app-l2', '@dragonflow/app-l3-proactive', '@dragonflow/app-l3-reactive', '@dragonflow/app-dhcp'];

/**
 * An app's options in chassis `index`'s config: `--app-options`, and with the
 * ha-fallback app, the fallback chassis' name for every chassis and `allNetworks`
 * for l2, l3 and dhcp on the fallback chassis (docs/ha.md "Fallback path").
 */
export function appOptionsFor(s: Pick<ServicesState, 'appOptions' | 'fallback'>, app: string, index: number): Record<string, unknown> | undefined {
  const given = s.appOptions?.[app];
  if (!s.fallback) return given;
  if (app === HA_FALLBACK_APP) return { fallbackChassis: [`chassis-${s.fallback.chassis}`], ...given };
  if (index === s.fallback.chassis && ALL_NETWORKS_APPS.includes(app)) return { ...given, allNetworks: true };
  return given;
}

function controllerConfig(s: ServicesState, chassis: Chassis, logLevel: string): { file: string; management: string; text: string } {
  const st = chassis.state;
  const management = `unix:${join(st.dir, 'df-controller.sock')}`;
  const config = {
    chassis: { name: st.name, tunnelIp: st.tunnelIp, tunnelTypes: [...s.tunnels], gateway: s.external?.gatewayChassis.includes(st.index) ?? false, ...(s.livenessTtlMs !== undefined ? { livenessTtlMs: s.livenessTtlMs } : {}), ...(s.gatewayBfd === false ? { gatewayBfd: { enabled: false } } : {}) },
    db: { driver: s.db.kind, endpoints: [s.db.controllerEndpoint], ...(s.db.kind === 'memory' ? { tokenFile: nbTokenFile(s.dir, st.name) } : {}) },
    ovsdb: { endpoint: st.ovsdbRemote },
    openflow: { listen: st.controllerTarget },
    bridge: { integration: st.integrationBridge, datapathType: 'netdev', mappings: Object.fromEntries([st.provider, st.external].flatMap((p) => (p ? [[p.physnet, p.bridge]] : []))) },
    ...(s.fallback?.chassis === st.index ? { topology: { selective: false } } : {}),
    apps: s.apps.map((a) => {
      const options = appOptionsFor(s, a, st.index);
      return options ? { package: a, options } : a;
    }),
    appsFrom: join(s.dir, 'apps'),
    management: { listen: management },
    logLevel,
  };
  return { file: join(st.dir, 'df-controller.yaml'), management, text: `# df-controller of ${st.name} (written by dfctl sandbox up)\n${stringify(config)}` };
}

function spawnController(s: ServicesState, c: ControllerEntry): void {
  c.pid = spawnDaemon(process.execPath, [binaryOf('@dragonflow/controller'), '--config', c.config], { netns: c.netns, logFile: c.log });
  writeServices(s);
}

/** Waits until a controller says it is fully up: OpenFlow connected, in sync, registered alive. */
async function waitHealthy(c: ControllerEntry, timeoutMs = 60_000): Promise<HealthReport> {
  let last: HealthReport | undefined;
  try {
    return await waitFor(
      async () => {
        last = await controllerHealth(c);
        // A standby does not register the chassis (the active controller keeps its liveness): ready as slave.
        return last?.status === 'ok' && (last.liveness.alive || last.ha?.role === 'slave') ? last : undefined;
      },
      { what: `df-controller of chassis-${c.chassis} to be healthy`, timeoutMs, intervalMs: 50, logFile: c.log, pid: c.pid },
    );
  } catch (err) {
    const problems = last?.problems.length ? ` (it reports: ${last.problems.join('; ')})` : '';
    throw new DfError('CONTROLLER_UNHEALTHY', `${describeError(err).split('; last log lines')[0]}${problems}; see ${c.log}`, { cause: err, context: { chassis: c.chassis } });
  }
}

/**
 * `dfctl sandbox up`: the DB, df-api on 127.0.0.1, and N chassis (namespace, OVS,
 * df-controller) on one underlay; returns once every controller is connected to
 * its switch, in sync and registered alive. Anything that fails tears down what
 * was started.
 */
export async function sandboxUp(options: UpOptions = {}): Promise<UpResult> {
  requireRoot('dfctl sandbox up');
  const out = options.out ?? ((l: string) => console.log(l));
  const started = Date.now();
  const n = options.chassis ?? 2;
  if (!Number.isInteger(n) || n < 1 || n > 20) throw new DfError('BAD_OPTION', `--chassis ${n}: must be 1..20`, { context: { option: 'chassis' } });
  const dbKind = options.db ?? 'memory';
  const tunnels: TunnelKind[] = typeof options.tunnel === 'string' ? [options.tunnel] : [...new Set<TunnelKind>(options.tunnel ?? ['vxlan'])];
  if (tunnels.length === 0) throw new DfError('BAD_OPTION', '--tunnel: give at least one of vxlan, geneve, gre', { context: { option: 'tunnel' } });
  const apiPort = options.apiPort ?? 9696;
  const logLevel = options.logLevel ?? 'info';
  const external = options.external ?? false;
  const gateways = gatewayChassisFor(n, external, options.gatewayChassis);

  let apps: string[];
  if (options.apps) {
    const installed = installedApps(options.apps);
    const missing = options.apps.filter((a) => !installed.includes(a));
    if (missing.length > 0) {
      throw new DfError('APP_NOT_FOUND', `--apps: ${missing.join(', ')}: no such app package (neither a dependency of @dragonflow/cli in ${cliPackageDir()} nor a package under apps/ or examples/)`, { context: { apps: missing } });
    }
    apps = [...options.apps];
  } else {
    apps = installedApps(DEFAULT_SANDBOX_APPS);
  }
  if (options.fallbackChassis !== undefined && !apps.includes(HA_FALLBACK_APP)) {
    throw new DfError('BAD_OPTION', `--fallback-chassis needs the ${HA_FALLBACK_APP} app among --apps`, { context: { option: 'fallback-chassis' } });
  }
  const fallbackChassis = apps.includes(HA_FALLBACK_APP) ? (options.fallbackChassis ?? n) : undefined;
  if (fallbackChassis !== undefined && (!Number.isInteger(fallbackChassis) || fallbackChassis < 1 || fallbackChassis > n)) {
    throw new DfError('BAD_OPTION', `--fallback-chassis ${fallbackChassis}: the sandbox has chassis 1..${n}`, { context: { option: 'fallback-chassis', chassis: n } });
  }
  const unused = Object.keys(options.appOptions ?? {}).filter((a) => !apps.includes(a));
  if (unused.length > 0) {
    throw new DfError('BAD_OPTION', `--app-options: ${unused.join(', ')}: not among the sandbox's apps (${apps.join(', ') || 'none'})`, { context: { option: 'app-options', apps: unused } });
  }
  if (options.dir && isCliSandbox(options.dir)) {
    throw new DfError('SANDBOX_EXISTS', `a sandbox is already up in ${options.dir}: see it with pnpm dfctl sandbox status --dir ${options.dir}, remove it with pnpm dfctl sandbox down --dir ${options.dir}`, { context: { dir: options.dir } });
  }
  if (!options.dir) {
    const existing = cliSandboxes();
    if (existing.length > 0) {
      throw new DfError('SANDBOX_EXISTS', `a sandbox is already up in ${existing.map((e) => e.dir).join(', ')}: see it with pnpm dfctl sandbox status, remove it with pnpm dfctl sandbox down (or start another with --dir DIR --api-port PORT)`, {
        context: { dirs: existing.map((e) => e.dir) },
      });
    }
  }
  if (!(await portFree(apiPort))) {
    throw new DfError('PORT_IN_USE', `127.0.0.1:${apiPort} is in use (another df-api or sandbox?): stop it, or choose another port with --api-port`, { context: { port: apiPort } });
  }
  binaryOf('@dragonflow/api');
  binaryOf('@dragonflow/controller');

  const dirCreated = !options.dir || !existsSync(options.dir);
  const sb = await Sandbox.create({ ...(options.dir ? { dir: options.dir } : {}), external });
  const dir = sb.dir;
  const dbDir = join(dir, dbKind);
  const apiHostPort = dbKind === 'memory' ? 0 : await freePort();
  const services: ServicesState = {
    version: SERVICES_VERSION,
    dir,
    createdAt: new Date().toISOString(),
    tunnels,
    apps,
    ...(options.appOptions && Object.keys(options.appOptions).length > 0 ? { appOptions: options.appOptions } : {}),
    dirCreated,
    db: {
      kind: dbKind,
      pid: undefined,
      log: join(dir, `${dbKind}.log`),
      apiEndpoints: dbKind === 'etcd' ? [`http://127.0.0.1:${apiHostPort}`] : dbKind === 'redis' ? [`redis://127.0.0.1:${apiHostPort}`] : [],
      controllerEndpoint: dbKind === 'etcd' ? `unix:${join(dbDir, 'etcd.sock:0')}` : dbKind === 'redis' ? `unix:${join(dbDir, 'redis.sock')}` : `unix:${join(dir, 'nb.sock')}`,
      ...(dbKind === 'memory' ? {} : { dataDir: dbDir }),
    },
    api: { pid: undefined, log: join(dir, 'df-api.log'), url: `http://127.0.0.1:${apiPort}`, port: apiPort, config: join(dir, 'df-api.yaml') },
    controllers: [],
    ...(external ? { external: { gatewayChassis: gateways } } : {}),
    ...(options.livenessTtlMs !== undefined ? { livenessTtlMs: options.livenessTtlMs } : {}),
    ...(fallbackChassis !== undefined ? { fallback: { chassis: fallbackChassis } } : {}),
    ...(options.gatewayBfd === false ? { gatewayBfd: false as const } : {}),
  };
  writeServices(services);
  linkApps(dir, apps);
  out(`Starting sandbox ${sb.tag} in ${dir}: ${n} chassis, ${dbKind} DB, ${tunnels.join(' + ')} tunnels, apps: ${describeApps(apps, services.appOptions)}`);
  if (fallbackChassis !== undefined) out(`• fallback path: chassis-${fallbackChassis} handles the punts of a chassis whose controller is gone (its topology is not selective)`);
  if (external) out(`• external network: flat '${EXTERNAL.physnet}' on every chassis, the outside namespace ${sb.outside().netns} (router ${EXTERNAL.routerIp}, internet host ${EXTERNAL.internetIp}); gateway chassis ${gateways.join(', ')}`);
  try {
    await startDbServer(services, out);
    // Sandbox chassis are named chassis-1..n; each controller's token is good for its own chassis only.
    await startApi(services, Array.from({ length: n }, (_, i) => `chassis-${i + 1}`), logLevel, out);
    for (let i = 1; i <= n; i++) {
      const chassis = await sb.createChassis(i, { tunnelTypes: tunnels, physnet: PHYSNET, external });
      const cfg = controllerConfig(services, chassis, logLevel);
      writeFileSync(cfg.file, cfg.text);
      const entry: ControllerEntry = { chassis: i, netns: chassis.netns, config: cfg.file, management: cfg.management, log: join(chassis.state.dir, 'df-controller.log'), pid: undefined };
      services.controllers.push(entry);
      spawnController(services, entry);
      out(`• ${chassis.name}${gateways.includes(i) ? ' (gateway)' : ''}: netns ${chassis.netns}, tunnel IP ${chassis.tunnelIp}, ovsdb-server + ovs-vswitchd (userspace), df-controller pid ${entry.pid}`);
    }
    for (const c of services.controllers) await waitHealthy(c);
  } catch (err) {
    out(`• start-up failed: ${describeError(err)}`);
    out('• tearing down what was started');
    await sandboxDown(dir, { out: () => undefined }).catch((e: unknown) => out(`  teardown problem: ${describeError(e)}`));
    throw err;
  }
  const seconds = (Date.now() - started) / 1000;
  out(`• ${n === 1 ? 'the controller is' : `all ${n} controllers`} connected to ${n === 1 ? 'its switch' : 'their switches'}, in sync and registered alive (${seconds.toFixed(1)} s)`);
  return { dir, tag: sb.tag, services, seconds };
}

/** How to reach every part of a sandbox (printed by `up` and `status`). */
export function describeAccess(s: ServicesState, tag: string): string[] {
  const lines = [
    `Sandbox ${tag} — ${s.dir}`,
    '',
    `  df-api (Neutron v2.0)  ${s.api.url}   log ${s.api.log}`,
    `    openstack --os-auth-type none --os-endpoint ${s.api.url} network list`,
    `  NB DB                  ${s.db.kind === 'memory' ? `memory, served by df-api at ${s.db.controllerEndpoint}` : `${s.db.kind} ${s.db.apiEndpoints.join(', ')} (controllers use ${s.db.controllerEndpoint})`}`,
  ];
  for (const c of s.controllers) {
    const dir = c.config.slice(0, c.config.lastIndexOf('/'));
    lines.push(
      `  chassis-${c.chassis}              netns ${c.netns}`,
      `    health  curl -s --unix-socket ${c.management.replace(/^unix:/, '')} http://localhost/healthz`,
      `    flows   ovs-ofctl -O OpenFlow13 dump-flows unix:${join(dir, 'br-int.mgmt')}`,
      `    ovs     ip netns exec ${c.netns} env OVS_RUNDIR=${dir} ovs-vsctl --db=unix:${join(dir, 'db.sock')} show`,
      `    log     ${c.log}`,
    );
  }
  if (s.external) lines.push(...externalAccessLines(s.api.url, Sandbox.load(s.dir).outside().netns, s.external));
  lines.push(
    '',
    'Next:',
    `  openstack --os-auth-type none --os-endpoint ${s.api.url} network create net1`,
    `  openstack --os-auth-type none --os-endpoint ${s.api.url} subnet create --network net1 --subnet-range 10.0.0.0/24 subnet1`,
    `  pnpm dfctl sandbox vm create vm1 --network net1`,
    `  pnpm dfctl sandbox vm create vm2 --network net1 --chassis 2`,
    `  pnpm dfctl sandbox exec vm1 -- ping -c 3 <vm2's IP>`,
    `  openstack --os-auth-type none --os-endpoint ${s.api.url} router create r1   # then: router add subnet r1 subnet1 (and a second network's subnet)`,
    '  pnpm dfctl status                           # health of every part',
    '  pnpm dfctl flows --chassis 1                # the flows, with table names and owners',
    '  pnpm dfctl sandbox status',
    '  pnpm dfctl sandbox down',
  );
  return lines;
}

export interface DownOptions {
  readonly out?: Out;
}

/** `dfctl sandbox down`: stops every process by pid, removes namespaces, veths and files. */
export async function sandboxDown(dir: string, options: DownOptions = {}): Promise<void> {
  requireRoot('dfctl sandbox down');
  const out = options.out ?? ((l: string) => console.log(l));
  const problems: string[] = [];
  let services: ServicesState | undefined;
  try {
    services = readServices(dir);
  } catch (err) {
    problems.push(describeError(err));
  }
  if (services) {
    for (const c of services.controllers) {
      if (ours(c.pid, c.config)) {
        await stopPid(c.pid);
        out(`• stopped df-controller of chassis-${c.chassis} (pid ${c.pid})`);
      }
    }
    if (ours(services.api.pid, services.api.config)) {
      await stopPid(services.api.pid);
      out(`• stopped df-api (pid ${services.api.pid})`);
    }
    if (services.db.kind !== 'memory' && ours(services.db.pid, services.db.kind === 'etcd' ? 'etcd' : 'redis-server')) {
      await stopPid(services.db.pid);
      out(`• stopped ${services.db.kind} (pid ${services.db.pid})`);
    }
  }
  let sb: Sandbox | undefined;
  try {
    sb = Sandbox.load(dir);
  } catch (err) {
    problems.push(describeError(err));
  }
  if (sb) {
    const tag = sb.tag;
    const dirCreated = sb.state.dirCreated;
    try {
      await sb.destroy();
      out(`• removed sandbox ${tag}: VMs, chassis (OVS), namespaces, veths${dirCreated || services?.dirCreated ? `, ${dir}` : ''}`);
    } catch (err) {
      problems.push(describeError(err));
    }
    if (!dirCreated) removeOwnFiles(dir, services);
  } else if (services) {
    removeOwnFiles(dir, services);
  }
  if (services?.dirCreated) rmSync(dir, { recursive: true, force: true });
  if (problems.length > 0) throw new DfError('SANDBOX_TEARDOWN', `sandbox in ${dir} removed with problems:\n  ${problems.join('\n  ')}`, { context: { dir } });
}

/** In a directory the user gave (--dir), remove only what the sandbox wrote there. */
function removeOwnFiles(dir: string, s: ServicesState | undefined): void {
  for (const f of ['apps', 'nb.journal', 'nb.sock', 'df-api.yaml', 'df-api.log', 'memory.log', 'etcd.log', 'redis.log', 'redis.log.out', 'sandbox.lock']) rmSync(join(dir, f), { force: true, recursive: true });
  if (s?.db.dataDir) rmSync(s.db.dataDir, { recursive: true, force: true });
  rmSync(servicesPath(dir), { force: true });
}

// ------------------------------------------------------------------ VMs

export interface VmCreateOptions {
  readonly name: string;
  readonly network: string;
  readonly subnet?: string;
  readonly chassis?: number;
  readonly ip?: string;
  /** Wait for the port to become ACTIVE (default true; a DHCP client needs it). */
  readonly wait?: boolean;
  readonly timeoutMs?: number;
  /** The VM's DHCP client (default dhclient when its subnet has DHCP and the sandbox runs the dhcp app). */
  readonly dhcpClient?: 'dhclient' | 'udhcpc';
  /** Configure eth0 statically even where DHCP would serve it. */
  readonly static?: boolean;
}

export interface VmCreated {
  readonly name: string;
  readonly chassis: number;
  readonly mac: string;
  readonly ip: string;
  readonly cidr: string;
  readonly gateway: string | null;
  readonly portId: string;
  readonly status: string;
  /** From the VM plugged into br-int to the port's status ACTIVE, as seen through df-api. */
  readonly activeAfterMs: number | undefined;
  /** static, or the DHCP client that configured eth0. */
  readonly addressing: VmAddressing;
  /** What the DHCP client was given (DHCP VMs only). */
  readonly lease?: DhcpLease;
}

const DHCP_APP = '@dragonflow/app-dhcp';

/**
 * How a new VM is addressed: by a real DHCP client when its subnet has DHCP and the
 * sandbox's controllers run the dhcp app (unless --static), else statically. Asking
 * for a client where no DHCP server will answer is an error that says why.
 */
export function chooseAddressing(o: Pick<VmCreateOptions, 'dhcpClient' | 'static' | 'wait'>, subnet: NeutronSubnet, apps: readonly string[]): VmAddressing {
  if (o.static && o.dhcpClient) throw new DfError('BAD_OPTION', '--static and --dhcp-client exclude each other', { context: { option: '--static' } });
  if (o.static) return 'static';
  const served = subnet.enable_dhcp !== false && apps.includes(DHCP_APP);
  if (!served) {
    if (!o.dhcpClient) return 'static';
    const why = subnet.enable_dhcp === false ? `subnet ${subnet.name || subnet.id} has DHCP disabled` : `the sandbox's controllers do not run ${DHCP_APP} (dfctl sandbox up --apps …)`;
    throw new DfError('BAD_OPTION', `--dhcp-client ${o.dhcpClient}: no DHCP server would answer (${why}); use --static`, { context: { option: '--dhcp-client' } });
  }
  if (o.wait === false) throw new DfError('BAD_OPTION', '--no-wait: a DHCP client needs the port ACTIVE first (use --static with --no-wait)', { context: { option: '--no-wait' } });
  return o.dhcpClient ?? 'dhclient';
}

async function firstIpv4Subnet(api: NeutronClient, ids: readonly string[], network: string): Promise<NeutronSubnet> {
  for (const id of ids) {
    const s = await api.find('subnets', id);
    if (s.ip_version === 4) return s;
  }
  throw new DfError('NO_SUBNET', `network ${network} has no IPv4 subnet: create one first (openstack subnet create --network ${network} --subnet-range 10.0.0.0/24 SUBNET)`, { context: { network } });
}

/** Waits for a port's status to become ACTIVE; resolves with the time it took. */
export async function waitPortActive(api: NeutronClient, portId: string, timeoutMs = 30_000): Promise<number> {
  const t0 = Date.now();
  await waitFor(async () => (await api.getPort(portId)).status === 'ACTIVE', { what: `port ${portId} to become ACTIVE`, timeoutMs, intervalMs: 10 });
  return Date.now() - t0;
}

/**
 * `dfctl sandbox vm create`: a Neutron port through df-api, then a namespace whose eth0
 * (that port's MAC and IP, default route via the subnet gateway, TX checksum
 * offload off) is plugged into the chassis' br-int with external_ids:iface-id.
 */
export async function vmCreate(dir: string, o: VmCreateOptions): Promise<VmCreated> {
  requireRoot('dfctl sandbox vm create');
  const services = readServices(dir);
  const sb = Sandbox.load(dir);
  if (sb.state.vms.some((v) => v.name === o.name)) throw new DfError('SANDBOX_EXISTS', `VM ${o.name} already exists`, { context: { vm: o.name } });
  const chassisList = sb.listChassis();
  const chassisIndex =
    o.chassis ??
    chassisList
      .map((c) => ({ i: c.index, vms: sb.state.vms.filter((v) => v.chassis === c.index).length }))
      .sort((a, b) => a.vms - b.vms || a.i - b.i)[0]?.i;
  if (chassisIndex === undefined || !chassisList.some((c) => c.index === chassisIndex)) {
    throw new DfError('SANDBOX_NO_CHASSIS', `--chassis ${o.chassis}: the sandbox has chassis ${chassisList.map((c) => c.index).join(', ')}`, { context: { chassis: o.chassis } });
  }
  const api = new NeutronClient(services.api.url);
  const net = await api.find('networks', o.network);
  const subnet = o.subnet ? await api.find('subnets', o.subnet) : await firstIpv4Subnet(api, net.subnets, o.network);
  if (subnet.network_id !== net.id) throw new DfError('BAD_OPTION', `--subnet ${o.subnet} is not on network ${o.network}`, { context: { subnet: o.subnet } });
  const addressing = chooseAddressing(o, subnet, services.apps);
  const port = await api.createPort({
    network_id: net.id,
    name: o.name,
    fixed_ips: [{ subnet_id: subnet.id, ...(o.ip ? { ip_address: o.ip } : {}) }],
    device_owner: 'compute:nova',
    device_id: `${sb.tag}-vm-${o.name}`,
    'binding:host_id': `chassis-${chassisIndex}`,
  });
  const ip = port.fixed_ips.find((f) => f.subnet_id === subnet.id)?.ip_address;
  const prefix = subnet.cidr.split('/')[1];
  let activeAfterMs: number | undefined;
  try {
    if (!ip || !prefix) throw new DfError('API_ERROR', `df-api gave port ${port.id} no address on subnet ${subnet.id}`);
    await sb.createVm(chassisIndex, {
      name: o.name,
      ip: `${ip}/${prefix}`,
      mac: port.mac_address,
      ...(subnet.gateway_ip ? { gateway: subnet.gateway_ip } : {}),
      portId: port.id,
      // With DHCP the MTU is the client's to set (option 26, the network's MTU).
      ...(net.mtu && addressing === 'static' ? { mtu: net.mtu } : {}),
      addressing,
    });
  } catch (err) {
    await api.deletePort(port.id).catch(() => undefined);
    throw err;
  }
  if (o.wait ?? true) activeAfterMs = await waitPortActive(api, port.id, o.timeoutMs ?? 30_000);
  let lease: DhcpLease | undefined;
  if (addressing !== 'static') {
    lease = await sb.vm(o.name).startDhcp();
    if (lease.ip !== ip) throw new DfError('SANDBOX_DHCP_FAILED', `VM ${o.name}: ${addressing} was given ${lease.ip}, but its port holds ${ip}`, { context: { vm: o.name } });
  }
  const now = await api.getPort(port.id);
  return { name: o.name, chassis: chassisIndex, mac: port.mac_address, ip: ip!, cidr: subnet.cidr, gateway: subnet.gateway_ip, portId: port.id, status: now.status, activeAfterMs, addressing, ...(lease ? { lease } : {}) };
}

/** `dfctl sandbox vm delete`: unplugs and removes the VM, then deletes its port through df-api. */
export async function vmDelete(dir: string, name: string): Promise<{ portId: string; portDeleted: boolean; problem?: string }> {
  requireRoot('dfctl sandbox vm delete');
  const services = readServices(dir);
  const sb = Sandbox.load(dir);
  const vm = sb.vm(name);
  const portId = vm.state.portId;
  await sb.deleteVm(name);
  try {
    await new NeutronClient(services.api.url).deletePort(portId);
    return { portId, portDeleted: true };
  } catch (err) {
    return { portId, portDeleted: false, problem: describeError(err) };
  }
}

// ------------------------------------------------------------------ controllers

/** The running controllers of one chassis with their OpenFlow role (from /healthz). */
async function chassisControllers(services: ServicesState, chassis: number): Promise<{ entry: ControllerEntry; running: boolean; role: string | undefined }[]> {
  const out = [];
  for (const entry of services.controllers.filter((x) => x.chassis === chassis)) {
    const running = ours(entry.pid, entry.config);
    out.push({ entry, running, role: running ? (await controllerHealth(entry))?.openflow.role : undefined });
  }
  return out;
}

/**
 * Makes chassis N's controllers a standby pair: writes the `ha` keys into the first
 * controller's config (a local active socket, the standby's OpenFlow target as
 * peer) and the standby's config beside it (its own OpenFlow and management
 * sockets and log). The first controller, if running without them, is restarted
 * (flows stay, zero flow-mods) so it takes them: it stays the active one.
 */
async function ensureStandbyPair(services: ServicesState, primary: ControllerEntry): Promise<ControllerEntry> {
  const dir = primary.config.slice(0, primary.config.lastIndexOf('/'));
  const config = parseYaml(readFileSync(primary.config, 'utf8')) as { openflow: { listen: string }; management: { listen: string }; ha?: unknown };
  const primaryTarget = config.openflow.listen.replace(/^punix:/, 'unix:');
  const standbyListen = `unix:${join(dir, 'controller-standby.sock')}`;
  const activeSocket = `unix:${join(dir, 'df-controller.active')}`;
  const withHa = { ...config, ha: { activeSocket, peerTargets: [standbyListen] } };
  const standbyConfig = { ...config, openflow: { listen: standbyListen }, management: { listen: `unix:${join(dir, 'df-controller-standby.sock')}` }, ha: { activeSocket, peerTargets: [primaryTarget] } };
  const standbyFile = join(dir, 'df-controller-standby.yaml');
  writeFileSync(standbyFile, `# the standby df-controller of chassis-${primary.chassis} (written by dfctl sandbox controller start --standby)\n${stringify(standbyConfig)}`);
  if (JSON.stringify(config.ha) !== JSON.stringify(withHa.ha)) {
    writeFileSync(primary.config, `# df-controller of chassis-${primary.chassis} (written by dfctl sandbox up; ha added by controller start --standby)\n${stringify(withHa)}`);
    if (ours(primary.pid, primary.config)) {
      await stopPid(primary.pid);
      spawnController(services, primary);
      await waitHealthy(primary);
    }
  }
  let standby = services.controllers.find((x) => x.chassis === primary.chassis && x.standby);
  if (!standby) {
    standby = { chassis: primary.chassis, netns: primary.netns, config: standbyFile, management: standbyConfig.management.listen, log: join(dir, 'df-controller-standby.log'), pid: undefined, standby: true };
    services.controllers.push(standby);
    writeServices(services);
  }
  return standby;
}

/**
 * Stops, starts or restarts a df-controller of one chassis. With two (a standby
 * pair), `stop` stops the master — the one the switch takes orders from — unless
 * `standby` says the second one; `start` starts whichever is not running (the
 * first one first), which comes back as standby; `start` with `standby` starts the
 * second controller, making the two a pair.
 */
export async function controllerAction(dir: string, chassis: number, action: 'stop' | 'start' | 'restart', options: { signal?: 'SIGTERM' | 'SIGKILL'; wait?: boolean; standby?: boolean } = {}): Promise<ControllerEntry> {
  requireRoot('dfctl sandbox controller');
  const services = readServices(dir);
  const primary = services.controllers.find((x) => x.chassis === chassis && !x.standby);
  if (!primary) throw new DfError('SANDBOX_NO_CHASSIS', `the sandbox has no chassis ${chassis}`, { context: { chassis } });
  if (options.standby && action === 'start') {
    const standby = await ensureStandbyPair(services, primary);
    if (ours(standby.pid, standby.config)) throw new DfError('CONTROLLER_RUNNING', `the standby df-controller of chassis-${chassis} is already running (pid ${standby.pid})`);
    spawnController(services, standby);
    if (options.wait ?? true) await waitHealthy(standby);
    return standby;
  }
  const all = await chassisControllers(services, chassis);
  let c: ControllerEntry;
  if (options.standby) {
    const s = all.find((x) => x.entry.standby);
    if (!s) throw new DfError('SANDBOX_NO_STANDBY', `chassis-${chassis} has no standby df-controller (start one: dfctl sandbox controller start ${chassis} --standby)`, { context: { chassis } });
    c = s.entry;
  } else if (action === 'start') {
    const stopped = all.find((x) => !x.running);
    if (!stopped) throw new DfError('CONTROLLER_RUNNING', `every df-controller of chassis-${chassis} is running (pid ${all.map((x) => x.entry.pid).join(', ')})`);
    c = stopped.entry;
  } else {
    // The master of a pair (else the one running, else the first).
    c = (all.find((x) => x.running && x.role === 'master') ?? all.find((x) => x.running) ?? all[0]!).entry;
  }
  if (action !== 'start' && ours(c.pid, c.config)) {
    if (options.signal === 'SIGKILL') {
      process.kill(c.pid, 'SIGKILL');
      await waitFor(() => !isAlive(c.pid!), { what: `pid ${c.pid} to exit`, timeoutMs: 5_000 });
    } else await stopPid(c.pid);
  }
  if (action === 'stop') {
    c.pid = undefined;
    writeServices(services);
    return c;
  }
  if (ours(c.pid, c.config)) throw new DfError('CONTROLLER_RUNNING', `df-controller of chassis-${chassis} is already running (pid ${c.pid})`);
  spawnController(services, c);
  if (options.wait ?? true) await waitHealthy(c);
  return c;
}

/**
 * Kills a whole chassis — its df-controller, then its switch (ovs-vswitchd and
 * ovsdb-server) — with SIGKILL, as a machine crash would; or starts it again: the
 * switch first (its bridges and ports come back from its database), then the
 * controller, which reinstalls the flows. The namespace, devices and VMs stay.
 */
export async function chassisAction(dir: string, chassis: number, action: 'kill' | 'start', options: { wait?: boolean } = {}): Promise<ControllerEntry> {
  requireRoot('dfctl sandbox chassis');
  const services = readServices(dir);
  // Both controllers of a standby pair go with the chassis; the first one is started first (the second comes back as its standby).
  const entries = services.controllers.filter((x) => x.chassis === chassis).sort((a, b) => Number(a.standby ?? false) - Number(b.standby ?? false));
  const c = entries[0];
  if (!c) throw new DfError('SANDBOX_NO_CHASSIS', `the sandbox has no chassis ${chassis}`, { context: { chassis } });
  const sb = Sandbox.load(dir);
  if (action === 'kill') {
    for (const e of entries) if (ours(e.pid, e.config)) process.kill(e.pid, 'SIGKILL');
    await sb.killSwitch(chassis);
    for (const e of entries) {
      if (e.pid !== undefined) await waitFor(() => !isAlive(e.pid!), { what: `df-controller pid ${e.pid} to exit`, timeoutMs: 5_000 });
      e.pid = undefined;
    }
    writeServices(services);
    return c;
  }
  const running = entries.find((e) => ours(e.pid, e.config));
  if (running) throw new DfError('CONTROLLER_RUNNING', `df-controller of chassis-${chassis} is running (pid ${running.pid}): kill the chassis first`);
  await sb.startSwitch(chassis);
  for (const e of entries) {
    spawnController(services, e);
    if (options.wait ?? true) await waitHealthy(e);
  }
  return c;
}

// ------------------------------------------------------------------ status

export interface SandboxReport {
  readonly dir: string;
  readonly tag: string;
  readonly tunnels: readonly string[];
  readonly apps: readonly string[];
  readonly appOptions?: AppOptions;
  readonly db: { readonly kind: string; readonly pid: number | undefined; readonly alive: boolean; readonly endpoints: readonly string[] };
  readonly api: { readonly url: string; readonly pid: number | undefined; readonly alive: boolean };
  readonly chassis: readonly {
    readonly index: number;
    readonly name: string;
    readonly netns: string;
    readonly netnsPresent: boolean;
    readonly tunnelIp: string;
    readonly ovs: boolean;
    readonly controller: { readonly pid: number | undefined; readonly alive: boolean; readonly health: HealthReport | undefined };
    /** The second controller of a standby pair, when one was started. */
    readonly standby?: { readonly pid: number | undefined; readonly alive: boolean; readonly health: HealthReport | undefined };
  }[];
  readonly vms: readonly { readonly name: string; readonly chassis: number; readonly ip: string; readonly mac: string; readonly portId: string; readonly ofport: number | undefined; readonly portStatus: string | undefined; readonly netnsPresent: boolean }[];
}

export async function sandboxStatus(dir: string): Promise<SandboxReport> {
  const services = readServices(dir);
  const sb = Sandbox.load(dir);
  const st = await sb.status();
  const api = new NeutronClient(services.api.url);
  const apiAlive = ours(services.api.pid, services.api.config) && (await api.alive());
  const ports = apiAlive ? new Map((await api.listPorts().catch(() => [])).map((p) => [p.id, p.status])) : new Map<string, string>();
  const chassis = [];
  for (const c of st.chassis) {
    const entry = services.controllers.find((x) => x.chassis === c.index && !x.standby);
    const alive = entry ? ours(entry.pid, entry.config) : false;
    const second = services.controllers.find((x) => x.chassis === c.index && x.standby);
    const secondAlive = second ? ours(second.pid, second.config) : false;
    chassis.push({
      index: c.index,
      name: c.name,
      netns: c.netns,
      netnsPresent: c.netnsPresent,
      tunnelIp: c.tunnelIp,
      ovs: c.ovsdbServerAlive && c.vswitchdAlive,
      controller: { pid: entry?.pid, alive, health: alive && entry ? await controllerHealth(entry) : undefined },
      ...(second ? { standby: { pid: second.pid, alive: secondAlive, health: secondAlive ? await controllerHealth(second) : undefined } } : {}),
    });
  }
  return {
    dir,
    tag: st.tag,
    tunnels: services.tunnels,
    apps: services.apps,
    ...(services.appOptions ? { appOptions: services.appOptions } : {}),
    db: { kind: services.db.kind, pid: services.db.kind === 'memory' ? services.api.pid : services.db.pid, alive: services.db.kind === 'memory' ? apiAlive : ours(services.db.pid, services.db.kind === 'etcd' ? 'etcd' : 'redis-server'), endpoints: services.db.kind === 'memory' ? [services.db.controllerEndpoint] : services.db.apiEndpoints },
    api: { url: services.api.url, pid: services.api.pid, alive: apiAlive },
    chassis,
    vms: st.vms.map((v) => ({ name: v.name, chassis: v.chassis, ip: v.ip, mac: v.mac, portId: v.portId, ofport: v.ofport, portStatus: ports.get(v.portId), netnsPresent: v.netnsPresent })),
  };
}

/** "master, generation 3 (1 takeover)" from a controller's health. */
export function describeRole(h: HealthReport | undefined): string {
  if (!h) return 'no answer';
  const ha = h.ha;
  if (!ha) return `role ${h.openflow.role ?? 'equal'}`;
  const last = ha.lastTakeover;
  return `${ha.role}${ha.generationId ? `, generation ${ha.generationId}` : ''}${ha.takeovers ? `, ${ha.takeovers} takeover(s), last in ${last ? last.masterAt - last.detectedAt : '?'} ms${last?.flowMods !== undefined ? ` with ${last.flowMods} flow-mods` : ''}` : ''}${ha.demoted ? ` (stepped down: ${ha.demoted})` : ''}`;
}

export function formatStatus(r: SandboxReport): string[] {
  const yes = (b: boolean): string => (b ? 'yes' : 'NO');
  const lines = [
    `Sandbox ${r.tag} — ${r.dir}`,
    `  tunnels ${r.tunnels.join(', ')}; apps ${describeApps(r.apps, r.appOptions)}`,
    `  df-api  ${r.api.url}  running: ${yes(r.api.alive)}${r.api.pid ? ` (pid ${r.api.pid})` : ''}`,
    `  NB DB   ${r.db.kind} ${r.db.endpoints.join(', ')}  running: ${yes(r.db.alive)}`,
    '',
    '  CHASSIS    NETNS            TUNNEL IP     OVS  CONTROLLER        OPENFLOW  REGISTERED ALIVE  PORTS ACTIVE/PLUGGED  FLOWS',
  ];
  for (const c of r.chassis) {
    const h = c.controller.health;
    const ctl = c.controller.alive ? `${h?.status ?? 'no answer'} (pid ${c.controller.pid})` : 'NOT RUNNING';
    lines.push(
      `  ${c.name.padEnd(10)} ${c.netns.padEnd(16)} ${c.tunnelIp.padEnd(13)} ${yes(c.ovs).padEnd(4)} ${ctl.padEnd(17)} ${(h ? yes(h.openflow.connected) : '-').padEnd(9)} ${(h ? yes(h.liveness.alive) : '-').padEnd(17)} ${(h?.ports ? `${h.ports.active}/${h.ports.plugged}` : '-').padEnd(21)} ${h ? h.sync.installedFlows : '-'}`,
    );
    for (const p of h?.problems ?? []) lines.push(`    ! ${p}`);
    for (const u of h?.ports?.unknownIfaceIds ?? []) lines.push(`    ! interface ${u.interfaceName} names no logical port (iface-id ${u.ifaceId})`);
    if (c.standby || h?.ha) {
      for (const [which, x] of [['first', c.controller], ['second', c.standby]] as const) {
        if (!x) continue;
        lines.push(`    ${which} df-controller: ${x.alive ? `pid ${x.pid}, ${describeRole(x.health)}` : 'NOT RUNNING'}`);
      }
    }
  }
  lines.push('');
  if (r.vms.length === 0) lines.push('  no VMs (pnpm dfctl sandbox vm create NAME --network NET)');
  else {
    lines.push('  VM         CHASSIS  IP                  MAC                PORT                                  STATUS');
    for (const v of r.vms) lines.push(`  ${v.name.padEnd(10)} ${String(v.chassis).padEnd(8)} ${v.ip.padEnd(19)} ${v.mac.padEnd(18)} ${v.portId.padEnd(37)} ${v.portStatus ?? '?'}`);
  }
  return lines;
}

