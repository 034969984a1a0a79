import { ManualClock } from '@dragonflow/base';
import type { SwitchAsyncMessage, SwitchRequest } from '@dragonflow/core/host';
import { FlowModFlags, OfPort, act, encodeMessage, errorCodeName, flowMod, inst, type FlowRemoved, type PacketIn } from '@dragonflow/openflow';
import { arpRequest, encodeEthernet, ethernet, icmpEchoRequest, ipv4, udp, type EthernetFrame, type Ipv4Packet } from '@dragonflow/packet';
import { describe, expect, it } from 'vitest';
import { FakeSwitch } from './fake-switch.js';

const VM1 = 'fa:16:3e:00:00:01';
const VM2 = 'fa:16:3e:00:00:02';
const ROUTER = 'fa:16:3e:00:00:fe';

function ping(src = VM1, dst = VM2, ttl = 64, dstIp = '10.0.0.2'): EthernetFrame {
  return ethernet({ src, dst, payload: ipv4({ src: '10.0.0.1', dst: dstIp, ttl, payload: icmpEchoRequest({ id: 1, seq: 1 }) }) });
}

function fm(init: Parameters<typeof flowMod>[0]): SwitchRequest {
  const { xid: _xid, ...rest } = flowMod(init);
  return rest;
}

async function install(sw: FakeSwitch, ...requests: SwitchRequest[]) {
  return sw.connect().sendBatch(requests);
}

const ip = (f: EthernetFrame): Ipv4Packet => {
  if (f.payload.kind !== 'ipv4') throw new Error('not ipv4');
  return f.payload;
};

describe('FakeSwitch tables', () => {
  it('picks the highest-priority match and honours masks', async () => {
    const sw = new FakeSwitch();
    await install(
      sw,
      fm({ tableId: 0, priority: 10, match: { eth_type: 0x0800, ipv4_dst: '10.0.0.0/24' }, actions: [act.output(2)] }),
      fm({ tableId: 0, priority: 20, match: { eth_type: 0x0800, ipv4_dst: '10.0.0.128/25' }, actions: [act.output(3)] }),
      fm({ tableId: 0, priority: 5, match: {}, actions: [act.output(4)] }),
    );
    expect(sw.trace(ping(VM1, VM2, 64, '10.0.0.2'), 1).ports).toEqual([2]);
    expect(sw.trace(ping(VM1, VM2, 64, '10.0.0.200'), 1).ports).toEqual([3]);
    expect(sw.trace(ping(VM1, VM2, 64, '10.0.1.1'), 1).ports).toEqual([4]);
    expect(sw.trace(arpRequest({ srcMac: VM1, srcIp: '10.0.0.1', targetIp: '10.0.0.2' }), 1).ports).toEqual([4]);
  });

  it('drops a packet no flow matches (OpenFlow 1.3 table-miss without a miss flow)', async () => {
    const sw = new FakeSwitch();
    await install(sw, fm({ tableId: 0, priority: 10, match: { in_port: 1 }, instructions: [inst.gotoTable(3)] }));
    const t = sw.trace(ping(), 1);
    expect(t.outputs).toEqual([]);
    expect(t.hops.map((h) => [h.table, h.flow?.priority])).toEqual([
      [0, 10],
      [3, undefined],
    ]);
    expect(t.drops).toEqual(['no flow matched in table 3']);
  });

  it('carries registers and metadata across goto_table', async () => {
    const sw = new FakeSwitch();
    await install(
      sw,
      fm({ tableId: 0, priority: 100, match: { in_port: 1 }, instructions: [inst.apply(act.setField('reg6', 7)), inst.writeMetadata(5n, 0xffffffffn), inst.gotoTable(1)] }),
      fm({ tableId: 1, priority: 100, match: { metadata: [5n, 0xffffffffn], reg6: 7, eth_dst: VM2 }, instructions: [inst.apply(act.setField('reg7', 9)), inst.gotoTable(2)] }),
      fm({ tableId: 2, priority: 100, match: { reg7: 9 }, actions: [act.output(2)] }),
    );
    const t = sw.trace(ping(), 1);
    expect(t.ports).toEqual([2]);
    expect(t.hops.map((h) => h.table)).toEqual([0, 1, 2]);
    expect(sw.trace(ping(), 5).ports).toEqual([]);
  });

  it('routes: rewrites MACs, decrements TTL, and drops on TTL 1', async () => {
    const sw = new FakeSwitch();
    await install(
      sw,
      fm({
        tableId: 0,
        priority: 100,
        match: { eth_type: 0x0800, eth_dst: ROUTER, ipv4_dst: '10.0.1.0/24' },
        actions: [act.decNwTtl(), act.setField('eth_src', ROUTER), act.setField('eth_dst', 'fa:16:3e:00:01:03'), act.output(7)],
      }),
    );
    const t = sw.trace(ping(VM1, ROUTER, 64, '10.0.1.3'), 1);
    const out = t.only(7);
    expect(ip(out).ttl).toBe(63);
    expect(out.src.toString()).toBe(ROUTER);
    expect(out.dst.toString()).toBe('fa:16:3e:00:01:03');
    const dead = sw.trace(ping(VM1, ROUTER, 1, '10.0.1.3'), 1);
    expect(dead.outputs).toEqual([]);
    expect(dead.drops).toContain('dec_ttl: TTL expired');
    expect(dead.packetIns).toEqual([]); // no invalid_ttl packet-in unless the controller asked for them
    sw.invalidTtlToController = true;
    expect(sw.trace(ping(VM1, ROUTER, 1, '10.0.1.3'), 1).packetIns.map((p) => p.reason)).toEqual([2]);
  });

  it('runs the action set in the OpenFlow order, not the order written', async () => {
    const sw = new FakeSwitch();
    // output written first, set_field and push_vlan later: the set still pushes, sets, then outputs.
    await install(
      sw,
      fm({ tableId: 0, priority: 1, match: {}, instructions: [inst.write(act.output(3)), inst.gotoTable(1)] }),
      fm({ tableId: 1, priority: 1, match: {}, instructions: [inst.write(act.setField('eth_dst', VM2), act.pushVlan(), act.setField('vlan_vid', 0x1000 | 42))] }),
    );
    const out = sw.trace(ping(VM1, 'fa:16:3e:99:99:99'), 1).only(3);
    expect(out.vlans).toEqual([{ tpid: 0x8100, pcp: 0, dei: 0, vid: 42 }]);
    expect(out.dst.toString()).toBe(VM2);
  });

  it('refuses, like Open vSwitch, an action list that sets a field the packet cannot have', async () => {
    const sw = new FakeSwitch();
    const out = await install(
      sw,
      fm({ tableId: 0, priority: 1, match: {}, instructions: [inst.write(act.setField('vlan_vid', 0x1000 | 42), act.pushVlan())] }),
      fm({ tableId: 0, priority: 2, match: { in_port: 1 }, actions: [act.setField('ipv4_dst', '10.0.0.9')] }),
      fm({ tableId: 0, priority: 3, match: { eth_type: 0x0800 }, actions: [act.setField('ipv4_dst', '10.0.0.9')] }),
    );
    expect(out.errors.map((e) => [e.index, errorCodeName(e.error.errorType, e.error.code)])).toEqual([
      [0, 'OFPBAC_MATCH_INCONSISTENT'],
      [1, 'OFPBAC_MATCH_INCONSISTENT'],
    ]);
  });

  it('apply-actions act at once: an output before a rewrite sends the original', async () => {
    const sw = new FakeSwitch();
    await install(sw, fm({ tableId: 0, priority: 1, match: {}, actions: [act.output(2), act.setField('eth_dst', VM2), act.output(3)] }));
    const t = sw.trace(ping(VM1, 'fa:16:3e:99:99:99'), 1);
    expect(t.only(2).dst.toString()).toBe('fa:16:3e:99:99:99');
    expect(t.only(3).dst.toString()).toBe(VM2);
  });

  it('clear_actions empties the action set; a group in the set suppresses its output', async () => {
    const sw = new FakeSwitch();
    await install(
      sw,
      { type: 'group_mod', command: 'add', groupType: 'all', groupId: 1, buckets: [{ weight: 0, watchPort: OfPort.ANY, watchGroup: 0xffffffff, actions: [act.output(5)] }] },
      fm({ tableId: 0, priority: 1, match: { in_port: 1 }, instructions: [inst.write(act.output(2)), inst.gotoTable(1)] }),
      fm({ tableId: 0, priority: 1, match: { in_port: 9 }, instructions: [inst.write(act.output(2), act.group(1))] }),
      fm({ tableId: 1, priority: 1, match: {}, instructions: [inst.clear(), inst.write(act.output(4))] }),
    );
    expect(sw.trace(ping(), 1).ports).toEqual([4]);
    expect(sw.trace(ping(), 9).ports).toEqual([5]);
  });

  it('pushes and pops VLAN tags and matches vlan_vid with the present bit', async () => {
    const sw = new FakeSwitch();
    await install(
      sw,
      fm({ tableId: 0, priority: 10, match: { in_port: 1 }, actions: [act.pushVlan(), act.setField('vlan_vid', 0x1000 | 100), act.output(9)] }),
      fm({ tableId: 0, priority: 10, match: { in_port: 9, vlan_vid: 0x1000 | 100 }, actions: [act.popVlan(), act.output(1)] }),
      fm({ tableId: 0, priority: 5, match: { in_port: 9, vlan_vid: [0x1000, 0x1000] }, actions: [act.output(8)] }),
    );
    const tagged = sw.trace(ping(), 1).only(9);
    expect(tagged.vlans.map((v) => v.vid)).toEqual([100]);
    expect(sw.trace(tagged, 9).only(1).vlans).toEqual([]);
    expect(sw.trace(ethernet({ src: VM1, dst: VM2, vlan: 200, payload: ipv4({ src: '10.0.0.1', dst: '10.0.0.2', payload: udp({ srcPort: 1, dstPort: 2 }) }) }), 9).ports).toEqual([8]);
    expect(sw.trace(ping(), 9).ports).toEqual([]);
  });

  it('replicates with an all group; resubmit returns and continues', async () => {
    const sw = new FakeSwitch();
    const bucket = (port: number) => ({ weight: 0, watchPort: OfPort.ANY, watchGroup: 0xffffffff, actions: [act.output(port)] });
    await install(
      sw,
      { type: 'group_mod', command: 'add', groupType: 'all', groupId: 7, buckets: [bucket(2), bucket(3), bucket(4)] },
      fm({ tableId: 0, priority: 1, match: { in_port: 1 }, actions: [act.resubmit(5), act.group(7)] }),
      fm({ tableId: 5, priority: 1, match: {}, actions: [act.setField('eth_src', ROUTER)] }),
    );
    const t = sw.trace(ping(), 1);
    expect(t.ports).toEqual([2, 3, 4]);
    expect(t.outputs.every((o) => o.frame.src.toString() === ROUTER)).toBe(true);
    expect(t.hops.map((h) => [h.table, h.depth])).toEqual([
      [0, 0],
      [5, 1],
    ]);
  });

  it('never sends a packet back out of its input port unless asked with IN_PORT', async () => {
    const sw = new FakeSwitch();
    await install(sw, fm({ tableId: 0, priority: 1, match: { in_port: 1 }, actions: [act.output(1), act.inPort()] }));
    const t = sw.trace(ping(), 1);
    expect(t.ports).toEqual([1]);
    expect(t.drops).toContain('output:1 is the input port (use IN_PORT)');
  });

  it('punts to the controller: no_match from a table-miss flow, action otherwise, with pipeline fields', async () => {
    const sw = new FakeSwitch();
    const conn = sw.connect();
    const got: SwitchAsyncMessage[] = [];
    conn.messages$.subscribe((m) => got.push(m));
    await conn.sendBatch([
      fm({ tableId: 0, priority: 10, match: { in_port: 1 }, instructions: [inst.apply(act.setField('reg6', 3)), inst.writeMetadata(9n, 0xffffffffn), inst.gotoTable(4)] }),
      fm({ tableId: 4, priority: 10, match: { eth_type: 0x0806 }, actions: [act.toController()] }),
      fm({ tableId: 4, priority: 0, match: {}, actions: [act.toController()] }),
    ]);
    sw.inject(arpRequest({ srcMac: VM1, srcIp: '10.0.0.1', targetIp: '10.0.0.2' }), 1);
    sw.inject(ping(), 1);
    const [arpIn, pingIn] = got as PacketIn[];
    expect(arpIn!.reason).toBe(1);
    expect(pingIn!.reason).toBe(0);
    expect(arpIn!.tableId).toBe(4);
    expect(Number(arpIn!.match.reg6?.value)).toBe(3);
    expect(arpIn!.match.metadata?.value).toBe(9n);
    expect(Number(arpIn!.match.in_port?.value)).toBe(1);
    // a trace is an observation: nothing reaches the controller
    sw.trace(ping(), 1);
    expect(got).toHaveLength(2);
  });

  it('runs a packet-out to OFPP_TABLE through the pipeline from table 0', async () => {
    const sw = new FakeSwitch();
    const conn = sw.connect();
    await conn.sendBatch([fm({ tableId: 0, priority: 10, match: { in_port: 1 }, actions: [act.decNwTtl(), act.output(2)] })]);
    await conn.sendBatch([{ type: 'packet_out', bufferId: 0xffffffff, inPort: 1, actions: [act.output(OfPort.TABLE)], data: encodeEthernet(ping()) }]);
    expect(sw.delivered).toHaveLength(1);
    expect(sw.delivered[0]!.port).toBe(2);
    expect(ip(sw.delivered[0]!.frame).ttl).toBe(63);
  });

  it('expires idle flows on its clock and reports FLOW_REMOVED', async () => {
    const clock = new ManualClock();
    const sw = new FakeSwitch({ clock });
    const conn = sw.connect();
    const removed: FlowRemoved[] = [];
    conn.messages$.subscribe((m) => m.type === 'flow_removed' && removed.push(m));
    await conn.sendBatch([fm({ tableId: 0, priority: 10, match: { in_port: 1 }, actions: [act.output(2)], idleTimeout: 10, flags: FlowModFlags.SEND_FLOW_REM, cookie: 0x42n })]);
    clock.advance(8_000);
    sw.inject(ping(), 1); // a hit restarts the idle timer
    clock.advance(8_000);
    expect(sw.flowCount()).toBe(1);
    clock.advance(2_001);
    expect(sw.flowCount()).toBe(0);
    expect(removed).toHaveLength(1);
    expect(removed[0]).toMatchObject({ reason: 0, cookie: 0x42n, packetCount: 1n, idleTimeout: 10 });
  });

  it('answers bad requests with the OpenFlow error, matched to the request', async () => {
    const sw = new FakeSwitch();
    const out = await install(
      sw,
      fm({ tableId: 3, priority: 1, match: {}, instructions: [inst.gotoTable(2)] }),
      fm({ tableId: 0, priority: 1, match: {}, actions: [act.output(1)] }),
      fm({ tableId: 0, priority: 2, match: {}, actions: [act.group(99)] }),
    );
    expect(out.errors.map((e) => [e.index, errorCodeName(e.error.errorType, e.error.code)])).toEqual([
      [0, 'OFPBIC_BAD_TABLE_ID'],
      [2, 'OFPBAC_BAD_OUT_GROUP'],
    ]);
    expect(sw.flowCount()).toBe(1);
  });

  it("an error's data is the start of the refused request as sent, for requests in wire form too", async () => {
    const sw = new FakeSwitch();
    const refused = flowMod({ tableId: 0, priority: 2, match: { eth_type: 0x0800, ipv4_dst: '10.0.0.0/24' }, actions: [act.group(99)] });
    const wire = encodeMessage(refused);
    const channel = sw.connect();
    // the first request gets xid 1
    const out = await channel.sendBatch([{ type: 'encoded', wire: Buffer.from(wire).toString('latin1') }, fm({ tableId: 0, priority: 3, match: {}, actions: [act.group(99)] })]);
    expect(out.errors.map((e) => e.index)).toEqual([0, 1]);
    expect(Array.from(out.errors[0]!.error.data)).toEqual(Array.from(encodeMessage({ ...refused, xid: 1 }).slice(0, 64)));
    expect(out.errors[1]!.error.data.length).toBe(64);
  });

  it('modifies without resetting counters; strict delete removes exactly one flow', async () => {
    const sw = new FakeSwitch();
    await install(sw, fm({ tableId: 0, priority: 1, match: { in_port: 1 }, actions: [act.output(2)] }), fm({ tableId: 0, priority: 2, match: { in_port: 1 }, actions: [act.output(3)] }));
    sw.inject(ping(), 1);
    await install(sw, fm({ command: 'modify_strict', tableId: 0, priority: 2, match: { in_port: 1 }, actions: [act.output(4)] }));
    expect(sw.trace(ping(), 1).ports).toEqual([4]);
    expect(sw.flowStats().find((f) => f.priority === 2)!.packetCount).toBe(1n);
    await install(sw, fm({ command: 'delete_strict', tableId: 0, priority: 2, match: { in_port: 1 } }));
    expect(sw.trace(ping(), 1).ports).toEqual([2]);
    await install(sw, fm({ command: 'delete', tableId: 0xff, match: {} }));
    expect(sw.flowCount()).toBe(0);
  });
});
