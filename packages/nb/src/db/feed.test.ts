import { describe, expect, it } from 'vitest';
import { aliveAfterGc } from '../../test/v8.js';
import type { ChangeBatch } from './driver.js';
import { type BatchSource, PollingFeed } from './feed.js';

/**
 * A source that answers its first read with fresh batches 1..n (as a remote DB does)
 * and then long-polls until the feed closes. `refs` watch every batch it made.
 */
function freshSource(n: number, refs: WeakRef<object>[]): BatchSource {
  let reads = 0;
  return {
    read: (_from, _max, signal) => {
      if (++reads > 1) return new Promise((resolve) => signal.addEventListener('abort', () => resolve([]), { once: true }));
      const batches: ChangeBatch[] = Array.from({ length: n }, (_, i) => ({
        revision: i + 1,
        events: [{ type: 'put', table: i % 2 ? 'kept' : 'other', id: `k${i}`, value: 'x'.repeat(10_000), version: 1 }],
      }));
      refs.push(new WeakRef(batches), ...batches.map((b) => new WeakRef(b)), ...batches.map((b) => new WeakRef(b.events)));
      return Promise.resolve(batches);
    },
  };
}

describe('PollingFeed', () => {
  it.each([
    ['every table', undefined],
    ['a table filter', ['kept']],
  ])('keeps no batch it handed out alive while the next read waits (%s)', async (_what, tables) => {
    const refs: WeakRef<object>[] = [];
    const feed = new PollingFeed(1, freshSource(4, refs), tables ? { tables } : {});
    const iterator = feed[Symbol.asyncIterator]();
    const revisions: number[] = [];
    for (let i = 0; i < (tables ? 2 : 4); i++) revisions.push(((await iterator.next()).value as ChangeBatch).revision);
    expect(revisions).toEqual(tables ? [2, 4] : [1, 2, 3, 4]);
    // The consumer asks for more: the feed resumes, finds nothing left and waits on the source.
    const waiting = iterator.next();
    expect(await aliveAfterGc(refs)).not.toContain(true);
    expect(feed.lastRevision).toBe(4);
    feed.close();
    expect((await waiting).done).toBe(true);
  });
});
