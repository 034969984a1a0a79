import { Ipv4Address, IpNetwork, MacAddress } from '@dragonflow/base';
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { DhcpMessageType, decodeDhcp, dhcpMessage, encodeDhcp } from './message.js';
import { DhcpOption, dhcpDecode, dhcpEncode, encodeExtraDhcpOption } from './options.js';

// Made by scapy (test/capture/dhcp-fixtures.py): an independent implementation.
const fixtures = JSON.parse(readFileSync(new URL('../../test/fixtures/dhcp-scapy.json', import.meta.url), 'utf8')) as Record<string, string>;
const bytes = (name: string): Uint8Array => new Uint8Array(Buffer.from(fixtures[name]!, 'hex'));
const opt = (m: ReturnType<typeof decodeDhcp>, code: number): Uint8Array => {
  const d = m.options.get(code);
  if (!d) throw new Error(`option ${code} missing`);
  return d;
};

/** Our encoding is scapy's bytes followed by zero padding to the 300-byte BOOTP minimum. */
function expectSameAsScapy(ours: Uint8Array, scapy: Uint8Array): void {
  expect(ours.length).toBe(Math.max(300, scapy.length));
  expect(Buffer.from(ours.subarray(0, scapy.length)).toString('hex')).toBe(Buffer.from(scapy).toString('hex'));
  expect(ours.subarray(scapy.length).every((b) => b === 0)).toBe(true);
}

describe('DHCPv4 codec against scapy', () => {
  test('a DISCOVER: header fields, message type, client id, parameter request list, hostname', () => {
    const m = decodeDhcp(bytes('discover'));
    expect(m.op).toBe(1);
    expect(m.xid).toBe(0x12345678);
    expect(m.flags).toBe(0x8000);
    expect(m.chaddr.toString()).toBe('fa:16:3e:00:00:01');
    expect(dhcpDecode.u8(opt(m, DhcpOption.MESSAGE_TYPE))).toBe(DhcpMessageType.DISCOVER);
    expect([...opt(m, DhcpOption.PARAMETER_REQUEST_LIST)]).toEqual([1, 3, 6, 15, 26, 28, 51, 54, 121]);
    expect(dhcpDecode.string(opt(m, DhcpOption.HOSTNAME))).toBe('vm1');
    expectSameAsScapy(encodeDhcp(m), bytes('discover'));
  });

  test('an OFFER with every option the DHCP app sends is byte-identical when built from typed values', () => {
    const scapy = bytes('offer');
    const ip = (s: string) => Ipv4Address.parse(s);
    const ours = encodeDhcp(
      dhcpMessage({
        op: 2,
        xid: 0x12345678,
        flags: 0x8000,
        yiaddr: ip('10.0.0.5'),
        siaddr: ip('10.0.0.2'),
        chaddr: MacAddress.parse('fa:16:3e:00:00:01'),
        options: new Map([
          [DhcpOption.MESSAGE_TYPE, dhcpEncode.u8(DhcpMessageType.OFFER)],
          [DhcpOption.SERVER_ID, dhcpEncode.ip(ip('10.0.0.2'))],
          [DhcpOption.LEASE_TIME, dhcpEncode.u32(86400)],
          [DhcpOption.RENEWAL_TIME, dhcpEncode.u32(43200)],
          [DhcpOption.REBINDING_TIME, dhcpEncode.u32(75600)],
          [DhcpOption.SUBNET_MASK, dhcpEncode.ip(ip('255.255.255.0'))],
          [DhcpOption.ROUTER, dhcpEncode.ips([ip('10.0.0.1')])],
          [DhcpOption.DNS_SERVERS, dhcpEncode.ips([ip('8.8.8.8'), ip('1.1.1.1')])],
          [DhcpOption.DOMAIN_NAME, dhcpEncode.string('openstacklocal')],
          [DhcpOption.INTERFACE_MTU, dhcpEncode.u16(1450)],
          [
            DhcpOption.CLASSLESS_STATIC_ROUTES,
            dhcpEncode.routes([
              { destination: IpNetwork.parse('169.254.169.254/32'), nextHop: ip('10.0.0.2') },
              { destination: IpNetwork.parse('0.0.0.0/0'), nextHop: ip('10.0.0.1') },
            ]),
          ],
        ]),
      }),
    );
    expectSameAsScapy(ours, scapy);
    const back = decodeDhcp(scapy);
    expect(back.yiaddr.toString()).toBe('10.0.0.5');
    expect(dhcpDecode.routes(opt(back, DhcpOption.CLASSLESS_STATIC_ROUTES)).map((r) => `${r.destination.toString()} via ${r.nextHop.toString()}`)).toEqual(['169.254.169.254/32 via 10.0.0.2', '0.0.0.0/0 via 10.0.0.1']);
    expect(dhcpDecode.u16(opt(back, DhcpOption.INTERFACE_MTU))).toBe(1450);
  });

  test('a REQUEST in the renewing state carries ciaddr, requested address and server id', () => {
    const m = decodeDhcp(bytes('request'));
    expect(m.ciaddr.toString()).toBe('10.0.0.5');
    expect(dhcpDecode.ip(opt(m, DhcpOption.REQUESTED_IP)).toString()).toBe('10.0.0.5');
    expect(dhcpDecode.ip(opt(m, DhcpOption.SERVER_ID)).toString()).toBe('10.0.0.2');
    expectSameAsScapy(encodeDhcp(m), bytes('request'));
  });
});

describe('DHCPv4 codec edge cases', () => {
  const base = dhcpMessage({ op: 1, xid: 1, chaddr: MacAddress.parse('fa:16:3e:00:00:02') });

  test('an option longer than 255 bytes is split (RFC 3396) and joined again', () => {
    const long = new Uint8Array(600).map((_, i) => i & 0xff);
    const wire = encodeDhcp({ ...base, options: new Map([[DhcpOption.DOMAIN_SEARCH, long]]) });
    expect(Buffer.from(decodeDhcp(wire).options.get(DhcpOption.DOMAIN_SEARCH)!)).toEqual(Buffer.from(long));
  });

  test('options overloaded into the file field are read (option 52)', () => {
    const wire = encodeDhcp({ ...base, options: new Map([[52, Uint8Array.of(1)]]) });
    wire.set([DhcpOption.HOSTNAME, 2, 0x68, 0x69, 255], 108);
    const m = decodeDhcp(wire);
    expect(dhcpDecode.string(m.options.get(DhcpOption.HOSTNAME)!)).toBe('hi');
    expect(m.file).toBe('');
  });

  test('truncated and malformed input names the offset and what is wrong', () => {
    const wire = encodeDhcp({ ...base, options: new Map([[DhcpOption.HOSTNAME, dhcpEncode.string('abc')]]) });
    expect(() => decodeDhcp(wire.subarray(0, 100))).toThrow(/shorter than the 240-byte minimum/);
    const badLen = wire.slice();
    badLen[241] = 200;
    expect(() => decodeDhcp(badLen.subarray(0, 250))).toThrow(/option 12 says 200 bytes/);
    const badCookie = wire.slice();
    badCookie[236] = 0;
    expect(() => decodeDhcp(badCookie)).toThrow(/magic cookie/);
    const badOp = wire.slice();
    badOp[0] = 3;
    expect(() => decodeDhcp(badOp)).toThrow(/op 3/);
  });

  test('every truncation of a valid message fails with a decode error or decodes, never crashes otherwise', () => {
    const wire = encodeDhcp(decodeDhcp(bytes('offer')));
    for (let n = 0; n < wire.length; n++) {
      try {
        decodeDhcp(wire.subarray(0, n));
      } catch (e) {
        expect((e as Error).name).toMatch(/Error/);
        expect((e as { code?: string }).code).toBe('PACKET_DECODE');
      }
    }
  });
});

describe("Neutron's extra_dhcp_opts", () => {
  test('well-known names are typed: addresses, integers, text, routes, domains', () => {
    expect([...encodeExtraDhcpOption('ntp-server', '10.0.0.1,10.0.0.2').data]).toEqual([10, 0, 0, 1, 10, 0, 0, 2]);
    expect(encodeExtraDhcpOption('mtu', '1400')).toEqual({ code: 26, data: Uint8Array.of(0x05, 0x78) });
    expect(encodeExtraDhcpOption('bootfile-name', 'pxelinux.0').code).toBe(67);
    expect([...encodeExtraDhcpOption('classless-static-route', '10.1.0.0/16,10.0.0.9').data]).toEqual([16, 10, 1, 10, 0, 0, 9]);
    expect([...encodeExtraDhcpOption('domain-search', 'a.example,b').data]).toEqual([1, 97, 7, ...new TextEncoder().encode('example'), 0, 1, 98, 0]);
    expect(encodeExtraDhcpOption('option:42', '10.0.0.3').code).toBe(42);
    expect(encodeExtraDhcpOption('150', '10.0.0.4').data).toEqual(Uint8Array.of(10, 0, 0, 4));
  });

  test('bad names and values are refused naming the option and the field', () => {
    expect(() => encodeExtraDhcpOption('no-such-thing', 'x')).toThrow(/unknown DHCP option 'no-such-thing'/);
    expect(() => encodeExtraDhcpOption('mtu', 'big')).toThrow(/option mtu \(26\) needs an integer 0..65535: 'big'/);
    expect(() => encodeExtraDhcpOption('dns-server', '10.0.0.1,nope')).toThrow(/needs IPv4 addresses/);
    expect(() => encodeExtraDhcpOption('53', '1')).toThrow(/set by the DHCP server/);
    expect(() => encodeExtraDhcpOption('classless-static-route', '10.0.0.0/8')).toThrow(/pairs/);
  });
});
