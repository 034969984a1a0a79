/**
 * The FakeSwitch must behave like Open vSwitch. One flow set is installed through
 * the same reconciler into a FakeSwitch and into a real OVS (userspace datapath);
 * then the same packets are traced through both (`ovs-appctl ofproto/trace BRIDGE
 * in_port=N <frame hex>` on the real one) and the outcomes compared: the tables
 * and priorities visited, every output port with the packet as it left (OVS's
 * datapath actions replayed onto the frame), and what went to the controller.
 * Packet-ins are also compared for real: the same frames are sent as packet-outs
 * to OFPP_TABLE and the packet-ins OVS sends back are checked against the fake's.
 * Needs root and Open vSwitch (./scripts/setup); never skips.
 */
import { Ipv4Address, Ipv6Address, MacAddress } from '@dragonflow/base';
import { flow, type DesiredFlow, type DesiredGroup } from '@dragonflow/core';
import { OWNER_KINDS, Reconciler, switchGroupId, type SwitchAsyncMessage } from '@dragonflow/core/host';
import { OfPort, act, inst, type PacketIn } from '@dragonflow/openflow';
import {
  arpRequest,
  cloneFrame,
  decodeEthernet,
  describeFrame,
  encodeEthernet,
  ethernet,
  icmpEchoRequest,
  ipv4,
  ipv6,
  udp,
  type EthernetFrame,
} from '@dragonflow/packet';
import { FakeSwitch } from '@dragonflow/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { datapathPorts, startOvsBridge, vswitchd, type OvsBridge } from './ovs-bridge.js';

const DPID = 0xfa4ec0c0n;
const VM1 = 'fa:16:3e:00:00:01';
const VM2 = 'fa:16:3e:00:00:02';
const VM3 = 'fa:16:3e:00:01:03';
const ROUTER = 'fa:16:3e:00:00:fe';
const BCAST = 'ff:ff:ff:ff:ff:ff';

/** A small pipeline exercising what the apps use: goto, registers, metadata, masks, rewrites, TTL, VLANs, groups, action set, resubmit, controller. */
function flowSet(): { flows: DesiredFlow[]; groups: DesiredGroup[] } {
  const meta = (v: number) => ({ value: BigInt(v), mask: 0xffffffffn });
  const bucket = (...actions: ReturnType<typeof act.output>[]) => ({ weight: 0, watchPort: OfPort.ANY, watchGroup: 0xffffffff, actions });
  const flows = [
    flow(0, { priority: 100, match: { in_port: 1 }, actions: [act.setField('reg6', 1)], writeMetadata: meta(5), goto: 1 }),
    flow(0, { priority: 100, match: { in_port: 2 }, actions: [act.setField('reg6', 2)], writeMetadata: meta(5), goto: 1 }),
    flow(0, { priority: 100, match: { in_port: 3, vlan_vid: 0x1000 | 100 }, actions: [act.popVlan(), act.setField('reg6', 3)], writeMetadata: meta(6), goto: 1 }),
    flow(0, { priority: 100, match: { in_port: 4 }, writeActions: [act.output(5)], goto: 4 }),
    flow(1, { priority: 200, match: { metadata: [5n, 0xffffffffn], eth_dst: ROUTER, eth_type: 0x0800, ipv4_dst: '10.0.1.0/24' }, actions: [act.decNwTtl(), act.setField('eth_src', ROUTER), act.setField('eth_dst', VM3), act.setField('reg7', 3)], goto: 2 }),
    flow(1, { priority: 200, match: { metadata: [5n, 0xffffffffn], eth_dst: ROUTER, eth_type: 0x86dd, ipv6_dst: 'fd00:1::/64' }, actions: [act.decNwTtl(), act.setField('eth_src', ROUTER), act.setField('eth_dst', VM2), act.setField('reg7', 2)], goto: 2 }),
    flow(1, { priority: 100, match: { metadata: [5n, 0xffffffffn], eth_dst: VM2 }, actions: [act.setField('reg7', 2)], goto: 2 }),
    flow(1, { priority: 100, match: { metadata: [5n, 0xffffffffn], eth_dst: BCAST }, actions: [act.group(switchGroupId(1, 1))] }),
    flow(1, { priority: 50, match: { metadata: [6n, 0xffffffffn] }, actions: [act.setField('reg7', 1)], goto: 2 }),
    flow(1, { priority: 150, match: { eth_type: 0x0806 }, actions: [act.toController()] }),
    flow(1, { priority: 5, match: { eth_type: 0x0800, ip_proto: 17, udp_dst: 7 }, actions: [act.output(OfPort.IN_PORT)] }),
    { table: 1, priority: 0, match: {}, instructions: [inst.apply(act.toController())] },
    flow(2, { priority: 100, match: { reg7: 1 }, actions: [act.output(1)] }),
    flow(2, { priority: 100, match: { reg7: 2 }, actions: [act.output(2)] }),
    flow(2, { priority: 100, match: { reg7: 3 }, actions: [act.pushVlan(), act.setField('vlan_vid', 0x1000 | 100), act.output(3)] }),
    flow(4, { priority: 10, match: {}, actions: [act.output(1), act.resubmit(6)], writeActions: [act.setField('eth_dst', VM2), act.pushVlan(), act.setField('vlan_vid', 0x1000 | 42)] }),
    flow(6, { priority: 5, match: {}, actions: [act.setField('eth_src', ROUTER)] }),
  ];
  const groups: DesiredGroup[] = [{ groupId: 1, groupType: 'all', buckets: [bucket(act.output(1)), bucket(act.output(2)), bucket(act.pushVlan(), act.setField('vlan_vid', 0x1000 | 100), act.output(3))] }];
  return { flows, groups };
}

const ping = (src: string, dst: string, dstIp: string, ttl = 64): EthernetFrame =>
  ethernet({ src, dst, payload: ipv4({ src: '10.0.0.1', dst: dstIp, ttl, payload: icmpEchoRequest({ id: 3, seq: 9 }) }) });

/** Packets and the port they arrive on: one per behaviour. */
const CASES: { name: string; inPort: number; frame: EthernetFrame }[] = [
  { name: 'switched unicast', inPort: 1, frame: ping(VM1, VM2, '10.0.0.2') },
  { name: 'routed: TTL-1, MACs rewritten, pushed onto VLAN 100', inPort: 1, frame: ping(VM1, ROUTER, '10.0.1.3') },
  { name: 'routed with TTL 1: dropped by dec_ttl', inPort: 1, frame: ping(VM1, ROUTER, '10.0.1.3', 1) },
  { name: 'routed IPv6: hop limit decremented', inPort: 1, frame: ethernet({ src: VM1, dst: ROUTER, payload: ipv6({ src: 'fd00::1', dst: 'fd00:1::5', hopLimit: 9, payload: udp({ srcPort: 5, dstPort: 6 }) }) }) },
  { name: 'broadcast replicated by an all group, not back to the input port', inPort: 1, frame: ping(VM1, BCAST, '10.0.0.255') },
  { name: 'VLAN 100 popped on ingress', inPort: 3, frame: ethernet({ src: VM3, dst: VM1, vlan: 100, payload: ipv4({ src: '10.0.1.3', dst: '10.0.0.1', payload: udp({ srcPort: 1, dstPort: 2 }) }) }) },
  { name: 'other VLAN on port 3: no match, dropped', inPort: 3, frame: ethernet({ src: VM3, dst: VM1, vlan: 200, payload: ipv4({ src: '10.0.1.3', dst: '10.0.0.1', payload: udp({ srcPort: 1, dstPort: 2 }) }) }) },
  { name: 'ARP punted to the controller', inPort: 1, frame: arpRequest({ srcMac: VM1, srcIp: '10.0.0.1', targetIp: '10.0.0.9' }) },
  { name: 'unknown destination: the table-miss flow punts', inPort: 2, frame: ping(VM2, 'fa:16:3e:00:00:77', '10.0.0.77') },
  { name: 'echo service: output to IN_PORT', inPort: 2, frame: ethernet({ src: VM2, dst: 'fa:16:3e:00:00:66', payload: ipv4({ src: '10.0.0.2', dst: '10.0.0.66', payload: udp({ srcPort: 9, dstPort: 7 }) }) }) },
  { name: 'action set runs in spec order after apply-actions and a resubmit', inPort: 4, frame: ping(VM1, VM3, '10.0.0.3') },
  { name: 'unknown in_port: dropped in table 0', inPort: 5, frame: ping(VM1, VM2, '10.0.0.2') },
];

interface Outcome {
  hops: string[];
  outputs: string[];
  controller: number;
}

function fakeOutcome(sw: FakeSwitch, c: (typeof CASES)[number]): Outcome {
  const t = sw.trace(c.frame, c.inPort);
  return {
    hops: t.hops.map((h) => `${h.table}:${h.flow ? h.flow.priority : 'miss'}`),
    outputs: t.outputs.map((o) => `${o.port} ${describeFrame(o.frame)}`).sort(),
    controller: t.packetIns.length,
  };
}

/** Splits "a,b(c,d),e" at top-level commas. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out.map((x) => x.trim()).filter(Boolean);
}

/** "proto(k=v,k2=v2/mask)" → { k: v, k2: v2 } (masks dropped: OVS prints only the bits it sets). */
function kv(inner: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of splitTop(inner)) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i)] = part.slice(i + 1).split('/')[0]!;
  }
  return out;
}

/** Replays OVS's datapath actions onto the frame, snapshotting it at every output. */
function replayDatapath(actions: string, frame: EthernetFrame, dpPorts: Map<number, number>): { outputs: string[]; controller: number } {
  const outputs: string[] = [];
  let controller = 0;
  const f = cloneFrame(frame);
  if (actions.trim() === 'drop') return { outputs, controller };
  for (const a of splitTop(actions)) {
    if (/^\d+$/.test(a)) {
      const port = dpPorts.get(Number(a));
      if (port === undefined) throw new Error(`datapath port ${a} is not on the bridge`);
      outputs.push(`${port} ${describeFrame(decodeEthernet(encodeEthernet(f)))}`);
    } else if (a.startsWith('userspace(') && a.includes('controller(')) {
      // invalid_ttl (reason 2) is not sent to an OpenFlow 1.3 controller that did not ask for it
      if (!a.includes('controller(reason=2,')) controller++;
    } else if (a.startsWith('set(eth(') || a.startsWith('set(ipv4(') || a.startsWith('set(ipv6(')) {
      // set(eth(src=…,dst=…)): the protocol, then its fields between the inner parentheses
      const open = a.indexOf('(', 4);
      const proto = a.slice(4, open);
      const fields = kv(a.slice(open + 1, a.length - 2));
      if (proto === 'eth') {
        if (fields['src']) f.src = MacAddress.parse(fields['src']);
        if (fields['dst']) f.dst = MacAddress.parse(fields['dst']);
      } else if (proto === 'ipv4' && f.payload.kind === 'ipv4') {
        if (fields['src']) f.payload.src = Ipv4Address.parse(fields['src']);
        if (fields['dst']) f.payload.dst = Ipv4Address.parse(fields['dst']);
        if (fields['ttl']) f.payload.ttl = Number(fields['ttl']);
      } else if (proto === 'ipv6' && f.payload.kind === 'ipv6') {
        if (fields['src']) f.payload.src = Ipv6Address.parse(fields['src']);
        if (fields['dst']) f.payload.dst = Ipv6Address.parse(fields['dst']);
        if (fields['hlimit']) f.payload.hopLimit = Number(fields['hlimit']);
      }
    } else if (a.startsWith('push_vlan(')) {
      const fields = kv(a.slice('push_vlan('.length, -1));
      f.vlans.unshift({ tpid: fields['tpid'] ? Number(fields['tpid']) : 0x8100, pcp: Number(fields['pcp'] ?? 0), dei: 0, vid: Number(fields['vid'] ?? 0) });
    } else if (a === 'pop_vlan') {
      f.vlans.shift();
    } else {
      throw new Error(`the cross-check does not understand the datapath action '${a}'`);
    }
  }
  return { outputs: outputs.sort(), controller };
}

async function ovsOutcome(b: OvsBridge, c: (typeof CASES)[number], dpPorts: Map<number, number>): Promise<Outcome & { text: string }> {
  const hex = Buffer.from(encodeEthernet(c.frame)).toString('hex');
  const text = await vswitchd(b, 'ofproto/trace', b.bridge, `in_port=${c.inPort}`, hex);
  const hops: string[] = [];
  for (const m of text.matchAll(/^\s*(\d+)\. (.*)$/gm)) {
    const rest = m[2]!;
    if (rest.startsWith('No match')) hops.push(`${m[1]}:miss`);
    else {
      const p = /priority (\d+)/.exec(rest);
      if (p) hops.push(`${m[1]}:${p[1]}`);
    }
  }
  const dp = /^Datapath actions: (.*)$/m.exec(text);
  if (!dp) throw new Error(`no datapath actions in the trace:\n${text}`);
  return { hops, ...replayDatapath(dp[1]!, c.frame, dpPorts), text };
}

/** The next packet-in the real switch sends us. */
function nextPacketIn(br: OvsBridge, ms = 10_000): Promise<PacketIn> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      sub.unsubscribe();
      reject(new Error(`no packet-in within ${ms} ms`));
    }, ms);
    const sub = br.conn.messages$.subscribe((m: SwitchAsyncMessage) => {
      if (m.type !== 'packet_in') return;
      clearTimeout(t);
      sub.unsubscribe();
      resolve(m);
    });
  });
}

let b: OvsBridge;
let fake: FakeSwitch;
let dpPorts: Map<number, number>;

beforeAll(async () => {
  b = await startOvsBridge({ ports: 5, dpid: DPID, prefix: 'xc' });
  fake = new FakeSwitch({ ports: [1, 2, 3, 4, 5] });
  const { flows, groups } = flowSet();
  for (const channel of [b.channel, fake.connect()]) {
    const r = new Reconciler();
    const errors: string[] = [];
    r.errors$.subscribe((e) => errors.push(`${e.message}: ${JSON.stringify(e.request, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`));
    r.replace({ app: 'crosscheck', slot: 1, owner: 'flows', kind: OWNER_KINDS.hash, tag: 1 }, flows, groups);
    r.setComplete(1);
    await r.attach(channel);
    await r.flush();
    await r.waitForRevision(1);
    expect(errors).toEqual([]);
    expect(r.installedCount).toBe(flows.length);
  }
  dpPorts = await datapathPorts(b);
}, 120_000);

afterAll(async () => {
  const problems = await b?.cleanup.run();
  expect(problems ?? []).toEqual([]);
});

describe('FakeSwitch against Open vSwitch', () => {
  test('both switches hold the same flows after the reconciler installed them', async () => {
    const key = (f: { tableId: number; priority: number; cookie: bigint }) => `${f.tableId}/${f.priority}/${f.cookie}`;
    const real = (await b.channel.dumpFlows()).map(key).sort();
    expect(real).toEqual(fake.flowStats().map(key).sort());
    expect((await b.channel.dumpGroups()).map((g) => g.groupId)).toEqual(fake.groupStats().map((g) => g.groupId));
  });

  test('a second reconciler with the same flows and groups sends nothing to either switch (read-back canonical forms)', async () => {
    for (const channel of [b.channel, fake.connect()]) {
      const { flows, groups } = flowSet();
      const r = new Reconciler();
      r.replace({ app: 'crosscheck', slot: 1, owner: 'flows', kind: OWNER_KINDS.hash, tag: 1 }, flows, groups);
      r.setComplete(1);
      await r.attach(channel);
      await r.flush();
      expect(r.totals).toEqual({ adds: 0, modifies: 0, deletes: 0, groupMods: 0, batches: 0 });
    }
  });

  for (const c of CASES) {
    test(`trace: ${c.name}`, async () => {
      const real = await ovsOutcome(b, c, dpPorts);
      const mine = fakeOutcome(fake, c);
      expect({ hops: mine.hops, outputs: mine.outputs, controller: mine.controller }, `ofproto/trace said:\n${real.text}`).toEqual({
        hops: real.hops,
        outputs: real.outputs,
        controller: real.controller,
      });
    });
  }

  test('an expired TTL reaches neither controller (invalid_ttl is off by default)', async () => {
    const c = CASES.find((x) => x.name.startsWith('routed with TTL 1'))!;
    const got: SwitchAsyncMessage[] = [];
    // A marker sent to the controller right after it: the switch handles packet-outs in
    // order and queues their packet-ins in order, so once the marker is in, a packet-in
    // of the expired packet would have come before it.
    const marker = Uint8Array.from(encodeEthernet(c.frame));
    marker[11]! ^= 0xff;
    const isMarker = (m: SwitchAsyncMessage) => m.type === 'packet_in' && Buffer.from(m.data).equals(Buffer.from(marker));
    const markerIn = new Promise<void>((resolve) => {
      const sub = b.conn.messages$.subscribe((m: SwitchAsyncMessage) => {
        if (isMarker(m)) {
          sub.unsubscribe();
          resolve();
        } else got.push(m);
      });
    });
    await b.channel.sendBatch([
      { type: 'packet_out', bufferId: 0xffffffff, inPort: c.inPort, actions: [act.output(OfPort.TABLE)], data: encodeEthernet(c.frame) },
      { type: 'packet_out', bufferId: 0xffffffff, inPort: c.inPort, actions: [act.toController()], data: marker },
    ]);
    await markerIn;
    expect(got).toEqual([]);
    const fakeConn = fake.connect();
    const fakeGot: SwitchAsyncMessage[] = [];
    fakeConn.messages$.subscribe((m) => fakeGot.push(m));
    await fakeConn.sendBatch([{ type: 'packet_out', bufferId: 0xffffffff, inPort: c.inPort, actions: [act.output(OfPort.TABLE)], data: encodeEthernet(c.frame) }]);
    expect(fakeGot).toEqual([]);
  });

  test('both refuse the same bad flows with the same OpenFlow errors', async () => {
    const bad = [
      flow(7, { priority: 1, match: {}, writeActions: [act.setField('vlan_vid', 0x1000 | 42), act.pushVlan()] }),
      flow(7, { priority: 2, match: { in_port: 1 }, actions: [act.setField('ipv4_dst', '10.0.0.9')] }),
      flow(7, { priority: 3, match: {}, actions: [act.group(0x0700_0001)] }),
      { table: 8, priority: 4, match: {}, instructions: [inst.gotoTable(7)] },
      flow(7, { priority: 5, match: { eth_type: 0x0800 }, actions: [act.setField('ipv4_dst', '10.0.0.9'), act.output(2)] }),
    ];
    const errorsOf = async (channel: typeof b.channel) => {
      const r = new Reconciler();
      const seen: string[] = [];
      r.errors$.subscribe((e) => seen.push(`${e.request.type === 'flow_mod' ? e.request.priority : '?'} ${e.message}`));
      // the reconciler owns the whole switch: it must keep desiring the good flows too
      const { flows, groups } = flowSet();
      r.replace({ app: 'crosscheck', slot: 1, owner: 'flows', kind: OWNER_KINDS.hash, tag: 1 }, flows, groups);
      r.replace({ app: 'crosscheck', slot: 2, owner: 'bad', kind: OWNER_KINDS.hash, tag: 2 }, bad);
      r.setComplete(1);
      await r.attach(channel);
      await r.flush();
      return seen.sort();
    };
    const real = await errorsOf(b.channel);
    expect(real).toHaveLength(4);
    expect(await errorsOf(fake.connect())).toEqual(real);
    // and the good flows are all still there, on both
    expect(fake.flowCount()).toBe(flowSet().flows.length + 1);
    expect((await b.channel.dumpFlows()).length).toBe(flowSet().flows.length + 1);
  });

  test('packet-ins: same reason, table, cookie and pipeline fields as real OVS packet-outs produce', async () => {
    const punted = CASES.filter((x) => fakeOutcome(fake, x).controller > 0);
    expect(punted.map((c) => c.name)).toEqual(['ARP punted to the controller', 'unknown destination: the table-miss flow punts']);
    for (const c of punted) {
      // what the fake sends for the same packet-out
      const fakeConn = fake.connect();
      const fakeGot: PacketIn[] = [];
      fakeConn.messages$.subscribe((m) => m.type === 'packet_in' && fakeGot.push(m));
      await fakeConn.sendBatch([{ type: 'packet_out', bufferId: 0xffffffff, inPort: c.inPort, actions: [act.output(OfPort.TABLE)], data: encodeEthernet(c.frame) }]);
      expect(fakeGot).toHaveLength(1);
      const f = fakeGot[0]!;
      const expected = { reason: f.reason, tableId: f.tableId, cookie: f.cookie, fields: { reg6: f.match.reg6?.value, metadata: f.match.metadata?.value }, frame: decodeEthernet(f.data) };
      const arrived = nextPacketIn(b);
      const outcome = await b.channel.sendBatch([{ type: 'packet_out', bufferId: 0xffffffff, inPort: c.inPort, actions: [act.output(OfPort.TABLE)], data: encodeEthernet(c.frame) }]);
      expect(outcome.errors).toEqual([]);
      const p = await arrived.catch((e: Error) => { throw new Error(`${c.name}: ${e.message}`); });
      expect({ reason: p!.reason, table: p!.tableId, cookie: p!.cookie, reg6: p!.match.reg6?.value, metadata: p!.match.metadata?.value }, c.name).toEqual({
        reason: expected.reason,
        table: expected.tableId,
        cookie: expected.cookie,
        reg6: expected.fields.reg6,
        metadata: expected.fields.metadata,
      });
      expect(describeFrame(decodeEthernet(p!.data))).toBe(describeFrame(expected.frame));
    }
  });
});
