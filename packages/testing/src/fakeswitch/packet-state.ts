import { DfError, Ipv4Address, Ipv6Address, MacAddress } from '@dragonflow/base';
import { cloneFrame, etherTypeOf, ipProtocolOf, type EthernetFrame, type IpPayload, type Ipv4Packet, type Ipv6Packet } from '@dragonflow/packet';
import type { Action } from '@dragonflow/openflow';

/** Tunnel metadata a packet carries (set before output to a tunnel port, or on arrival from one). */
export interface TunnelInfo {
  id: bigint;
  src?: Ipv4Address;
  dst?: Ipv4Address;
}

/** The original-direction tuple of a packet's connection (ct_nw_src/dst, ct_nw_proto, ct_tp_src/dst). */
export interface CtTuple {
  readonly v6: boolean;
  readonly src: bigint;
  readonly dst: bigint;
  readonly proto: number;
  /** Ports, or for ICMP the type (src) and code (dst). */
  readonly tpSrc: number;
  readonly tpDst: number;
}

/** What conntrack attached to the packet. */
export interface CtMetadata {
  state: number;
  zone: number;
  mark: number;
  label: bigint;
  orig: CtTuple | undefined;
}

export function emptyCt(): CtMetadata {
  return { state: 0, zone: 0, mark: 0, label: 0n, orig: undefined };
}

/**
 * A packet inside the switch: its headers plus the pipeline fields OpenFlow keeps
 * beside it (in_port, metadata, registers, tunnel, action set).
 */
export class PacketState {
  frame: EthernetFrame;
  inPort: number;
  metadata = 0n;
  readonly regs = new Array<number>(16).fill(0);
  tunId = 0n;
  tunSrc = 0;
  tunDst = 0;
  pktMark = 0;
  /** OF1.3 action set: at most one action of each kind (set_field: one per field). */
  actionSet = new Map<string, Action>();
  /** Conntrack metadata (set by `ct`, cleared by `ct_clear`); zero when untracked. */
  ct: CtMetadata = emptyCt();
  /** Set while the table is looked up again for a satisfied conjunction. */
  conjId = 0;

  constructor(frame: EthernetFrame, inPort: number, tunnel?: TunnelInfo) {
    this.frame = cloneFrame(frame);
    this.inPort = inPort;
    if (tunnel) {
      this.tunId = tunnel.id;
      this.tunSrc = tunnel.src?.value ?? 0;
      this.tunDst = tunnel.dst?.value ?? 0;
    }
  }

  clone(): PacketState {
    const c = new PacketState(this.frame, this.inPort);
    c.metadata = this.metadata;
    c.regs.splice(0, 16, ...this.regs);
    c.tunId = this.tunId;
    c.tunSrc = this.tunSrc;
    c.tunDst = this.tunDst;
    c.pktMark = this.pktMark;
    c.actionSet = new Map(this.actionSet);
    c.ct = { ...this.ct };
    return c;
  }

  get ip(): Ipv4Packet | Ipv6Packet | undefined {
    const p = this.frame.payload;
    return p.kind === 'ipv4' || p.kind === 'ipv6' ? p : undefined;
  }

  get l4(): IpPayload | undefined {
    return this.ip?.payload;
  }

  /** The value of a match field as an unsigned integer, or undefined when the packet does not have it. */
  get(field: string): bigint | undefined {
    const f = this.frame;
    const p = f.payload;
    const ip = this.ip;
    const l4 = this.l4;
    const reg = /^reg(\d+)$/.exec(field);
    if (reg) return BigInt(this.regs[Number(reg[1])]! >>> 0);
    switch (field) {
      case 'in_port':
        return BigInt(this.inPort);
      case 'metadata':
        return this.metadata;
      case 'tunnel_id':
        return this.tunId;
      case 'tun_ipv4_src':
        return BigInt(this.tunSrc >>> 0);
      case 'tun_ipv4_dst':
        return BigInt(this.tunDst >>> 0);
      case 'pkt_mark':
        return BigInt(this.pktMark >>> 0);
      case 'conj_id':
        return BigInt(this.conjId);
      case 'ct_state':
        return BigInt(this.ct.state);
      case 'ct_zone':
        return BigInt(this.ct.zone);
      case 'ct_mark':
        return BigInt(this.ct.mark >>> 0);
      case 'ct_label':
        return this.ct.label;
      case 'ct_nw_proto':
        return BigInt(this.ct.orig?.proto ?? 0);
      case 'ct_nw_src':
      case 'ct_nw_dst':
        return this.ct.orig && !this.ct.orig.v6 ? (field === 'ct_nw_src' ? this.ct.orig.src : this.ct.orig.dst) : 0n;
      case 'ct_ipv6_src':
      case 'ct_ipv6_dst':
        return this.ct.orig?.v6 ? (field === 'ct_ipv6_src' ? this.ct.orig.src : this.ct.orig.dst) : 0n;
      case 'ct_tp_src':
        return BigInt(this.ct.orig?.tpSrc ?? 0);
      case 'ct_tp_dst':
        return BigInt(this.ct.orig?.tpDst ?? 0);
      case 'eth_dst':
        return f.dst.value;
      case 'eth_src':
        return f.src.value;
      case 'eth_type':
        return BigInt(etherTypeOf(p));
      case 'vlan_vid':
        return f.vlans[0] ? BigInt(0x1000 | f.vlans[0].vid) : 0n;
      case 'vlan_pcp':
        return f.vlans[0] ? BigInt(f.vlans[0].pcp) : undefined;
      case 'ip_dscp':
        return ip ? BigInt(ip.dscp) : undefined;
      case 'ip_ecn':
        return ip ? BigInt(ip.ecn) : undefined;
      case 'ip_proto':
        return ip ? BigInt(ipProtocolOf(ip.payload)) : undefined;
      case 'nw_ttl':
        return ip ? BigInt(ip.kind === 'ipv4' ? ip.ttl : ip.hopLimit) : undefined;
      case 'ipv4_src':
        return ip?.kind === 'ipv4' ? BigInt(ip.src.value) : undefined;
      case 'ipv4_dst':
        return ip?.kind === 'ipv4' ? BigInt(ip.dst.value) : undefined;
      case 'ipv6_src':
        return ip?.kind === 'ipv6' ? ip.src.value : undefined;
      case 'ipv6_dst':
        return ip?.kind === 'ipv6' ? ip.dst.value : undefined;
      case 'ipv6_flabel':
        return ip?.kind === 'ipv6' ? BigInt(ip.flowLabel) : undefined;
      case 'tcp_src':
        return l4?.kind === 'tcp' ? BigInt(l4.srcPort) : undefined;
      case 'tcp_dst':
        return l4?.kind === 'tcp' ? BigInt(l4.dstPort) : undefined;
      case 'udp_src':
        return l4?.kind === 'udp' ? BigInt(l4.srcPort) : undefined;
      case 'udp_dst':
        return l4?.kind === 'udp' ? BigInt(l4.dstPort) : undefined;
      case 'icmpv4_type':
        return l4?.kind === 'icmp' && ip?.kind === 'ipv4' ? BigInt(l4.type) : undefined;
      case 'icmpv4_code':
        return l4?.kind === 'icmp' && ip?.kind === 'ipv4' ? BigInt(l4.code) : undefined;
      case 'icmpv6_type':
        return l4?.kind === 'icmpv6' ? BigInt(l4.type) : undefined;
      case 'icmpv6_code':
        return l4?.kind === 'icmpv6' ? BigInt(l4.code) : undefined;
      case 'ipv6_nd_target':
        return l4?.kind === 'icmpv6' && l4.nd ? l4.nd.target.value : undefined;
      case 'ipv6_nd_sll':
        return l4?.kind === 'icmpv6' && l4.type === 135 && l4.nd ? (l4.nd.sll?.value ?? 0n) : undefined;
      case 'ipv6_nd_tll':
        return l4?.kind === 'icmpv6' && l4.type === 136 && l4.nd ? (l4.nd.tll?.value ?? 0n) : undefined;
      case 'arp_op':
        return p.kind === 'arp' ? BigInt(p.op) : undefined;
      case 'arp_spa':
        return p.kind === 'arp' ? BigInt(p.spa.value) : undefined;
      case 'arp_tpa':
        return p.kind === 'arp' ? BigInt(p.tpa.value) : undefined;
      case 'arp_sha':
        return p.kind === 'arp' ? p.sha.value : undefined;
      case 'arp_tha':
        return p.kind === 'arp' ? p.tha.value : undefined;
      default:
        throw new DfError('FAKESWITCH_UNSUPPORTED', `the FakeSwitch does not model match field '${field}'`, { context: { field } });
    }
  }

  /** Writes a field (set_field / reg_load). Returns false when the packet has no such header. */
  set(field: string, value: bigint): boolean {
    const f = this.frame;
    const p = f.payload;
    const ip = this.ip;
    const l4 = this.l4;
    const n = Number(value & 0xffff_ffffn);
    const reg = /^reg(\d+)$/.exec(field);
    if (reg) {
      this.regs[Number(reg[1])] = n >>> 0;
      return true;
    }
    switch (field) {
      case 'in_port':
        this.inPort = n;
        return true;
      case 'metadata':
        this.metadata = value;
        return true;
      case 'tunnel_id':
        this.tunId = value;
        return true;
      case 'tun_ipv4_src':
        this.tunSrc = n >>> 0;
        return true;
      case 'tun_ipv4_dst':
        this.tunDst = n >>> 0;
        return true;
      case 'pkt_mark':
        this.pktMark = n >>> 0;
        return true;
      case 'eth_dst':
        f.dst = MacAddress.fromBigInt(value);
        return true;
      case 'eth_src':
        f.src = MacAddress.fromBigInt(value);
        return true;
      case 'vlan_vid':
        if (!f.vlans[0]) return false;
        f.vlans[0].vid = n & 0x0fff;
        return true;
      case 'vlan_pcp':
        if (!f.vlans[0]) return false;
        f.vlans[0].pcp = n & 7;
        return true;
      case 'ip_dscp':
        if (!ip) return false;
        ip.dscp = n & 0x3f;
        return true;
      case 'ip_ecn':
        if (!ip) return false;
        ip.ecn = n & 3;
        return true;
      case 'nw_ttl':
        if (!ip) return false;
        if (ip.kind === 'ipv4') ip.ttl = n & 0xff;
        else ip.hopLimit = n & 0xff;
        return true;
      case 'ipv4_src':
      case 'ipv4_dst':
        if (ip?.kind !== 'ipv4') return false;
        ip[field === 'ipv4_src' ? 'src' : 'dst'] = Ipv4Address.fromNumber(n >>> 0);
        return true;
      case 'ipv6_src':
      case 'ipv6_dst':
        if (ip?.kind !== 'ipv6') return false;
        ip[field === 'ipv6_src' ? 'src' : 'dst'] = Ipv6Address.fromBigInt(value);
        return true;
      case 'ipv6_flabel':
        if (ip?.kind !== 'ipv6') return false;
        ip.flowLabel = n & 0xfffff;
        return true;
      case 'tcp_src':
      case 'tcp_dst':
        if (l4?.kind !== 'tcp') return false;
        l4[field === 'tcp_src' ? 'srcPort' : 'dstPort'] = n & 0xffff;
        return true;
      case 'udp_src':
      case 'udp_dst':
        if (l4?.kind !== 'udp') return false;
        l4[field === 'udp_src' ? 'srcPort' : 'dstPort'] = n & 0xffff;
        return true;
      case 'icmpv4_type':
      case 'icmpv4_code':
        if (l4?.kind !== 'icmp') return false;
        l4[field === 'icmpv4_type' ? 'type' : 'code'] = n & 0xff;
        return true;
      case 'icmpv6_type':
      case 'icmpv6_code':
        if (l4?.kind !== 'icmpv6') return false;
        l4[field === 'icmpv6_type' ? 'type' : 'code'] = n & 0xff;
        return true;
      case 'ipv6_nd_target':
        if (l4?.kind !== 'icmpv6' || !l4.nd) return false;
        l4.nd.target = Ipv6Address.fromBigInt(value);
        return true;
      case 'ipv6_nd_sll':
        if (l4?.kind !== 'icmpv6' || !l4.nd) return false;
        l4.nd.sll = MacAddress.fromBigInt(value);
        return true;
      case 'ipv6_nd_tll':
        if (l4?.kind !== 'icmpv6' || !l4.nd) return false;
        l4.nd.tll = MacAddress.fromBigInt(value);
        return true;
      case 'arp_op':
        if (p.kind !== 'arp') return false;
        p.op = n & 0xffff;
        return true;
      case 'arp_spa':
      case 'arp_tpa':
        if (p.kind !== 'arp') return false;
        p[field === 'arp_spa' ? 'spa' : 'tpa'] = Ipv4Address.fromNumber(n >>> 0);
        return true;
      case 'arp_sha':
      case 'arp_tha':
        if (p.kind !== 'arp') return false;
        p[field === 'arp_sha' ? 'sha' : 'tha'] = MacAddress.fromBigInt(value);
        return true;
      default:
        throw new DfError('FAKESWITCH_UNSUPPORTED', `the FakeSwitch cannot set field '${field}'`, { context: { field } });
    }
  }

  /**
   * The pipeline fields a packet-in reports (non-zero ones, as Open vSwitch does):
   * in_port always, then metadata, registers and tunnel fields.
   */
  pipelineFields(): Record<string, bigint> {
    const out: Record<string, bigint> = { in_port: BigInt(this.inPort) };
    if (this.metadata !== 0n) out['metadata'] = this.metadata;
    if (this.tunId !== 0n) out['tunnel_id'] = this.tunId;
    if (this.tunSrc !== 0) out['tun_ipv4_src'] = BigInt(this.tunSrc >>> 0);
    if (this.tunDst !== 0) out['tun_ipv4_dst'] = BigInt(this.tunDst >>> 0);
    if (this.pktMark !== 0) out['pkt_mark'] = BigInt(this.pktMark >>> 0);
    this.regs.forEach((v, i) => {
      if (v !== 0) out[`reg${i}`] = BigInt(v >>> 0);
    });
    // conntrack metadata, as Open vSwitch reports it in a packet-in
    const ct = this.ct;
    if (ct.state !== 0) out['ct_state'] = BigInt(ct.state);
    if (ct.zone !== 0) out['ct_zone'] = BigInt(ct.zone);
    if (ct.mark !== 0) out['ct_mark'] = BigInt(ct.mark >>> 0);
    if (ct.label !== 0n) out['ct_label'] = ct.label;
    if (ct.orig) {
      out[ct.orig.v6 ? 'ct_ipv6_src' : 'ct_nw_src'] = ct.orig.src;
      out[ct.orig.v6 ? 'ct_ipv6_dst' : 'ct_nw_dst'] = ct.orig.dst;
      out['ct_nw_proto'] = BigInt(ct.orig.proto);
      out['ct_tp_src'] = BigInt(ct.orig.tpSrc);
      out['ct_tp_dst'] = BigInt(ct.orig.tpDst);
    }
    return out;
  }
}
