import { DfError } from '@dragonflow/base';

/** A field value under a mask: matches every v with (v & mask) === value. */
export interface MaskedValue {
  readonly value: number;
  readonly mask: number;
}

/**
 * The fewest value/mask pairs whose union is exactly [min, max] of a `bits`-wide
 * field (a TCP/UDP/SCTP port range as flow matches: OpenFlow has no range match).
 * Greedy from the low end: at each step the largest aligned power-of-two block that
 * starts there and stays in range. That is optimal (at most 2·(bits−1) pairs), so
 * 1–65535 is 16 pairs, 1024–65535 is 6, and a single port is one full-mask pair.
 */
export function rangeMasks(min: number, max: number, bits = 16): MaskedValue[] {
  const top = 2 ** bits - 1;
  for (const [name, v] of [['min', min], ['max', max]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > top) throw new DfError('SG_BAD_RANGE', `port range ${name} ${v} is not an integer 0..${top}`, { context: { min, max } });
  }
  if (min > max) throw new DfError('SG_BAD_RANGE', `port range ${min}-${max} is empty (min above max)`, { context: { min, max } });
  const out: MaskedValue[] = [];
  let lo = min;
  while (lo <= max) {
    // the block's size: the lowest set bit of lo (any size at 0), halved until it fits
    let size = lo === 0 ? 2 ** bits : lo & -lo;
    while (lo + size - 1 > max) size /= 2;
    out.push({ value: lo, mask: top - (size - 1) });
    lo += size;
  }
  return out;
}
