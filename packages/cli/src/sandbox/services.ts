import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DfError } from '@dragonflow/base';
import type { HealthReport } from '@dragonflow/controller';
import { findPackageDir } from '@dragonflow/core/host';
import type { ExternalState } from './external.js';

/** The services file a `dfctl sandbox up` writes next to the topology's state file. */
export const SERVICES_FILE = 'df-sandbox.json';
export const SERVICES_VERSION = 1;

export type DbKind = 'memory' | 'etcd' | 'redis';
export const TUNNEL_KINDS = ['vxlan', 'geneve', 'gre'] as const;
export type TunnelKind = (typeof TUNNEL_KINDS)[number];

/** One process the sandbox started in the root namespace or a chassis namespace. */
export interface ProcessEntry {
  pid: number | undefined;
  readonly log: string;
}

export interface ControllerEntry extends ProcessEntry {
  readonly chassis: number;
  readonly netns: string;
  readonly config: string;
  /** unix:PATH of its /healthz and /metrics. */
  readonly management: string;
  /** The second controller of the chassis (`dfctl sandbox controller start N --standby`): a hot standby of the first, or the master after a takeover. */
  readonly standby?: boolean;
}

/**
 * What `dfctl sandbox up` started beside the chassis (which the topology's own state
 * file describes): the DB server, df-api and one df-controller per chassis. Every
 * entry is written before its process starts and gets its pid right after, so
 * `down` finds everything even after a crash half-way.
 */
export interface ServicesState {
  readonly version: number;
  readonly dir: string;
  readonly createdAt: string;
  /**
   * The tunnel types every chassis has a port for (each network uses the one of
   * its provider:network_type); the first is df-api's tenant network type.
   */
  readonly tunnels: readonly TunnelKind[];
  readonly apps: readonly string[];
  /** `up --app-options`: per app package, the options its entry in every controller config gets. */
  readonly appOptions?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** `up --liveness-ttl`: every controller's chassis.livenessTtlMs (absent: the controller's default). */
  readonly livenessTtlMs?: number;
  /** `up --no-gateway-bfd`: false turns chassis.gatewayBfd off in every controller config (absent: the controller's default, on). */
  readonly gatewayBfd?: false;
  /** `up` made the directory (it did not exist): `down` removes it. */
  readonly dirCreated: boolean;
  readonly db: ProcessEntry & {
    readonly kind: DbKind;
    /** What df-api uses (TCP on 127.0.0.1, or the memory DB it serves itself). */
    readonly apiEndpoints: readonly string[];
    /** What the controllers use: a unix socket, reachable from every chassis namespace. */
    readonly controllerEndpoint: string;
    /** Where the server's data lives (etcd, redis). */
    readonly dataDir?: string;
  };
  readonly api: ProcessEntry & { readonly url: string; readonly port: number; readonly config: string };
  controllers: ControllerEntry[];
  /** With @dragonflow/app-ha-fallback: the fallback chassis (1-based), whose controller holds the whole topology and handles the others' punts while their controllers are gone. */
  readonly fallback?: { readonly chassis: number };
  /** `up --external`: the external network and its gateway chassis. */
  readonly external?: ExternalState;
}

export function servicesPath(dir: string): string {
  return join(dir, SERVICES_FILE);
}

export function readServices(dir: string): ServicesState {
  const path = servicesPath(dir);
  let parsed: ServicesState;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as ServicesState;
  } catch (cause) {
    throw new DfError('SANDBOX_NOT_FOUND', `${dir} is not a dfctl sandbox (${path} cannot be read)`, { cause, context: { dir, file: path } });
  }
  if (parsed.version !== SERVICES_VERSION) throw new DfError('SANDBOX_STATE', `${path} is not a version ${SERVICES_VERSION} sandbox services file`, { context: { file: path } });
  // A sandbox started before several tunnel types were possible recorded one, as `tunnel`.
  const old = (parsed as { tunnel?: TunnelKind }).tunnel;
  return parsed.tunnels ? parsed : { ...parsed, tunnels: old ? [old] : ['vxlan'] };
}

export function writeServices(s: ServicesState): void {
  const path = servicesPath(s.dir);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
}

export function isCliSandbox(dir: string): boolean {
  return existsSync(servicesPath(dir));
}

// ------------------------------------------------------------------ where things are

const here = dirname(fileURLToPath(import.meta.url));

/** The @dragonflow/cli package directory: app packages are resolved from here. */
export function cliPackageDir(): string {
  const dir = findPackageDir('@dragonflow/cli', here);
  if (!dir) throw new DfError('NOT_FOUND', `cannot find the @dragonflow/cli package from ${here}`);
  return dir;
}

/** The built entry of a workspace binary (df-api, df-controller). */
export function binaryOf(pkg: '@dragonflow/api' | '@dragonflow/controller'): string {
  const dir = findPackageDir(pkg, cliPackageDir());
  const bin = dir ? join(dir, 'dist', 'bin.js') : undefined;
  if (!bin || !existsSync(bin)) throw new DfError('NOT_BUILT', `${pkg} is not built (${bin ?? pkg}): run pnpm build (pnpm dfctl does it for you)`, { context: { package: pkg } });
  return bin;
}

/**
 * The first-party apps a sandbox runs when --apps is not given, in pipeline order:
 * switching, port security, security groups, DHCP, the proactive distributed
 * router, floating IPs and source NAT (`@dragonflow/app-dnat` goes between the
 * router and snat: snat leaves what dnat translated alone) (`--apps
 * @dragonflow/app-l2,@dragonflow/app-portsec,@dragonflow/app-sg,@dragonflow/app-dhcp,@dragonflow/app-l3-reactive` picks the reactive one instead).
 * Each is a dependency of @dragonflow/cli, so `pnpm dfctl` builds it; only those
 * installed are used.
 */
export const DEFAULT_SANDBOX_APPS: readonly string[] = [
  '@dragonflow/app-l2',
  '@dragonflow/app-portsec',
  '@dragonflow/app-sg',
  '@dragonflow/app-dhcp',
  '@dragonflow/app-l3-proactive',
  '@dragonflow/app-dnat',
  '@dragonflow/app-snat',
];

/**
 * Where an app package is: installed for the CLI (its dependencies), else a package
 * of this workspace (apps/*, examples/*) — so `--apps` can name any app being built here.
 */
export function findAppPackage(name: string): string | undefined {
  const cli = cliPackageDir();
  const installed = findPackageDir(name, cli);
  if (installed) return installed;
  const root = join(cli, '..', '..');
  if (!existsSync(join(root, 'pnpm-workspace.yaml'))) return undefined;
  for (const group of ['apps', 'examples']) {
    let entries: string[];
    try {
      entries = readdirSync(join(root, group));
    } catch {
      continue;
    }
    for (const e of entries) {
      try {
        if ((JSON.parse(readFileSync(join(root, group, e, 'package.json'), 'utf8')) as { name?: string }).name === name) return join(root, group, e);
      } catch {
        // not a package
      }
    }
  }
  return undefined;
}

export function installedApps(candidates: readonly string[]): string[] {
  return candidates.filter((p) => findAppPackage(p) !== undefined);
}

/**
 * Makes DIR/apps/node_modules/<package> point at each app, so every controller
 * resolves exactly the sandbox's apps from DIR/apps (its `appsFrom`).
 */
export function linkApps(dir: string, apps: readonly string[]): string {
  const base = join(dir, 'apps');
  for (const name of apps) {
    const target = findAppPackage(name);
    if (!target) throw new DfError('APP_NOT_FOUND', `app package '${name}' is neither a dependency of @dragonflow/cli nor a package under apps/ or examples/`, { context: { package: name } });
    const link = join(base, 'node_modules', name);
    mkdirSync(dirname(link), { recursive: true });
    rmSync(link, { force: true });
    symlinkSync(target, link, 'dir');
  }
  return base;
}

// ------------------------------------------------------------------ controller health

/** GET a path on an HTTP server listening on a unix socket. */
export function getOverUnix(socketPath: string, path: string, timeoutMs = 2_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${socketPath} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** A controller's /healthz, or undefined when it does not answer. */
export async function controllerHealth(c: ControllerEntry): Promise<HealthReport | undefined> {
  const path = c.management.replace(/^unix:/, '');
  try {
    const r = await getOverUnix(path, '/healthz');
    return JSON.parse(r.body) as HealthReport;
  } catch {
    return undefined;
  }
}
