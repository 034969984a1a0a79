/**
 * Meters on the FakeSwitch against Open vSwitch's userspace datapath: the same meter
 * and flows on both, a burst of packets sent through both as packet-outs (the real
 * datapath meters them), what reaches the controller compared; meter-mod errors and
 * the meter-config read-back compared. Needs root and Open vSwitch; never skips.
 */
import { MeterFlags, act, errorCodeName, inst, type MeterBand } from '@dragonflow/openflow';
import type { SwitchRequest } from '@dragonflow/core/host';
import { ethernet, ipv4, udp, type EthernetFrame } from '@dragonflow/packet';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { fm, puntBurstBoth, resetBoth, sendBoth, startPair, type SwitchPair } from './pair.js';

let p: SwitchPair;

beforeAll(async () => {
  p = await startPair('mt', 0x3e7e7n, 2);
}, 120_000);

afterAll(async () => {
  const problems = await p?.b.cleanup.run();
  expect(problems ?? []).toEqual([]);
});

beforeEach(async () => {
  await resetBoth(p);
});

const meter = (meterId: number, flags: number, bands: MeterBand[], command: 'add' | 'modify' | 'delete' = 'add'): SwitchRequest => ({ type: 'meter_mod', command, flags, meterId, bands });
const drop = (rate: number, burstSize: number): MeterBand => ({ type: 'drop', rate, burstSize });
/** n UDP frames, each `size` bytes on the wire (60 when not given: the minimum frame, padded). */
const frames = (n: number, size = 60): EthernetFrame[] =>
  Array.from({ length: n }, (_, i) =>
    ethernet({ src: 'fa:16:3e:00:00:01', dst: 'fa:16:3e:00:00:02', payload: ipv4({ src: '10.0.0.1', dst: '10.0.0.2', payload: udp({ srcPort: 1000 + i, dstPort: 7, payload: new Uint8Array(Math.max(0, size - 42)) }) }) }),
  );
const metered = (meterId: number) => fm({ tableId: 0, priority: 10, cookie: 0x77n, match: { eth_type: 0x0800 }, instructions: [inst.meter(meterId), inst.apply(act.toController())] });

describe('meters: FakeSwitch against Open vSwitch', () => {
  test('a pktps meter passes its burst and drops the packets over the band', async () => {
    expect(await sendBoth(p, [meter(1, MeterFlags.PKTPS | MeterFlags.BURST, [drop(1, 2)]), metered(1)])).toEqual({ real: [], fake: [] });
    const { real, fake } = await puntBurstBoth(p, frames(6), 1);
    expect(real.length).toBe(2);
    expect(fake).toEqual(real);
    // the FakeSwitch counts what came in and what the band dropped
    expect(p.fake.meterCounters(1)).toMatchObject({ packetsIn: 6n, bands: [{ packets: 4n }] });
  });

  test('a kbps meter drops a packet whose bits the bucket cannot pay for', async () => {
    // 10 kbit of burst at 1 kbit/s: a 600-byte frame is 4,800 bits, so two pass and the
    // third would need 4.4 s of refill — no slower machine sends four frames that slowly
    expect(await sendBoth(p, [meter(2, MeterFlags.KBPS | MeterFlags.BURST, [drop(1, 10)]), metered(2)])).toEqual({ real: [], fake: [] });
    const { real, fake } = await puntBurstBoth(p, frames(4, 600), 1);
    expect(real.length).toBe(2);
    expect(fake).toEqual(real);
  });

  test('without a burst size the rate is the burst', async () => {
    // 2 pkt/s and no burst: two pass (the rate as burst), the third would need 0.5 s of refill
    expect(await sendBoth(p, [meter(3, MeterFlags.PKTPS, [drop(2, 0)]), metered(3)])).toEqual({ real: [], fake: [] });
    const { real, fake } = await puntBurstBoth(p, frames(6), 1);
    expect(real.length).toBe(2);
    expect(fake).toEqual(real);
  });

  test('meter-mod errors are the same: exists, unknown, a flow using an unknown meter (INVALID_METER)', async () => {
    const errors = await sendBoth(p, [
      meter(4, MeterFlags.PKTPS, [drop(10, 10)]),
      meter(4, MeterFlags.PKTPS, [drop(10, 10)]),
      meter(5, MeterFlags.PKTPS, [drop(10, 10)], 'modify'),
      metered(6),
      meter(4, MeterFlags.PKTPS, [drop(20, 5)], 'modify'),
    ]);
    expect(errors.real).toEqual(['1 OFPMMFC_METER_EXISTS', '2 OFPMMFC_UNKNOWN_METER', '3 OFPMMFC_INVALID_METER']);
    expect(errors.fake).toEqual(errors.real);
  });

  test('meter-config reads back the same meters from both', async () => {
    expect(await sendBoth(p, [meter(7, MeterFlags.PKTPS | MeterFlags.BURST, [drop(100, 50)]), meter(8, MeterFlags.KBPS, [drop(1000, 0)])])).toEqual({ real: [], fake: [] });
    const bodies = await p.b.conn.multipart({ kind: 'meter_config', meterId: 0xffffffff });
    const real = bodies.flatMap((b) => (b.kind === 'meter_config' ? b.meters : [])).sort((a, b) => a.meterId - b.meterId);
    const fake = p.fake.multipart({ kind: 'meter_config', meterId: 0xffffffff });
    expect('reply' in fake && fake.reply).toEqual({ kind: 'meter_config', meters: real });
    expect(real.map((m) => m.meterId)).toEqual([7, 8]);
    // a band without a burst size reads back with its rate as burst
    expect(real[1]!.bands[0]!.burstSize).toBe(1000);
  });

  test('deleting a meter deletes the flows that use it', async () => {
    expect(await sendBoth(p, [meter(9, MeterFlags.PKTPS, [drop(10, 10)]), metered(9), meter(9, 0, [], 'delete')])).toEqual({ real: [], fake: [] });
    expect((await p.b.channel.dumpFlows()).length).toBe(0);
    expect(p.fake.flowCount()).toBe(0);
  });

  test('an unknown meter in a meter-config request is an error on both', async () => {
    let realError = '';
    await p.b.conn.multipart({ kind: 'meter_config', meterId: 99 }).then(
      (bodies) => (realError = `no error: ${JSON.stringify(bodies)}`),
      (e: Error) => (realError = e.message),
    );
    const fake = p.fake.multipart({ kind: 'meter_config', meterId: 99 });
    const fakeName = 'error' in fake ? errorCodeName(fake.error.errorType, fake.error.code) : 'no error';
    expect(realError).toContain(fakeName);
  });
});
