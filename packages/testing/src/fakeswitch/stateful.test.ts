import { Ipv4Address, ManualClock } from '@dragonflow/base';
import type { SwitchAsyncMessage, SwitchRequest } from '@dragonflow/core/host';
import { CtState, MeterFlags, act, flowMod, inst, type PortStatus } from '@dragonflow/openflow';
import { ethernet, ipv4, udp, type EthernetFrame } from '@dragonflow/packet';
import { describe, expect, it } from 'vitest';
import { FakeSwitch } from './fake-switch.js';

// What the FakeSwitch does with time and state that a cross-check with a real switch
// cannot pin down: the injected clock, dry traces, the API tests use.

function fm(init: Parameters<typeof flowMod>[0]): SwitchRequest {
  const { xid: _xid, ...rest } = flowMod(init);
  return rest;
}

const udpFrame = (src: string, dst: string, sport: number, dport: number): EthernetFrame =>
  ethernet({ src: 'fa:16:3e:00:00:01', dst: 'fa:16:3e:00:00:02', payload: ipv4({ src, dst, payload: udp({ srcPort: sport, dstPort: dport }) }) });

/** Port 1 commits what it sends (zone 1) and delivers to 2; what comes in on 2 is delivered to 1 only when +est. */
async function firewall(sw: FakeSwitch): Promise<void> {
  const out = await sw.connect().sendBatch([
    fm({ tableId: 0, priority: 10, match: { eth_type: 0x0800, in_port: 1 }, actions: [act.ct({ commit: true, zone: 1 }), act.output(2)] }),
    fm({ tableId: 0, priority: 10, match: { eth_type: 0x0800, in_port: 2 }, actions: [act.ct({ zone: 1, table: 1 })] }),
    fm({ tableId: 1, priority: 10, match: { eth_type: 0x0800, ct_state: [CtState.TRK | CtState.EST, CtState.TRK | CtState.EST] }, actions: [act.output(1)] }),
  ]);
  expect(out.errors).toEqual([]);
}

describe('FakeSwitch conntrack', () => {
  it('a trace does not create connections; inject does', async () => {
    const sw = new FakeSwitch({ ports: [1, 2] });
    await firewall(sw);
    expect(sw.trace(udpFrame('10.0.0.1', '10.0.0.2', 1000, 53), 1).ports).toEqual([2]);
    expect(sw.connections()).toEqual([]);
    expect(sw.trace(udpFrame('10.0.0.2', '10.0.0.1', 53, 1000), 2).ports).toEqual([]);
    expect(sw.inject(udpFrame('10.0.0.1', '10.0.0.2', 1000, 53), 1).ports).toEqual([2]);
    expect(sw.connections().map((c) => [c.zone, Ipv4Address.fromNumber(Number(c.orig.src)).toString(), c.orig.sport])).toEqual([[1, '10.0.0.1', 1000]]);
    const reply = sw.trace(udpFrame('10.0.0.2', '10.0.0.1', 53, 1000), 2);
    expect(reply.ports).toEqual([1]);
    // the recirculated pass is a hop of its own, and the ct step says what conntrack decided
    expect(reply.hops.map((h) => h.table)).toEqual([0, 1]);
    expect(reply.describe()).toContain('conntrack: est|rpl|trk zone 1, recirculates to table 1');
  });

  it('a connection expires on the switch clock (UDP: 60 s before any reply)', async () => {
    const clock = new ManualClock();
    const sw = new FakeSwitch({ ports: [1, 2], clock });
    await firewall(sw);
    sw.inject(udpFrame('10.0.0.1', '10.0.0.2', 1000, 53), 1);
    clock.advance(59_000);
    expect(sw.trace(udpFrame('10.0.0.2', '10.0.0.1', 53, 1000), 2).ports).toEqual([1]);
    clock.advance(2_000);
    expect(sw.trace(udpFrame('10.0.0.2', '10.0.0.1', 53, 1000), 2).ports).toEqual([]);
    expect(sw.connections()).toEqual([]);
  });

  it('flushConntrack forgets every connection', async () => {
    const sw = new FakeSwitch({ ports: [1, 2] });
    await firewall(sw);
    sw.inject(udpFrame('10.0.0.1', '10.0.0.2', 1000, 53), 1);
    sw.flushConntrack();
    expect(sw.trace(udpFrame('10.0.0.2', '10.0.0.1', 53, 1000), 2).ports).toEqual([]);
  });
});

describe('FakeSwitch meters', () => {
  async function metered(sw: FakeSwitch): Promise<void> {
    const out = await sw.connect().sendBatch([
      { type: 'meter_mod', command: 'add', flags: MeterFlags.PKTPS | MeterFlags.BURST, meterId: 1, bands: [{ type: 'drop', rate: 2, burstSize: 1 }] },
      fm({ tableId: 0, priority: 1, match: {}, instructions: [inst.meter(1), inst.apply(act.output(2))] }),
    ]);
    expect(out.errors).toEqual([]);
  }

  it('drops over the band, refills at the rate on the switch clock; a trace only looks', async () => {
    const clock = new ManualClock();
    const sw = new FakeSwitch({ ports: [1, 2], clock });
    await metered(sw);
    const f = udpFrame('10.0.0.1', '10.0.0.2', 1, 2);
    expect(sw.inject(f, 1).ports).toEqual([2]);
    const dropped = sw.inject(f, 1);
    expect(dropped.ports).toEqual([]);
    expect(dropped.drops).toEqual(["meter 1: over the band's rate (2)"]);
    expect(sw.trace(f, 1).ports).toEqual([]);
    clock.advance(499);
    expect(sw.trace(f, 1).ports).toEqual([]);
    clock.advance(1);
    // 2 packets/s: half a second pays for one packet; the traces above took nothing
    expect(sw.trace(f, 1).ports).toEqual([2]);
    expect(sw.inject(f, 1).ports).toEqual([2]);
    expect(sw.meterCounters(1)).toEqual({ packetsIn: 3n, bytesIn: 3n * 42n, bands: [{ packets: 1n, bytes: 42n }] });
  });

  it('reads meters back through the connection (meter-config)', async () => {
    const sw = new FakeSwitch();
    await metered(sw);
    const channel = sw.connect() as ReturnType<FakeSwitch['connect']> & { dumpMeters(): Promise<unknown> };
    expect(await channel.dumpMeters()).toEqual([{ meterId: 1, flags: MeterFlags.PKTPS | MeterFlags.BURST, bands: [{ type: 'drop', rate: 2, burstSize: 1 }] }]);
    expect(sw.multipart({ kind: 'meter_config', meterId: 5 })).toMatchObject({ error: { message: 'meter 5 does not exist' } });
  });
});

describe('FakeSwitch port liveness', () => {
  it('a port going down sends two port-status messages and moves a fast-failover group to its next bucket', async () => {
    const sw = new FakeSwitch({ ports: [1, 2, 3] });
    const channel = sw.connect();
    const seen: PortStatus[] = [];
    channel.messages$.subscribe((m: SwitchAsyncMessage) => m.type === 'port_status' && seen.push(m));
    const bucket = (port: number) => ({ weight: 0, watchPort: port, watchGroup: 0xffffffff, actions: [act.output(port)] });
    const out = await channel.sendBatch([{ type: 'group_mod', command: 'add', groupType: 'ff', groupId: 1, buckets: [bucket(2), bucket(3)] }, fm({ tableId: 0, priority: 1, match: {}, actions: [act.group(1)] })]);
    expect(out.errors).toEqual([]);
    const f = udpFrame('10.0.0.1', '10.0.0.2', 1, 2);
    expect(sw.trace(f, 1).ports).toEqual([2]);
    sw.setPortUp(2, false);
    expect(seen.map((s) => [s.reason, s.port.portNo, s.port.config, s.port.state])).toEqual([
      ['modify', 2, 1, 0],
      ['modify', 2, 1, 1],
    ]);
    expect(sw.portUp(2)).toBe(false);
    expect(sw.trace(f, 1).ports).toEqual([3]);
    sw.setPortUp(3, false);
    expect(sw.trace(f, 1).drops).toEqual(['group 1: no live bucket']);
    sw.setPortUp(2, true);
    expect(sw.trace(f, 1).ports).toEqual([2]);
    expect(() => sw.setPortUp(9, false)).toThrow(/no port 9/);
  });
});

describe('FakeSwitch conjunctive matches', () => {
  it('a flow modified into a conjunction clause stops matching itself and joins the conjunction', async () => {
    const sw = new FakeSwitch({ ports: [1, 2, 3] });
    const channel = sw.connect();
    const out = await channel.sendBatch([
      fm({ tableId: 0, priority: 10, match: { eth_type: 0x0800, ipv4_src: '10.0.0.1' }, actions: [act.output(3)] }),
      fm({ tableId: 0, priority: 10, match: { in_port: 1 }, actions: [act.conjunction(7, 2, 2)] }),
      fm({ tableId: 0, priority: 10, match: { conj_id: 7, eth_type: 0x0800 }, actions: [act.output(2)] }),
    ]);
    expect(out.errors).toEqual([]);
    const f = udpFrame('10.0.0.1', '10.0.0.2', 1, 2);
    expect(sw.trace(f, 1).ports).toEqual([3]);
    await channel.sendBatch([fm({ tableId: 0, priority: 10, command: 'modify_strict', match: { eth_type: 0x0800, ipv4_src: '10.0.0.1' }, actions: [act.conjunction(7, 1, 2)] })]);
    expect(sw.trace(f, 1).ports).toEqual([2]);
    // one clause alone is not enough, and the clause flows never match themselves
    expect(sw.trace(f, 3).ports).toEqual([]);
  });
});
