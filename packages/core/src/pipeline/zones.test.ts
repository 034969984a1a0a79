import { describe, expect, it } from 'vitest';
import { allocatePipeline } from './allocator.js';
import { ZONE_BLOCKS, ZoneTable } from './zones.js';

describe('conntrack zones', () => {
  it('a scoped zone is the object key folded into its block: the same on every chassis and after a restart', () => {
    const a = new ZoneTable();
    const b = new ZoneTable();
    expect(a.zone('port', 1, 'sg')).toBe(1);
    expect(a.zone('network', 5, 'sg')).toBe(0x8000 + 4);
    expect(a.zone('router', 3, 'snat')).toBe(0xc000 + 2);
    // another chassis (or the same after a restart) gets the same numbers, in any order
    expect(b.zone('router', 3, 'snat')).toBe(0xc000 + 2);
    expect(b.zone('network', 5, 'sg')).toBe(0x8000 + 4);
    // keys beyond the block fold into it
    expect(a.zone('network', 0x4000 + 7, 'sg')).toBe(0x8000 + 6);
  });

  it('apps asking about the same object share its zone; it is freed when the last lets go', () => {
    const t = new ZoneTable();
    const z = t.zone('network', 9, 'sg');
    expect(t.zone('network', 9, 'snat')).toBe(z);
    t.release('network', 9, 'sg');
    expect(t.size).toBe(1);
    t.release('network', 9, 'snat');
    expect(t.size).toBe(0);
  });

  it('two objects folding to one zone on one chassis get different zones, and the collision is counted', () => {
    const t = new ZoneTable();
    const size = ZONE_BLOCKS.network.last - ZONE_BLOCKS.network.first + 1;
    const z1 = t.zone('network', 2, 'sg');
    const z2 = t.zone('network', 2 + size, 'sg');
    expect(z1).not.toBe(z2);
    expect(z2).toBe(z1 + 1);
    expect(t.collisions).toBe(1);
    expect(t.zone('network', 2 + size, 'sg')).toBe(z2);
  });

  it('zone 0 (the default zone) is never given out; blocks do not overlap', () => {
    const blocks = Object.values(ZONE_BLOCKS).sort((x, y) => x.first - y.first);
    expect(blocks[0]!.first).toBe(1);
    for (let i = 1; i < blocks.length; i++) expect(blocks[i]!.first).toBe(blocks[i - 1]!.last + 1);
    expect(blocks.at(-1)!.last).toBe(0xffff);
  });

  it('bad requests name what is wrong', () => {
    const t = new ZoneTable();
    expect(() => t.zone('network', 0, 'sg')).toThrow(/unique key \(an integer ≥ 1\), got 0/);
    expect(() => t.zone('bogus' as never, 1, 'sg')).toThrow(/not port, network or router/);
  });

  it('the allocator hands out declared shared zones in config order, and refuses duplicates', () => {
    const p = allocatePipeline([
      { app: 'a', zones: ['one', 'two'] },
      { app: 'b', zones: ['one'] },
    ]);
    expect(p.app('a').zones).toEqual({ one: 0xff00, two: 0xff01 });
    expect(p.app('b').zones).toEqual({ one: 0xff02 });
    expect(p.format()).toMatch(/a: no tables; zone one=65280, zone two=65281/);
    expect(() => allocatePipeline([{ app: 'a', zones: ['x', 'x'] }])).toThrow(/declares zone 'x' twice/);
    expect(() => allocatePipeline([{ app: 'a', zones: ['Bad'] }])).toThrow(/zone name 'Bad'/);
  });
});
