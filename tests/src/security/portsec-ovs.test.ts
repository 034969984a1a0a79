/**
 * The port-security flows on Open vSwitch, against the FakeSwitch: the app's own
 * flow builders (`sharedFlows`, `portFlows`) installed on both switches behind a
 * stand-in classify table, then every kind of packet the app tests use traced
 * through both (`ofproto/trace` on the real one) and the outcome compared — so what
 * the FakeSwitch tests prove (a missing NA link-layer option matching all-zero, the
 * ARP probe, DAD, masks of pairs, the RA and DHCP server drops) holds on OVS.
 * Needs root and Open vSwitch (./scripts/setup); never skips.
 */
import { portFacts, portFlows, portsecPipeline, sharedFlows } from '@dragonflow/app-portsec';
import type { AppTables, LogicalPort } from '@dragonflow/core';
import { act } from '@dragonflow/openflow';
import { arp, encodeEthernet, ethernet, icmpEchoRequest, icmpv6Echo, ip6, ipv4, ipv6, mac, neighborSolicitation, udp, type EthernetFrame } from '@dragonflow/packet';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fm, sendBoth, startPair, tracePorts, type SwitchPair } from '../fakeswitch/pair.js';

const M1 = 'fa:16:3e:00:00:01';
const M2 = 'fa:16:3e:00:00:02';
const VIP = 'fa:16:3e:00:00:aa';
const OTHER = 'fa:16:3e:00:00:09';
const LL1 = 'fe80::f816:3eff:fe00:1';
/** Where whatever gets through leaves. */
const SINK = 2;
/** A tunnel's stand-in: classified without a source port. */
const TUNNEL = 3;

/** The app's four tables at 1..4, the sink at 5 (what the allocator would hand out with nothing else loaded). */
const TABLES = { port: 1, address: 2, 'nd-target': 3, 'nd-lla': 4 } as Record<string, number>;
const tables = {
  ref: (name: string) => ({ id: TABLES[name]!, qualifiedName: `portsec.${name}` }),
  next: (name: string) => TABLES[name]! + 1,
} as unknown as AppTables;

const port = (key: number, macAddress: string, ips: string[], pairs: LogicalPort['allowedAddressPairs'] = []): LogicalPort =>
  ({ id: `p${key}`, key, macAddress, fixedIps: ips.map((ipAddress) => ({ subnetId: 's', ipAddress })), allowedAddressPairs: pairs, portSecurityEnabled: true, deviceOwner: 'compute:nova' }) as LogicalPort;

let p: SwitchPair;

beforeAll(async () => {
  p = await startPair('ps', 0x5ec0n, 4);
  const pipe = portsecPipeline(tables);
  const vm1 = portFacts(port(7, M1, ['10.0.0.11', 'fd00::11']));
  const vm2 = portFacts(port(8, M2, ['10.0.0.12'], [{ ipAddress: '10.0.0.100', macAddress: VIP }, { ipAddress: 'fd00:5::/64', macAddress: null }]));
  const app = [...sharedFlows(pipe), ...portFlows(pipe, vm1), ...portFlows(pipe, vm2)];
  const errors = await sendBoth(p, [
    // The stand-in classify: VM ports set their source port key, the tunnel none; on to the app's first table.
    ...[[1, 7], [4, 8], [TUNNEL, 0]].map(([inPort, key]) =>
      fm({ tableId: 0, priority: 100, match: { in_port: inPort }, instructions: [{ type: 'apply_actions', actions: key ? [act.setField('reg6', key)] : [] }, { type: 'goto_table', tableId: 1 }] }),
    ),
    ...[0, 1, 2, 3, 4].map((t) => fm({ tableId: t, priority: 0, instructions: [{ type: 'goto_table', tableId: t + 1 }] })),
    fm({ tableId: 5, priority: 0, actions: [act.output(SINK)] }),
    ...app.map((f) => fm({ tableId: f.table, priority: f.priority, match: f.match, instructions: f.instructions })),
  ]);
  expect(errors).toEqual({ real: [], fake: [] });
}, 120_000);

afterAll(async () => {
  const problems = await p?.b.cleanup.run();
  expect(problems ?? []).toEqual([]);
});

const ping4 = (src: string, ip: string) => ethernet({ src, dst: M2, payload: ipv4({ src: ip, dst: '10.0.0.12', payload: icmpEchoRequest({ id: 1, seq: 1 }) }) });
const ping6 = (src: string, ip: string) => ethernet({ src, dst: M2, payload: ipv6({ src: ip, dst: 'fd00::12', payload: icmpv6Echo({ id: 1, seq: 1 }) }) });
const arpOf = (src: string, sha: string, spa: string, tpa = '10.0.0.12') => ethernet({ src, dst: 'ff:ff:ff:ff:ff:ff', payload: arp({ op: 1, sha, spa, tpa }) });
const udp4 = (src: string, ip: string, sport: number, dport: number) => ethernet({ src, dst: 'ff:ff:ff:ff:ff:ff', payload: ipv4({ src: ip, dst: '255.255.255.255', payload: udp({ srcPort: sport, dstPort: dport, payload: 'x' }) }) });
const udp6 = (src: string, ip: string, sport: number, dport: number) => ethernet({ src, dst: '33:33:00:01:00:02', payload: ipv6({ src: ip, dst: 'ff02::1:2', payload: udp({ srcPort: sport, dstPort: dport, payload: 'x' }) }) });
const icmp6 = (src: string, ip: string, type: number, nd?: { target: string; tll?: string }) =>
  ethernet({
    src,
    dst: '33:33:00:00:00:01',
    payload: ipv6({ src: ip, dst: 'ff02::1', hopLimit: 255, payload: { kind: 'icmpv6', type, code: 0, body: new Uint8Array(type === 134 ? 12 : 0), ...(nd ? { nd: { target: ip6(nd.target), flags: 0x20000000, ...(nd.tll ? { tll: mac(nd.tll) } : {}) } } : {}) } }),
  });
const raw = (src: string) => ethernet({ src, dst: 'ff:ff:ff:ff:ff:ff', payload: { kind: 'raw', etherType: 0x88cc, data: new Uint8Array(46) } });

const PASS = [SINK];
const DROP: number[] = [];
const CASES: { name: string; frame: EthernetFrame; inPort: number; expected: number[] }[] = [
  { name: 'IPv4 from its own MAC and IP', frame: ping4(M1, '10.0.0.11'), inPort: 1, expected: PASS },
  { name: 'IPv4 from a foreign IP', frame: ping4(M1, '10.0.0.99'), inPort: 1, expected: DROP },
  { name: 'IPv4 from a foreign MAC', frame: ping4(OTHER, '10.0.0.11'), inPort: 1, expected: DROP },
  { name: 'ARP with its own sender', frame: arpOf(M1, M1, '10.0.0.11'), inPort: 1, expected: PASS },
  { name: 'ARP with a foreign sender IP (gratuitous)', frame: arpOf(M1, M1, '10.0.0.1', '10.0.0.1'), inPort: 1, expected: DROP },
  { name: 'ARP with a foreign sender MAC', frame: arpOf(M1, OTHER, '10.0.0.11'), inPort: 1, expected: DROP },
  { name: 'ARP probe', frame: arpOf(M1, M1, '0.0.0.0', '10.0.0.11'), inPort: 1, expected: PASS },
  { name: 'ARP probe with a foreign sender MAC', frame: arpOf(M1, OTHER, '0.0.0.0', '10.0.0.11'), inPort: 1, expected: DROP },
  { name: 'DHCP client from 0.0.0.0', frame: udp4(M1, '0.0.0.0', 68, 67), inPort: 1, expected: PASS },
  { name: 'DHCP server packet from its own address', frame: udp4(M1, '10.0.0.11', 67, 68), inPort: 1, expected: DROP },
  { name: 'other UDP from 0.0.0.0', frame: udp4(M1, '0.0.0.0', 5000, 67), inPort: 1, expected: DROP },
  { name: 'IPv6 from its fixed address', frame: ping6(M1, 'fd00::11'), inPort: 1, expected: PASS },
  { name: 'IPv6 from its link-local address', frame: ping6(M1, LL1), inPort: 1, expected: PASS },
  { name: 'IPv6 from a foreign address', frame: ping6(M1, 'fd00::12'), inPort: 1, expected: DROP },
  { name: 'NA for its own target with its link-layer option', frame: icmp6(M1, 'fd00::11', 136, { target: 'fd00::11', tll: M1 }), inPort: 1, expected: PASS },
  { name: 'NA for its own target without a link-layer option', frame: icmp6(M1, LL1, 136, { target: LL1 }), inPort: 1, expected: PASS },
  { name: 'NA for a foreign target', frame: icmp6(M1, 'fd00::11', 136, { target: 'fd00::12', tll: M1 }), inPort: 1, expected: DROP },
  { name: 'NA for a foreign target without a link-layer option', frame: icmp6(M1, 'fd00::11', 136, { target: 'fd00::1' }), inPort: 1, expected: DROP },
  { name: 'NA with a foreign link-layer option', frame: icmp6(M1, 'fd00::11', 136, { target: 'fd00::11', tll: OTHER }), inPort: 1, expected: DROP },
  { name: 'DAD: NS from ::', frame: neighborSolicitation({ srcMac: M1, srcIp: '::', targetIp: 'fd00::11' }), inPort: 1, expected: PASS },
  { name: 'an echo from ::', frame: ping6(M1, '::'), inPort: 1, expected: DROP },
  { name: 'a router advertisement', frame: icmp6(M1, LL1, 134), inPort: 1, expected: DROP },
  { name: 'DHCPv6 client', frame: udp6(M1, LL1, 546, 547), inPort: 1, expected: PASS },
  { name: 'DHCPv6 server', frame: udp6(M1, LL1, 547, 546), inPort: 1, expected: DROP },
  { name: 'another ethertype', frame: raw(M1), inPort: 1, expected: DROP },
  { name: 'pair with its own MAC: its IP from its MAC', frame: ping4(VIP, '10.0.0.100'), inPort: 4, expected: PASS },
  { name: "pair with its own MAC: its IP from the port's MAC", frame: ping4(M2, '10.0.0.100'), inPort: 4, expected: DROP },
  { name: "pair with its own MAC: the port's IP from the pair's MAC", frame: ping4(VIP, '10.0.0.12'), inPort: 4, expected: DROP },
  { name: 'pair with its own MAC: its ARP', frame: arpOf(VIP, VIP, '10.0.0.100', '10.0.0.100'), inPort: 4, expected: PASS },
  { name: 'IPv6 CIDR pair: an address inside', frame: ping6(M2, 'fd00:5::beef'), inPort: 4, expected: PASS },
  { name: 'IPv6 CIDR pair: an address outside', frame: ping6(M2, 'fd00:6::beef'), inPort: 4, expected: DROP },
  { name: 'IPv6 CIDR pair: NA for an address inside', frame: icmp6(M2, 'fd00:5::1', 136, { target: 'fd00:5::1', tll: M2 }), inPort: 4, expected: PASS },
  { name: 'from a tunnel (no source port): not checked', frame: ping4(OTHER, '10.9.9.9'), inPort: TUNNEL, expected: PASS },
];

describe('port security flows: FakeSwitch against Open vSwitch', () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const { real, fake, text } = await tracePorts(p, c.frame, c.inPort);
      expect(real, `${text}\n${Buffer.from(encodeEthernet(c.frame)).toString('hex')}`).toEqual(c.expected);
      expect(fake, text).toEqual(real);
    });
  }
});
