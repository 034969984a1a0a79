import { describe, expect, it } from 'vitest';
import { activeGatewayChassis, highestClaimEpoch, type LivenessOf } from './gateway.js';

const R = '00000000-0000-4000-8000-0000000000aa';
const A = '00000000-0000-4000-8000-000000000001';
const B = '00000000-0000-4000-8000-000000000002';
const C = '00000000-0000-4000-8000-000000000003';

/** Liveness records: the chassis listed are alive, each with the routers it holds. */
function live(records: Record<string, readonly string[]>): LivenessOf {
  return (id) => (id in records ? { activeGateways: [...records[id]!] } : undefined);
}

describe('activeGatewayChassis', () => {
  it('is the first live chassis in order of preference while none holds the router', () => {
    expect(activeGatewayChassis(R, { chassisIds: [A, B, C] }, live({ [A]: [], [B]: [], [C]: [] }))).toBe(A);
    expect(activeGatewayChassis(R, { chassisIds: [A, B, C] }, live({ [B]: [], [C]: [] }))).toBe(B);
    expect(activeGatewayChassis(R, { chassisIds: [A, B, C] }, live({ [C]: [] }))).toBe(C);
  });

  it('keeps the live chassis that took the router over when the preferred one comes back (no pre-emption)', () => {
    // A died, B took over (its record holds R); A is back with a fresh record
    expect(activeGatewayChassis(R, { chassisIds: [A, B] }, live({ [A]: [], [B]: [R] }))).toBe(B);
    // a claim on another router does not count
    expect(activeGatewayChassis(R, { chassisIds: [A, B] }, live({ [A]: [], [B]: ['00000000-0000-4000-8000-0000000000bb'] }))).toBe(A);
    // the holder dies in turn: the first live one again
    expect(activeGatewayChassis(R, { chassisIds: [A, B, C] }, live({ [A]: [], [C]: [] }))).toBe(A);
  });

  it('the claim with the highest epoch wins among live holders (a takeover on BFD evidence overrides the dead holder whose lease runs)', () => {
    const withEpochs = (records: Record<string, Record<string, number>>): LivenessOf => (id) => (id in records ? { activeGateways: Object.keys(records[id]!), gatewayEpochs: records[id]! } : undefined);
    expect(activeGatewayChassis(R, { chassisIds: [A, B] }, withEpochs({ [A]: { [R]: 0 }, [B]: { [R]: 1 } }))).toBe(B);
    expect(activeGatewayChassis(R, { chassisIds: [A, B, C] }, withEpochs({ [A]: { [R]: 3 }, [B]: { [R]: 2 }, [C]: {} }))).toBe(A);
    // equal epochs: the first in order of preference, as before
    expect(activeGatewayChassis(R, { chassisIds: [A, B] }, withEpochs({ [A]: { [R]: 1 }, [B]: { [R]: 1 } }))).toBe(A);
    expect(highestClaimEpoch(R, [A, B, C], withEpochs({ [A]: { [R]: 0 }, [B]: { [R]: 4 }, [C]: {} }))).toBe(4);
    expect(highestClaimEpoch(R, [A, B], withEpochs({ [A]: {}, [B]: {} }))).toBe(-1);
  });

  it('pre-emptive: the first live chassis wins, whoever holds the router', () => {
    expect(activeGatewayChassis(R, { chassisIds: [A, B], preempt: true }, live({ [A]: [], [B]: [R] }))).toBe(A);
    expect(activeGatewayChassis(R, { chassisIds: [A, B], preempt: true }, live({ [B]: [R] }))).toBe(B);
  });

  it('prefers the earlier chassis when two live ones hold the router, and ignores holders outside the list', () => {
    expect(activeGatewayChassis(R, { chassisIds: [A, B, C] }, live({ [A]: [], [B]: [R], [C]: [R] }))).toBe(B);
    expect(activeGatewayChassis(R, { chassisIds: [A, B] }, live({ [A]: [], [B]: [], [C]: [R] }))).toBe(A);
  });

  it('falls back to the first of the list when no gateway chassis is alive, and to none without a list', () => {
    expect(activeGatewayChassis(R, { chassisIds: [A, B] }, live({}))).toBe(A);
    expect(activeGatewayChassis(R, { chassisIds: [] }, live({ [A]: [] }))).toBeUndefined();
  });
});
