import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { DfError } from '@dragonflow/base';
import { netnsArgv } from './exec.js';

export interface DaemonOptions {
  netns?: string;
  env?: Record<string, string>;
  /** stdout and stderr are appended to this file. */
  logFile: string;
  cwd?: string;
}

/**
 * Starts a long-running process detached from this one (its own process group, output
 * to a log file), so it can outlive a CLI invocation and be stopped later by pid.
 * Under `ip netns exec` the pid is the daemon's own (ip execs it).
 */
export function spawnDaemon(cmd: string, args: readonly string[], options: DaemonOptions): number {
  const [bin, argv] = netnsArgv(options.netns, cmd, args);
  const fd = openSync(options.logFile, 'a');
  try {
    const child = spawn(bin, argv, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...(options.env ?? {}) },
      cwd: options.cwd,
    });
    if (child.pid === undefined) {
      throw new DfError('SPAWN_FAILED', `could not start '${cmd}'`, { context: { command: cmd, logFile: options.logFile } });
    }
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** True while a process with this pid exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sends SIGTERM, waits up to `graceMs`, then SIGKILL; resolves once the process is gone. */
export async function stopPid(pid: number, graceMs = 3000): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(20);
  if (isAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return;
    }
    const killDeadline = Date.now() + 2000;
    while (isAlive(pid) && Date.now() < killDeadline) await sleep(20);
  }
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** What we are waiting for, for the error message. */
  what: string;
  /** A file whose tail is added to the error (e.g. the daemon's log). */
  logFile?: string;
  /**
   * The process that is to become ready: once it has exited, waiting stops at once
   * (PROCESS_EXITED) instead of polling on until the timeout.
   */
  pid?: number;
}

function logTail(logFile: string | undefined): string {
  if (!logFile) return '';
  try {
    const tail = readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
    return tail ? `; last log lines:\n${tail}` : '';
  } catch {
    return '';
  }
}

/**
 * Polls `check` until it returns a truthy value (which is returned) or the timeout
 * passes. An error thrown by `check` counts as "not yet" (it becomes the cause of the
 * timeout error); to stop early when the awaited process dies, pass its `pid`.
 */
export async function waitFor<T>(check: () => T | Promise<T>, options: WaitOptions): Promise<NonNullable<T>> {
  const timeout = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeout;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (options.pid !== undefined && !isAlive(options.pid)) {
      throw new DfError('PROCESS_EXITED', `gave up waiting for ${options.what}: its process (pid ${options.pid}) exited${logTail(options.logFile)}`, {
        cause: lastError,
        context: { what: options.what, pid: options.pid, logFile: options.logFile },
      });
    }
    if (Date.now() >= deadline) break;
    await sleep(options.intervalMs ?? 25);
  }
  throw new DfError('TIMEOUT', `timed out after ${timeout} ms waiting for ${options.what}${logTail(options.logFile)}`, {
    cause: lastError,
    context: { what: options.what, logFile: options.logFile },
  });
}
