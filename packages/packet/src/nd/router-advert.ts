import { Ipv6Address, MacAddress } from '@dragonflow/base';
import { put32, u32 } from '../bytes.js';
import { PacketDecodeError, PacketEncodeError } from '../errors.js';
import { ethernet, ip6, ipv6, ipv6MulticastMac, mac, type Ipv6Like, type MacLike } from '../build.js';
import { ICMPV6_TYPE, type EthernetFrame } from '../types.js';

/** ND option types (RFC 4861 §4.6). */
export const NdOption = { SOURCE_LL: 1, TARGET_LL: 2, PREFIX_INFO: 3, MTU: 5 } as const;

/** A Prefix Information option (RFC 4861 §4.6.2). Lifetimes in seconds; 0xffffffff is infinity. */
export interface PrefixInfo {
  readonly prefix: Ipv6Address;
  readonly length: number;
  /** L: the prefix is on-link. */
  readonly onLink: boolean;
  /** A: hosts may form addresses in it by stateless autoconfiguration (SLAAC). */
  readonly autonomous: boolean;
  readonly validLifetime: number;
  readonly preferredLifetime: number;
}

/** A router advertisement's body (RFC 4861 §4.2): what follows the ICMPv6 type, code and checksum. */
export interface RouterAdvert {
  readonly curHopLimit: number;
  /** M: addresses come from DHCPv6. */
  readonly managed: boolean;
  /** O: other configuration (DNS, …) comes from DHCPv6. */
  readonly otherConfig: boolean;
  /** Seconds the sender is a default router; 0: it is not one. */
  readonly routerLifetime: number;
  readonly reachableTime: number;
  readonly retransTimer: number;
  readonly sourceLinkLayer?: MacAddress;
  readonly mtu?: number;
  readonly prefixes: readonly PrefixInfo[];
}

/** A router solicitation's body (RFC 4861 §4.1). */
export interface RouterSolicit {
  readonly sourceLinkLayer?: MacAddress;
}

function checkRange(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new PacketEncodeError(`router advertisement ${name} ${v} is outside 0..${max}`, { field: name, value: v });
}

/** Encodes a router advertisement's body: 12 bytes of header fields, then SLLA, MTU and prefix options. */
export function encodeRouterAdvert(ra: RouterAdvert): Uint8Array {
  checkRange('curHopLimit', ra.curHopLimit, 0xff);
  checkRange('routerLifetime', ra.routerLifetime, 0xffff);
  checkRange('reachableTime', ra.reachableTime, 0xffffffff);
  checkRange('retransTimer', ra.retransTimer, 0xffffffff);
  const len = 12 + (ra.sourceLinkLayer ? 8 : 0) + (ra.mtu !== undefined ? 8 : 0) + 32 * ra.prefixes.length;
  const out = new Uint8Array(len);
  out[0] = ra.curHopLimit;
  out[1] = (ra.managed ? 0x80 : 0) | (ra.otherConfig ? 0x40 : 0);
  out[2] = ra.routerLifetime >>> 8;
  out[3] = ra.routerLifetime & 0xff;
  put32(out, 4, ra.reachableTime);
  put32(out, 8, ra.retransTimer);
  let o = 12;
  if (ra.sourceLinkLayer) {
    out[o] = NdOption.SOURCE_LL;
    out[o + 1] = 1;
    out.set(ra.sourceLinkLayer.toBytes(), o + 2);
    o += 8;
  }
  if (ra.mtu !== undefined) {
    checkRange('mtu', ra.mtu, 0xffffffff);
    out[o] = NdOption.MTU;
    out[o + 1] = 1;
    put32(out, o + 4, ra.mtu);
    o += 8;
  }
  for (const p of ra.prefixes) {
    checkRange('prefix length', p.length, 128);
    checkRange('validLifetime', p.validLifetime, 0xffffffff);
    checkRange('preferredLifetime', p.preferredLifetime, 0xffffffff);
    out[o] = NdOption.PREFIX_INFO;
    out[o + 1] = 4;
    out[o + 2] = p.length;
    out[o + 3] = (p.onLink ? 0x80 : 0) | (p.autonomous ? 0x40 : 0);
    put32(out, o + 4, p.validLifetime);
    put32(out, o + 8, p.preferredLifetime);
    out.set(p.prefix.toBytes(), o + 16);
    o += 32;
  }
  return out;
}

/** The options of an ND message, type by type, each checked for its length (RFC 4861 §4.6: 0 is invalid). */
function* ndOptions(body: Uint8Array, start: number): Generator<{ type: number; at: number; len: number }> {
  let o = start;
  while (o < body.length) {
    if (o + 2 > body.length) throw new PacketDecodeError('truncated ND option header', o);
    const len = body[o + 1]! * 8;
    if (len === 0) throw new PacketDecodeError('ND option with length 0', o);
    if (o + len > body.length) throw new PacketDecodeError(`ND option of ${len} bytes runs past the message`, o);
    yield { type: body[o]!, at: o, len };
    o += len;
  }
}

/** Decodes a router advertisement's body; unknown options are skipped, as a host must. */
export function decodeRouterAdvert(body: Uint8Array): RouterAdvert {
  if (body.length < 12) throw new PacketDecodeError(`router advertisement of ${body.length} bytes (needs 12)`, body.length);
  let sourceLinkLayer: MacAddress | undefined;
  let mtu: number | undefined;
  const prefixes: PrefixInfo[] = [];
  for (const opt of ndOptions(body, 12)) {
    if (opt.type === NdOption.SOURCE_LL && opt.len === 8) sourceLinkLayer = MacAddress.fromBytes(body.subarray(opt.at + 2, opt.at + 8));
    else if (opt.type === NdOption.MTU && opt.len === 8) mtu = u32(body, opt.at + 4);
    else if (opt.type === NdOption.PREFIX_INFO) {
      if (opt.len !== 32) throw new PacketDecodeError(`prefix information option of ${opt.len} bytes (must be 32)`, opt.at);
      prefixes.push({
        length: body[opt.at + 2]!,
        onLink: (body[opt.at + 3]! & 0x80) !== 0,
        autonomous: (body[opt.at + 3]! & 0x40) !== 0,
        validLifetime: u32(body, opt.at + 4),
        preferredLifetime: u32(body, opt.at + 8),
        prefix: Ipv6Address.fromBytes(body.subarray(opt.at + 16, opt.at + 32)),
      });
    }
  }
  return {
    curHopLimit: body[0]!,
    managed: (body[1]! & 0x80) !== 0,
    otherConfig: (body[1]! & 0x40) !== 0,
    routerLifetime: (body[2]! << 8) | body[3]!,
    reachableTime: u32(body, 4),
    retransTimer: u32(body, 8),
    ...(sourceLinkLayer ? { sourceLinkLayer } : {}),
    ...(mtu !== undefined ? { mtu } : {}),
    prefixes,
  };
}

/** Decodes a router solicitation's body (4 reserved bytes, then options). */
export function decodeRouterSolicit(body: Uint8Array): RouterSolicit {
  if (body.length < 4) throw new PacketDecodeError(`router solicitation of ${body.length} bytes (needs 4)`, body.length);
  for (const opt of ndOptions(body, 4)) {
    if (opt.type === NdOption.SOURCE_LL && opt.len === 8) return { sourceLinkLayer: MacAddress.fromBytes(body.subarray(opt.at + 2, opt.at + 8)) };
  }
  return {};
}

const ALL_NODES = 'ff02::1';
const ALL_ROUTERS = 'ff02::2';

/** A router advertisement frame (hop limit 255, as RFC 4861 §6.1.2 requires of a receiver); to all nodes unless told. */
export function routerAdvertisement(o: { srcMac: MacLike; srcIp: Ipv6Like; dstMac?: MacLike; dstIp?: Ipv6Like; ra: RouterAdvert }): EthernetFrame {
  const dstIp = ip6(o.dstIp ?? ALL_NODES);
  return ethernet({
    src: o.srcMac,
    dst: o.dstMac === undefined ? ipv6MulticastMac(dstIp) : mac(o.dstMac),
    payload: ipv6({ src: o.srcIp, dst: dstIp, hopLimit: 255, payload: { kind: 'icmpv6', type: ICMPV6_TYPE.ROUTER_ADVERT, code: 0, body: encodeRouterAdvert(o.ra) } }),
  });
}

/** A router solicitation to all routers, with the source link-layer option when the source is not ::. */
export function routerSolicitation(o: { srcMac: MacLike; srcIp: Ipv6Like }): EthernetFrame {
  const src = ip6(o.srcIp);
  const body = new Uint8Array(src.value === 0n ? 4 : 12);
  if (src.value !== 0n) {
    body[4] = NdOption.SOURCE_LL;
    body[5] = 1;
    body.set(mac(o.srcMac).toBytes(), 6);
  }
  return ethernet({
    src: o.srcMac,
    dst: ipv6MulticastMac(ALL_ROUTERS),
    payload: ipv6({ src, dst: ALL_ROUTERS, hopLimit: 255, payload: { kind: 'icmpv6', type: ICMPV6_TYPE.ROUTER_SOLICIT, code: 0, body } }),
  });
}

/** The link-local address (fe80::/64 with the modified EUI-64 of `mac`) a router port answers and advertises from. */
export function linkLocalAddress(m: MacLike): Ipv6Address {
  const v = mac(m).value;
  const iid = ((((v >> 24n) & 0xffffffn) ^ 0x020000n) << 40n) | (0xfffen << 24n) | (v & 0xffffffn);
  return Ipv6Address.fromBigInt((0xfe80n << 112n) | iid);
}
