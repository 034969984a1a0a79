/**
 * Switch→controller fixtures: a real ovs-vswitchd (userspace datapath) in a temporary
 * directory; we connect to bridge br0's management socket as a controller and record
 * what the switch answers or sends on its own.
 */
import { startOvs, type OvsInstance } from '@dragonflow/sandbox';
import { FlowModFlags, OfPort, PacketInFormat, flowMod, hexToBytes, type OfMessage } from '../../src/index.js';
import { TestController, type Seen } from '../support/of-peer.js';
import type { Fixture } from './fixtures.capture.js';

/** Flows installed with ovs-ofctl before the flow-stats dump: every match field and action kind. */
export const STATS_FLOWS = [
  'table=1,priority=10,cookie=0x1,in_port=1,dl_src=00:11:22:33:44:55,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,dl_vlan=100,dl_vlan_pcp=3,ip,nw_tos=32,nw_ecn=2,actions=output:2',
  'table=1,priority=11,cookie=0x2,tcp,nw_src=192.168.1.0/24,nw_dst=10.1.2.3,tp_src=1024/0xfc00,tp_dst=80,actions=set_field:00:00:00:00:00:09->eth_dst,set_field:10.0.0.9->ip_dst,dec_ttl,output:1',
  'table=1,priority=12,cookie=0x3,udp6,ipv6_src=2001:db8::/32,ipv6_dst=2001:db8::1,ipv6_label=0x12345,udp_src=68,udp_dst=67,actions=controller(userdata=01.02.03,reason=no_match)',
  'table=1,priority=13,cookie=0x4,arp,arp_op=1,arp_spa=10.0.0.1,arp_tpa=10.0.0.0/8,arp_sha=00:00:00:00:00:01,arp_tha=00:00:00:00:00:00,actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],load:0x2->NXM_OF_ARP_OP[],IN_PORT',
  'table=1,priority=14,cookie=0x5,icmp6,icmp_type=135,nd_target=fe80::1,nd_sll=00:00:00:00:00:02,actions=resubmit(,2),resubmit:3',
  'table=1,priority=15,cookie=0x6,reg0=1,reg1=0x2/0xff,reg15=0xffffffff,metadata=0x1234/0xffff,tun_id=0x55,tun_src=1.1.1.1,tun_dst=2.2.2.0/24,pkt_mark=0x7/0xf,actions=set_field:0x8/0xf->reg4,write_metadata:0x10/0xff,goto_table:5',
  'table=1,priority=16,cookie=0x7,ct_state=+trk+est-new,ct_zone=5,ct_mark=0x1/0x1,ct_label=0x1/0xff,ip,actions=ct(commit,zone=5,table=7,exec(set_field:0x1->ct_mark),nat(src=10.0.0.1-10.0.0.10:1000-2000)),ct_clear',
  'table=1,priority=17,cookie=0x8,conj_id=42,ip,actions=note:01.02.03,group:1',
  'table=1,priority=18,cookie=0x9,ip,nw_src=10.0.0.1,actions=conjunction(42,1/2)',
  'table=1,priority=19,cookie=0xa,sctp,sctp_src=1,sctp_dst=2,actions=push_vlan:0x8100,set_field:4196->vlan_vid,set_queue:3,output:1',
  'table=1,priority=20,cookie=0xb,icmp,icmp_type=8,icmp_code=0,actions=meter:1,clear_actions,write_actions(output:2)',
];

/** A second meter: packets per second, with a burst size, counters on. */
const METER_2 = 'meter=2,pktps,burst,stats,band=type=drop,rate=100,burst_size=50';
const GROUPS = ['group_id=1,type=all,bucket=output:1,bucket=output:2', 'group_id=2,type=select,bucket=weight:10,output:1,bucket=weight:20,output:2', 'group_id=3,type=indirect,bucket=set_field:00:00:00:00:00:01->eth_dst,output:1', 'group_id=4,type=fast_failover,bucket=watch_port:1,output:1,bucket=watch_port:2,output:2'];

/** An ARP request from 00:00:00:00:00:01 (10.0.0.1) for 10.0.0.2, as a packet-out payload. */
export const ARP_REQUEST = 'ffffffffffff000000000001080600010800060400010000000000010a000001000000000000000a000002';

export async function captureVswitchd(): Promise<Fixture[]> {
  const ovs = await startOvs();
  const out: Fixture[] = [];
  const add = (name: string, command: string, seen: Seen | Seen[]): void => {
    out.push({ name, command, messages: (Array.isArray(seen) ? seen : [seen]).map((s) => s.hex) });
  };
  let c: TestController | undefined;
  try {
    await ovs.vsctl('add-br', 'br0', '--', 'set', 'bridge', 'br0', 'datapath_type=netdev', 'fail_mode=secure', 'protocols=OpenFlow13', 'other-config:datapath-id=0000000000000abc');
    for (const p of [1, 2]) await ovs.vsctl('add-port', 'br0', `p${p}`, '--', 'set', 'interface', `p${p}`, 'type=internal', `ofport_request=${p}`);
    await ovs.ofctl('-O', 'OpenFlow13', 'add-meter', 'br0', 'meter=1,kbps,band=type=drop,rate=1000');
    await ovs.ofctl('-O', 'OpenFlow13', 'add-meter', 'br0', METER_2);
    for (const g of GROUPS) await ovs.ofctl('-O', 'OpenFlow13', 'add-group', 'br0', g);
    for (const f of STATS_FLOWS) await ovs.ofctl('-O', 'OpenFlow13', 'add-flow', 'br0', f);
    c = await TestController.connect(ovs.mgmtSocket('br0'));
    const conn = 'controller connected to br0.mgmt of ovs-vswitchd 3.1 (userspace datapath)';
    add('hello', `${conn}: the switch's HELLO`, c.seen[0]!);
    add('features_reply', `${conn}: FEATURES_REQUEST`, await c.request({ type: 'features_request', xid: 0 }));
    add('get_config_reply', `${conn}: GET_CONFIG_REQUEST`, await c.request({ type: 'get_config_request', xid: 0 }));
    add('echo_reply', `${conn}: ECHO_REQUEST with data 'ping'`, await c.request({ type: 'echo_request', xid: 0, data: new TextEncoder().encode('ping') }));
    add('barrier_reply', `${conn}: BARRIER_REQUEST`, await c.request({ type: 'barrier_request', xid: 0 }));
    add('desc_reply', `${conn}: MULTIPART desc`, await c.multipart({ type: 'multipart_request', xid: 0, more: false, body: { kind: 'desc' } }));
    add('port_desc_reply', `${conn}: MULTIPART port_desc (ports LOCAL, p1, p2)`, await c.multipart({ type: 'multipart_request', xid: 0, more: false, body: { kind: 'port_desc' } }));
    add('port_stats_reply', `${conn}: MULTIPART port_stats port 1`, await c.multipart({ type: 'multipart_request', xid: 0, more: false, body: { kind: 'port_stats', portNo: 1 } }));
    add('table_stats_reply', `${conn}: MULTIPART table`, await c.multipart({ type: 'multipart_request', xid: 0, more: false, body: { kind: 'table' } }));
    add('group_desc_reply', `${conn}: MULTIPART group_desc after ovs-ofctl add-group ${GROUPS.map((g) => `'${g}'`).join(' ')}`, await c.multipart({ type: 'multipart_request', xid: 0, more: false, body: { kind: 'group_desc' } }));
    add('meter_config_reply', `${conn}: MULTIPART meter_config meter=all after ovs-ofctl add-meter 'meter=1,kbps,band=type=drop,rate=1000' '${METER_2}'`, await c.multipart({ type: 'multipart_request', xid: 0, more: false, body: { kind: 'meter_config', meterId: 0xffffffff } }));
    add('meter_config_reply_one', `${conn}: MULTIPART meter_config meter=2`, await c.multipart({ type: 'multipart_request', xid: 0, more: false, body: { kind: 'meter_config', meterId: 2 } }));
    add(
      'flow_stats_reply',
      `${conn}: MULTIPART flow table=1 after ovs-ofctl -O OpenFlow13 add-flow br0 for each of STATS_FLOWS (vswitchd-scenarios.ts)`,
      await c.multipart({ type: 'multipart_request', xid: 0, more: false, body: { kind: 'flow', tableId: 1, outPort: OfPort.ANY, outGroup: 0xffffffff, cookie: 0n, cookieMask: 0n, match: {} } }),
    );
    add('role_reply', `${conn}: ROLE_REQUEST master generation 7`, await c.request({ type: 'role_request', xid: 0, role: 'master', generationId: 7n }));
    add('get_async_reply', `${conn}: GET_ASYNC_REQUEST`, await c.request({ type: 'get_async_request', xid: 0 }));
    // A flow-mod OVS cannot accept (pbb_isid is OpenFlow 1.3 but not implemented by OVS).
    const bad = flowMod({ tableId: 0, priority: 1, match: { eth_type: 0x88e7, pbb_isid: 5 }, actions: [] });
    const errXid = c.xid();
    c.send({ ...bad, xid: errXid });
    add('error_bad_field', `${conn}: FLOW_MOD matching eth_type=0x88e7,pbb_isid=5`, await c.waitFor((s) => s.msg.type === 'error' && s.msg.xid === errXid, 'an error'));
    const badAct = c.xid();
    c.send({ ...flowMod({ priority: 1, actions: [{ type: 'experimenter', experimenter: 0x2320, data: new Uint8Array([0x00, 0x99, 0, 0, 0, 0, 0, 0]) }] }), xid: badAct });
    add('error_bad_action', `${conn}: FLOW_MOD with an unknown Nicira action subtype 0x99`, await c.waitFor((s) => s.msg.type === 'error' && s.msg.xid === badAct, 'an error'));

    // Asynchronous messages: a service connection gets packet-ins once miss_send_len > 0.
    c.send({ type: 'set_config', xid: c.xid(), flags: 0, missSendLen: 0xffff });
    await c.sendAndBarrier(flowMod({ tableId: 0, priority: 100, cookie: 0x77n, match: { in_port: OfPort.LOCAL, eth_type: 0x0806 }, actions: [{ type: 'output', port: OfPort.CONTROLLER, maxLen: 32 }] }));
    c.send({ type: 'packet_out', xid: c.xid(), bufferId: 0xffffffff, inPort: OfPort.LOCAL, actions: [{ type: 'output', port: OfPort.TABLE }], data: hexToBytes(ARP_REQUEST) });
    add('packet_in', `${conn}: SET_CONFIG miss_send_len=65535; flow 'cookie=0x77,in_port=LOCAL,arp,actions=controller:32'; PACKET_OUT in_port=LOCAL actions=TABLE with an ARP request`, await c.waitFor((s) => s.msg.type === 'packet_in', 'a packet-in'));
    c.send({ type: 'packet_out', xid: c.xid(), bufferId: 0xffffffff, inPort: OfPort.LOCAL, actions: [{ type: 'output', port: OfPort.CONTROLLER }], data: hexToBytes(ARP_REQUEST) });
    add('packet_in_packet_out', `${conn}: PACKET_OUT in_port=LOCAL actions=CONTROLLER with an ARP request`, await c.waitFor((s) => s.msg.type === 'packet_in' && s.msg.cookie !== 0x77n, 'a packet-in from a packet-out'));

    c.send({ type: 'nx_set_packet_in_format', xid: c.xid(), format: PacketInFormat.NXT_PACKET_IN2 });
    await c.sendAndBarrier(
      flowMod({ tableId: 0, priority: 200, cookie: 0x88n, match: { in_port: OfPort.LOCAL, eth_type: 0x0806, reg3: 0 }, actions: [{ type: 'set_field', field: 'reg5', value: 0x55 }, { type: 'controller', reason: 0, userdata: new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0x01]) }] }),
    );
    c.send({ type: 'packet_out', xid: c.xid(), bufferId: 0xffffffff, inPort: OfPort.LOCAL, actions: [{ type: 'output', port: OfPort.TABLE }], data: hexToBytes(ARP_REQUEST) });
    add(
      'nx_packet_in2_userdata',
      `${conn}: NXT_SET_PACKET_IN_FORMAT nxt_packet_in2; flow 'cookie=0x88,priority=200,in_port=LOCAL,arp,reg3=0,actions=set_field:0x55->reg5,controller(reason=no_match,userdata=de.ad.be.ef.01)'; PACKET_OUT actions=TABLE with an ARP request`,
      await c.waitFor((s) => s.msg.type === 'nx_packet_in2', 'a packet-in2'),
    );
    await c.sendAndBarrier(flowMod({ tableId: 0, priority: 300, cookie: 0x99n, match: { in_port: OfPort.LOCAL, eth_type: 0x0806 }, actions: [{ type: 'controller', pause: true, maxLen: 64 }] }));
    c.send({ type: 'packet_out', xid: c.xid(), bufferId: 0xffffffff, inPort: OfPort.LOCAL, actions: [{ type: 'output', port: OfPort.TABLE }], data: hexToBytes(ARP_REQUEST) });
    add('nx_packet_in2_pause', `${conn}: flow 'cookie=0x99,priority=300,in_port=LOCAL,arp,actions=controller(pause,max_len=64)'; PACKET_OUT actions=TABLE`, await c.waitFor((s) => s.msg.type === 'nx_packet_in2' && s.msg.continuation !== undefined, 'a paused packet-in2'));

    // flow-removed: a flow with send_flow_rem, deleted strictly.
    const fr = flowMod({ tableId: 2, priority: 42, cookie: 0xabcn, idleTimeout: 60, flags: FlowModFlags.SEND_FLOW_REM, match: { eth_type: 0x0800, ipv4_dst: '10.9.9.9' }, actions: [{ type: 'output', port: 1 }] });
    await c.sendAndBarrier(fr);
    c.send({ ...fr, xid: c.xid(), command: 'delete_strict' });
    add('flow_removed', `${conn}: FLOW_MOD add 'table=2,priority=42,cookie=0xabc,idle_timeout=60,send_flow_rem,ip,nw_dst=10.9.9.9,actions=output:1' then delete_strict`, await c.waitFor((s) => s.msg.type === 'flow_removed', 'a flow-removed'));

    // port-status: add and delete a port.
    await ovs.vsctl('add-port', 'br0', 'p3', '--', 'set', 'interface', 'p3', 'type=internal', 'ofport_request=3');
    add('port_status_add', `${conn}: ovs-vsctl add-port br0 p3 -- set interface p3 type=internal ofport_request=3`, await c.waitFor((s) => s.msg.type === 'port_status' && s.msg.reason === 'add', 'a port-status add', 10_000));
    await ovs.vsctl('del-port', 'br0', 'p3');
    add('port_status_delete', `${conn}: ovs-vsctl del-port br0 p3`, await c.waitFor((s) => s.msg.type === 'port_status' && s.msg.reason === 'delete', 'a port-status delete', 10_000));

    // A multipart reply split over several messages (more flag): 1200 flows in table 9.
    const many = Array.from({ length: 1200 }, (_, i) => `table=9,priority=${i + 1},ip,nw_dst=10.${(i >> 8) & 255}.${i & 255}.1,actions=output:1`).join('\n');
    await ovs.tool('sh', ['-c', `printf '%s\\n' "$1" | ovs-ofctl -O OpenFlow13 add-flows br0 -`, 'sh', many]);
    add(
      'flow_stats_reply_more',
      `${conn}: MULTIPART flow table=9 after adding 1200 flows 'table=9,priority=N,ip,nw_dst=10.X.Y.1,actions=output:1'`,
      await c.multipart({ type: 'multipart_request', xid: 0, more: false, body: { kind: 'flow', tableId: 9, outPort: OfPort.ANY, outGroup: 0xffffffff, cookie: 0n, cookieMask: 0n, match: {} } }),
    );
    return out;
  } catch (err) {
    if (c) console.error(c.seen.slice(-8).map((s) => `${s.msg.type} ${s.hex.slice(0, 200)}`).join('\n'));
    throw err;
  } finally {
    c?.close();
    await ovs.vsctl('--if-exists', 'del-br', 'br0').catch(() => undefined);
    await ovs.stop();
  }
}

export type { OvsInstance, OfMessage };
