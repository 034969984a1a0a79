import { describe, expect, it } from 'vitest';
import { Backoff, backoffDelay, isDfError } from './index.js';

describe('Backoff', () => {
  it('doubles up to the cap and starts over after reset', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(b.failures).toBe(6);
    b.reset();
    expect(b.failures).toBe(0);
    expect(b.next()).toBe(100);
  });

  it('grows by the given factor', () => {
    const b = new Backoff({ initialMs: 10, maxMs: 1000, factor: 3 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([10, 30, 90, 270, 810]);
  });

  it('takes a random share off each delay, never more than the delay without jitter', () => {
    const draws = [0, 0.5, 0.999, 0.25];
    const b = new Backoff({ initialMs: 100, maxMs: 400, jitter: 0.5, random: () => draws.shift()! });
    expect([b.next(), b.next(), b.next(), b.next()]).toEqual([100, 150, 400 - 400 * 0.5 * 0.999, 350]);
  });

  it('full jitter spreads delays over [0, d]', () => {
    expect(backoffDelay(3, { initialMs: 2, maxMs: 50, jitter: 1, random: () => 0.5 })).toBe(4);
    expect(backoffDelay(30, { initialMs: 2, maxMs: 50, jitter: 1, random: () => 0 })).toBe(50);
  });

  it('stays at the cap after very many failures (no overflow)', () => {
    expect(backoffDelay(10_000, { initialMs: 250, maxMs: 5_000 })).toBe(5_000);
    expect(backoffDelay(0, { initialMs: 250, maxMs: 5_000 })).toBe(250);
  });

  it('refuses a policy that makes no sense, naming the field', () => {
    for (const [policy, field] of [
      [{ initialMs: -1, maxMs: 10 }, 'initialMs'],
      [{ initialMs: 100, maxMs: 10 }, 'maxMs'],
      [{ initialMs: 1, maxMs: 10, factor: 0.5 }, 'factor'],
      [{ initialMs: 1, maxMs: 10, jitter: 2 }, 'jitter'],
    ] as const) {
      try {
        new Backoff(policy);
        expect.unreachable();
      } catch (e) {
        expect(isDfError(e, 'BACKOFF_INVALID')).toBe(true);
        expect((e as { context: Record<string, unknown> }).context['field']).toBe(field);
      }
    }
  });
});
