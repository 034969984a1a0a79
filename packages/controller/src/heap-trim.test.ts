import { ManualClock } from '@dragonflow/base';
import { describe, expect, it } from 'vitest';
import { HeapTrim, fullGc } from './heap-trim.js';

/** A HeapTrim over a pretend heap: `allocate` grows it, a collection brings it back to `live`. */
function setup(minGrowthBytes = 100) {
  const clock = new ManualClock();
  let used = 50;
  const live = 50;
  let collections = 0;
  let busy = false;
  const trim = new HeapTrim({
    clock,
    quietMs: 500,
    minGrowthBytes,
    heapUsed: () => used,
    idle: () => !busy,
    collect: () => {
      // A collection while the controller works would stall a bulk.
      expect(busy).toBe(false);
      collections++;
      used = live;
    },
  });
  return { clock, trim, allocate: (n: number) => (used += n), collections: () => collections, setBusy: (b: boolean) => (busy = b) };
}

describe('HeapTrim', () => {
  it('collects once after a burst, when nothing new has been confirmed for the quiet period', () => {
    const { clock, trim, allocate, collections } = setup();
    allocate(600);
    trim.synced();
    clock.advance(300);
    allocate(400);
    trim.synced(); // a later revision of the same burst restarts the quiet period
    clock.advance(300);
    expect(collections()).toBe(0);
    clock.advance(200);
    expect(collections()).toBe(1);
    clock.advance(10_000);
    expect(collections()).toBe(1);
  });

  it('collects again when what followed the burst grew the heap again (status writes, their echoes)', () => {
    const { clock, trim, allocate, collections } = setup();
    allocate(500);
    trim.synced();
    clock.advance(500);
    allocate(300);
    trim.synced();
    clock.advance(500);
    expect(collections()).toBe(2);
  });

  it('leaves small changes to V8, counting their growth toward the next collection', () => {
    const { clock, trim, allocate, collections } = setup();
    for (let k = 0; k < 3; k++) {
      allocate(40);
      trim.synced();
      clock.advance(1000);
    }
    expect(collections()).toBe(1); // 120 since the start: the third change made it worth one
    allocate(40);
    trim.synced();
    clock.advance(1000);
    expect(collections()).toBe(1);
  });

  it('never collects while a bulk is being worked on, however long it takes, and collects once it is confirmed', () => {
    const { clock, trim, allocate, collections, setBusy } = setup();
    allocate(30);
    trim.synced(); // the revision before the bulk arms the quiet period
    setBusy(true); // the bulk's change arrives: apps computing, flows being sent
    for (let t = 0; t < 20; t++) {
      allocate(100);
      clock.advance(250);
    }
    expect(collections()).toBe(0);
    setBusy(false);
    trim.synced(); // the bulk is confirmed
    clock.advance(499);
    expect(collections()).toBe(0);
    clock.advance(1);
    expect(collections()).toBe(1);
  });

  it('waits for the controller to be idle when the quiet period ends busy without a new revision', () => {
    const { clock, trim, allocate, collections, setBusy } = setup();
    allocate(500);
    trim.synced();
    setBusy(true);
    clock.advance(2000);
    expect(collections()).toBe(0);
    setBusy(false); // idle again, no revision confirmed (say, the work changed no flow)
    clock.advance(500);
    expect(collections()).toBe(1);
  });

  it('does nothing once stopped', () => {
    const { clock, trim, allocate, collections, setBusy } = setup();
    allocate(1000);
    trim.synced();
    setBusy(true);
    clock.advance(600); // re-armed while busy
    setBusy(false);
    trim.stop();
    clock.advance(1000);
    expect(collections()).toBe(0);
  });
});

describe('fullGc', () => {
  it('frees what nothing refers to any more, and says how much heap it left', async () => {
    const ref = new WeakRef({ payload: new Array(1000).fill('x') });
    // A WeakRef's target is kept until the end of the turn that made it.
    await new Promise((resolve) => setImmediate(resolve));
    const c = fullGc();
    expect(ref.deref()).toBeUndefined();
    expect(c.heapUsedAfterMb).toBeLessThanOrEqual(c.heapUsedBeforeMb);
  });
});
