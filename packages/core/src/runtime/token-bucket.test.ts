import { DfError, ManualClock } from '@dragonflow/base';
import { describe, expect, it } from 'vitest';
import { KeyedTokenBucket } from './token-bucket.js';

describe('KeyedTokenBucket', () => {
  it('lets a burst through, then the sustained rate, per key, on the injected clock', () => {
    const clock = new ManualClock();
    const b = new KeyedTokenBucket<number>(clock, { rate: 10, burst: 3 });
    expect([b.take(1), b.take(1), b.take(1), b.take(1)]).toEqual([true, true, true, false]);
    expect(b.take(2)).toBe(true);
    clock.advance(100);
    expect([b.take(1), b.take(1)]).toEqual([true, false]);
    clock.advance(10_000);
    expect(b.available(1)).toBe(3);
  });

  it('remembers a bounded number of keys', () => {
    const b = new KeyedTokenBucket<number>(new ManualClock(), { rate: 1, burst: 1, maxKeys: 2 });
    for (const k of [1, 2, 3]) b.take(k);
    expect(b.size).toBe(2);
    expect(b.take(1)).toBe(true); // forgotten, so full again
    expect(() => new KeyedTokenBucket(new ManualClock(), { rate: 0, burst: 1 })).toThrow(DfError);
  });
});
