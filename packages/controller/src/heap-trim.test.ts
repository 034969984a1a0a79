import { ManualClock } from '@dragonflow/base';
import { describe, expect, it } from 'vitest';
import { HeapTrim, fullGc } from './heap-trim.js';

function setup(minFlowMods = 100) {
  const clock = new ManualClock();
  let sent = 0;
  let collections = 0;
  const trim = new HeapTrim({ clock, quietMs: 500, minFlowMods, flowMods: () => sent, collect: () => collections++ });
  return { clock, trim, send: (n: number) => (sent += n), collections: () => collections };
}

describe('HeapTrim', () => {
  it('collects once after a burst, when the switch has stayed in sync for the quiet period', () => {
    const { clock, trim, send, collections } = setup();
    send(600);
    trim.synced();
    clock.advance(300);
    send(400);
    trim.synced(); // a later revision of the same burst restarts the quiet period
    clock.advance(300);
    expect(collections()).toBe(0);
    clock.advance(200);
    expect(collections()).toBe(1);
    clock.advance(10_000);
    expect(collections()).toBe(1);
  });

  it('leaves small changes to V8, counting them toward the next burst', () => {
    const { clock, trim, send, collections } = setup();
    for (let k = 0; k < 3; k++) {
      send(40);
      trim.synced();
      clock.advance(1000);
    }
    expect(collections()).toBe(1); // 120 flow-mods since the start: the third change made a burst
    send(40);
    trim.synced();
    clock.advance(1000);
    expect(collections()).toBe(1);
  });

  it('does nothing once stopped', () => {
    const { clock, trim, send, collections } = setup();
    send(1000);
    trim.synced();
    trim.stop();
    clock.advance(1000);
    expect(collections()).toBe(0);
  });
});

describe('fullGc', () => {
  it('frees what nothing refers to any more', async () => {
    const ref = new WeakRef({ payload: new Array(1000).fill('x') });
    // A WeakRef's target is kept until the end of the turn that made it.
    await new Promise((resolve) => setImmediate(resolve));
    fullGc();
    expect(ref.deref()).toBeUndefined();
  });
});
