import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Sandbox, freePort, isAlive, listNetns, makeTempDir, run, type Vm } from '@dragonflow/sandbox';
import { afterAll, beforeAll, expect } from 'vitest';
import type { CliAuth } from '../api/openstack.js';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

let built = false;

/**
 * Builds the CLI and everything it runs (df-api, df-controller, the apps) once per
 * test file, as `pnpm dfctl` does (turbo: a no-op when nothing changed), when the
 * tests run outside turbo (which builds dependencies before `test`).
 */
export function ensureBuilt(): void {
  // Under `turbo run test` the tests' dependencies (the CLI and everything it runs) were built first.
  if (built || process.env['TURBO_HASH']) return;
  const r = spawnSync('pnpm', ['exec', 'turbo', 'run', 'build', '--filter=@dragonflow/cli...', '--output-logs=errors-only'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
    timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`building the CLI failed:\n${r.stdout}\n${r.stderr}`);
  built = true;
}

export interface DfResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `pnpm dfctl ARGS` the way a user does (after ensureBuilt, without rebuilding each time). */
export function df(args: readonly string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<DfResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, 'scripts', 'dfctl.mjs'), ...args],
      { cwd: ROOT, encoding: 'utf8', timeout: options.timeoutMs ?? 180_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, DF_SKIP_BUILD: '1', ...(options.env ?? {}) } },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** Like df(), but the command must succeed. */
export async function dfOk(args: readonly string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<string> {
  const r = await df(args, options);
  if (r.code !== 0) throw new Error(`df ${args.join(' ')} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The services file `dfctl sandbox up` writes (the parts tests look at). */
export interface Services {
  readonly dir: string;
  readonly db: { readonly kind: string; readonly pid?: number; readonly controllerEndpoint: string };
  readonly api: { readonly pid?: number; readonly url: string };
  /** `standby`: the second controller of a standby pair (`dfctl sandbox controller start N --standby`). */
  readonly controllers: readonly { readonly chassis: number; readonly pid?: number; readonly management: string; readonly log: string; readonly netns: string; readonly standby?: boolean }[];
}

export function readServicesFile(dir: string): Services {
  return JSON.parse(readFileSync(join(dir, 'df-sandbox.json'), 'utf8')) as Services;
}

export interface TopologyState {
  readonly tag: string;
  readonly chassis: readonly { readonly index: number; readonly netns: string; readonly dir: string; readonly pids?: { ovsdbServer: number; vswitchd: number }; readonly tunnelIp: string }[];
  readonly vms: readonly { readonly name: string; readonly netns: string; readonly portId: string; readonly ip: string; readonly chassis: number }[];
}

export function readTopology(dir: string): TopologyState {
  return JSON.parse(readFileSync(join(dir, 'sandbox.json'), 'utf8')) as TopologyState;
}

/** Every pid a sandbox recorded: DB server, df-api, controllers, ovsdb-server and ovs-vswitchd of each chassis. */
export function recordedPids(dir: string): number[] {
  const s = readServicesFile(dir);
  const t = readTopology(dir);
  return [s.db.pid, s.api.pid, ...s.controllers.map((c) => c.pid), ...t.chassis.flatMap((c) => (c.pids ? [c.pids.ovsdbServer, c.pids.vswitchd] : []))].filter((p): p is number => typeof p === 'number');
}

/** Network devices in the root namespace (the sandbox must add none and leave none). */
export async function rootLinks(): Promise<Set<string>> {
  const r = await run('ip', ['-o', 'link', 'show']);
  return new Set(r.stdout.split('\n').map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1]).filter((n): n is string => !!n));
}

export interface Snapshot {
  readonly links: Set<string>;
}

/** What the machine looks like before a sandbox is started. */
export async function machineSnapshot(): Promise<Snapshot> {
  return { links: await rootLinks() };
}

/** Everything a torn-down sandbox could have left: returns a list of problems (empty when clean). */
export async function leftovers(tag: string, dir: string, pids: readonly number[], before: Snapshot, dirCreatedBySandbox: boolean): Promise<string[]> {
  const problems: string[] = [];
  for (const ns of await listNetns()) if (ns.startsWith(`${tag}-`)) problems.push(`namespace ${ns}`);
  for (const pid of pids) if (isAlive(pid)) problems.push(`process ${pid} (${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()})`);
  for (const l of await rootLinks()) if (!before.links.has(l)) problems.push(`root-namespace device ${l}`);
  if (dirCreatedBySandbox ? existsSync(dir) : existsSync(join(dir, 'df-sandbox.json')) || existsSync(join(dir, 'sandbox.json'))) problems.push(`files in ${dir}`);
  const registry = join((process.env['TMPDIR'] ?? '/tmp').replace(/\/$/, ''), 'df-sandbox-registry', `${tag}.json`);
  if (existsSync(registry)) problems.push(`registry entry ${registry}`);
  return problems;
}

/** Where a sandbox under test lives: its directory, and df-api's port and URL. */
export interface SandboxPlace {
  readonly dir: string;
  readonly apiPort: number;
  readonly url: string;
}

/** A fresh directory and df-api port for a sandbox under test (never the user's 9696). */
export async function sandboxPlace(): Promise<SandboxPlace> {
  const apiPort = await freePort();
  return { dir: join(makeTempDir('df-sbcli-'), 'sb'), apiPort, url: `http://127.0.0.1:${apiPort}` };
}

/** A sandbox that `useDfSandbox` brings up for a test file or a describe block (usable from its beforeAll on). */
export interface DfSandboxUnderTest {
  place(): SandboxPlace;
  /** How the openstack CLI reaches its df-api. */
  auth(): CliAuth;
  /** DF_SANDBOX_DIR: `df` commands without --dir act on this sandbox. */
  env(): Record<string, string>;
  sandbox(): Sandbox;
  vm(name: string): Vm;
  /** `dfctl sandbox vm create NAME --network NET --chassis N [--ip IP]`; the VM's port must become ACTIVE. Returns what it printed. */
  vmCreate(name: string, network: string, chassis: number, ip?: string): Promise<string>;
}

/**
 * `dfctl sandbox up ARGS` (in a fresh place) before the block's tests — after `prepare`
 * (prerequisites: binaries, extra builds) and ensureBuilt — and `dfctl sandbox down`
 * after them, then the place is removed. Down runs whenever the sandbox's services
 * file is there, so a sandbox is also taken down when `checkUp` (a check of up's
 * output) failed or up was killed by its timeout; a failing down fails the block.
 * Register further set-up in a beforeAll after this call (hooks run in order).
 */
export function useDfSandbox(args: readonly string[], options: { prepare?: () => void; checkUp?: (output: string) => void } = {}): DfSandboxUnderTest {
  let place: SandboxPlace | undefined;
  const here = (): SandboxPlace => {
    if (!place) throw new Error('the sandbox is not up: use it from a hook or test after useDfSandbox()');
    return place;
  };
  beforeAll(async () => {
    options.prepare?.();
    ensureBuilt();
    place = await sandboxPlace();
    const out = await dfOk(['sandbox', 'up', ...args, '--dir', place.dir, '--api-port', String(place.apiPort)], { timeoutMs: 240_000 });
    options.checkUp?.(out);
  }, 300_000);
  afterAll(async () => {
    if (!place) return;
    if (existsSync(join(place.dir, 'df-sandbox.json'))) {
      const r = await df(['sandbox', 'down', '--dir', place.dir]);
      if (r.code !== 0) throw new Error(`dfctl sandbox down failed: ${r.stderr}`);
    }
    rmSync(dirname(place.dir), { recursive: true, force: true });
  }, 120_000);
  const env = (): Record<string, string> => ({ DF_SANDBOX_DIR: here().dir });
  return {
    place: here,
    auth: () => ({ endpoint: here().url }),
    env,
    sandbox: () => Sandbox.load(here().dir),
    vm: (name) => Sandbox.load(here().dir).vm(name),
    async vmCreate(name, network, chassis, ip) {
      const out = await dfOk(['sandbox', 'vm', 'create', name, '--network', network, '--chassis', String(chassis), ...(ip ? ['--ip', ip] : [])], { env: env(), timeoutMs: 120_000 });
      expect(out).toMatch(/ACTIVE/);
      return out;
    },
  };
}

/** POST to df-api's Neutron v2.0 API (for set-up without the openstack CLI); a non-2xx answer throws with its body. */
export async function apiPost<T>(url: string, path: string, body: unknown): Promise<T> {
  const r = await fetch(`${url}/v2.0${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`POST ${path}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

/** GET over a unix socket (what `curl --unix-socket SOCKET http://localhost/PATH` does). */
export function curlUnix(socket: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, timeout: 5_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer on ${socket} within 5 s`)));
    req.on('error', reject);
    req.end();
  });
}
