/**
 * Conntrack and NAT on the FakeSwitch against Open vSwitch's userspace conntrack:
 * the same flows on both, the same packets sent through both as packet-outs (the
 * real datapath tracks them for real), and the packet-ins compared — table, cookie,
 * the frame byte for byte (NAT rewrites and checksums), and every ct_* field.
 * Needs root and Open vSwitch (./scripts/setup); never skips.
 */
import { Ipv4Address } from '@dragonflow/base';
import { CtState, act, inst, type Action, type NatAction } from '@dragonflow/openflow';
import { encodeEthernet, ethernet, icmp, icmpEchoReply, icmpEchoRequest, ipv4, ipv6, tcp, udp, type EthernetFrame } from '@dragonflow/packet';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { fm, puntBoth, resetBoth, sendBoth, startPair, type Punt, type SwitchPair } from './pair.js';

const A_MAC = 'fa:16:3e:00:00:01';
const B_MAC = 'fa:16:3e:00:00:02';
const A = '10.0.0.1';
const B = '10.0.0.2';
const ip = (s: string) => Ipv4Address.parse(s);

const frame = (from: 'A' | 'B', payload: Parameters<typeof ipv4>[0]['payload'], src = from === 'A' ? A : B, dst = from === 'A' ? B : A): EthernetFrame =>
  ethernet({ src: from === 'A' ? A_MAC : B_MAC, dst: from === 'A' ? B_MAC : A_MAC, payload: ipv4({ src, dst, payload }) });
const udpAB = (sport = 1000, dport = 53) => frame('A', udp({ srcPort: sport, dstPort: dport, payload: 'q' }));
const udpBA = (sport = 53, dport = 1000, dst = A) => frame('B', udp({ srcPort: sport, dstPort: dport, payload: 'r' }), B, dst);

const BITS = ['new', 'est', 'rel', 'rpl', 'inv', 'trk', 'snat', 'dnat'];
/** "+trk+est+rpl" for a punt's ct_state. */
function state(p: Punt | undefined): string {
  const v = Number(p?.ct['ct_state'] ?? 0);
  return BITS.filter((_, i) => v & (1 << i)).map((b) => `+${b}`).join('') || 'untracked';
}

interface Pipeline {
  zone?: number | Action;
  /** nat() of the commit (inside → outside connections). */
  commitNat?: NatAction;
  commitExec?: Action[];
  /** Extra flows of table 1, above the catch-all punt. */
  extra?: ReturnType<typeof fm>[];
}

/**
 * table 0: every IP packet → ct(zone, nat, table=1) (bare nat: an existing connection's NAT)
 * table 1: new from port 1 → ct(commit, zone, nat(...), exec(...), table=2); anything else tracked → controller (cookie 0x10)
 * table 2: → controller (cookie 0x20)
 */
function flows(p: Pipeline): ReturnType<typeof fm>[] {
  const zone = typeof p.zone === 'number' || p.zone === undefined ? (p.zone ?? 1) : undefined;
  const zoneOf = zone !== undefined ? { zone } : { zone: { field: 'reg6' as const, ofs: 0, nBits: 16 } };
  const pre: Action[] = typeof p.zone === 'object' ? [p.zone] : [];
  const commitActions = [...(p.commitNat ? [p.commitNat] : []), ...(p.commitExec ?? [])];
  return [
    fm({ tableId: 0, priority: 100, match: { eth_type: 0x0800 }, actions: [...pre, act.ct({ ...zoneOf, table: 1, actions: [act.nat()] })] }),
    fm({ tableId: 1, priority: 100, match: { eth_type: 0x0800, ct_state: [CtState.TRK | CtState.NEW, CtState.TRK | CtState.NEW], in_port: 1 }, actions: [act.ct({ commit: true, ...zoneOf, table: 2, ...(commitActions.length ? { actions: commitActions } : {}) })] }),
    ...(p.extra ?? []),
    fm({ tableId: 1, priority: 10, cookie: 0x10n, match: {}, actions: [act.toController()] }),
    fm({ tableId: 2, priority: 10, cookie: 0x20n, match: {}, actions: [act.toController()] }),
  ];
}

let p: SwitchPair;

beforeAll(async () => {
  p = await startPair('ct', 0xc7c7n, 3);
}, 120_000);

afterAll(async () => {
  const problems = await p?.b.cleanup.run();
  expect(problems ?? []).toEqual([]);
});

beforeEach(async () => {
  await resetBoth(p);
});

async function install(pipeline: Pipeline): Promise<void> {
  const errors = await sendBoth(p, flows(pipeline));
  expect(errors).toEqual({ real: [], fake: [] });
}

/** Sends the packets one after the other into both; asserts the punts agree; returns the real ones. */
async function run(...packets: [EthernetFrame, number][]): Promise<Punt[][]> {
  const out: Punt[][] = [];
  for (const [f, port] of packets) {
    const { real, fake } = await puntBoth(p, f, port);
    expect(fake, `packet ${out.length + 1} (in_port ${port})`).toEqual(real);
    out.push(real);
  }
  return out;
}

describe('conntrack: FakeSwitch against Open vSwitch', () => {
  test('UDP: commit, more packets one way stay new, the reply is est+rpl, then est both ways', async () => {
    await install({});
    const r = await run([udpAB(), 1], [udpAB(), 1], [udpBA(), 2], [udpAB(), 1]);
    expect(r.map((x) => x.map((y) => `${y.cookie} ${state(y)}`))).toEqual([['0x20 +new+trk'], ['0x20 +new+trk'], ['0x10 +est+rpl+trk'], ['0x10 +est+trk']]);
  });

  test('ICMP echo: the request is new, its reply est+rpl; an echo reply nobody asked for is invalid', async () => {
    await install({});
    const req = frame('A', icmpEchoRequest({ id: 7, seq: 1 }));
    const rep = frame('B', icmpEchoReply({ id: 7, seq: 1 }));
    const stray = frame('B', icmpEchoReply({ id: 99, seq: 1 }));
    const r = await run([req, 1], [rep, 2], [stray, 2]);
    expect(r.map((x) => state(x[0]))).toEqual(['+new+trk', '+est+rpl+trk', '+inv+trk']);
  });

  test('TCP: a SYN+ACK without a connection is invalid; a SYN opens one, the SYN+ACK back is est+rpl, then est both ways', async () => {
    await install({});
    const synAck = frame('B', tcp({ srcPort: 80, dstPort: 4000, flags: 0x12, seq: 1, ack: 1 }));
    const syn = frame('A', tcp({ srcPort: 4000, dstPort: 80, flags: 0x02, seq: 0 }));
    const ack = frame('A', tcp({ srcPort: 4000, dstPort: 80, flags: 0x10, seq: 1, ack: 2 }));
    const data = frame('B', tcp({ srcPort: 80, dstPort: 4000, flags: 0x18, seq: 2, ack: 1, payload: 'hello' }));
    const r = await run([synAck, 2], [syn, 1], [synAck, 2], [ack, 1], [data, 2]);
    expect(r.map((x) => state(x[0]))).toEqual(['+inv+trk', '+new+trk', '+est+rpl+trk', '+est+trk', '+est+rpl+trk']);
  });

  test('an ICMP error quoting a tracked connection is related (and in the reply direction)', async () => {
    await install({});
    const quoted = encodeEthernet(udpAB()).slice(14, 14 + 28);
    const unreachable = frame('B', icmp({ type: 3, code: 3, data: quoted }));
    const r = await run([udpAB(), 1], [unreachable, 2]);
    expect(state(r[1]![0])).toBe('+rel+rpl+trk');
  });

  test('zones isolate: a reply looked up in another zone than the commit is new there', async () => {
    await install({
      zone: 1,
      extra: [fm({ tableId: 1, priority: 200, match: { eth_type: 0x0800, in_port: 2, ct_state: [CtState.TRK, CtState.TRK], ct_zone: 1 }, actions: [act.ct({ zone: 2, table: 3 })] })],
    });
    await sendBoth(p, [fm({ tableId: 3, priority: 1, cookie: 0x30n, match: {}, actions: [act.toController()] })]);
    const r = await run([udpAB(), 1], [udpBA(), 2]);
    expect(r[1]!.map((x) => `${x.cookie} ${state(x)} zone ${x.ct['ct_zone']}`)).toEqual(['0x30 +new+trk zone 0x2']);
  });

  test('the zone can come from a register (ct(zone=reg6[0..15]))', async () => {
    await install({ zone: act.setField('reg6', 9) });
    const r = await run([udpAB(), 1], [udpBA(), 2]);
    expect(r.map((x) => `${state(x[0])} ${x[0]!.ct['ct_zone']}`)).toEqual(['+new+trk 0x9', '+est+rpl+trk 0x9']);
  });

  test('ct_mark and ct_label set at commit (exec) are matched on the reply', async () => {
    const label = 0xabcd_0000_0000_0000_0000_0000_0000_1234n;
    await install({
      commitExec: [act.setField('ct_mark', 0x42), act.setField('ct_label', label)],
      extra: [fm({ tableId: 1, priority: 50, cookie: 0x42n, match: { ct_state: [CtState.TRK | CtState.EST, CtState.TRK | CtState.EST], ct_mark: 0x42, ct_label: label }, actions: [act.toController()] })],
    });
    const r = await run([udpAB(), 1], [udpBA(), 2]);
    expect(r[1]!.map((x) => [x.cookie, x.ct['ct_mark'], x.ct['ct_label']])).toEqual([['0x42', '0x42', `0x${label.toString(16)}`]]);
  });

  test('ct_nw_src/dst, ct_nw_proto and ct_tp_src/dst hold the original direction, and can be matched', async () => {
    await install({
      commitNat: act.nat({ kind: 'src', addressMin: ip('192.168.9.9') }) as NatAction,
      extra: [
        fm({
          tableId: 1,
          priority: 60,
          cookie: 0x61n,
          match: { eth_type: 0x0800, ct_state: [CtState.TRK | CtState.EST, CtState.TRK | CtState.EST], ct_nw_src: A, ct_nw_dst: B, ct_nw_proto: 17, ct_tp_src: 1000, ct_tp_dst: 53 },
          actions: [act.toController()],
        }),
      ],
    });
    const r = await run([udpAB(), 1], [udpBA(53, 1000, '192.168.9.9'), 2]);
    expect(r[1]!.map((x) => x.cookie)).toEqual(['0x61']);
  });

  test('source NAT: the committed packet leaves from the NAT address, the reply is un-NATed back to A', async () => {
    await install({ commitNat: act.nat({ kind: 'src', addressMin: ip('192.168.9.9') }) as NatAction });
    const r = await run([udpAB(), 1], [udpBA(53, 1000, '192.168.9.9'), 2], [udpAB(), 1]);
    expect(r.map((x) => state(x[0]))).toEqual(['+new+trk+snat', '+est+rpl+trk+dnat', '+est+trk+snat']);
    expect(r[1]![0]!.frame).toBe(Buffer.from(encodeEthernet(udpBA(53, 1000, A))).toString('hex'));
  });

  test('destination NAT with a port, and the reply un-NATed to the address A asked for', async () => {
    await install({ commitNat: act.nat({ kind: 'dst', addressMin: ip('10.0.0.50'), portMin: 8053 }) as NatAction });
    const back = frame('B', udp({ srcPort: 8053, dstPort: 1000, payload: 'r' }), '10.0.0.50', A);
    const r = await run([udpAB(), 1], [back, 2]);
    expect(r.map((x) => state(x[0]))).toEqual(['+new+trk+dnat', '+est+rpl+trk+snat']);
    expect(r[1]![0]!.frame).toBe(Buffer.from(encodeEthernet(udpBA(53, 1000, A))).toString('hex'));
  });

  test('a NAT port range: both pick a port inside it, and the reply to the picked port reaches A', async () => {
    await install({ commitNat: act.nat({ kind: 'src', addressMin: ip('192.168.9.9'), portMin: 5000, portMax: 5009 }) as NatAction });
    // Open vSwitch starts from a hash of the tuple, so the two may pick different ports
    const first = await puntBoth(p, udpAB(), 1);
    // the UDP source port: 14 bytes of Ethernet and 20 of IPv4 in, as hex digits
    const portOf = (x: Punt) => parseInt(x.frame.slice(68, 72), 16);
    const realPort = portOf(first.real[0]!);
    const fakePort = portOf(first.fake[0]!);
    expect(realPort).toBeGreaterThanOrEqual(5000);
    expect(realPort).toBeLessThanOrEqual(5009);
    expect(fakePort).toBeGreaterThanOrEqual(5000);
    expect(fakePort).toBeLessThanOrEqual(5009);
    expect({ ...first.fake[0]!, frame: '' }).toEqual({ ...first.real[0]!, frame: '' });
    const realBack = await puntBoth(p, udpBA(53, realPort, '192.168.9.9'), 2);
    const fakeBack = await puntBoth(p, udpBA(53, fakePort, '192.168.9.9'), 2);
    expect(realBack.real[0]!.frame).toBe(Buffer.from(encodeEthernet(udpBA(53, 1000, A))).toString('hex'));
    expect(fakeBack.fake[0]).toEqual(realBack.real[0]);
  });

  test('an ICMP error for a source-NATed connection: the outer address and the quoted header are un-NATed', async () => {
    await install({ commitNat: act.nat({ kind: 'src', addressMin: ip('192.168.9.9') }) as NatAction });
    const natted = udpAB();
    if (natted.payload.kind === 'ipv4') natted.payload.src = ip('192.168.9.9');
    const quoted = encodeEthernet(natted).slice(14, 14 + 28);
    const unreachable = frame('B', icmp({ type: 3, code: 3, data: quoted }), B, '192.168.9.9');
    const r = await run([udpAB(), 1], [unreachable, 2]);
    expect(state(r[1]![0])).toBe('+rel+rpl+trk+dnat');
  });

  test('ct_clear: the packet is untracked again', async () => {
    await install({
      extra: [fm({ tableId: 1, priority: 300, match: { in_port: 2 }, actions: [act.ctClear(), act.resubmit(4)] })],
    });
    await sendBoth(p, [
      fm({ tableId: 4, priority: 5, cookie: 0x40n, match: { ct_state: [0, CtState.TRK] }, actions: [act.toController()] }),
      fm({ tableId: 4, priority: 1, cookie: 0x41n, match: {}, actions: [act.toController()] }),
    ]);
    const r = await run([udpAB(), 1], [udpBA(), 2]);
    expect(r[1]!.map((x) => `${x.cookie} ${state(x)}`)).toEqual(['0x40 untracked']);
  });

  test('ct without a table: the connection is committed, the packet goes on untracked', async () => {
    await sendBoth(p, [
      fm({ tableId: 0, priority: 100, match: { eth_type: 0x0800, in_port: 1 }, actions: [act.ct({ commit: true, zone: 3 }), act.resubmit(5)] }),
      fm({ tableId: 0, priority: 100, match: { eth_type: 0x0800, in_port: 2 }, actions: [act.ct({ zone: 3, table: 5 })] }),
      fm({ tableId: 5, priority: 1, cookie: 0x50n, match: {}, actions: [act.toController()] }),
    ]);
    const r = await run([udpAB(), 1], [udpBA(), 2]);
    expect(r.map((x) => state(x[0]))).toEqual(['untracked', '+est+rpl+trk']);
  });

  test('force: a packet committed with force against a connection seen the other way starts a new one', async () => {
    await sendBoth(p, [
      fm({ tableId: 0, priority: 100, match: { eth_type: 0x0800, in_port: 1 }, actions: [act.ct({ commit: true, zone: 4, table: 6 })] }),
      fm({ tableId: 0, priority: 100, match: { eth_type: 0x0800, in_port: 2 }, actions: [act.ct({ commit: true, force: true, zone: 4, table: 6 })] }),
      fm({ tableId: 6, priority: 1, cookie: 0x60n, match: {}, actions: [act.toController()] }),
    ]);
    const r = await run([udpAB(), 1], [udpBA(), 2], [udpAB(), 1]);
    expect(r.map((x) => state(x[0]))).toEqual(['+new+trk', '+new+trk', '+est+rpl+trk']);
  });

  test('recirculating into the same table: the untracked flow sends it through conntrack, the tracked ones decide', async () => {
    await sendBoth(p, [
      fm({ tableId: 0, priority: 100, match: { eth_type: 0x0800, in_port: 1 }, instructions: [inst.apply(act.ct({ commit: true, zone: 7 })), inst.gotoTable(1)] }),
      fm({ tableId: 0, priority: 100, match: { eth_type: 0x0800, in_port: 2 }, instructions: [inst.gotoTable(1)] }),
      fm({ tableId: 1, priority: 100, match: { eth_type: 0x0800, in_port: 2, ct_state: [0, CtState.TRK] }, actions: [act.ct({ zone: 7, table: 1 })] }),
      fm({ tableId: 1, priority: 100, cookie: 0x71n, match: { eth_type: 0x0800, in_port: 2, ct_state: [CtState.TRK | CtState.EST, CtState.TRK | CtState.EST] }, actions: [act.toController()] }),
      fm({ tableId: 1, priority: 80, cookie: 0x72n, match: { eth_type: 0x0800, in_port: 2, ct_state: [CtState.TRK, CtState.TRK] }, actions: [act.toController()] }),
      fm({ tableId: 1, priority: 1, cookie: 0x73n, match: {}, actions: [act.toController()] }),
    ]);
    const r = await run([udpBA(), 2], [udpAB(), 1], [udpBA(), 2]);
    expect(r.map((x) => x.map((y) => `${y.cookie} ${state(y)}`))).toEqual([['0x72 +new+trk'], ['0x73 untracked'], ['0x71 +est+rpl+trk']]);
  });

  test('both refuse the same conntrack flows: ct without an IP match, commit of a packet matched invalid, ct_nw_src without a tracked state, exec without commit, nat outside ct', async () => {
    const errors = await sendBoth(p, [
      fm({ tableId: 0, priority: 1, match: {}, actions: [act.ct({ zone: 1 })] }),
      fm({ tableId: 0, priority: 2, match: { eth_type: 0x0800, ct_state: [CtState.TRK | CtState.INV, CtState.TRK | CtState.INV] }, actions: [act.ct({ commit: true, zone: 1 })] }),
      fm({ tableId: 0, priority: 3, match: { eth_type: 0x0800, ct_nw_src: A }, actions: [act.toController()] }),
      fm({ tableId: 0, priority: 4, match: { eth_type: 0x0800, ct_state: [CtState.TRK | CtState.EST, CtState.TRK | CtState.EST], ct_nw_src: A }, actions: [act.toController()] }),
      fm({ tableId: 0, priority: 5, match: { eth_type: 0x0800, ct_state: [CtState.TRK, CtState.TRK | CtState.INV], ct_tp_dst: 53 }, actions: [act.toController()] }),
      fm({ tableId: 0, priority: 6, match: { eth_type: 0x0800 }, actions: [act.ct({ zone: 1, actions: [act.setField('ct_mark', 1)] })] }),
      fm({ tableId: 0, priority: 7, match: { eth_type: 0x0800 }, actions: [act.nat({ kind: 'src', addressMin: ip('192.168.9.9') })] }),
      fm({ tableId: 0, priority: 8, match: { eth_type: 0x0800 }, actions: [act.ct({ commit: true, zone: 1, actions: [act.nat({ kind: 'src', addressMin: ip('192.168.9.9') }), act.nat({ kind: 'dst', addressMin: ip('192.168.9.8') })] })] }),
    ]);
    expect(errors.real).toEqual(['0 OFPBAC_MATCH_INCONSISTENT', '1 OFPBAC_MATCH_INCONSISTENT', '2 OFPBMC_BAD_PREREQ', '5 OFPBAC_BAD_ARGUMENT', '6 OFPBAC_BAD_SET_ARGUMENT']);
    expect(errors.fake).toEqual(errors.real);
  });

  test('IPv6: commit and reply, the original tuple in ct_ipv6_src/dst', async () => {
    await install({});
    const v6 = (from: 'A' | 'B', sport: number, dport: number) =>
      ethernet({
        src: from === 'A' ? A_MAC : B_MAC,
        dst: from === 'A' ? B_MAC : A_MAC,
        payload: ipv6({ src: from === 'A' ? 'fd00::1' : 'fd00::2', dst: from === 'A' ? 'fd00::2' : 'fd00::1', payload: udp({ srcPort: sport, dstPort: dport, payload: 'x' }) }),
      });
    await sendBoth(p, [
      fm({ tableId: 0, priority: 100, match: { eth_type: 0x86dd }, actions: [act.ct({ zone: 1, table: 1 })] }),
      fm({ tableId: 1, priority: 100, match: { eth_type: 0x86dd, ct_state: [CtState.TRK | CtState.NEW, CtState.TRK | CtState.NEW], in_port: 1 }, actions: [act.ct({ commit: true, zone: 1, table: 2 })] }),
    ]);
    const r = await run([v6('A', 1000, 53), 1], [v6('B', 53, 1000), 2]);
    expect(r.map((x) => state(x[0]))).toEqual(['+new+trk', '+est+rpl+trk']);
  });

  test('TCP: after a RST the connection still answers est, and a new SYN on the same ports is new again', async () => {
    await install({});
    const syn = frame('A', tcp({ srcPort: 4001, dstPort: 80, flags: 0x02, seq: 0 }));
    const synAck = frame('B', tcp({ srcPort: 80, dstPort: 4001, flags: 0x12, seq: 100, ack: 1 }));
    const ack = frame('A', tcp({ srcPort: 4001, dstPort: 80, flags: 0x10, seq: 1, ack: 101 }));
    const rst = frame('A', tcp({ srcPort: 4001, dstPort: 80, flags: 0x04, seq: 1 }));
    const late = frame('B', tcp({ srcPort: 80, dstPort: 4001, flags: 0x18, seq: 101, ack: 1, payload: 'late' }));
    const r = await run([syn, 1], [synAck, 2], [ack, 1], [rst, 1], [late, 2], [syn, 1]);
    expect(r.map((x) => state(x[0]))).toEqual(['+new+trk', '+est+rpl+trk', '+est+trk', '+est+trk', '+est+rpl+trk', '+new+trk']);
  });
});
