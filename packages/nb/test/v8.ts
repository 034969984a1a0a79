import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/*
 * V8 internals for tests that pin down memory behaviour, enabled at run time (as
 * `node --expose-gc` / `--allow-natives-syntax` would) so vitest needs no flags.
 */

/** Collects garbage until every ref is gone (at most three rounds) and says which targets are still alive. */
export async function aliveAfterGc(refs: readonly WeakRef<object>[]): Promise<boolean[]> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  for (let i = 0; i < 3 && refs.some((w) => w.deref() !== undefined); i++) {
    // A WeakRef made in this job keeps its target until the job ends.
    await new Promise((res) => setImmediate(res));
    gc();
  }
  return refs.map((w) => w.deref() !== undefined);
}

/** True when `o` keeps its properties in a hidden class (fast mode), not in a per-object hash table. */
export function hasFastProperties(o: object): boolean {
  setFlagsFromString('--allow-natives-syntax');
  return (runInNewContext('(o) => %HasFastProperties(o)') as (o: object) => boolean)(o);
}

/** True when `a` and `b` share one hidden class (so they share its property layout). */
export function haveSameMap(a: object, b: object): boolean {
  setFlagsFromString('--allow-natives-syntax');
  return (runInNewContext('(a, b) => %HaveSameMap(a, b)') as (a: object, b: object) => boolean)(a, b);
}
