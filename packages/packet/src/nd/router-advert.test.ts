import { Ipv6Address, MacAddress } from '@dragonflow/base';
import { describe, expect, it } from 'vitest';
import { decodeEthernet } from '../decode.js';
import { encodeEthernet } from '../encode.js';
import { PacketDecodeError, PacketEncodeError } from '../errors.js';
import { decodeRouterAdvert, decodeRouterSolicit, encodeRouterAdvert, linkLocalAddress, routerAdvertisement, routerSolicitation, type RouterAdvert } from './router-advert.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

// Both frames as scapy 2.5 builds them (Ether/IPv6/ICMPv6ND_RA with prf=0 (medium), SLLA, MTU and prefix options; ICMPv6ND_RS with SLLA).
const SCAPY_RA =
  '333300000001fa163e00000186dd6000000000403afffe80000000000000f8163efffe000001ff0200000000000000000000000000018600f1534040070800000000000000000101fa163e00000105010000000005aa030440c0000151800000384000000000fd000001000000000000000000000000';
const SCAPY_RS = '333300000002fa163e00000286dd6000000000103afffe80000000000000f8163efffe000002ff02000000000000000000000000000285000efc000000000101fa163e000002';

const RA: RouterAdvert = {
  curHopLimit: 64,
  managed: false,
  otherConfig: true,
  routerLifetime: 1800,
  reachableTime: 0,
  retransTimer: 0,
  sourceLinkLayer: MacAddress.parse('fa:16:3e:00:00:01'),
  mtu: 1450,
  prefixes: [{ prefix: Ipv6Address.parse('fd00:1::'), length: 64, onLink: true, autonomous: true, validLifetime: 86400, preferredLifetime: 14400 }],
};

describe('router advertisement codec', () => {
  it('builds the bytes scapy builds, checksum included, and decodes them back', () => {
    const frame = routerAdvertisement({ srcMac: 'fa:16:3e:00:00:01', srcIp: linkLocalAddress('fa:16:3e:00:00:01'), ra: RA });
    expect(Buffer.from(encodeEthernet(frame)).toString('hex')).toBe(SCAPY_RA);
    const back = decodeEthernet(hex(SCAPY_RA));
    const icmp = back.payload.kind === 'ipv6' ? back.payload.payload : undefined;
    expect(icmp?.kind === 'icmpv6' && icmp.type).toBe(134);
    const ra = decodeRouterAdvert(icmp?.kind === 'icmpv6' ? icmp.body : new Uint8Array());
    expect(ra).toEqual(RA);
  });

  it('builds scapy\'s router solicitation and finds its source link-layer address', () => {
    const frame = routerSolicitation({ srcMac: 'fa:16:3e:00:00:02', srcIp: 'fe80::f816:3eff:fe00:2' });
    expect(Buffer.from(encodeEthernet(frame)).toString('hex')).toBe(SCAPY_RS);
    const icmp = frame.payload.kind === 'ipv6' ? frame.payload.payload : undefined;
    expect(decodeRouterSolicit(icmp?.kind === 'icmpv6' ? icmp.body : new Uint8Array()).sourceLinkLayer?.toString()).toBe('fa:16:3e:00:00:02');
    expect(decodeRouterSolicit(new Uint8Array(4))).toEqual({});
  });

  it('sets M and O for a managed network, and no options when none are given', () => {
    const body = encodeRouterAdvert({ ...RA, managed: true, otherConfig: true, sourceLinkLayer: undefined, mtu: undefined, prefixes: [] } as RouterAdvert);
    expect(body.length).toBe(12);
    expect(body[1]).toBe(0xc0);
  });

  it('refuses truncated and malformed input and out-of-range values', () => {
    const body = encodeRouterAdvert(RA);
    for (let n = 0; n < 12; n++) expect(() => decodeRouterAdvert(body.subarray(0, n))).toThrow(PacketDecodeError);
    // Cut inside an option: the option runs past the message.
    expect(() => decodeRouterAdvert(body.subarray(0, body.length - 1))).toThrow(/runs past/);
    const zeroLen = body.slice();
    zeroLen[13] = 0;
    expect(() => decodeRouterAdvert(zeroLen)).toThrow(/length 0/);
    const shortPrefix = encodeRouterAdvert({ ...RA, sourceLinkLayer: undefined, mtu: undefined });
    shortPrefix[13] = 2;
    expect(() => decodeRouterAdvert(shortPrefix.subarray(0, 28))).toThrow(/prefix information option of 16 bytes/);
    expect(() => encodeRouterAdvert({ ...RA, routerLifetime: 70000 })).toThrow(PacketEncodeError);
    expect(() => decodeRouterSolicit(new Uint8Array(3))).toThrow(PacketDecodeError);
  });

  it('skips options it does not know', () => {
    const body = encodeRouterAdvert({ ...RA, sourceLinkLayer: undefined, mtu: undefined, prefixes: [] } as RouterAdvert);
    const withUnknown = new Uint8Array(body.length + 8);
    withUnknown.set(body);
    withUnknown[12] = 25; // RDNSS, not read here
    withUnknown[13] = 1;
    expect(decodeRouterAdvert(withUnknown).prefixes).toEqual([]);
  });

  it('derives the link-local address of a MAC (modified EUI-64)', () => {
    expect(linkLocalAddress('fa:16:3e:11:22:33').toString()).toBe('fe80::f816:3eff:fe11:2233');
    expect(linkLocalAddress('00:00:00:00:00:01').toString()).toBe('fe80::200:ff:fe00:1');
  });
});
