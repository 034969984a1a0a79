import { describe, expect, it } from 'vitest';
import { rangeMasks } from './ranges.js';

/** Every port a set of pairs matches, by brute force over the whole field. */
function covered(pairs: { value: number; mask: number }[], bits = 16): number[] {
  const out: number[] = [];
  for (let v = 0; v < 2 ** bits; v++) if (pairs.some((p) => (v & p.mask) === p.value)) out.push(v);
  return out;
}

describe('rangeMasks', () => {
  it('gives one exact pair for a single port', () => {
    expect(rangeMasks(22, 22)).toEqual([{ value: 22, mask: 0xffff }]);
  });

  it('gives one wildcard pair for the whole field and aligned blocks for aligned ranges', () => {
    expect(rangeMasks(0, 65535)).toEqual([{ value: 0, mask: 0 }]);
    expect(rangeMasks(1024, 2047)).toEqual([{ value: 1024, mask: 0xfc00 }]);
    expect(rangeMasks(8000, 8001)).toEqual([{ value: 8000, mask: 0xfffe }]);
  });

  it('covers exactly the range, with the known optimal counts', () => {
    for (const [min, max, count] of [
      [1, 65535, 16],
      [1024, 65535, 6],
      [8000, 8080, 3],
      [1, 1, 1],
      [32767, 32768, 2],
      [0, 0, 1],
    ] as const) {
      const pairs = rangeMasks(min, max);
      expect(pairs, `${min}-${max}`).toHaveLength(count);
      const want = Array.from({ length: max - min + 1 }, (_, i) => min + i);
      expect(covered(pairs)).toEqual(want);
    }
  });

  it('covers exactly every range of a small field, never with more than 2·(bits−1) pairs', () => {
    const bits = 6;
    for (let min = 0; min < 64; min++) {
      for (let max = min; max < 64; max++) {
        const pairs = rangeMasks(min, max, bits);
        expect(pairs.length).toBeLessThanOrEqual(2 * (bits - 1));
        expect(covered(pairs, bits)).toEqual(Array.from({ length: max - min + 1 }, (_, i) => min + i));
      }
    }
  });

  it('refuses an empty or out-of-field range, naming it', () => {
    expect(() => rangeMasks(10, 9)).toThrow(/10-9 is empty/);
    expect(() => rangeMasks(0, 65536)).toThrow(/max 65536/);
    expect(() => rangeMasks(1.5, 2)).toThrow(/min 1.5/);
  });
});
