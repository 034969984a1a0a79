import { IpNetwork } from '@dragonflow/base';
import { packet } from '@dragonflow/core';
import { describe, expect, test } from 'vitest';
import { client, ip, leaseFacts } from '../test/lease-facts.js';
import { respond } from './responder.js';

const { DhcpMessageType: T, DhcpOption: O, dhcpDecode, dhcpEncode, dhcpMessage, DHCP_FLAG_BROADCAST } = packet;
const facts = leaseFacts({
  hostRoutes: [{ destination: IpNetwork.parse('192.168.0.0/16'), nextHop: ip('10.0.0.9') }],
  extraOptions: new Map([[42, dhcpEncode.ips([ip('10.0.0.123')])]]),
});

function request(type: number, extra: [number, Uint8Array][] = [], init: Partial<packet.DhcpMessage> = {}): packet.DhcpMessage {
  return dhcpMessage({ op: 1, xid: 0xabc, chaddr: client, ...init, options: new Map([[O.MESSAGE_TYPE, dhcpEncode.u8(type)], ...extra]) });
}
const prl = (...codes: number[]): [number, Uint8Array] => [O.PARAMETER_REQUEST_LIST, Uint8Array.from(codes)];
const opt = (m: packet.DhcpMessage, code: number) => m.options.get(code);

describe('the DHCP responder', () => {
  test('DISCOVER → OFFER of the port address with every lease option', () => {
    const out = respond(request(T.DISCOVER, [prl(1, 3, 6, 15, 26, 121)]), facts);
    if (out.kind !== 'reply') throw new Error(out.why);
    expect(out.type).toBe('OFFER');
    const m = out.message;
    expect(m.op).toBe(2);
    expect(m.xid).toBe(0xabc);
    expect(m.yiaddr.toString()).toBe('10.0.0.5');
    expect(dhcpDecode.u8(opt(m, O.MESSAGE_TYPE)!)).toBe(T.OFFER);
    expect(dhcpDecode.ip(opt(m, O.SERVER_ID)!).toString()).toBe('10.0.0.2');
    expect(dhcpDecode.ip(opt(m, O.SUBNET_MASK)!).toString()).toBe('255.255.255.0');
    expect(dhcpDecode.ips(opt(m, O.ROUTER)!).map(String)).toEqual(['10.0.0.1']);
    expect(dhcpDecode.ips(opt(m, O.DNS_SERVERS)!).map(String)).toEqual(['10.0.0.53']);
    expect(dhcpDecode.u32(opt(m, O.LEASE_TIME)!)).toBe(86400);
    expect(dhcpDecode.u32(opt(m, O.RENEWAL_TIME)!)).toBe(43200);
    expect(dhcpDecode.u32(opt(m, O.REBINDING_TIME)!)).toBe(75600);
    expect(dhcpDecode.u16(opt(m, O.INTERFACE_MTU)!)).toBe(1450);
    expect(dhcpDecode.string(opt(m, O.DOMAIN_NAME)!)).toBe('openstacklocal');
    expect(dhcpDecode.string(opt(m, O.HOSTNAME)!)).toBe('host-10-0-0-5');
    // RFC 3442: the default route is in option 121 beside the host route.
    expect(dhcpDecode.routes(opt(m, O.CLASSLESS_STATIC_ROUTES)!).map((r) => `${r.destination.toString()}>${r.nextHop.toString()}`)).toEqual(['192.168.0.0/16>10.0.0.9', '0.0.0.0/0>10.0.0.1']);
    // Not asked for (no 42 in the parameter request list): not sent.
    expect(opt(m, 42)).toBeUndefined();
    expect(out.dstIp.toString()).toBe('10.0.0.5');
  });

  test('extra_dhcp_opts are sent when the client asks for them', () => {
    const out = respond(request(T.DISCOVER, [prl(1, 42)]), facts);
    expect(out.kind === 'reply' && dhcpDecode.ips(opt(out.message, 42)!).map(String)).toEqual(['10.0.0.123']);
  });

  test('a subnet without a gateway gets no router option and no default route', () => {
    const out = respond(request(T.DISCOVER, [prl(3, 121)]), { ...facts, gateway: null, hostRoutes: [] });
    if (out.kind !== 'reply') throw new Error(out.why);
    expect(opt(out.message, O.ROUTER)).toBeUndefined();
    expect(opt(out.message, O.CLASSLESS_STATIC_ROUTES)).toBeUndefined();
  });

  test('REQUEST (selecting) for the port address → ACK; for another address → NAK, broadcast', () => {
    const selecting = (addr: string) => request(T.REQUEST, [[O.REQUESTED_IP, dhcpEncode.ip(ip(addr))], [O.SERVER_ID, dhcpEncode.ip(ip('10.0.0.2'))]]);
    const ack = respond(selecting('10.0.0.5'), facts);
    expect(ack.kind === 'reply' && ack.type).toBe('ACK');
    const nak = respond(selecting('10.0.0.77'), facts);
    if (nak.kind !== 'reply') throw new Error(nak.why);
    expect(nak.type).toBe('NAK');
    expect(nak.message.yiaddr.value).toBe(0);
    expect(opt(nak.message, O.LEASE_TIME)).toBeUndefined();
    expect(nak.dstIp.toString()).toBe('255.255.255.255');
  });

  test('a REQUEST naming another server is not ours to answer', () => {
    const out = respond(request(T.REQUEST, [[O.REQUESTED_IP, dhcpEncode.ip(ip('10.0.0.5'))], [O.SERVER_ID, dhcpEncode.ip(ip('10.0.0.3'))]]), facts);
    expect(out).toEqual({ kind: 'none', why: 'other-server' });
  });

  test('renewing (ciaddr, no requested address) → ACK unicast to ciaddr; init-reboot for a wrong address → NAK', () => {
    const renew = respond(request(T.REQUEST, [], { ciaddr: ip('10.0.0.5') }), facts);
    if (renew.kind !== 'reply') throw new Error(renew.why);
    expect(renew.type).toBe('ACK');
    expect(renew.dstIp.toString()).toBe('10.0.0.5');
    const reboot = respond(request(T.REQUEST, [[O.REQUESTED_IP, dhcpEncode.ip(ip('10.9.9.9'))]]), facts);
    expect(reboot.kind === 'reply' && reboot.type).toBe('NAK');
  });

  test('the broadcast flag makes the answer broadcast', () => {
    const out = respond(request(T.DISCOVER, [], { flags: DHCP_FLAG_BROADCAST }), facts);
    expect(out.kind === 'reply' && out.dstIp.toString()).toBe('255.255.255.255');
  });

  test('INFORM → ACK with configuration, no address and no lease time', () => {
    const out = respond(request(T.INFORM, [prl(6)], { ciaddr: ip('10.0.0.5') }), facts);
    if (out.kind !== 'reply') throw new Error(out.why);
    expect(out.type).toBe('ACK');
    expect(out.message.yiaddr.value).toBe(0);
    expect(out.message.ciaddr.toString()).toBe('10.0.0.5');
    expect(opt(out.message, O.LEASE_TIME)).toBeUndefined();
    expect(opt(out.message, O.DNS_SERVERS)).toBeDefined();
  });

  test('DECLINE, RELEASE, relayed and reply messages get no answer', () => {
    expect(respond(request(T.DECLINE), facts)).toEqual({ kind: 'none', why: 'decline' });
    expect(respond(request(T.RELEASE), facts)).toEqual({ kind: 'none', why: 'release' });
    expect(respond(request(T.DISCOVER, [], { giaddr: ip('10.1.1.1') }), facts)).toEqual({ kind: 'none', why: 'relayed' });
    expect(respond({ ...request(T.DISCOVER), op: 2 }, facts)).toEqual({ kind: 'none', why: 'not-a-request' });
    expect(respond(request(99), facts)).toEqual({ kind: 'none', why: 'unknown-type' });
  });
});
