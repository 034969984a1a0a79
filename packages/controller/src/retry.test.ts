import { ManualClock } from '@dragonflow/base';
import { silentLogger } from '@dragonflow/core/host';
import { describe, expect, it } from 'vitest';
import { StoppedError, retry } from './retry.js';

describe('retry', () => {
  it('retries with growing delays until it works, reporting each failure', async () => {
    const clock = new ManualClock();
    const delays: number[] = [];
    let calls = 0;
    const p = retry(
      'reach the thing',
      async () => {
        if (++calls < 4) throw new Error(`no (${calls})`);
        return 'yes';
      },
      { log: silentLogger(), clock, initialMs: 100, maxMs: 250, onFailure: (_e, _n, d) => delays.push(d) },
    );
    for (let i = 0; i < 10 && calls < 4; i++) {
      await new Promise((r) => setImmediate(r));
      clock.advance(300);
    }
    expect(await p).toBe('yes');
    expect(delays).toEqual([100, 200, 250]);
  });

  it('gives up at once on a fatal error, and stops when aborted', async () => {
    await expect(retry('x', () => Promise.reject(new Error('bad config')), { log: silentLogger(), isFatal: () => true })).rejects.toThrow('bad config');
    const abort = new AbortController();
    const p = retry('wait for the DB', () => Promise.reject(new Error('down')), { log: silentLogger(), signal: abort.signal, initialMs: 10_000 });
    abort.abort();
    await expect(p).rejects.toBeInstanceOf(StoppedError);
  });
});
