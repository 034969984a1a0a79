import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { makeTempDir } from '@dragonflow/sandbox';

/**
 * The stock OpenStack CLI (Debian's python3-openstackclient), run as a user would.
 * Always /usr/bin/openstack: it runs on Debian's system python3, which has the
 * client libraries (a pyenv python on PATH would not).
 */
export const OPENSTACK = '/usr/bin/openstack';

export function requireOpenstackCli(): void {
  try {
    accessSync(OPENSTACK, constants.X_OK);
  } catch {
    throw new Error(`${OPENSTACK} was not found: run ./scripts/setup (it installs python3-openstackclient)`);
  }
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** How the CLI reaches df-api: without Keystone (auth type none) or with a static token. */
export type CliAuth = { endpoint: string } | { endpoint: string; token: string };

const home = makeTempDir('df-api-cli-home-');

/** Runs `openstack ARGS` against df-api with a clean environment (no OS_* leaking in). */
export function openstack(auth: CliAuth, args: readonly string[], timeoutMs = 60_000): Promise<CliResult> {
  const authArgs = 'token' in auth ? ['--os-auth-type', 'admin_token', '--os-token', auth.token, '--os-endpoint', auth.endpoint] : ['--os-auth-type', 'none', '--os-endpoint', auth.endpoint];
  return new Promise((resolve) => {
    execFile(
      OPENSTACK,
      [...authArgs, ...args],
      { env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8' }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Runs a command that must succeed; with `-f json` appended, returns the parsed output. */
export async function ok<T = Record<string, unknown>>(auth: CliAuth, args: readonly string[]): Promise<T> {
  const r = await openstack(auth, [...args, '-f', 'json']);
  if (r.code !== 0) throw new Error(`openstack ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as T;
}

/** Runs a command that prints nothing on success (set, unset, add, delete). */
export async function quiet(auth: CliAuth, args: readonly string[]): Promise<void> {
  const r = await openstack(auth, args);
  if (r.code !== 0) throw new Error(`openstack ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
}

/** Runs a command that must fail; returns its stderr. */
export async function fails(auth: CliAuth, args: readonly string[]): Promise<string> {
  const r = await openstack(auth, args);
  if (r.code === 0) throw new Error(`openstack ${args.join(' ')} succeeded but should have failed: ${r.stdout.trim()}`);
  return r.stderr;
}
