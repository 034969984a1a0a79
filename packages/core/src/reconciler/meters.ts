import { DfError } from '@dragonflow/base';
import { MeterFlags, type MeterBand, type MeterConfig } from '@dragonflow/openflow';

/**
 * A meter an app wants; `meterId` is the app-local id (1..2^24-1, see
 * `switchMeterId`). Build one with `meter.pktps(...)` / `meter.kbps(...)`.
 */
export interface DesiredMeter {
  readonly meterId: number;
  /** OFPMF_* bits: KBPS or PKTPS, BURST when the bands have a burst size, STATS. */
  readonly flags: number;
  readonly bands: readonly MeterBand[];
}

/** Highest meter id a switch accepts for a regular meter (OFPM_MAX); the ids above are virtual meters. */
const OFPM_MAX = 0xffff_0000;

/**
 * Meters apps use carry their cookie slot in the top 8 bits of the id, like groups,
 * so two apps never share a meter id and a meter on the switch names its app.
 */
export function switchMeterId(slot: number, localId: number): number {
  if (!Number.isInteger(localId) || localId < 1 || localId > 0xffffff) throw new DfError('METER_INVALID', `meter id ${localId} must be 1..16777215`, { context: { meterId: localId } });
  const id = ((slot << 24) | localId) >>> 0;
  if (id > OFPM_MAX) throw new DfError('METER_INVALID', `meter id ${localId} of app slot ${slot} is past OFPM_MAX`, { context: { meterId: localId, slot } });
  return id;
}

const UNIT_FLAGS = MeterFlags.KBPS | MeterFlags.PKTPS | MeterFlags.BURST | MeterFlags.STATS;

/**
 * What a meter does, canonical: equal keys need no meter-mod. A band's burst size
 * only counts with OFPMF_BURST (the switch ignores it otherwise).
 */
export function meterKey(m: Pick<MeterConfig, 'flags' | 'bands'>): string {
  const burst = (m.flags & MeterFlags.BURST) !== 0;
  const bands = m.bands.map((b) => {
    const extra = b.type === 'dscp_remark' ? `:${b.precLevel}` : b.type === 'experimenter' ? `:${b.experimenter}` : '';
    return `${b.type}:${b.rate}:${burst ? b.burstSize : 0}${extra}`;
  });
  return `${m.flags & UNIT_FLAGS}|${bands.join('|')}`;
}

export interface MeterRate {
  /** Packets (pktps) or kilobits (kbps) per second; above it packets are dropped. */
  readonly rate: number;
  /** Burst size in packets (pktps) or kilobits (kbps); omitted: the switch's default. */
  readonly burst?: number;
  /** Ask the switch to keep per-meter counters. */
  readonly stats?: boolean;
}

function dropMeter(unit: number, meterId: number, spec: MeterRate): DesiredMeter {
  const { rate, burst } = spec;
  if (!Number.isInteger(rate) || rate < 1 || rate > 0xffff_ffff) throw new DfError('METER_INVALID', `meter ${meterId}: rate ${rate} must be an integer 1..2^32-1`, { context: { meterId, rate } });
  if (burst !== undefined && (!Number.isInteger(burst) || burst < 0 || burst > 0xffff_ffff)) throw new DfError('METER_INVALID', `meter ${meterId}: burst ${burst} must be an integer 0..2^32-1`, { context: { meterId, burst } });
  const flags = unit | (burst !== undefined ? MeterFlags.BURST : 0) | (spec.stats ? MeterFlags.STATS : 0);
  return { meterId, flags, bands: [{ type: 'drop', rate, burstSize: burst ?? 0 }] };
}

/**
 * Meter builders: one drop band. `meter.pktps(1, { rate: 100, burst: 50 })` drops
 * what exceeds 100 packets/s (bursts of 50 allowed); use it in a flow with
 * `flow(t, { meter: ctx.flows.meterId(1), ... })` and hand the meter over with the
 * flows (`ctx.flows.replace(owner, flows, [m])`).
 */
export const meter = {
  pktps: (meterId: number, spec: MeterRate): DesiredMeter => dropMeter(MeterFlags.PKTPS, meterId, spec),
  kbps: (meterId: number, spec: MeterRate): DesiredMeter => dropMeter(MeterFlags.KBPS, meterId, spec),
};
