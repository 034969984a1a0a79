/**
 * When a router sends its next unsolicited advertisement (RFC 4861 §6.2.4): a delay
 * drawn uniformly between MinRtrAdvInterval and MaxRtrAdvInterval, so that routers
 * (and here, ports) that started together drift apart; the first
 * MAX_INITIAL_RTR_ADVERTISEMENTS (3) are at most MAX_INITIAL_RTR_ADVERT_INTERVAL
 * (16 s) apart, so a host that missed the first one configures quickly.
 */
export const MAX_INITIAL_RTR_ADVERTISEMENTS = 3;
export const MAX_INITIAL_RTR_ADVERT_INTERVAL_S = 16;

export interface AdvertIntervals {
  readonly minIntervalSeconds: number;
  readonly maxIntervalSeconds: number;
}

/** The delay in ms before the next advertisement, `sent` having gone out already; `random` in [0, 1). */
export function nextAdvertDelay(sent: number, intervals: AdvertIntervals, random: number): number {
  const { minIntervalSeconds: min, maxIntervalSeconds: max } = intervals;
  const seconds = min + random * (max - min);
  const capped = sent < MAX_INITIAL_RTR_ADVERTISEMENTS ? Math.min(seconds, MAX_INITIAL_RTR_ADVERT_INTERVAL_S) : seconds;
  return Math.round(capped * 1000);
}
