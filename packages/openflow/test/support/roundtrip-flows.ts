import { Ipv4Address, Ipv6Address } from '@dragonflow/base';
import { OFPVID_PRESENT, OfPort, act, flowMod, inst, type FlowMod, type FlowModInit } from '../../src/index.js';

const ip4 = (s: string) => Ipv4Address.parse(s);
const ip6 = (s: string) => Ipv6Address.parse(s);

/**
 * Flows covering every match field and action kind Open vSwitch implements, written
 * the way an app would. Each gets a unique cookie so it can be found after reading
 * the switch's flow table back.
 */
const CASES: readonly [string, FlowModInit][] = [
  // ---- match fields ----
  ['in_port, metadata', { match: { in_port: 1, metadata: [0x1234n, 0xffffn] } }],
  ['metadata exact and full mask', { match: { metadata: [0x77n, 0xffff_ffff_ffff_ffffn] } }],
  ['eth_src/eth_dst masked', { match: { eth_src: '00:11:22:33:44:55', eth_dst: 'ff:ff:ff:ff:ff:ff/01:00:00:00:00:00' } }],
  ['vlan vid + pcp', { match: { vlan_vid: OFPVID_PRESENT | 100, vlan_pcp: 3 } }],
  ['vlan present any', { match: { vlan_vid: [OFPVID_PRESENT, OFPVID_PRESENT] } }],
  ['no vlan', { match: { vlan_vid: 0 } }],
  ['ipv4 + dscp/ecn', { match: { eth_type: 0x0800, ip_dscp: 46, ip_ecn: 1, ipv4_src: '10.1.0.0/16', ipv4_dst: '10.2.3.4' } }],
  ['ipv4 host bits under mask', { match: { eth_type: 0x0800, ipv4_dst: '10.2.3.4/255.255.0.0' } }],
  ['ipv4 non-prefix mask', { match: { eth_type: 0x0800, ipv4_src: '10.0.0.1/255.0.255.0' } }],
  ['tcp ports masked', { match: { eth_type: 0x0800, ip_proto: 6, tcp_src: [0x1000, 0xf000], tcp_dst: 443 } }],
  ['udp ports', { match: { eth_type: 0x86dd, ip_proto: 17, udp_src: 546, udp_dst: 547 } }],
  ['sctp ports', { match: { eth_type: 0x0800, ip_proto: 132, sctp_src: 9, sctp_dst: [10, 0xfffe] } }],
  ['icmpv4', { match: { eth_type: 0x0800, ip_proto: 1, icmpv4_type: 3, icmpv4_code: 4 } }],
  ['nw_ttl', { match: { eth_type: 0x0800, nw_ttl: 1 } }],
  ['arp', { match: { eth_type: 0x0806, arp_op: 2, arp_spa: '10.0.0.0/24', arp_tpa: '10.0.0.9', arp_sha: '00:00:00:00:00:01/ff:ff:ff:00:00:00', arp_tha: '00:00:00:00:00:02' } }],
  ['ipv6 + flabel masked', { match: { eth_type: 0x86dd, ipv6_src: '2001:db8::/48', ipv6_dst: 'fe80::1', ipv6_flabel: [0x12345, 0xff0ff] } }],
  ['icmpv6', { match: { eth_type: 0x86dd, ip_proto: 58, icmpv6_type: 128, icmpv6_code: 0 } }],
  ['nd solicit (no explicit code)', { match: { eth_type: 0x86dd, ip_proto: 58, icmpv6_type: 135, ipv6_nd_target: 'fe80::9', ipv6_nd_sll: '00:00:00:00:00:09' } }],
  ['nd advert', { match: { eth_type: 0x86dd, ip_proto: 58, icmpv6_type: 136, icmpv6_code: 0, ipv6_nd_target: '2001:db8::/64', ipv6_nd_tll: '00:00:00:00:00:0a' } }],
  ['mpls', { match: { eth_type: 0x8847, mpls_label: 1000, mpls_tc: 5, mpls_bos: 1 } }],
  ['tunnel', { match: { tunnel_id: [0x1000n, 0xff00n], tun_ipv4_src: '192.0.2.1', tun_ipv4_dst: '192.0.2.0/24' } }],
  ['registers 0-7', { match: { reg0: 0, reg1: 1, reg2: [2, 0xff], reg3: 3, reg4: 4, reg5: 5, reg6: [6, 0xffff], reg7: 7 } }],
  ['registers 8-15', { match: { reg8: 8, reg9: 9, reg10: 10, reg11: 11, reg12: 12, reg13: [13, 0xff00], reg14: 14, reg15: 0xffffffff } }],
  ['conntrack', { match: { eth_type: 0x0800, ct_state: [0x22, 0x23], ct_zone: 7, ct_mark: [0x10, 0xf0], ct_label: [0x1n << 100n, 0x3n << 100n] } }],
  ['pkt_mark, conj_id', { match: { pkt_mark: [0xab, 0xff], conj_id: 1234 } }],
  ['zero mask means no match on the field', { match: { reg9: [0, 0], eth_type: 0x0800 } }],
  // ---- actions ----
  ['output ports', { actions: [act.output(1), act.inPort(), act.local(), act.toController(), act.toController(96), act.normal(), act.output(OfPort.FLOOD), act.output(OfPort.ALL)] }],
  ['output with max_len on a plain port', { actions: [act.output(2, 128)] }],
  ['group, queue', { actions: [act.setQueue(4), act.group(1)] }],
  ['vlan push/set/pop', { match: { eth_type: 0x0800 }, actions: [act.pushVlan(), act.setField('vlan_vid', OFPVID_PRESENT | 7), act.setField('vlan_pcp', 5), act.output(1), act.popVlan(), act.output(2)] }],
  ['mpls push/pop', { match: { eth_type: 0x0800 }, actions: [{ type: 'push_mpls', ethertype: 0x8847 }, act.setField('mpls_label', 99), act.output(1)] }],
  ['mpls pop', { match: { eth_type: 0x8847 }, actions: [{ type: 'pop_mpls', ethertype: 0x0800 }, act.output(1)] }],
  ['ttl', { match: { eth_type: 0x0800 }, actions: [act.decNwTtl(), { type: 'set_nw_ttl', ttl: 9 }, act.output(1)] }],
  [
    'set_field (full)',
    {
      match: { eth_type: 0x0800, ip_proto: 6 },
      actions: [
        act.setField('eth_src', '02:00:00:00:00:01'),
        act.setField('eth_dst', '02:00:00:00:00:02'),
        act.setField('ipv4_src', '10.0.0.1'),
        act.setField('ipv4_dst', '10.0.0.2'),
        act.setField('tcp_src', 1000),
        act.setField('tcp_dst', 2000),
        act.setField('ip_dscp', 10),
        act.setField('reg0', 0xdead),
        act.setField('metadata', 0x99n),
        act.setField('tunnel_id', 0x5555n),
        act.setField('tun_ipv4_dst', '192.0.2.9'),
        act.setField('pkt_mark', 3),
        act.output(1),
      ],
    },
  ],
  ['set_field arp/ipv6', { match: { eth_type: 0x0806 }, actions: [act.setField('arp_op', 2), act.setField('arp_sha', '02:00:00:00:00:03'), act.setField('arp_spa', '10.0.0.3'), act.inPort()] }],
  ['set_field masked (load)', { actions: [act.load('reg1', 0x50, 0xf0), act.load('metadata', 0x1n, 0x1n), act.load('eth_dst', '01:00:00:00:00:00', '01:00:00:00:00:00'), act.load('reg2', 0xffffffff, 0xffffffff)] }],
  ['reg_load (NXAST_REG_LOAD)', { actions: [act.regLoad({ field: 'reg3', ofs: 4, nBits: 8 }, 0xab), act.regLoad({ field: 'reg4', ofs: 0, nBits: 32 }, 0x12345678), act.regLoad({ field: 'tunnel_id', ofs: 0, nBits: 64 }, 7)] }],
  ['move', { actions: [act.move({ field: 'eth_src' }, { field: 'eth_dst' }, 48), act.move({ field: 'reg1', ofs: 0 }, { field: 'reg2', ofs: 16 }, 16), act.move({ field: 'in_port' }, { field: 'reg3' }, 16)] }],
  [
    'icmp echo reply in flows (router port)',
    {
      match: { eth_type: 0x0800, ip_proto: 1, icmpv4_type: 8 },
      actions: [
        act.move({ field: 'eth_src' }, { field: 'eth_dst' }, 48),
        act.setField('eth_src', 'fa:16:3e:00:00:01'),
        act.move({ field: 'ipv4_src' }, { field: 'ipv4_dst' }, 32),
        act.setField('ipv4_src', '10.0.0.1'),
        { type: 'set_nw_ttl', ttl: 64 },
        act.setField('icmpv4_type', 0),
        act.move({ field: 'reg6' }, { field: 'reg7' }, 32),
        // Open vSwitch refuses set_field in_port (OFPBAC_BAD_SET_ARGUMENT); it takes a 16-bit NXM load.
        act.regLoad({ field: 'in_port', ofs: 0, nBits: 16 }, 0),
      ],
    },
  ],
  ['resubmit', { actions: [act.resubmitPort(3), act.resubmit(7), act.resubmit(8, 2), act.resubmit(9, OfPort.IN_PORT)] }],
  [
    'ct commit, zones, nested',
    {
      match: { eth_type: 0x0800 },
      actions: [
        act.ct({ commit: true, zone: 5, table: 7, actions: [act.setField('ct_mark', 1), act.load('ct_label', 0x2n, 0x2n)] }),
        act.ct({ zone: { field: 'reg6', ofs: 0, nBits: 16 }, table: 8 }),
        act.ct({ commit: true, force: true, zone: 9 }),
        act.ct({ table: 3 }),
        act.ctClear(),
      ],
    },
  ],
  ['ct alg', { match: { eth_type: 0x0800, ip_proto: 6 }, actions: [act.ct({ commit: true, alg: 21 })] }],
  [
    'nat v4',
    {
      match: { eth_type: 0x0800 },
      actions: [
        act.ct({ commit: true, zone: 1, actions: [act.nat({ kind: 'src', addressMin: ip4('10.0.0.1'), addressMax: ip4('10.0.0.10'), portMin: 1000, portMax: 2000, persistent: true, protoRandom: true })] }),
        act.ct({ zone: 1, actions: [act.nat()] }),
        act.ct({ commit: true, zone: 1, actions: [act.nat({ kind: 'dst', addressMin: ip4('10.0.0.5'), protoHash: true })] }),
        act.ct({ commit: true, zone: 1, actions: [act.nat({ kind: 'dst', addressMin: ip4('10.0.0.6'), addressMax: ip4('10.0.0.6'), portMin: 80, portMax: 80 })] }),
      ],
    },
  ],
  ['nat v6', { match: { eth_type: 0x86dd }, actions: [act.ct({ commit: true, actions: [act.nat({ kind: 'dst', addressMin: ip6('2001:db8::1'), addressMax: ip6('2001:db8::2'), portMin: 80 })] })] }],
  ['conjunction', { match: { eth_type: 0x0800, ipv4_src: '10.0.0.1' }, actions: [act.conjunction(42, 1, 2), act.conjunction(43, 2, 3)] }],
  ['note', { actions: [act.note('df:l2'), act.note(new Uint8Array([1, 2, 3, 4, 5, 6, 7])), act.note(new Uint8Array(0)), act.output(1)] }],
  [
    'controller',
    {
      actions: [
        act.controller(),
        act.controller({ maxLen: 100, reason: 0, userdata: new Uint8Array([1, 2, 3, 4]) }),
        act.controller({ controllerId: 3 }),
        act.controller({ pause: true }),
        act.controller({ meterId: 1, reason: 1 }),
        { type: 'controller', maxLen: 200, controllerId: 0, reason: 0, compact: true },
      ],
    },
  ],
  ['instructions', { instructions: [inst.meter(1), inst.apply(act.output(1)), inst.clear(), inst.write(act.output(2), act.group(1)), inst.writeMetadata(0x10n, 0xffn), inst.gotoTable(5)] }],
  ['instructions out of order', { instructions: [inst.gotoTable(6), inst.writeMetadata(0x1234n, 0xff00n), inst.write(act.output(3)), inst.apply(act.decNwTtl(), act.output(1))], match: { eth_type: 0x0800 } }],
  ['empty apply list', { instructions: [inst.applyActions([]), inst.gotoTable(2)] }],
  ['drop', { actions: [] }],
];

export const ROUNDTRIP_FLOWS: readonly { label: string; flow: FlowMod }[] = CASES.map(([label, init], i) => ({
  label,
  flow: flowMod({ tableId: 1, priority: 1000 + i, cookie: 0xdf00n + BigInt(i), ...init }),
}));
