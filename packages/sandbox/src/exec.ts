import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { DfError } from '@dragonflow/base';

const EXTRA_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
const resolved = new Map<string, string>();

/**
 * Finds an executable on PATH (plus the sbin directories Debian uses for daemons).
 * A missing binary is a loud error that says how to get it, never a silent skip.
 */
export function requireBinary(name: string): string {
  const hit = resolved.get(name);
  if (hit) return hit;
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), ...EXTRA_PATH].filter(Boolean);
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      resolved.set(name, candidate);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  throw new DfError('MISSING_BINARY', `'${name}' was not found on this machine: run ./scripts/setup to install the system packages`, {
    context: { binary: name },
  });
}

export interface RunOptions {
  /** Run inside this network namespace (through `ip netns exec`). */
  netns?: string;
  env?: Record<string, string>;
  /** Milliseconds before the command is killed. */
  timeoutMs?: number;
  /** Resolve instead of rejecting on a non-zero exit status. */
  allowFailure?: boolean;
  input?: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** The argv that runs `cmd args` inside `netns` (or directly when no namespace is given). */
export function netnsArgv(netns: string | undefined, cmd: string, args: readonly string[]): [string, string[]] {
  const bin = cmd.includes('/') ? cmd : requireBinary(cmd);
  if (!netns) return [bin, [...args]];
  return [requireBinary('ip'), ['netns', 'exec', netns, bin, ...args]];
}

/** Runs a command to completion and returns its output; rejects with a DfError naming the command on failure. */
export function run(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const [bin, argv] = netnsArgv(options.netns, cmd, args);
  return new Promise((resolve, reject) => {
    const child = execFile(
      bin,
      argv,
      {
        env: { ...process.env, ...(options.env ?? {}) },
        timeout: options.timeoutMs ?? 30_000,
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        if (error && !options.allowFailure) {
          const shown = [cmd, ...args].join(' ');
          reject(
            new DfError('COMMAND_FAILED', `'${shown}'${options.netns ? ` in netns ${options.netns}` : ''} failed (exit ${code}): ${stderr.trim() || error.message}`, {
              cause: error,
              context: { command: shown, netns: options.netns, code, stderr: stderr.trim() },
            }),
          );
          return;
        }
        resolve({ stdout, stderr, code });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}
