/**
 * Conjunctive matches on the FakeSwitch against Open vSwitch: the same conjunction
 * flows on both, packets traced through both (`ofproto/trace` on the real one), the
 * output ports compared. Needs root and Open vSwitch (./scripts/setup); never skips.
 */
import { act } from '@dragonflow/openflow';
import { ethernet, ipv4, tcp, udp, type EthernetFrame } from '@dragonflow/packet';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fm, sendBoth, startPair, tracePorts, type SwitchPair } from './pair.js';

const TCP = { eth_type: 0x0800, ip_proto: 6 } as const;
const UDP = { eth_type: 0x0800, ip_proto: 17 } as const;

let p: SwitchPair;

beforeAll(async () => {
  p = await startPair('cj', 0xc0c0n, 5);
  const errors = await sendBoth(p, [
    // conjunction 1, two clauses: source in {10.0.0.1, 10.0.0.2} and TCP port in {80, 443}
    fm({ tableId: 0, priority: 100, match: { eth_type: 0x0800, ipv4_src: '10.0.0.1' }, actions: [act.conjunction(1, 1, 2)] }),
    fm({ tableId: 0, priority: 100, match: { eth_type: 0x0800, ipv4_src: '10.0.0.2' }, actions: [act.conjunction(1, 1, 2)] }),
    fm({ tableId: 0, priority: 100, match: { ...TCP, tcp_dst: 80 }, actions: [act.conjunction(1, 2, 2)] }),
    fm({ tableId: 0, priority: 100, match: { ...TCP, tcp_dst: 443 }, actions: [act.conjunction(1, 2, 2)] }),
    fm({ tableId: 0, priority: 100, match: { conj_id: 1, eth_type: 0x0800 }, actions: [act.output(2)] }),
    // conjunction 2, three clauses: destination 10.0.1.0/24, UDP port 53, from port 1; one flow is in two conjunctions
    fm({ tableId: 0, priority: 90, match: { eth_type: 0x0800, ipv4_dst: '10.0.1.0/24' }, actions: [act.conjunction(2, 1, 3)] }),
    fm({ tableId: 0, priority: 90, match: { ...UDP, udp_dst: 53 }, actions: [act.conjunction(2, 2, 3)] }),
    fm({ tableId: 0, priority: 90, match: { in_port: 1 }, actions: [act.conjunction(2, 3, 3)] }),
    fm({ tableId: 0, priority: 90, match: { conj_id: 2, eth_type: 0x0800 }, actions: [act.output(5)] }),
    // an ordinary flow above the conjunction wins; the fallback below it catches the rest
    fm({ tableId: 0, priority: 200, match: { ...TCP, ipv4_src: '10.0.0.2', tcp_dst: 443 }, actions: [act.output(4)] }),
    fm({ tableId: 0, priority: 50, match: { eth_type: 0x0800 }, actions: [act.output(3)] }),
  ]);
  expect(errors).toEqual({ real: [], fake: [] });
}, 120_000);

afterAll(async () => {
  const problems = await p?.b.cleanup.run();
  expect(problems ?? []).toEqual([]);
});

const pkt = (src: string, dst: string, l4: ReturnType<typeof tcp> | ReturnType<typeof udp>): EthernetFrame =>
  ethernet({ src: 'fa:16:3e:00:00:01', dst: 'fa:16:3e:00:00:02', payload: ipv4({ src, dst, payload: l4 }) });

const CASES: { name: string; frame: EthernetFrame; inPort: number; expected: number[] }[] = [
  { name: 'two clauses met (10.0.0.1, port 80): the conj_id=1 flow', frame: pkt('10.0.0.1', '10.0.9.9', tcp({ srcPort: 5000, dstPort: 80 })), inPort: 1, expected: [2] },
  { name: 'two clauses met by the other flows of each clause (10.0.0.2, port 80)', frame: pkt('10.0.0.2', '10.0.9.9', tcp({ srcPort: 5000, dstPort: 80 })), inPort: 3, expected: [2] },
  { name: 'only the first clause: the ordinary fallback', frame: pkt('10.0.0.1', '10.0.9.9', tcp({ srcPort: 5000, dstPort: 22 })), inPort: 2, expected: [3] },
  { name: 'only the second clause: the ordinary fallback', frame: pkt('10.0.0.3', '10.0.9.9', tcp({ srcPort: 5000, dstPort: 443 })), inPort: 2, expected: [3] },
  { name: 'a higher-priority ordinary flow beats a met conjunction', frame: pkt('10.0.0.2', '10.0.9.9', tcp({ srcPort: 5000, dstPort: 443 })), inPort: 3, expected: [4] },
  { name: 'three clauses met: the conj_id=2 flow', frame: pkt('10.0.0.7', '10.0.1.5', udp({ srcPort: 5000, dstPort: 53 })), inPort: 1, expected: [5] },
  { name: 'two of three clauses (wrong in_port): the fallback', frame: pkt('10.0.0.7', '10.0.1.5', udp({ srcPort: 5000, dstPort: 53 })), inPort: 2, expected: [3] },
  { name: 'two of three clauses (wrong port): the fallback', frame: pkt('10.0.0.7', '10.0.1.5', udp({ srcPort: 5000, dstPort: 54 })), inPort: 1, expected: [3] },
];

describe('conjunctive matches: FakeSwitch against Open vSwitch', () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const { real, fake, text } = await tracePorts(p, c.frame, c.inPort);
      expect(real, text).toEqual(c.expected);
      expect(fake, text).toEqual(real);
    });
  }
});
