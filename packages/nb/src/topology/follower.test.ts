import { of } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { aliveAfterGc } from '../../test/v8.js';
import { NbApi } from '../api/nb-api.js';
import type { ChangeBatch, NbDriver } from '../db/driver.js';
import { PollingFeed } from '../db/feed.js';
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

describe('FeedFollower: memory', () => {
  it('keeps no batch alive once it is applied, while the feed waits for the next one', async () => {
    const refs: WeakRef<object>[] = [];
    let reads = 0;
    // A remote DB's feed: every batch is a fresh object (the in-process store keeps its own history).
    const driver = {
      connection$: of('connected'),
      snapshot: async () => ({ revision: 0, records: [] }),
      watch: (from: number) =>
        new PollingFeed(from, {
          read: (_from, _max, signal) => {
            if (++reads > 1) return new Promise((resolve) => signal.addEventListener('abort', () => resolve([]), { once: true }));
            const batches: ChangeBatch[] = [1, 2, 3].map((revision) => ({ revision, events: [{ type: 'put', table: 'logical_switch', id: `n${revision}`, value: 'x'.repeat(10_000), version: 1 }] }));
            refs.push(...batches.map((b) => new WeakRef(b)), ...batches.map((b) => new WeakRef(b.events)));
            return Promise.resolve(batches);
          },
        }),
    } as unknown as NbDriver;
    const applied: number[] = [];
    const follower = new FeedFollower(driver, { onSnapshot: () => undefined, onBatch: (b) => void applied.push(b.revision) });
    await follower.start();
    await follower.waitFor(3);
    expect(applied).toEqual([1, 2, 3]);
    expect(await aliveAfterGc(refs)).not.toContain(true);
    await follower.stop();
    expect(unhandled).toEqual([]);
  });
});
