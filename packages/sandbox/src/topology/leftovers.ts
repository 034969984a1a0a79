import { existsSync } from 'node:fs';
import { listNetns } from '../netns.js';
import { SANDBOX_PREFIX, tagOfNetns } from './names.js';
import { netnsPids, removeNetns } from './netns-procs.js';
import { listRegistry, unregister, type RegistryEntry } from './state.js';

/** Sandboxes that registered on this machine (a CLI can offer them when no --dir is given). */
export function listSandboxes(): RegistryEntry[] {
  return listRegistry().filter((r) => r.present);
}

export interface LeftoverNetns {
  readonly netns: string;
  readonly tag: string;
  /** Processes still running in it. */
  readonly pids: readonly number[];
  /** The sandbox directory that claims it, if it registered one and its state file exists. */
  readonly ownerDir: string | undefined;
}

export interface Leftovers {
  readonly namespaces: readonly LeftoverNetns[];
  /** Registered sandboxes whose state file is gone or whose namespaces are gone. */
  readonly staleRegistrations: readonly { tag: string; dir: string }[];
}

/**
 * Everything sandboxes left on this machine: namespaces with the sandbox prefix (and
 * the processes in them) and stale registry entries. A running sandbox shows up here
 * too, with its owner directory; a crashed one shows `ownerDir: undefined` or a dir
 * that can be passed to `Sandbox.load(dir).destroy()`.
 */
export async function listLeftovers(): Promise<Leftovers> {
  const registry = listRegistry();
  const owners = new Map(registry.filter((r) => r.present).map((r) => [r.tag, r.dir]));
  const namespaces: LeftoverNetns[] = [];
  const all = await listNetns();
  for (const ns of all) {
    if (!ns.startsWith(SANDBOX_PREFIX)) continue;
    const tag = tagOfNetns(ns);
    if (!tag) continue;
    namespaces.push({ netns: ns, tag, pids: await netnsPids(ns), ownerDir: owners.get(tag) });
  }
  const tagsWithNetns = new Set(namespaces.map((n) => n.tag));
  const staleRegistrations = registry.filter((r) => !r.present || !tagsWithNetns.has(r.tag)).map((r) => ({ tag: r.tag, dir: r.dir }));
  return { namespaces, staleRegistrations };
}

/**
 * Removes what a sandbox with this tag left behind when its state file is gone:
 * stops the processes in its namespaces (by pid) and deletes the namespaces.
 * Prefer `Sandbox.load(dir).destroy()` when the state file still exists.
 */
export async function removeLeftovers(tag: string): Promise<string[]> {
  const removed: string[] = [];
  for (const ns of await listNetns()) {
    if (tagOfNetns(ns) === tag) {
      await removeNetns(ns);
      removed.push(ns);
    }
  }
  const entry = listRegistry().find((r) => r.tag === tag);
  if (entry && !existsSync(entry.dir)) unregister(tag);
  if (entry && !entry.present) unregister(tag);
  return removed;
}
