import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NbApi } from '../api/nb-api.js';
import type { ChangeBatch } from '../db/driver.js';
import { MemoryDriver } from '../db/memory/driver.js';
import { FeedFollower, type FollowerState } from './follower.js';

/** Rejections nobody handled while a test ran (each one would crash a controller run with --unhandled-rejections=throw). */
let unhandled: unknown[];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

beforeEach(() => {
  unhandled = [];
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

/** Lets pending promise jobs, timers of 0 ms and I/O callbacks run. */
const turns = async (n = 5): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

const until = (f: { readonly state$: FeedFollower['state$'] }, pred: (s: FollowerState) => boolean): Promise<FollowerState> =>
  new Promise((resolve) => {
    const sub = f.state$.subscribe((s) => {
      if (!pred(s)) return;
      queueMicrotask(() => sub.unsubscribe());
      resolve(s);
    });
  });

describe('FeedFollower: the DB driver closing under it', () => {
  it('an NbApi mirror stops in order when its driver is closed: no unhandled rejection, waiters released, close() resolves', async () => {
    const driver = MemoryDriver.create();
    const nb = await NbApi.open(driver);
    await nb.create('logical_switch', { name: 'net1' });
    const stopped = until({ state$: nb.health$ }, (s) => s.phase === 'stopped');
    await driver.close();
    const state = await stopped;
    expect(state.reason).toMatch(/closed/);
    expect(state.reason).toMatch(/NB_CLOSED|is closed/);
    // Someone waiting for a revision the mirror will never see is released, not left hanging.
    await expect(nb.reader.waitFor(1_000_000)).resolves.toBeUndefined();
    await turns();
    await nb.close();
    await turns();
    expect(unhandled).toEqual([]);
    expect((await new Promise<FollowerState>((r) => nb.health$.subscribe(r).unsubscribe())).phase).toBe('stopped');
  });

  it('the driver closed while the follower reloads after compaction: it stops, nothing is left unhandled', async () => {
    const driver = MemoryDriver.create();
    await driver.commit([{ type: 'put', table: 'logical_switch', id: 'a', value: '{}' }]);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const batches: ChangeBatch[] = [];
    const follower = new FeedFollower(driver, {
      onSnapshot: () => undefined,
      onBatch: async (b) => {
        batches.push(b);
        if (batches.length === 1) await held; // the first batch is slow: the DB compacts meanwhile
      },
    });
    await follower.start();
    await driver.commit([{ type: 'put', table: 'logical_switch', id: 'b', value: '{}' }]);
    await turns();
    expect(batches).toHaveLength(1);
    for (const id of ['c', 'd', 'e']) await driver.commit([{ type: 'put', table: 'logical_switch', id, value: '{}' }]);
    driver.store.compact(await driver.currentRevision());
    // As soon as it notices the history is gone and starts reloading, the DB goes away.
    const sub = follower.state$.subscribe((s) => {
      if (s.phase === 'resyncing') void driver.close();
    });
    const stopped = until(follower, (s) => s.phase === 'stopped');
    release();
    const state = await stopped;
    sub.unsubscribe();
    expect(state.reason).toMatch(/closed/);
    await follower.stop();
    await turns();
    expect(unhandled).toEqual([]);
  });
});
