/**
 * What the sandbox benchmarks (nat, ha-standby, ha-gateway, ha-fallback) share: `dfctl`
 * run from the repository root, a sandbox brought up in a temporary directory and
 * taken down at the end, after a failure and on SIGINT/SIGTERM (its directory is kept,
 * and named, when that fails), and their small statistics.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@dragonflow/sandbox';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** `pnpm dfctl ARGS` (the built CLI, from the repository root); rejects with its stderr unless `allowFailure`. */
export function dfctl(args: readonly string[], allowFailure = false): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(ROOT, 'scripts', 'dfctl.mjs'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 300_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err && !allowFailure) reject(new Error(`dfctl ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

/** The p-th percentile (nearest rank) of a non-empty list. */
export const percentile = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

/** The machine's load averages (1, 5, 15 min), for a benchmark's report. */
export const loadNow = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** A df-api (Neutron v2.0) request without auth (the sandbox's noauth df-api); rejects naming the request and df-api's answer. */
export async function api<T>(url: string, method: string, path: string, body?: unknown): Promise<T> {
  const r = await fetch(`${url}/v2.0${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

export interface BenchSandbox {
  /** The sandbox directory (`--dir`). */
  readonly dir: string;
  /** df-api's base URL. */
  readonly url: string;
}

/**
 * `dfctl sandbox up UPARGS` in a fresh temporary directory (`prefix` names it), then
 * `body`; the sandbox is taken down when `body` ends or throws, and on SIGINT/SIGTERM.
 */
export async function withBenchSandbox<T>(prefix: string, upArgs: readonly string[], body: (sb: BenchSandbox) => Promise<T>): Promise<T> {
  const place = mkdtempSync(join(tmpdir(), prefix));
  const dir = join(place, 'sb');
  const port = await freePort();
  let down: Promise<void> | undefined;
  // `sandbox up` takes down what it started when it fails; from then on this does, once
  const teardown = (): Promise<void> =>
    (down ??= dfctl(['sandbox', 'down', '--dir', dir]).then(
      () => rmSync(place, { recursive: true, force: true }),
      (err: unknown) => console.error(`${String(err)}\nthe sandbox in ${dir} may be left: pnpm dfctl sandbox down --dir ${dir}`),
    ));
  const onSignal = (signal: NodeJS.Signals): void => {
    console.error(`${signal}: taking the sandbox down`);
    void teardown().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  await dfctl(['sandbox', 'up', ...upArgs, '--dir', dir, '--api-port', String(port)]).catch((err: unknown) => {
    rmSync(place, { recursive: true, force: true });
    throw err;
  });
  try {
    return await body({ dir, url: `http://127.0.0.1:${port}` });
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    await teardown();
  }
}
