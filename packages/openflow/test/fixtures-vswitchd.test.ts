/**
 * Bytes sent by a real ovs-vswitchd 3.1 to a controller decode to the expected
 * objects and re-encode byte-identical. Commands are in fixtures/ovs-vswitchd.json;
 * the scenario is test/capture/vswitchd-scenarios.ts.
 */
import { Ipv4Address, Ipv6Address, MacAddress } from '@dragonflow/base';
import { describe, expect, test } from 'vitest';
import {
  ErrorType,
  MeterFlags,
  OFPVID_PRESENT,
  OfPort,
  act,
  bytesToHex,
  decodeMessage,
  describeOfError,
  encodeMessage,
  flowIdentity,
  flowMod,
  hexToBytes,
  inst,
  instructionsKey,
  type FlowStats,
  type MessageOf,
  type OfMessage,
} from '../src/index.js';
import { ARP_REQUEST } from './capture/vswitchd-scenarios.js';
import { decodedFixture, loadFixtures } from './support/fixtures.js';

const fixtures = loadFixtures('ovs-vswitchd');
const one = <T extends OfMessage['type']>(name: string, type: T): MessageOf<T> => {
  const [m] = decodedFixture(fixtures, name);
  expect(m!.type).toBe(type);
  return m as MessageOf<T>;
};
const ip4 = (s: string) => Ipv4Address.parse(s);

describe('ovs-vswitchd fixtures (switch → controller)', () => {
  for (const f of fixtures) {
    test(`${f.name} re-encodes byte-identical`, () => {
      for (const h of f.messages) expect(bytesToHex(encodeMessage(decodeMessage(hexToBytes(h)), { validate: false }))).toBe(h);
    });
  }

  test('hello offers OpenFlow 1.3 in its version bitmap', () => {
    expect(one('hello', 'hello')).toMatchObject({ version: 4, versions: [4] });
  });

  test('features reply carries the bridge datapath id', () => {
    expect(one('features_reply', 'features_reply')).toMatchObject({ datapathId: 0xabcn, nTables: 254, auxiliaryId: 0, nBuffers: 0 });
  });

  test('get-config, echo, barrier, role and async replies', () => {
    expect(one('get_config_reply', 'get_config_reply')).toMatchObject({ flags: 0, missSendLen: 0 });
    expect(new TextDecoder().decode(one('echo_reply', 'echo_reply').data)).toBe('ping');
    expect(one('barrier_reply', 'barrier_reply').xid).toBeGreaterThan(0);
    expect(one('role_reply', 'role_reply')).toMatchObject({ role: 'master', generationId: 7n });
    expect(one('get_async_reply', 'get_async_reply')).toMatchObject({ packetInMask: [3, 0], portStatusMask: [7, 7], flowRemovedMask: [15, 0] });
  });

  test('desc reply names Open vSwitch', () => {
    const m = one('desc_reply', 'multipart_reply');
    expect(m.body).toEqual({ kind: 'desc', desc: { mfrDesc: 'Nicira, Inc.', hwDesc: 'Open vSwitch', swDesc: '3.1.0', serialNum: 'None', dpDesc: 'None' } });
  });

  test('port-desc lists LOCAL, p1 and p2', () => {
    const m = one('port_desc_reply', 'multipart_reply');
    if (m.body.kind !== 'port_desc') throw new Error('not port_desc');
    expect(m.body.ports.map((p) => [p.portNo, p.name])).toEqual([
      [OfPort.LOCAL, 'br0'],
      [1, 'p1'],
      [2, 'p2'],
    ]);
    for (const p of m.body.ports) expect(p.hwAddr).toBeInstanceOf(MacAddress);
  });

  test('port-stats and table-stats', () => {
    const ps = one('port_stats_reply', 'multipart_reply');
    expect(ps.body.kind === 'port_stats' && ps.body.ports.map((p) => p.portNo)).toEqual([1]);
    const ts = one('table_stats_reply', 'multipart_reply');
    if (ts.body.kind !== 'table') throw new Error('not table');
    expect(ts.body.tables).toHaveLength(254);
    expect(ts.body.tables[1]).toMatchObject({ tableId: 1, activeCount: 11 });
  });

  test('group-desc returns the four group types with their buckets', () => {
    const m = one('group_desc_reply', 'multipart_reply');
    if (m.body.kind !== 'group_desc') throw new Error('not group_desc');
    const any = 0xffffffff;
    expect(m.body.groups).toEqual([
      { groupType: 'all', groupId: 1, buckets: [{ weight: 0, watchPort: any, watchGroup: any, actions: [act.output(1)] }, { weight: 0, watchPort: any, watchGroup: any, actions: [act.output(2)] }] },
      { groupType: 'select', groupId: 2, buckets: [{ weight: 10, watchPort: any, watchGroup: any, actions: [act.output(1)] }, { weight: 20, watchPort: any, watchGroup: any, actions: [act.output(2)] }] },
      { groupType: 'indirect', groupId: 3, buckets: [{ weight: 0, watchPort: any, watchGroup: any, actions: [act.setField('eth_dst', '00:00:00:00:00:01'), act.output(1)] }] },
      { groupType: 'ff', groupId: 4, buckets: [{ weight: 0, watchPort: 1, watchGroup: any, actions: [act.output(1)] }, { weight: 0, watchPort: 2, watchGroup: any, actions: [act.output(2)] }] },
    ]);
  });

  test('meter-config returns every meter as installed; a band without OFPMF_BURST reports its rate as burst size', () => {
    const all = one('meter_config_reply', 'multipart_reply');
    if (all.body.kind !== 'meter_config') throw new Error('not meter_config');
    expect(all.body.meters).toEqual([
      { flags: MeterFlags.KBPS, meterId: 1, bands: [{ type: 'drop', rate: 1000, burstSize: 1000 }] },
      { flags: MeterFlags.PKTPS | MeterFlags.BURST | MeterFlags.STATS, meterId: 2, bands: [{ type: 'drop', rate: 100, burstSize: 50 }] },
    ]);
    const single = one('meter_config_reply_one', 'multipart_reply');
    if (single.body.kind !== 'meter_config') throw new Error('not meter_config');
    expect(single.body.meters).toEqual([all.body.meters[1]]);
  });

  test('flow-stats return every flow ovs-ofctl installed, equal in canonical form to our own construction', () => {
    const m = one('flow_stats_reply', 'multipart_reply');
    if (m.body.kind !== 'flow') throw new Error('not flow');
    const ours = [
      flowMod({ tableId: 1, priority: 10, cookie: 0x1n, match: { in_port: 1, eth_src: '00:11:22:33:44:55', eth_dst: '01:00:00:00:00:00/01:00:00:00:00:00', eth_type: 0x0800, vlan_vid: OFPVID_PRESENT | 100, vlan_pcp: 3, ip_dscp: 8, ip_ecn: 2 }, actions: [act.output(2)] }),
      flowMod({
        tableId: 1,
        priority: 11,
        cookie: 0x2n,
        match: { eth_type: 0x0800, ip_proto: 6, ipv4_src: '192.168.1.0/24', ipv4_dst: '10.1.2.3', tcp_src: [1024, 0xfc00], tcp_dst: 80 },
        actions: [act.setField('eth_dst', '00:00:00:00:00:09'), act.setField('ipv4_dst', '10.0.0.9'), act.decNwTtl(), act.output(1)],
      }),
      flowMod({
        tableId: 1,
        priority: 12,
        cookie: 0x3n,
        match: { eth_type: 0x86dd, ip_proto: 17, ipv6_src: '2001:db8::/32', ipv6_dst: '2001:db8::1', ipv6_flabel: 0x12345, udp_src: 68, udp_dst: 67 },
        actions: [act.controller({ reason: 0, userdata: new Uint8Array([1, 2, 3]) })],
      }),
      flowMod({
        tableId: 1,
        priority: 13,
        cookie: 0x4n,
        match: { eth_type: 0x0806, arp_op: 1, arp_spa: '10.0.0.1', arp_tpa: '10.0.0.0/8', arp_sha: '00:00:00:00:00:01', arp_tha: '00:00:00:00:00:00' },
        actions: [act.move({ field: 'eth_src' }, { field: 'eth_dst' }, 48), act.setField('arp_op', 2), act.inPort()],
      }),
      flowMod({ tableId: 1, priority: 14, cookie: 0x5n, match: { eth_type: 0x86dd, ip_proto: 58, icmpv6_type: 135, ipv6_nd_target: 'fe80::1', ipv6_nd_sll: '00:00:00:00:00:02' }, actions: [act.resubmit(2), act.resubmitPort(3)] }),
      flowMod({
        tableId: 1,
        priority: 15,
        cookie: 0x6n,
        match: { reg0: 1, reg1: [2, 0xff], reg15: 0xffffffff, metadata: [0x1234n, 0xffffn], tunnel_id: 0x55n, tun_ipv4_src: '1.1.1.1', tun_ipv4_dst: '2.2.2.0/24', pkt_mark: [7, 0xf] },
        instructions: [inst.apply(act.load('reg4', 8, 0xf)), inst.writeMetadata(0x10n, 0xffn), inst.gotoTable(5)],
      }),
      flowMod({
        tableId: 1,
        priority: 16,
        cookie: 0x7n,
        match: { eth_type: 0x0800, ct_state: [0x22, 0x23], ct_zone: 5, ct_mark: [1, 1], ct_label: [1n, 0xffn] },
        actions: [act.ct({ commit: true, zone: 5, table: 7, actions: [act.nat({ kind: 'src', addressMin: ip4('10.0.0.1'), addressMax: ip4('10.0.0.10'), portMin: 1000, portMax: 2000 }), act.setField('ct_mark', 1)] }), act.ctClear()],
      }),
      flowMod({ tableId: 1, priority: 17, cookie: 0x8n, match: { conj_id: 42, eth_type: 0x0800 }, actions: [act.note(new Uint8Array([1, 2, 3])), act.group(1)] }),
      flowMod({ tableId: 1, priority: 18, cookie: 0x9n, match: { eth_type: 0x0800, ipv4_src: '10.0.0.1' }, actions: [act.conjunction(42, 1, 2)] }),
      flowMod({ tableId: 1, priority: 19, cookie: 0xan, match: { eth_type: 0x0800, ip_proto: 132, sctp_src: 1, sctp_dst: 2 }, actions: [act.pushVlan(), act.setField('vlan_vid', OFPVID_PRESENT | 100), act.setQueue(3), act.output(1)] }),
      flowMod({ tableId: 1, priority: 20, cookie: 0xbn, match: { eth_type: 0x0800, ip_proto: 1, icmpv4_type: 8, icmpv4_code: 0 }, instructions: [inst.meter(1), inst.clear(), inst.write(act.output(2))] }),
    ];
    const byCookie = new Map<bigint, FlowStats>(m.body.flows.map((f) => [f.cookie, f]));
    expect(byCookie.size).toBe(ours.length);
    for (const f of ours) {
      const got = byCookie.get(f.cookie);
      expect(got, `flow with cookie ${f.cookie}`).toBeDefined();
      expect(flowIdentity(got!.tableId, got!.priority, got!.match)).toBe(flowIdentity(f.tableId, f.priority, f.match));
      expect(instructionsKey(got!.instructions)).toBe(instructionsKey(f.instructions));
    }
  });

  test('a multipart reply split by the switch carries the more flag on all but the last part', () => {
    const parts = decodedFixture(fixtures, 'flow_stats_reply_more') as MessageOf<'multipart_reply'>[];
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.map((p) => p.more)).toEqual([...parts.slice(1).map(() => true), false]);
    expect(new Set(parts.map((p) => p.xid)).size).toBe(1);
    const flows = parts.flatMap((p) => (p.body.kind === 'flow' ? p.body.flows : []));
    expect(flows).toHaveLength(1200);
    for (const f of flows) {
      const i = f.priority - 1;
      expect(f.match.ipv4_dst?.value.toString()).toBe(`10.${(i >> 8) & 255}.${i & 255}.1`);
    }
  });

  test('errors name the failure and carry the request that caused it', () => {
    const e1 = one('error_bad_field', 'error');
    expect(e1).toMatchObject({ errorType: ErrorType.BAD_MATCH, code: 6 });
    expect(describeOfError(e1)).toBe('OFPET_BAD_MATCH/OFPBMC_BAD_FIELD');
    const req = decodeMessage(e1.data);
    expect(req).toMatchObject({ type: 'flow_mod', xid: e1.xid, match: { pbb_isid: { value: 5 } } });
    const e2 = one('error_bad_action', 'error');
    expect(describeOfError(e2)).toBe('OFPET_BAD_ACTION/OFPBAC_BAD_EXP_TYPE');
    expect(decodeMessage(e2.data).xid).toBe(e2.xid);
  });

  test('packet-in from a flow and from a packet-out', () => {
    const p = one('packet_in', 'packet_in');
    expect(p).toMatchObject({ reason: 1, tableId: 0, cookie: 0x77n, totalLen: 43, bufferId: 0xffffffff, match: { in_port: { value: OfPort.LOCAL } } });
    expect(bytesToHex(p.data)).toBe(ARP_REQUEST);
    const q = one('packet_in_packet_out', 'packet_in');
    expect(q).toMatchObject({ cookie: 0xffffffffffffffffn, match: { in_port: { value: OfPort.LOCAL } } });
  });

  test('NXT_PACKET_IN2 carries controller() userdata, reason, cookie and pipeline registers', () => {
    const p = one('nx_packet_in2_userdata', 'nx_packet_in2');
    expect(p).toMatchObject({ reason: 0, tableId: 0, cookie: 0x88n, metadata: { in_port: { value: OfPort.LOCAL }, reg5: { value: 0x55 } } });
    expect(bytesToHex(p.userdata!)).toBe('deadbeef01');
    expect(bytesToHex(p.data)).toBe(ARP_REQUEST);
    const paused = one('nx_packet_in2_pause', 'nx_packet_in2');
    expect(paused.continuation!.length).toBeGreaterThan(0);
    expect(paused.cookie).toBeUndefined();
  });

  test('flow-removed reports the deleted flow', () => {
    const m = one('flow_removed', 'flow_removed');
    expect(m).toMatchObject({ cookie: 0xabcn, priority: 42, reason: 2, tableId: 2, idleTimeout: 60 });
    expect(m.match).toEqual({ eth_type: { value: 0x0800 }, ipv4_dst: { value: ip4('10.9.9.9') } });
  });

  test('port-status add and delete', () => {
    const a = one('port_status_add', 'port_status');
    expect(a).toMatchObject({ reason: 'add', port: { portNo: 3, name: 'p3' } });
    const d = one('port_status_delete', 'port_status');
    expect(d).toMatchObject({ reason: 'delete', port: { portNo: 3, name: 'p3' } });
    expect(d.port.hwAddr.equals(a.port.hwAddr)).toBe(true);
  });
});

void Ipv6Address;
