import { run, type RunResult } from './exec.js';

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

export interface VethEnd {
  name: string;
  /** Namespace to move this end into (root namespace when absent). */
  netns?: string;
  mac?: string;
  mtu?: number;
}

/**
 * Creates a veth pair, moves each end to its namespace (renaming it there, so an end
 * may be called e.g. eth0 without clashing with the root namespace) and brings both up.
 */
export async function createVethPair(a: VethEnd, b: VethEnd): Promise<void> {
  const tag = Math.random().toString(36).slice(2, 8);
  const temp = [`dfta${tag}`, `dftb${tag}`] as const;
  await run('ip', ['link', 'add', temp[0], 'type', 'veth', 'peer', 'name', temp[1]]);
  // Which ends carry their final name: only those may be deleted by that name on failure
  // (a rename that failed because the name was taken must not delete the other device).
  const renamed = [false, false];
  try {
    for (const [i, end] of [a, b].entries()) {
      const tmp = temp[i]!;
      if (end.netns) await run('ip', ['link', 'set', tmp, 'netns', end.netns]);
      await run('ip', ['link', 'set', tmp, 'name', end.name], { netns: end.netns });
      renamed[i] = true;
      if (end.mac) await run('ip', ['link', 'set', end.name, 'address', end.mac], { netns: end.netns });
      if (end.mtu) await run('ip', ['link', 'set', end.name, 'mtu', String(end.mtu)], { netns: end.netns });
      await run('ip', ['link', 'set', end.name, 'up'], { netns: end.netns });
    }
  } catch (err) {
    // Deleting either end removes the pair; try every name it may have by now.
    for (const [i, end] of [a, b].entries()) {
      await run('ip', ['link', 'delete', temp[i]!], { netns: end.netns, allowFailure: true });
      await run('ip', ['link', 'delete', temp[i]!], { allowFailure: true });
      // Only ends inside a namespace can carry a renamed end of ours; never delete a
      // root-namespace link by its final name (it may be a host interface).
      if (end.netns && renamed[i]) await run('ip', ['link', 'delete', end.name], { netns: end.netns, allowFailure: true });
    }
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
