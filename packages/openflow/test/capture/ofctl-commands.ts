/**
 * The ovs-ofctl invocations whose bytes become controller→switch fixtures. `T` stands
 * for the target socket. Each entry is run as `ovs-ofctl -O OpenFlow13 <args>`.
 */
export interface OfctlCapture {
  readonly name: string;
  readonly args: readonly string[];
  /** Message types to keep from the session (default: everything but hello and barrier). */
  readonly keep?: readonly string[];
}

const T = 'T';

export const OFCTL_CAPTURES: readonly OfctlCapture[] = [
  { name: 'hello', args: ['probe', T], keep: ['hello'] },
  { name: 'echo_request', args: ['probe', T], keep: ['echo_request'] },
  { name: 'barrier_request', args: ['add-flow', T, 'actions=drop'], keep: ['barrier_request'] },
  { name: 'features_request', args: ['show', T], keep: ['features_request'] },
  { name: 'port_desc_request', args: ['dump-ports-desc', T] },
  { name: 'get_config_request', args: ['get-frags', T] },
  { name: 'set_config', args: ['set-frags', T, 'drop'], keep: ['set_config'] },
  { name: 'desc_request', args: ['dump-desc', T] },
  { name: 'flow_stats_request', args: ['dump-flows', T, 'table=3,cookie=0x10/0xff,ip,nw_dst=10.0.0.0/8'] },
  { name: 'flow_stats_request_all', args: ['dump-flows', T] },
  { name: 'table_stats_request', args: ['dump-tables', T] },
  { name: 'port_stats_request', args: ['dump-ports', T, '2'] },
  { name: 'group_desc_request', args: ['dump-groups', T] },
  { name: 'meter_config_request', args: ['dump-meters', T] },
  { name: 'meter_config_request_one', args: ['dump-meters', T, 'meter=7'] },
  { name: 'packet_out', args: ['packet-out', T, 'in_port=1,packet=ffffffffffff000000000001080600010800060400010000000000010a000001000000000000000a000002,actions=output:2,controller'] },
  // ---- flow-mods: commands, timeouts, flags, cookies ----
  { name: 'flow_mod_add', args: ['add-flow', T, 'table=3,priority=100,cookie=0x1234,idle_timeout=10,hard_timeout=20,send_flow_rem,in_port=1,ip,nw_dst=10.0.0.0/24,actions=output:2'] },
  { name: 'flow_mod_modify', args: ['mod-flows', T, 'cookie=0x10/0xff,table=1,ip,actions=output:3'] },
  { name: 'flow_mod_modify_strict', args: ['mod-flows', '--strict', T, 'table=1,priority=5,ip,actions=output:3'] },
  { name: 'flow_mod_delete', args: ['del-flows', T, 'cookie=0x10/0xff,table=1,out_port=7'] },
  { name: 'flow_mod_delete_strict', args: ['del-flows', '--strict', T, 'table=1,priority=5,ip'] },
  // ---- every match field ----
  { name: 'match_l2', args: ['add-flow', T, 'in_port=LOCAL,dl_src=00:11:22:33:44:55,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,dl_vlan=100,dl_vlan_pcp=3,dl_type=0x0800,actions=drop'] },
  { name: 'match_vlan_present', args: ['add-flow', T, 'vlan_tci=0x1000/0x1000,actions=drop'] },
  { name: 'match_metadata', args: ['add-flow', T, 'metadata=0x1234/0xffff,tun_id=0x55,actions=drop'] },
  { name: 'match_ipv4_tcp', args: ['add-flow', T, 'tcp,nw_src=192.168.1.0/24,nw_dst=10.1.2.3,nw_tos=32,nw_ecn=2,tp_src=1024/0xfc00,tp_dst=80,actions=drop'] },
  { name: 'match_udp', args: ['add-flow', T, 'udp,udp_src=68,udp_dst=67,actions=drop'] },
  { name: 'match_sctp', args: ['add-flow', T, 'sctp,sctp_src=1,sctp_dst=2,actions=drop'] },
  { name: 'match_icmp', args: ['add-flow', T, 'icmp,icmp_type=8,icmp_code=0,actions=drop'] },
  { name: 'match_arp', args: ['add-flow', T, 'arp,arp_op=1,arp_spa=10.0.0.1,arp_tpa=10.0.0.0/8,arp_sha=00:00:00:00:00:01,arp_tha=00:00:00:00:00:00,actions=drop'] },
  { name: 'match_ipv6', args: ['add-flow', T, 'ipv6,ipv6_src=2001:db8::/32,ipv6_dst=2001:db8::1,ipv6_label=0x12345,actions=drop'] },
  { name: 'match_icmpv6_nd', args: ['add-flow', T, 'icmp6,icmp_type=135,icmp_code=0,nd_target=fe80::1,nd_sll=00:00:00:00:00:02,actions=drop'] },
  { name: 'match_icmpv6_na', args: ['add-flow', T, 'icmp6,icmp_type=136,nd_target=fe80::2,nd_tll=00:00:00:00:00:03,actions=drop'] },
  { name: 'match_mpls', args: ['add-flow', T, 'mpls,mpls_label=100,mpls_tc=1,mpls_bos=1,actions=drop'] },
  { name: 'match_regs', args: ['add-flow', T, 'reg0=1,reg1=0x2/0xff,reg7=7,reg8=8,reg15=0xffffffff,actions=drop'] },
  { name: 'match_tunnel', args: ['add-flow', T, 'tun_src=1.1.1.1,tun_dst=2.2.2.0/24,tun_id=0x10,actions=drop'] },
  { name: 'match_ct', args: ['add-flow', T, 'ct_state=+trk+est-new,ct_zone=5,ct_mark=0x1/0x1,ct_label=0x1/0xff,ip,actions=drop'] },
  { name: 'match_pkt_mark_conj', args: ['add-flow', T, 'pkt_mark=0x7/0xf,conj_id=42,actions=drop'] },
  // ---- actions and instructions ----
  { name: 'actions_output', args: ['add-flow', T, 'actions=output:1,IN_PORT,LOCAL,CONTROLLER:128,NORMAL,FLOOD,ALL'] },
  { name: 'actions_group_queue_vlan', args: ['add-flow', T, 'ip,actions=set_queue:3,push_vlan:0x8100,set_field:4196->vlan_vid,pop_vlan,dec_ttl,group:5'] },
  { name: 'actions_set_field', args: ['add-flow', T, 'ip,actions=set_field:00:00:00:00:00:09->eth_dst,set_field:10.0.0.9->ip_dst,set_field:5->reg3,set_field:0x8/0xf->reg4,set_field:0x99->tun_id,set_field:2.2.2.2->tun_dst'] },
  { name: 'actions_load_move', args: ['add-flow', T, 'actions=load:0x5->NXM_NX_REG0[0..7],move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],move:NXM_NX_REG1[0..15]->NXM_NX_REG2[16..31]'] },
  { name: 'actions_resubmit', args: ['add-flow', T, 'actions=resubmit:3,resubmit(,7),resubmit(2,8)'] },
  { name: 'actions_ct', args: ['add-flow', T, 'ip,actions=ct(commit,zone=5,table=7,exec(set_field:0x1->ct_mark,set_field:0x2/0x2->ct_label)),ct(zone=NXM_NX_REG6[0..15],table=8),ct_clear'] },
  { name: 'actions_nat', args: ['add-flow', T, 'ip,actions=ct(commit,nat(src=10.0.0.1-10.0.0.10:1000-2000,persistent,random)),ct(nat),ct(commit,nat(dst=10.0.0.5))'] },
  { name: 'actions_nat6', args: ['add-flow', T, 'ipv6,actions=ct(commit,nat(dst=[2001:db8::1]-[2001:db8::2]:80))'] },
  { name: 'actions_conjunction', args: ['add-flow', T, 'ip,actions=conjunction(42,1/2),conjunction(43,2/3)'] },
  { name: 'actions_note', args: ['add-flow', T, 'actions=note:01.02.03.04.05.06.07.08.09,output:1'] },
  { name: 'actions_controller', args: ['add-flow', T, 'actions=controller(reason=no_match,userdata=01.02.03.04,max_len=100),controller(id=3),controller(pause)'] },
  { name: 'instructions_all', args: ['add-flow', T, 'table=1,actions=meter:3,output:1,clear_actions,write_actions(output:2,group:1),write_metadata:0x10/0xff,goto_table:5'] },
  // ---- groups and meters ----
  { name: 'group_mod_all', args: ['add-group', T, 'group_id=1,type=all,bucket=output:1,bucket=output:2'] },
  { name: 'group_mod_select', args: ['add-group', T, 'group_id=2,type=select,bucket=weight:10,output:1,bucket=weight:20,output:2'] },
  { name: 'group_mod_indirect', args: ['add-group', T, 'group_id=3,type=indirect,bucket=set_field:00:00:00:00:00:01->eth_dst,output:1'] },
  { name: 'group_mod_ff', args: ['add-group', T, 'group_id=4,type=fast_failover,bucket=watch_port:1,output:1,bucket=watch_port:2,output:2'] },
  { name: 'group_mod_modify', args: ['mod-group', T, 'group_id=1,type=all,bucket=output:3'] },
  { name: 'group_mod_delete', args: ['del-groups', T, 'group_id=1'] },
  { name: 'meter_mod_add', args: ['add-meter', T, 'meter=1,kbps,burst,band=type=drop,rate=1000,burst_size=100'] },
  { name: 'meter_mod_dscp', args: ['add-meter', T, 'meter=2,pktps,band=type=dscp_remark,rate=100,prec_level=1'] },
  { name: 'meter_mod_delete', args: ['del-meter', T, 'meter=1'] },
];
