import { run } from '../exec.js';
import { netnsExists } from '../netns.js';
import { stopPid } from '../process.js';

/** Pids of the processes living in a namespace (`ip netns pids`). */
export async function netnsPids(netns: string): Promise<number[]> {
  const r = await run('ip', ['netns', 'pids', netns], { allowFailure: true });
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** Stops every process left in a namespace this sandbox created (by pid), then deletes the namespace. */
export async function removeNetns(netns: string): Promise<void> {
  if (!(await netnsExists(netns))) return;
  for (const pid of await netnsPids(netns)) await stopPid(pid, 2000);
  await run('ip', ['netns', 'delete', netns]);
}
