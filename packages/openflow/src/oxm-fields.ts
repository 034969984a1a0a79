import { Ipv4Address, Ipv6Address, MacAddress } from '@dragonflow/base';
import { OfEncodeError } from './errors.js';

/**
 * THE table of match fields. Encoder, decoder, validator, canonicalizer and
 * printer all read it; adding a field here is the only step needed to support it.
 *
 * Wire classes: 0x8000 is OpenFlow basic (OXM_OF_*), 0x0001 is Nicira NXM_NX_*,
 * 0x0000 is Nicira NXM_OF_* (legacy headers Open vSwitch still uses inside
 * reg_move / reg_load / ct zone references). In an OpenFlow 1.3 match, Open vSwitch
 * writes the basic header when a field has one and the NXM header otherwise; field
 * references inside Nicira actions prefer the NXM header (`nxm` below).
 */

export const OXM_CLASS_NXM0 = 0x0000;
export const OXM_CLASS_NXM1 = 0x0001;
export const OXM_CLASS_BASIC = 0x8000;
export const OXM_CLASS_EXPERIMENTER = 0xffff;

/** How a field's value is held in TypeScript. */
export interface OxmKindValue {
  u8: number;
  u16: number;
  u24: number;
  u32: number;
  u64: bigint;
  u128: bigint;
  mac: MacAddress;
  ipv4: Ipv4Address;
  ipv6: Ipv6Address;
}
export type OxmKind = keyof OxmKindValue;

/**
 * A prerequisite: `field` must be matched exactly (no partial mask) with a value in
 * `oneOf`; or, with `bitsSet`, its value and mask must both carry those bits
 * (vlan_pcp needs a VLAN to be present).
 */
export type OxmPrereq =
  | { readonly field: string; readonly oneOf: readonly number[] }
  | { readonly field: string; readonly bitsSet: number };

export type OxmFormat = 'dec' | 'hex' | 'mac' | 'ipv4' | 'ipv6' | 'ct_state' | 'port';

export interface OxmFieldSpec {
  /** Our name (OpenFlow spec name for basic fields, Open vSwitch name for extensions). */
  readonly name: string;
  readonly oxmClass: number;
  readonly field: number;
  /** Payload size on the wire (a mask doubles it). */
  readonly bytes: number;
  readonly kind: OxmKind;
  /** Meaningful low bits of the value, when less than bytes*8. */
  readonly bits?: number;
  /** Whether Open vSwitch accepts a mask on it (a superset of the spec: OVS allows tcp_src/dst masks). */
  readonly maskable: boolean;
  readonly prereqs: readonly OxmPrereq[];
  /** The legacy Nicira header Open vSwitch uses for this field in field references. */
  readonly nxm?: { readonly oxmClass: number; readonly field: number; readonly bytes: number };
  /** The name `ovs-ofctl` prints. */
  readonly ofctl: string;
  readonly format: OxmFormat;
}

const IP = [0x0800, 0x86dd] as const;
const ETH_IP = { field: 'eth_type', oneOf: IP } as const;
const ETH_IPV4 = { field: 'eth_type', oneOf: [0x0800] } as const;
const ETH_IPV6 = { field: 'eth_type', oneOf: [0x86dd] } as const;
const ETH_ARP = { field: 'eth_type', oneOf: [0x0806] } as const;
const ETH_MPLS = { field: 'eth_type', oneOf: [0x8847, 0x8848] } as const;

function regs<const N extends readonly number[]>(ns: N) {
  return ns.map(
    (i) =>
      ({
        name: `reg${i}`,
        oxmClass: OXM_CLASS_NXM1,
        field: i,
        bytes: 4,
        kind: 'u32',
        maskable: true,
        prereqs: [],
        ofctl: `reg${i}`,
        format: 'hex',
      }) as const,
  ) as unknown as { [I in keyof N]: RegSpec<N[I]> };
}
interface RegSpec<I extends number> {
  readonly name: `reg${I}`;
  readonly oxmClass: typeof OXM_CLASS_NXM1;
  readonly field: number;
  readonly bytes: 4;
  readonly kind: 'u32';
  readonly maskable: true;
  readonly prereqs: readonly [];
  readonly ofctl: string;
  readonly format: 'hex';
}

export const OXM_FIELDS = [
  // ---- OpenFlow 1.3 basic fields (OXM_OF_*, class 0x8000), in spec order ----
  { name: 'in_port', oxmClass: OXM_CLASS_BASIC, field: 0, bytes: 4, kind: 'u32', maskable: false, prereqs: [], nxm: { oxmClass: OXM_CLASS_NXM0, field: 0, bytes: 2 }, ofctl: 'in_port', format: 'port' },
  { name: 'in_phy_port', oxmClass: OXM_CLASS_BASIC, field: 1, bytes: 4, kind: 'u32', maskable: false, prereqs: [{ field: 'in_port', bitsSet: 0 }], ofctl: 'in_phy_port', format: 'port' },
  { name: 'metadata', oxmClass: OXM_CLASS_BASIC, field: 2, bytes: 8, kind: 'u64', maskable: true, prereqs: [], ofctl: 'metadata', format: 'hex' },
  { name: 'eth_dst', oxmClass: OXM_CLASS_BASIC, field: 3, bytes: 6, kind: 'mac', maskable: true, prereqs: [], nxm: { oxmClass: OXM_CLASS_NXM0, field: 1, bytes: 6 }, ofctl: 'dl_dst', format: 'mac' },
  { name: 'eth_src', oxmClass: OXM_CLASS_BASIC, field: 4, bytes: 6, kind: 'mac', maskable: true, prereqs: [], nxm: { oxmClass: OXM_CLASS_NXM0, field: 2, bytes: 6 }, ofctl: 'dl_src', format: 'mac' },
  { name: 'eth_type', oxmClass: OXM_CLASS_BASIC, field: 5, bytes: 2, kind: 'u16', maskable: false, prereqs: [], nxm: { oxmClass: OXM_CLASS_NXM0, field: 3, bytes: 2 }, ofctl: 'dl_type', format: 'hex' },
  { name: 'vlan_vid', oxmClass: OXM_CLASS_BASIC, field: 6, bytes: 2, kind: 'u16', bits: 13, maskable: true, prereqs: [], ofctl: 'vlan_vid', format: 'hex' },
  { name: 'vlan_pcp', oxmClass: OXM_CLASS_BASIC, field: 7, bytes: 1, kind: 'u8', bits: 3, maskable: false, prereqs: [{ field: 'vlan_vid', bitsSet: 0x1000 }], ofctl: 'dl_vlan_pcp', format: 'dec' },
  { name: 'ip_dscp', oxmClass: OXM_CLASS_BASIC, field: 8, bytes: 1, kind: 'u8', bits: 6, maskable: false, prereqs: [ETH_IP], ofctl: 'ip_dscp', format: 'dec' },
  { name: 'ip_ecn', oxmClass: OXM_CLASS_BASIC, field: 9, bytes: 1, kind: 'u8', bits: 2, maskable: false, prereqs: [ETH_IP], nxm: { oxmClass: OXM_CLASS_NXM1, field: 28, bytes: 1 }, ofctl: 'nw_ecn', format: 'dec' },
  { name: 'ip_proto', oxmClass: OXM_CLASS_BASIC, field: 10, bytes: 1, kind: 'u8', maskable: false, prereqs: [ETH_IP], nxm: { oxmClass: OXM_CLASS_NXM0, field: 6, bytes: 1 }, ofctl: 'nw_proto', format: 'dec' },
  { name: 'ipv4_src', oxmClass: OXM_CLASS_BASIC, field: 11, bytes: 4, kind: 'ipv4', maskable: true, prereqs: [ETH_IPV4], nxm: { oxmClass: OXM_CLASS_NXM0, field: 7, bytes: 4 }, ofctl: 'nw_src', format: 'ipv4' },
  { name: 'ipv4_dst', oxmClass: OXM_CLASS_BASIC, field: 12, bytes: 4, kind: 'ipv4', maskable: true, prereqs: [ETH_IPV4], nxm: { oxmClass: OXM_CLASS_NXM0, field: 8, bytes: 4 }, ofctl: 'nw_dst', format: 'ipv4' },
  { name: 'tcp_src', oxmClass: OXM_CLASS_BASIC, field: 13, bytes: 2, kind: 'u16', maskable: true, prereqs: [ETH_IP, { field: 'ip_proto', oneOf: [6] }], nxm: { oxmClass: OXM_CLASS_NXM0, field: 9, bytes: 2 }, ofctl: 'tp_src', format: 'dec' },
  { name: 'tcp_dst', oxmClass: OXM_CLASS_BASIC, field: 14, bytes: 2, kind: 'u16', maskable: true, prereqs: [ETH_IP, { field: 'ip_proto', oneOf: [6] }], nxm: { oxmClass: OXM_CLASS_NXM0, field: 10, bytes: 2 }, ofctl: 'tp_dst', format: 'dec' },
  { name: 'udp_src', oxmClass: OXM_CLASS_BASIC, field: 15, bytes: 2, kind: 'u16', maskable: true, prereqs: [ETH_IP, { field: 'ip_proto', oneOf: [17] }], nxm: { oxmClass: OXM_CLASS_NXM0, field: 11, bytes: 2 }, ofctl: 'tp_src', format: 'dec' },
  { name: 'udp_dst', oxmClass: OXM_CLASS_BASIC, field: 16, bytes: 2, kind: 'u16', maskable: true, prereqs: [ETH_IP, { field: 'ip_proto', oneOf: [17] }], nxm: { oxmClass: OXM_CLASS_NXM0, field: 12, bytes: 2 }, ofctl: 'tp_dst', format: 'dec' },
  { name: 'sctp_src', oxmClass: OXM_CLASS_BASIC, field: 17, bytes: 2, kind: 'u16', maskable: true, prereqs: [ETH_IP, { field: 'ip_proto', oneOf: [132] }], ofctl: 'tp_src', format: 'dec' },
  { name: 'sctp_dst', oxmClass: OXM_CLASS_BASIC, field: 18, bytes: 2, kind: 'u16', maskable: true, prereqs: [ETH_IP, { field: 'ip_proto', oneOf: [132] }], ofctl: 'tp_dst', format: 'dec' },
  { name: 'icmpv4_type', oxmClass: OXM_CLASS_BASIC, field: 19, bytes: 1, kind: 'u8', maskable: false, prereqs: [ETH_IPV4, { field: 'ip_proto', oneOf: [1] }], nxm: { oxmClass: OXM_CLASS_NXM0, field: 13, bytes: 1 }, ofctl: 'icmp_type', format: 'dec' },
  { name: 'icmpv4_code', oxmClass: OXM_CLASS_BASIC, field: 20, bytes: 1, kind: 'u8', maskable: false, prereqs: [ETH_IPV4, { field: 'ip_proto', oneOf: [1] }], nxm: { oxmClass: OXM_CLASS_NXM0, field: 14, bytes: 1 }, ofctl: 'icmp_code', format: 'dec' },
  { name: 'arp_op', oxmClass: OXM_CLASS_BASIC, field: 21, bytes: 2, kind: 'u16', maskable: false, prereqs: [ETH_ARP], nxm: { oxmClass: OXM_CLASS_NXM0, field: 15, bytes: 2 }, ofctl: 'arp_op', format: 'dec' },
  { name: 'arp_spa', oxmClass: OXM_CLASS_BASIC, field: 22, bytes: 4, kind: 'ipv4', maskable: true, prereqs: [ETH_ARP], nxm: { oxmClass: OXM_CLASS_NXM0, field: 16, bytes: 4 }, ofctl: 'arp_spa', format: 'ipv4' },
  { name: 'arp_tpa', oxmClass: OXM_CLASS_BASIC, field: 23, bytes: 4, kind: 'ipv4', maskable: true, prereqs: [ETH_ARP], nxm: { oxmClass: OXM_CLASS_NXM0, field: 17, bytes: 4 }, ofctl: 'arp_tpa', format: 'ipv4' },
  { name: 'arp_sha', oxmClass: OXM_CLASS_BASIC, field: 24, bytes: 6, kind: 'mac', maskable: true, prereqs: [ETH_ARP], nxm: { oxmClass: OXM_CLASS_NXM1, field: 17, bytes: 6 }, ofctl: 'arp_sha', format: 'mac' },
  { name: 'arp_tha', oxmClass: OXM_CLASS_BASIC, field: 25, bytes: 6, kind: 'mac', maskable: true, prereqs: [ETH_ARP], nxm: { oxmClass: OXM_CLASS_NXM1, field: 18, bytes: 6 }, ofctl: 'arp_tha', format: 'mac' },
  { name: 'ipv6_src', oxmClass: OXM_CLASS_BASIC, field: 26, bytes: 16, kind: 'ipv6', maskable: true, prereqs: [ETH_IPV6], nxm: { oxmClass: OXM_CLASS_NXM1, field: 19, bytes: 16 }, ofctl: 'ipv6_src', format: 'ipv6' },
  { name: 'ipv6_dst', oxmClass: OXM_CLASS_BASIC, field: 27, bytes: 16, kind: 'ipv6', maskable: true, prereqs: [ETH_IPV6], nxm: { oxmClass: OXM_CLASS_NXM1, field: 20, bytes: 16 }, ofctl: 'ipv6_dst', format: 'ipv6' },
  { name: 'ipv6_flabel', oxmClass: OXM_CLASS_BASIC, field: 28, bytes: 4, kind: 'u32', bits: 20, maskable: true, prereqs: [ETH_IPV6], nxm: { oxmClass: OXM_CLASS_NXM1, field: 27, bytes: 4 }, ofctl: 'ipv6_label', format: 'hex' },
  { name: 'icmpv6_type', oxmClass: OXM_CLASS_BASIC, field: 29, bytes: 1, kind: 'u8', maskable: false, prereqs: [ETH_IPV6, { field: 'ip_proto', oneOf: [58] }], nxm: { oxmClass: OXM_CLASS_NXM1, field: 21, bytes: 1 }, ofctl: 'icmp_type', format: 'dec' },
  { name: 'icmpv6_code', oxmClass: OXM_CLASS_BASIC, field: 30, bytes: 1, kind: 'u8', maskable: false, prereqs: [ETH_IPV6, { field: 'ip_proto', oneOf: [58] }], nxm: { oxmClass: OXM_CLASS_NXM1, field: 22, bytes: 1 }, ofctl: 'icmp_code', format: 'dec' },
  { name: 'ipv6_nd_target', oxmClass: OXM_CLASS_BASIC, field: 31, bytes: 16, kind: 'ipv6', maskable: true, prereqs: [{ field: 'icmpv6_type', oneOf: [135, 136] }], nxm: { oxmClass: OXM_CLASS_NXM1, field: 23, bytes: 16 }, ofctl: 'nd_target', format: 'ipv6' },
  { name: 'ipv6_nd_sll', oxmClass: OXM_CLASS_BASIC, field: 32, bytes: 6, kind: 'mac', maskable: true, prereqs: [{ field: 'icmpv6_type', oneOf: [135] }], nxm: { oxmClass: OXM_CLASS_NXM1, field: 24, bytes: 6 }, ofctl: 'nd_sll', format: 'mac' },
  { name: 'ipv6_nd_tll', oxmClass: OXM_CLASS_BASIC, field: 33, bytes: 6, kind: 'mac', maskable: true, prereqs: [{ field: 'icmpv6_type', oneOf: [136] }], nxm: { oxmClass: OXM_CLASS_NXM1, field: 25, bytes: 6 }, ofctl: 'nd_tll', format: 'mac' },
  { name: 'mpls_label', oxmClass: OXM_CLASS_BASIC, field: 34, bytes: 4, kind: 'u32', bits: 20, maskable: false, prereqs: [ETH_MPLS], ofctl: 'mpls_label', format: 'dec' },
  { name: 'mpls_tc', oxmClass: OXM_CLASS_BASIC, field: 35, bytes: 1, kind: 'u8', bits: 3, maskable: false, prereqs: [ETH_MPLS], ofctl: 'mpls_tc', format: 'dec' },
  { name: 'mpls_bos', oxmClass: OXM_CLASS_BASIC, field: 36, bytes: 1, kind: 'u8', bits: 1, maskable: false, prereqs: [ETH_MPLS], ofctl: 'mpls_bos', format: 'dec' },
  { name: 'pbb_isid', oxmClass: OXM_CLASS_BASIC, field: 37, bytes: 3, kind: 'u24', maskable: true, prereqs: [{ field: 'eth_type', oneOf: [0x88e7] }], ofctl: 'pbb_isid', format: 'hex' },
  { name: 'tunnel_id', oxmClass: OXM_CLASS_BASIC, field: 38, bytes: 8, kind: 'u64', maskable: true, prereqs: [], nxm: { oxmClass: OXM_CLASS_NXM1, field: 16, bytes: 8 }, ofctl: 'tun_id', format: 'hex' },
  { name: 'ipv6_exthdr', oxmClass: OXM_CLASS_BASIC, field: 39, bytes: 2, kind: 'u16', bits: 9, maskable: true, prereqs: [ETH_IPV6], ofctl: 'ipv6_exthdr', format: 'hex' },
  // ---- Open vSwitch extension fields (NXM_NX_*, class 0x0001) ----
  ...regs([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] as const),
  // NXM_NX_IP_TTL: OpenFlow 1.3 has no TTL match; Open vSwitch takes its NXM header in an OXM match.
  { name: 'nw_ttl', oxmClass: OXM_CLASS_NXM1, field: 29, bytes: 1, kind: 'u8', maskable: false, prereqs: [ETH_IP], ofctl: 'nw_ttl', format: 'dec' },
  { name: 'tun_ipv4_src', oxmClass: OXM_CLASS_NXM1, field: 31, bytes: 4, kind: 'ipv4', maskable: true, prereqs: [], ofctl: 'tun_src', format: 'ipv4' },
  { name: 'tun_ipv4_dst', oxmClass: OXM_CLASS_NXM1, field: 32, bytes: 4, kind: 'ipv4', maskable: true, prereqs: [], ofctl: 'tun_dst', format: 'ipv4' },
  { name: 'pkt_mark', oxmClass: OXM_CLASS_NXM1, field: 33, bytes: 4, kind: 'u32', maskable: true, prereqs: [], ofctl: 'pkt_mark', format: 'hex' },
  { name: 'conj_id', oxmClass: OXM_CLASS_NXM1, field: 37, bytes: 4, kind: 'u32', maskable: false, prereqs: [], ofctl: 'conj_id', format: 'dec' },
  { name: 'ct_state', oxmClass: OXM_CLASS_NXM1, field: 105, bytes: 4, kind: 'u32', maskable: true, prereqs: [], ofctl: 'ct_state', format: 'ct_state' },
  { name: 'ct_zone', oxmClass: OXM_CLASS_NXM1, field: 106, bytes: 2, kind: 'u16', maskable: false, prereqs: [], ofctl: 'ct_zone', format: 'dec' },
  { name: 'ct_mark', oxmClass: OXM_CLASS_NXM1, field: 107, bytes: 4, kind: 'u32', maskable: true, prereqs: [], ofctl: 'ct_mark', format: 'hex' },
  { name: 'ct_label', oxmClass: OXM_CLASS_NXM1, field: 108, bytes: 16, kind: 'u128', maskable: true, prereqs: [], ofctl: 'ct_label', format: 'hex' },
  // The original-direction tuple of the packet's connection (Open vSwitch 2.8+). Open vSwitch
  // also wants a ct_state match that implies a valid connection; the FakeSwitch checks that.
  { name: 'ct_nw_proto', oxmClass: OXM_CLASS_NXM1, field: 119, bytes: 1, kind: 'u8', maskable: false, prereqs: [], ofctl: 'ct_nw_proto', format: 'dec' },
  { name: 'ct_nw_src', oxmClass: OXM_CLASS_NXM1, field: 120, bytes: 4, kind: 'ipv4', maskable: true, prereqs: [ETH_IPV4], ofctl: 'ct_nw_src', format: 'ipv4' },
  { name: 'ct_nw_dst', oxmClass: OXM_CLASS_NXM1, field: 121, bytes: 4, kind: 'ipv4', maskable: true, prereqs: [ETH_IPV4], ofctl: 'ct_nw_dst', format: 'ipv4' },
  { name: 'ct_ipv6_src', oxmClass: OXM_CLASS_NXM1, field: 122, bytes: 16, kind: 'ipv6', maskable: true, prereqs: [ETH_IPV6], ofctl: 'ct_ipv6_src', format: 'ipv6' },
  { name: 'ct_ipv6_dst', oxmClass: OXM_CLASS_NXM1, field: 123, bytes: 16, kind: 'ipv6', maskable: true, prereqs: [ETH_IPV6], ofctl: 'ct_ipv6_dst', format: 'ipv6' },
  { name: 'ct_tp_src', oxmClass: OXM_CLASS_NXM1, field: 124, bytes: 2, kind: 'u16', maskable: true, prereqs: [], ofctl: 'ct_tp_src', format: 'dec' },
  { name: 'ct_tp_dst', oxmClass: OXM_CLASS_NXM1, field: 125, bytes: 2, kind: 'u16', maskable: true, prereqs: [], ofctl: 'ct_tp_dst', format: 'dec' },
] as const satisfies readonly OxmFieldSpec[];

type FieldEntry = (typeof OXM_FIELDS)[number];
/** Every match field name we support. */
export type OxmFieldName = FieldEntry['name'];
/** The TypeScript type of a field's value (number, bigint, MacAddress, Ipv4Address, Ipv6Address). */
export type OxmValue<N extends OxmFieldName> = OxmKindValue[Extract<FieldEntry, { name: N }>['kind']];

const byName = new Map<string, OxmFieldSpec>();
const byHeader = new Map<number, OxmFieldSpec>();
/** Position in OXM_FIELDS: the canonical order of fields. */
const orderOf = new Map<string, number>();

/** The 16-bit class + 7-bit field part of a header, as a lookup key. */
export function headerKey(oxmClass: number, field: number): number {
  return (oxmClass << 7) | field;
}

OXM_FIELDS.forEach((f: OxmFieldSpec, i) => {
  byName.set(f.name, f);
  orderOf.set(f.name, i);
  byHeader.set(headerKey(f.oxmClass, f.field), f);
  if (f.nxm) byHeader.set(headerKey(f.nxm.oxmClass, f.nxm.field), f);
});

export function isOxmFieldName(name: string): name is OxmFieldName {
  return byName.has(name);
}

export function oxmField(name: string): OxmFieldSpec | undefined {
  return byName.get(name);
}

/** The field for a wire (class, field) pair, primary or legacy NXM header. */
export function oxmFieldByHeader(oxmClass: number, field: number): OxmFieldSpec | undefined {
  return byHeader.get(headerKey(oxmClass, field));
}

export function oxmFieldOrder(name: string): number {
  return orderOf.get(name) ?? Number.MAX_SAFE_INTEGER;
}

/**
 * 32-bit OpenFlow port → the 16-bit OpenFlow 1.0 port Open vSwitch uses in Nicira
 * resubmit and in the NXM_OF_IN_PORT header (reserved ports keep their meaning).
 */
export function portTo16(port: number): number {
  if (port >= 0xffffff00) return port - 0xffff0000;
  if (port > 0xfeff) throw new OfEncodeError(`port ${port} cannot be expressed as a 16-bit OpenFlow 1.0 port (resubmit, NXM_OF_IN_PORT)`, { port });
  return port;
}

export function portFrom16(port: number): number {
  return port >= 0xff00 ? port + 0xffff0000 : port;
}

const ALL_ONES = [0n, 0xffn, 0xffffn, 0xffffffn, 0xffffffffn, 0xffffffffffn, 0xffffffffffffn, 0xffffffffffffffn, 0xffffffffffffffffn];

/** Full-width value mask of a field (all bytes*8 bits). */
export function fieldAllOnes(spec: OxmFieldSpec): bigint {
  return ALL_ONES[spec.bytes] ?? (1n << BigInt(spec.bytes * 8)) - 1n;
}

/** Converts a field value to its unsigned integer form (the wire value). */
export function oxmValueToBigInt(spec: OxmFieldSpec, v: unknown): bigint {
  switch (spec.kind) {
    case 'mac':
      return (v as MacAddress).value;
    case 'ipv4':
      return (v as Ipv4Address).toBigInt();
    case 'ipv6':
      return (v as Ipv6Address).toBigInt();
    case 'u64':
    case 'u128':
      return v as bigint;
    default:
      return BigInt(v as number);
  }
}

/** Converts an unsigned integer wire value back to the field's TypeScript type. */
export function oxmValueFromBigInt(spec: OxmFieldSpec, v: bigint): unknown {
  switch (spec.kind) {
    case 'mac':
      return MacAddress.fromBigInt(v);
    case 'ipv4':
      return Ipv4Address.fromNumber(Number(v));
    case 'ipv6':
      return Ipv6Address.fromBigInt(v);
    case 'u64':
    case 'u128':
      return v;
    default:
      return Number(v);
  }
}
