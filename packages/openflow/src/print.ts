import { Ipv4Address, Ipv6Address, MacAddress } from '@dragonflow/base';
import type { Action, FieldRef } from './actions.js';
import { CtState, OFP_NO_BUFFER, OfPort, packetInReasonName, portName } from './consts.js';
import { describeOfError } from './error-codes.js';
import type { Instruction } from './instructions.js';
import type { Match, MatchEntry } from './match.js';
import type { FlowStats, OfMessage } from './messages.js';
import { fieldAllOnes, oxmField, oxmValueToBigInt, type OxmFieldSpec } from './oxm-fields.js';
import { bytesToHex } from './wire.js';

/**
 * Renders matches, actions and flows in `ovs-ofctl dump-flows` style, for `dfctl flows`,
 * packet traces and logs. Field and action spelling follows Open vSwitch so operators
 * can paste it into ovs-ofctl; the order of match fields follows ovs-ofctl's too.
 */

/** ovs-ofctl's print order of match fields; fields not listed print last, in table order. */
const PRINT_ORDER = [
  'pkt_mark',
  'conj_id',
  'ct_state',
  'ct_zone',
  'ct_mark',
  'ct_label',
  'reg0', 'reg1', 'reg2', 'reg3', 'reg4', 'reg5', 'reg6', 'reg7', 'reg8', 'reg9', 'reg10', 'reg11', 'reg12', 'reg13', 'reg14', 'reg15',
  'tunnel_id',
  'tun_ipv4_src',
  'tun_ipv4_dst',
  'metadata',
  'in_port',
  'in_phy_port',
  'vlan_vid',
  'vlan_pcp',
  'eth_src',
  'eth_dst',
  'eth_type',
  'ipv6_src',
  'ipv6_dst',
  'ipv6_flabel',
  'arp_spa',
  'arp_tpa',
  'ipv4_src',
  'ipv4_dst',
  'ip_proto',
  'ip_dscp',
  'ip_ecn',
  'nw_ttl',
  'arp_op',
  'mpls_label',
  'mpls_tc',
  'mpls_bos',
  'arp_sha',
  'arp_tha',
  'icmpv4_type',
  'icmpv4_code',
  'icmpv6_type',
  'icmpv6_code',
  'ipv6_nd_target',
  'ipv6_nd_sll',
  'ipv6_nd_tll',
  'tcp_src',
  'udp_src',
  'sctp_src',
  'tcp_dst',
  'udp_dst',
  'sctp_dst',
  'pbb_isid',
  'ipv6_exthdr',
];
const printRank = new Map(PRINT_ORDER.map((n, i) => [n, i]));

/** Open vSwitch's name for a field in set_field / move / load. */
const OVS_FIELD_NAME: Readonly<Record<string, string>> = {
  ipv4_src: 'ip_src',
  ipv4_dst: 'ip_dst',
  ip_proto: 'nw_proto',
  ip_ecn: 'nw_ecn',
  icmpv4_type: 'icmp_type',
  icmpv4_code: 'icmp_code',
  ipv6_flabel: 'ipv6_label',
  ipv6_nd_target: 'nd_target',
  ipv6_nd_sll: 'nd_sll',
  ipv6_nd_tll: 'nd_tll',
  tunnel_id: 'tun_id',
  tun_ipv4_src: 'tun_src',
  tun_ipv4_dst: 'tun_dst',
};
export function ovsFieldName(name: string): string {
  return OVS_FIELD_NAME[name] ?? name;
}

/** C's %#x: "0" for zero, "0x…" otherwise (what ovs-ofctl prints). */
const hex = (v: bigint | number): string => (v === 0 || v === 0n ? '0' : '0x' + v.toString(16));
const CT_FLAGS: [number, string][] = [
  [CtState.NEW, 'new'],
  [CtState.EST, 'est'],
  [CtState.REL, 'rel'],
  [CtState.RPL, 'rpl'],
  [CtState.INV, 'inv'],
  [CtState.TRK, 'trk'],
  [CtState.SNAT, 'snat'],
  [CtState.DNAT, 'dnat'],
];

function prefixLen(mask: bigint, bits: number): number | undefined {
  let n = 0;
  for (let i = bits - 1; i >= 0; i--) {
    if ((mask >> BigInt(i)) & 1n) n++;
    else break;
  }
  const expect = n === 0 ? 0n : ((1n << BigInt(n)) - 1n) << BigInt(bits - n);
  return expect === mask ? n : undefined;
}

function formatValue(f: OxmFieldSpec, v: bigint): string {
  switch (f.format) {
    case 'mac':
      return MacAddress.fromBigInt(v).toString();
    case 'ipv4':
      return Ipv4Address.fromNumber(Number(v)).toString();
    case 'ipv6':
      return Ipv6Address.fromBigInt(v).toString();
    case 'port':
      return portName(Number(v));
    case 'dec':
      return v.toString();
    default:
      return hex(v);
  }
}

function formatEntry(f: OxmFieldSpec, e: MatchEntry<unknown>): string {
  const all = fieldAllOnes(f);
  const v = oxmValueToBigInt(f, e.value);
  const m = e.mask === undefined ? all : oxmValueToBigInt(f, e.mask);
  if (f.format === 'ct_state') {
    const parts = CT_FLAGS.filter(([bit]) => (m & BigInt(bit)) !== 0n).map(([bit, name]) => ((v & BigInt(bit)) !== 0n ? '+' : '-') + name);
    return `ct_state=${parts.join('')}`;
  }
  if (f.name === 'vlan_vid') {
    if ((m & 0x1fffn) === 0x1fffn && (v & 0x1000n) !== 0n) return `dl_vlan=${v & 0xfffn}`;
    return m === all ? `vlan_tci=${hex4(v)}/0x1fff` : `vlan_tci=${hex4(v)}/${hex4(m & 0x1fffn)}`;
  }
  if (f.name === 'ip_dscp') return `nw_tos=${v << 2n}`;
  if (m === all) return `${f.ofctl}=${formatValue(f, v)}`;
  if (f.format === 'ipv4' || f.format === 'ipv6') {
    const p = prefixLen(m, f.bytes * 8);
    if (p !== undefined) return `${f.ofctl}=${formatValue(f, v & m)}/${p}`;
  }
  if (f.format === 'dec' || f.format === 'port') return `${f.ofctl}=${hex(v)}/${hex(m)}`;
  return `${f.ofctl}=${formatValue(f, v)}/${formatValue(f, m)}`;
}

function hex4(v: bigint): string {
  return '0x' + v.toString(16).padStart(4, '0');
}

/** The protocol shorthand ovs-ofctl uses (ip, tcp, arp, icmp6, ...), and the fields it implies. */
function shorthand(m: Record<string, MatchEntry<unknown> | undefined>): { word?: string; implied: string[] } {
  const et = m['eth_type'];
  if (!et || et.mask !== undefined) return { implied: [] };
  const type = et.value as number;
  const proto = m['ip_proto'];
  const p = proto && proto.mask === undefined ? (proto.value as number) : undefined;
  if (type === 0x0800) {
    const w = p === 1 ? 'icmp' : p === 6 ? 'tcp' : p === 17 ? 'udp' : p === 132 ? 'sctp' : undefined;
    return w ? { word: w, implied: ['eth_type', 'ip_proto'] } : { word: 'ip', implied: ['eth_type'] };
  }
  if (type === 0x86dd) {
    const w = p === 58 ? 'icmp6' : p === 6 ? 'tcp6' : p === 17 ? 'udp6' : p === 132 ? 'sctp6' : undefined;
    return w ? { word: w, implied: ['eth_type', 'ip_proto'] } : { word: 'ipv6', implied: ['eth_type'] };
  }
  if (type === 0x0806) return { word: 'arp', implied: ['eth_type'] };
  if (type === 0x8847) return { word: 'mpls', implied: ['eth_type'] };
  if (type === 0x8848) return { word: 'mplsm', implied: ['eth_type'] };
  return { implied: [] };
}

/** "ct_state=+trk,ip,reg6=0x5,in_port=1,nw_dst=10.0.0.0/24" (empty string for match-all). */
export function formatMatch(m: Match): string {
  const rec = m as Record<string, MatchEntry<unknown> | undefined>;
  const { word, implied } = shorthand(rec);
  const names = Object.keys(m).filter((n) => n !== 'unknownOxm' && rec[n] !== undefined && !implied.includes(n));
  names.sort((a, b) => (printRank.get(a) ?? 999) - (printRank.get(b) ?? 999));
  const before = names.filter((n) => (printRank.get(n) ?? 999) < printRank.get('reg0')!);
  const after = names.filter((n) => !before.includes(n));
  const parts = [...before.map((n) => formatEntry(oxmField(n)!, rec[n]!)), ...(word ? [word] : []), ...after.map((n) => formatEntry(oxmField(n)!, rec[n]!))];
  for (const r of m.unknownOxm ?? []) parts.push(`oxm(class=${hex(r.oxmClass)},field=${r.field})=${bytesToHex(r.payload)}`);
  return parts.join(',');
}

/** The header name ovs-ofctl uses for a field in load/move/ct zone references. */
const NXM_NAME: Readonly<Record<string, string>> = {
  in_port: 'NXM_OF_IN_PORT',
  eth_dst: 'NXM_OF_ETH_DST',
  eth_src: 'NXM_OF_ETH_SRC',
  eth_type: 'NXM_OF_ETH_TYPE',
  ip_proto: 'NXM_OF_IP_PROTO',
  ipv4_src: 'NXM_OF_IP_SRC',
  ipv4_dst: 'NXM_OF_IP_DST',
  tcp_src: 'NXM_OF_TCP_SRC',
  tcp_dst: 'NXM_OF_TCP_DST',
  udp_src: 'NXM_OF_UDP_SRC',
  udp_dst: 'NXM_OF_UDP_DST',
  icmpv4_type: 'NXM_OF_ICMP_TYPE',
  icmpv4_code: 'NXM_OF_ICMP_CODE',
  arp_op: 'NXM_OF_ARP_OP',
  arp_spa: 'NXM_OF_ARP_SPA',
  arp_tpa: 'NXM_OF_ARP_TPA',
  tunnel_id: 'NXM_NX_TUN_ID',
  arp_sha: 'NXM_NX_ARP_SHA',
  arp_tha: 'NXM_NX_ARP_THA',
  ipv6_src: 'NXM_NX_IPV6_SRC',
  ipv6_dst: 'NXM_NX_IPV6_DST',
  icmpv6_type: 'NXM_NX_ICMPV6_TYPE',
  icmpv6_code: 'NXM_NX_ICMPV6_CODE',
  ipv6_nd_target: 'NXM_NX_ND_TARGET',
  ipv6_nd_sll: 'NXM_NX_ND_SLL',
  ipv6_nd_tll: 'NXM_NX_ND_TLL',
  ipv6_flabel: 'NXM_NX_IPV6_LABEL',
  ip_ecn: 'NXM_NX_IP_ECN',
  nw_ttl: 'NXM_NX_IP_TTL',
  tun_ipv4_src: 'NXM_NX_TUN_IPV4_SRC',
  tun_ipv4_dst: 'NXM_NX_TUN_IPV4_DST',
  pkt_mark: 'NXM_NX_PKT_MARK',
  conj_id: 'NXM_NX_CONJ_ID',
  ct_state: 'NXM_NX_CT_STATE',
  ct_zone: 'NXM_NX_CT_ZONE',
  ct_mark: 'NXM_NX_CT_MARK',
  ct_label: 'NXM_NX_CT_LABEL',
  metadata: 'OXM_OF_METADATA',
  vlan_vid: 'OXM_OF_VLAN_VID',
  vlan_pcp: 'OXM_OF_VLAN_PCP',
  ip_dscp: 'OXM_OF_IP_DSCP',
  sctp_src: 'OXM_OF_SCTP_SRC',
  sctp_dst: 'OXM_OF_SCTP_DST',
  mpls_label: 'OXM_OF_MPLS_LABEL',
  mpls_tc: 'OXM_OF_MPLS_TC',
  mpls_bos: 'OXM_OF_MPLS_BOS',
};
function nxmName(field: string): string {
  if (/^reg\d+$/.test(field)) return `NXM_NX_REG${field.slice(3)}`;
  return NXM_NAME[field] ?? field;
}

function refText(ref: { field: string; ofs: number }, nBits: number): string {
  const f = oxmField(ref.field);
  const width = f ? (f.nxm ? f.nxm.bytes : f.bytes) * 8 : -1;
  const name = nxmName(ref.field);
  return ref.ofs === 0 && nBits === width ? `${name}[]` : `${name}[${ref.ofs}..${ref.ofs + nBits - 1}]`;
}

function dotted(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('.');
}

function setFieldValue(field: string, v: unknown): string {
  const f = oxmField(field);
  if (!f) return String(v);
  const n = oxmValueToBigInt(f, v);
  if (field === 'vlan_vid') return n.toString();
  return formatValue(f, n);
}

/** One action, ovs-ofctl style. */
export function formatAction(a: Action): string {
  switch (a.type) {
    case 'output':
      if (a.port === OfPort.CONTROLLER) return `CONTROLLER:${a.maxLen ?? 0xffff}`;
      if (a.port >= OfPort.MAX) return portName(a.port);
      return `output:${a.port}`;
    case 'group':
      return `group:${a.groupId}`;
    case 'set_queue':
      return `set_queue:${a.queueId}`;
    case 'push_vlan':
      return `push_vlan:${hex(a.ethertype)}`;
    case 'pop_vlan':
      return 'pop_vlan';
    case 'push_mpls':
      return `push_mpls:${hex4(BigInt(a.ethertype))}`;
    case 'pop_mpls':
      return `pop_mpls:${hex4(BigInt(a.ethertype))}`;
    case 'dec_nw_ttl':
      return 'dec_ttl';
    case 'set_nw_ttl':
      return `mod_nw_ttl:${a.ttl}`;
    case 'set_field': {
      const f = oxmField(a.field);
      const all = f ? fieldAllOnes(f) : 0n;
      if (a.mask !== undefined && f && oxmValueToBigInt(f, a.mask) !== all) {
        return `set_field:${formatValue(f, oxmValueToBigInt(f, a.value))}/${formatValue(f, oxmValueToBigInt(f, a.mask))}->${ovsFieldName(a.field)}`;
      }
      return `set_field:${setFieldValue(a.field, a.value)}->${ovsFieldName(a.field)}`;
    }
    case 'reg_load':
      return `load:${hex(a.value)}->${refText(a.dst, a.dst.nBits)}`;
    case 'move':
      return `move:${refText(a.src, a.nBits)}->${refText(a.dst, a.nBits)}`;
    case 'resubmit': {
      const port = a.port ?? OfPort.IN_PORT;
      if (a.table === undefined || a.table === 0xff) return `resubmit:${portName(port)}`;
      return `resubmit(${port === OfPort.IN_PORT ? '' : portName(port)},${a.table})`;
    }
    case 'ct': {
      const parts: string[] = [];
      if (a.commit) parts.push('commit');
      if (a.force) parts.push('force');
      if (a.table !== undefined) parts.push(`table=${a.table}`);
      if (typeof a.zone === 'object') parts.push(`zone=${refText(a.zone as FieldRef, a.zone.nBits)}`);
      else if (a.zone) parts.push(`zone=${a.zone}`);
      const inner = a.actions ?? [];
      const nats = inner.filter((x) => x.type === 'nat');
      const rest = inner.filter((x) => x.type !== 'nat');
      for (const n of nats) parts.push(formatAction(n));
      if (rest.length) parts.push(`exec(${rest.map(formatAction).join(',')})`);
      if (a.alg) parts.push(`alg=${a.alg === 21 ? 'ftp' : a.alg === 69 ? 'tftp' : a.alg}`);
      return parts.length ? `ct(${parts.join(',')})` : 'ct';
    }
    case 'nat': {
      if (!a.kind) return 'nat';
      let s = `${a.kind}=`;
      if (a.addressMin) {
        const v6 = a.addressMin.family === 6;
        const ip = (x: { toString(): string }) => (v6 ? `[${x.toString()}]` : x.toString());
        s += ip(a.addressMin);
        if (a.addressMax && !a.addressMax.equals(a.addressMin)) s += `-${ip(a.addressMax)}`;
      }
      if (a.portMin !== undefined) s += `:${a.portMin}${a.portMax !== undefined && a.portMax !== a.portMin ? '-' + a.portMax : ''}`;
      const flags = [a.persistent ? 'persistent' : '', a.protoHash ? 'hash' : '', a.protoRandom ? 'random' : ''].filter(Boolean);
      return `nat(${[s, ...flags].join(',')})`;
    }
    case 'ct_clear':
      return 'ct_clear';
    case 'conjunction':
      return `conjunction(${a.id},${a.clause}/${a.nClauses})`;
    case 'note':
      return `note:${dotted(a.data)}`;
    case 'controller': {
      const plain = (a.reason ?? 1) === 1 && !a.controllerId && !(a.userdata && a.userdata.length) && !a.pause && !a.meterId;
      if (plain) return `CONTROLLER:${a.maxLen ?? 0xffff}`;
      const parts: string[] = [];
      if (a.reason !== undefined && a.reason !== 1) parts.push(`reason=${packetInReasonName(a.reason)}`);
      if (a.maxLen !== undefined && a.maxLen !== 0xffff) parts.push(`max_len=${a.maxLen}`);
      if (a.controllerId) parts.push(`id=${a.controllerId}`);
      if (a.userdata && a.userdata.length) parts.push(`userdata=${dotted(a.userdata)}`);
      if (a.pause) parts.push('pause');
      if (a.meterId) parts.push(`meter_id=${a.meterId}`);
      return parts.length ? `controller(${parts.join(',')})` : 'controller';
    }
    case 'experimenter':
      return `experimenter(${hex(a.experimenter)},${bytesToHex(a.data)})`;
    case 'unknown':
      return `action${a.actionType}(${bytesToHex(a.data)})`;
  }
}

export function formatActions(list: readonly Action[]): string {
  return list.length ? list.map(formatAction).join(',') : 'drop';
}

/** Instructions as the text after "actions=". */
export function formatInstructions(list: readonly Instruction[]): string {
  const parts: string[] = [];
  for (const i of list) {
    switch (i.type) {
      case 'apply_actions':
        parts.push(...i.actions.map(formatAction));
        break;
      case 'write_actions':
        parts.push(`write_actions(${i.actions.map(formatAction).join(',')})`);
        break;
      case 'clear_actions':
        parts.push('clear_actions');
        break;
      case 'write_metadata':
        parts.push(i.mask === 0xffff_ffff_ffff_ffffn ? `write_metadata:${hex(i.metadata)}` : `write_metadata:${hex(i.metadata)}/${hex(i.mask)}`);
        break;
      case 'goto_table':
        parts.push(`goto_table:${i.tableId}`);
        break;
      case 'meter':
        parts.push(`meter:${i.meterId}`);
        break;
      case 'experimenter':
        parts.push(`experimenter_instruction(${hex(i.experimenter)},${bytesToHex(i.data)})`);
        break;
    }
  }
  return parts.length ? parts.join(',') : 'drop';
}

export interface PrintableFlow {
  readonly tableId: number;
  readonly priority: number;
  readonly match: Match;
  readonly instructions: readonly Instruction[];
  readonly cookie?: bigint;
  readonly idleTimeout?: number;
  readonly hardTimeout?: number;
  readonly packetCount?: bigint;
  readonly byteCount?: bigint;
  readonly durationSec?: number;
  readonly durationNsec?: number;
}

/**
 * One flow as ovs-ofctl dump-flows prints it: with `stats` (default when the flow
 * has counters) duration/n_packets/n_bytes are included, otherwise the
 * `--no-stats` form: "cookie=0x5, table=3, priority=100,ip actions=output:2".
 */
export function formatFlow(f: PrintableFlow | FlowStats, options: { stats?: boolean } = {}): string {
  const parts: string[] = [];
  if (f.cookie) parts.push(`cookie=${hex(f.cookie)}`);
  const stats = options.stats ?? f.packetCount !== undefined;
  if (stats && f.durationSec !== undefined) parts.push(`duration=${(f.durationSec + (f.durationNsec ?? 0) / 1e9).toFixed(3)}s`);
  if (f.tableId !== 0) parts.push(`table=${f.tableId}`);
  if (stats && f.packetCount !== undefined) parts.push(`n_packets=${f.packetCount}`, `n_bytes=${f.byteCount ?? 0n}`);
  if (f.idleTimeout) parts.push(`idle_timeout=${f.idleTimeout}`);
  if (f.hardTimeout) parts.push(`hard_timeout=${f.hardTimeout}`);
  const m = formatMatch(f.match);
  const head = parts.length ? parts.join(', ') + ', ' : '';
  const prio = f.priority === 0x8000 ? '' : `priority=${f.priority}`;
  const matchText = [prio, m].filter(Boolean).join(',');
  return `${head}${matchText}${matchText ? ' ' : ''}actions=${formatInstructions(f.instructions)}`;
}

/** A one-line summary of any message, for logs. */
export function formatMessage(msg: OfMessage): string {
  const x = `xid=${hex(msg.xid)}`;
  switch (msg.type) {
    case 'flow_mod':
      return `FLOW_MOD ${x} ${msg.command.toUpperCase()} ${formatFlow({ ...msg, cookie: msg.cookie }, { stats: false })}`;
    case 'packet_in':
      return `PACKET_IN ${x} table=${msg.tableId} cookie=${hex(msg.cookie)} reason=${packetInReasonName(msg.reason)} ${formatMatch(msg.match)} len=${msg.data.length}/${msg.totalLen}`;
    case 'nx_packet_in2':
      return `NXT_PACKET_IN2 ${x} table=${msg.tableId} reason=${packetInReasonName(msg.reason)} ${formatMatch(msg.metadata)} len=${msg.data.length}${msg.userdata ? ' userdata=' + dotted(msg.userdata) : ''}`;
    case 'packet_out':
      return `PACKET_OUT ${x} in_port=${portName(msg.inPort)} ${msg.bufferId === OFP_NO_BUFFER ? `len=${msg.data.length}` : `buffer=${hex(msg.bufferId)}`} actions=${formatActions(msg.actions)}`;
    case 'error':
      return `ERROR ${x} ${describeOfError(msg)} data=${msg.data.length}B`;
    case 'features_reply':
      return `FEATURES_REPLY ${x} dpid=${msg.datapathId.toString(16).padStart(16, '0')} n_tables=${msg.nTables}`;
    case 'port_status':
      return `PORT_STATUS ${x} ${msg.reason} ${msg.port.portNo}(${msg.port.name}) ${msg.port.hwAddr.toString()}`;
    case 'flow_removed':
      return `FLOW_REMOVED ${x} table=${msg.tableId} priority=${msg.priority} reason=${msg.reason} ${formatMatch(msg.match)}`;
    case 'multipart_request':
    case 'multipart_reply':
      return `${msg.type.toUpperCase()} ${x} ${msg.body.kind}${msg.more ? ' (more)' : ''}`;
    case 'group_mod':
      return `GROUP_MOD ${x} ${msg.command} group_id=${msg.groupId} type=${msg.groupType} buckets=${msg.buckets.length}`;
    case 'meter_mod':
      return `METER_MOD ${x} ${msg.command} meter=${msg.meterId}`;
    case 'role_request':
    case 'role_reply':
      return `${msg.type.toUpperCase()} ${x} ${msg.role} generation_id=${msg.generationId}`;
    case 'hello':
      return `HELLO ${x}${msg.versions ? ' versions=' + msg.versions.join(',') : ''}`;
    case 'unknown':
      return `MESSAGE type=${msg.msgType} ${x} ${msg.body.length}B`;
    default:
      return `${msg.type.toUpperCase()} ${x}`;
  }
}
