import { EventEmitter } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { systemClock } from '@dragonflow/base';
import type { ChangeBatch } from '@dragonflow/nb';
import { describe, expect, it } from 'vitest';
import type { EtcdDriver } from './driver.js';
import { EtcdFeed } from './feed.js';
import { EtcdKeys } from './keys.js';

/** Collects garbage (exposed at run time, as `node --expose-gc` would) and says which targets are still alive. */
async function aliveAfterGc(refs: readonly WeakRef<object>[]): Promise<boolean[]> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  for (let i = 0; i < 3 && refs.some((w) => w.deref() !== undefined); i++) {
    await new Promise((res) => setImmediate(res));
    gc();
  }
  return refs.map((w) => w.deref() !== undefined);
}

/** A watch stream as etcd3 hands it out: the feed writes its create request, we answer with responses. */
class FakeWatchStream extends EventEmitter {
  readonly requests: unknown[] = [];
  write(req: unknown): void {
    this.requests.push(req);
  }
  cancel(): void {
    this.removeAllListeners();
  }
}

function fakeDriver(stream: FakeWatchStream): EtcdDriver {
  return {
    keys: new EtcdKeys('/t/'),
    client: { watchClient: { watch: async () => stream } },
    clock: systemClock,
    endpoint: 'fake',
    noteCluster: () => true,
    setConnected: () => undefined,
  } as unknown as EtcdDriver;
}

/** Takes `n` batches, watching each (and its events) through `refs`; answers their revisions only. */
async function pull(iterator: AsyncIterator<ChangeBatch>, n: number, refs: WeakRef<object>[]): Promise<number[]> {
  const revisions: number[] = [];
  for (let i = 0; i < n; i++) {
    const b = (await iterator.next()).value as ChangeBatch;
    refs.push(new WeakRef(b), new WeakRef(b.events));
    revisions.push(b.revision);
  }
  return revisions;
}

const header = (revision: number) => ({ cluster_id: '1', revision: String(revision) });

describe('EtcdFeed', () => {
  it.each([
    ['every table', undefined],
    ['a table filter', ['kept']],
  ])('keeps no batch it handed out alive while it waits for the next (%s)', async (_what, tables) => {
    const stream = new FakeWatchStream();
    const feed = new EtcdFeed(fakeDriver(stream), 1, tables ? { tables } : {}, () => undefined);
    const iterator = feed[Symbol.asyncIterator]();
    const refs: WeakRef<object>[] = [];
    const pulled = pull(iterator, tables ? 2 : 4, refs);
    await new Promise((res) => setImmediate(res));
    expect(stream.requests).toHaveLength(1);
    stream.emit('data', { header: header(0), created: true, canceled: false, events: [] });
    stream.emit('data', {
      header: header(4),
      created: false,
      canceled: false,
      events: [1, 2, 3, 4].map((rev) => ({
        type: 'Put',
        kv: { key: Buffer.from(`/t/d/${rev % 2 ? 'other' : 'kept'}/k${rev}`), value: Buffer.from('x'.repeat(10_000)), version: '1', mod_revision: String(rev) },
      })),
    });
    expect(await pulled).toEqual(tables ? [2, 4] : [1, 2, 3, 4]);
    // The consumer asks for more: nothing is queued, the feed waits for the stream.
    const waiting = iterator.next();
    expect(await aliveAfterGc(refs)).not.toContain(true);
    expect(feed.lastRevision).toBe(4);
    feed.close();
    expect((await waiting).done).toBe(true);
  });
});
