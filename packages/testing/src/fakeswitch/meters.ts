import { MeterFlags, type MeterBand, type MeterConfig } from '@dragonflow/openflow';

/** One band's token bucket (milli-packets for pktps, bits for kbps) and counters. */
interface BandState {
  readonly band: MeterBand;
  /** The bucket's capacity: burst_size (the rate when no burst was given) × 1000. */
  readonly capacity: number;
  bucket: number;
  packets: bigint;
  bytes: bigint;
}

/** A meter's counters, as meter-stats would report them. */
export interface MeterCounters {
  readonly packetsIn: bigint;
  readonly bytesIn: bigint;
  /** Per band: packets and bytes over the band (dropped). */
  readonly bands: readonly { readonly packets: bigint; readonly bytes: bigint }[];
}

/**
 * An OpenFlow meter as Open vSwitch's userspace datapath runs it: each drop band is a
 * token bucket that starts full, refills at its rate on the switch clock, and drops
 * a packet it cannot pay for (1 packet, or the frame's bits).
 */
export class Meter {
  private bands: BandState[];
  private last: number;
  private packetsIn = 0n;
  private bytesIn = 0n;

  constructor(
    readonly meterId: number,
    readonly flags: number,
    readonly config: readonly MeterBand[],
    now: number,
  ) {
    this.bands = config.map((band) => {
      const capacity = (band.burstSize || band.rate) * 1000;
      return { band, capacity, bucket: capacity, packets: 0n, bytes: 0n };
    });
    this.last = now;
  }

  get pktps(): boolean {
    return (this.flags & MeterFlags.PKTPS) !== 0;
  }

  describe(): MeterConfig {
    return { flags: this.flags, meterId: this.meterId, bands: this.config };
  }

  counters(): MeterCounters {
    return { packetsIn: this.packetsIn, bytesIn: this.bytesIn, bands: this.bands.map((b) => ({ packets: b.packets, bytes: b.bytes })) };
  }

  /**
   * Whether a packet of `bytes` passes now; `live` pays for it and counts it, a dry
   * run (a trace) only looks. Returns the rate of the band that dropped it, if one did.
   */
  offer(bytes: number, now: number, live: boolean): { dropped: boolean; band?: MeterBand } {
    const elapsed = Math.max(0, now - this.last);
    const cost = this.pktps ? 1000 : bytes * 8;
    let hit: BandState | undefined;
    const levels = this.bands.map((b) => Math.min(b.capacity, b.bucket + elapsed * b.band.rate));
    this.bands.forEach((b, i) => {
      // the band with the highest rate among those exceeded applies
      if (levels[i]! < cost && (!hit || b.band.rate > hit.band.rate)) hit = b;
    });
    if (live) {
      this.last = now;
      this.packetsIn++;
      this.bytesIn += BigInt(bytes);
      this.bands.forEach((b, i) => {
        b.bucket = levels[i]! >= cost ? levels[i]! - cost : levels[i]!;
      });
      if (hit) {
        hit.packets++;
        hit.bytes += BigInt(bytes);
      }
    }
    return hit ? { dropped: hit.band.type === 'drop', band: hit.band } : { dropped: false };
  }
}
