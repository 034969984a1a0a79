import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, type RunResult } from './exec.js';
import { makeTempDir, removeDir } from './tmp.js';

/** Network namespaces and veth pairs through iproute2. Names are kernel-limited to 15 characters. */

export async function listNetns(): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list'], { allowFailure: true });
  return stdout
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter(Boolean);
}

export async function netnsExists(name: string): Promise<boolean> {
  return (await listNetns()).includes(name);
}

/** Creates a namespace with its loopback up. */
export async function createNetns(name: string): Promise<void> {
  await run('ip', ['netns', 'add', name]);
  await run('ip', ['link', 'set', 'lo', 'up'], { netns: name });
}

/** Deletes a namespace; a missing one is not an error. */
export async function deleteNetns(name: string): Promise<void> {
  if (await netnsExists(name)) await run('ip', ['netns', 'delete', name]);
}

export async function linkExists(name: string, netns?: string): Promise<boolean> {
  const r = await run('ip', ['link', 'show', 'dev', name], { netns, allowFailure: true });
  return r.code === 0;
}

/** The names of every link in a namespace (one `ip` call, however many there are). */
export async function linkNames(netns?: string): Promise<Set<string>> {
  const r = await run('ip', ['-o', 'link', 'show'], { netns });
  // "12: vm0@NONE: <…" or "12: vm0: <…"
  return new Set([...r.stdout.matchAll(/^\d+:\s+([^:@\s]+)/gm)].map((m) => m[1]!));
}

/** Deletes many links with one `ip -batch` (one process, not two per link); those already gone are skipped. */
export async function deleteLinks(names: readonly string[], netns?: string): Promise<void> {
  if (names.length === 0) return;
  const dir = makeTempDir('df-links-');
  try {
    const file = join(dir, 'delete.batch');
    writeFileSync(file, names.map((n) => `link delete ${n}\n`).join(''));
    await run('ip', ['-force', '-batch', file], { netns, allowFailure: true, timeoutMs: 120_000 });
  } finally {
    removeDir(dir);
  }
}

export interface VethEnd {
  name: string;
  /** Namespace to move this end into (root namespace when absent). */
  netns?: string;
  mac?: string;
  mtu?: number;
}

/**
 * Creates a veth pair with each end made directly in its namespace under its final
 * name (so an end may be called e.g. eth0 without clashing with the root namespace),
 * and brings both up. Nothing appears in the root namespace unless an end is meant to
 * live there: no temporary device that a parallel test's before/after look at the
 * root namespace could take for a leftover.
 */
export async function createVethPair(a: VethEnd, b: VethEnd): Promise<void> {
  // `ip link add` runs in the first end's namespace; `peer … netns` puts the other end in
  // its own. The root end, if any, is the first (the root namespace has no name to give).
  const [first, second] = a.netns !== undefined && b.netns === undefined ? [b, a] : [a, b];
  await run('ip', ['link', 'add', first.name, 'type', 'veth', 'peer', 'name', second.name, ...(second.netns ? ['netns', second.netns] : [])], { netns: first.netns });
  try {
    for (const end of [a, b]) {
      if (end.mac) await run('ip', ['link', 'set', end.name, 'address', end.mac], { netns: end.netns });
      if (end.mtu) await run('ip', ['link', 'set', end.name, 'mtu', String(end.mtu)], { netns: end.netns });
      await run('ip', ['link', 'set', end.name, 'up'], { netns: end.netns });
    }
  } catch (err) {
    // The pair is ours (the add succeeded): deleting one end removes both.
    await run('ip', ['link', 'delete', first.name], { netns: first.netns, allowFailure: true });
    throw err;
  }
}

/** Deletes a link (deleting one veth end removes both); a missing one is not an error. */
export async function deleteLink(name: string, netns?: string): Promise<void> {
  if (await linkExists(name, netns)) await run('ip', ['link', 'delete', name], { netns });
}

export async function addAddress(dev: string, cidr: string, netns?: string): Promise<void> {
  await run('ip', ['addr', 'add', cidr, 'dev', dev], { netns });
}

/** Runs a command inside a namespace. */
export function netnsExec(netns: string, cmd: string, args: readonly string[], options: { timeoutMs?: number; allowFailure?: boolean } = {}): Promise<RunResult> {
  return run(cmd, args, { netns, ...options });
}

/** Pings `target` from `netns`; resolves true when at least one reply came back. */
export async function ping(netns: string, target: string, options: { count?: number; timeoutSec?: number; intervalSec?: number } = {}): Promise<boolean> {
  const count = options.count ?? 1;
  const args = ['-c', String(count), '-W', String(options.timeoutSec ?? 1), '-i', String(options.intervalSec ?? 0.2), '-n', target];
  const r = await run('ping', args, { netns, allowFailure: true, timeoutMs: (count * (options.timeoutSec ?? 1) + 5) * 1000 });
  return r.code === 0;
}
