import { Ipv6Address, MacAddress } from '@dragonflow/base';
import { describe, expect, it } from 'vitest';
import { PacketDecodeError, PacketEncodeError } from '../errors.js';
import {
  Dhcp6Option as O,
  Dhcp6Type as T,
  decodeAddresses,
  decodeDhcp6,
  decodeDomainList,
  decodeIaAddr,
  decodeIaNa,
  decodeOro,
  decodeStatus,
  dhcp6Option,
  duidLl,
  encodeAddresses,
  encodeDhcp6,
  encodeDomainList,
  encodeIaAddr,
  encodeIaNa,
  encodeStatus,
} from './message.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

// Built by scapy 2.5 (scapy.layers.dhcp6):
// DHCP6_Solicit(trid=0x123456)/ElapsedTime(0)/ClientId(DUID_LL fa:16:3e:00:00:01)/RapidCommit/IA_NA(iaid=0xdeadbeef)/OptReq([23,24])
const SCAPY_SOLICIT = '011234560008000200000001000a00030001fa163e000001000e00000003000cdeadbeef00000000000000000006000400170018';
// DHCP6_Reply(trid=0x123456)/ServerId(DUID_LL …:d0)/ClientId/RapidCommit/IA_NA(iaid, T1=43200, T2=69120, IAAddress(fd00:1::5, 86400, 86400))/DNSServers([fd00:1::53])/DNSDomains(['openstacklocal.'])
const SCAPY_REPLY =
  '071234560002000a00030001fa163e0000d00001000a00030001fa163e000001000e000000030028deadbeef0000a8c000010e0000050018fd000001000000000000000000000005000151800001518000170010fd000001000000000000000000000053001800100e6f70656e737461636b6c6f63616c00';
// DHCP6OptStatusCode(statuscode=2, statusmsg='no addresses')
const SCAPY_STATUS = '000d000e00026e6f20616464726573736573';

describe('DHCPv6 codec', () => {
  it('decodes scapy\'s Solicit: client DUID, IA_NA, rapid commit, requested options', () => {
    const m = decodeDhcp6(hex(SCAPY_SOLICIT));
    expect([m.type, m.transactionId]).toEqual([T.SOLICIT, 0x123456]);
    expect(m.options.map((o) => o.code)).toEqual([O.ELAPSED_TIME, O.CLIENTID, O.RAPID_COMMIT, O.IA_NA, O.ORO]);
    expect(toHex(dhcp6Option(m.options, O.CLIENTID)!.data)).toBe(toHex(duidLl(MacAddress.parse('fa:16:3e:00:00:01'))));
    expect(decodeIaNa(dhcp6Option(m.options, O.IA_NA)!.data)).toEqual({ iaid: 0xdeadbeef, t1: 0, t2: 0, options: [] });
    expect(decodeOro(dhcp6Option(m.options, O.ORO)!.data)).toEqual([23, 24]);
    expect(toHex(encodeDhcp6(m))).toBe(SCAPY_SOLICIT);
  });

  it('builds the Reply scapy builds (IA_NA with its address, DNS servers, domain list) and reads it back', () => {
    const reply = encodeDhcp6({
      type: T.REPLY,
      transactionId: 0x123456,
      options: [
        { code: O.SERVERID, data: duidLl(MacAddress.parse('fa:16:3e:00:00:d0')) },
        { code: O.CLIENTID, data: duidLl(MacAddress.parse('fa:16:3e:00:00:01')) },
        { code: O.RAPID_COMMIT, data: new Uint8Array(0) },
        encodeIaNa({ iaid: 0xdeadbeef, t1: 43200, t2: 69120, options: [encodeIaAddr({ address: Ipv6Address.parse('fd00:1::5'), preferredLifetime: 86400, validLifetime: 86400, options: [] })] }),
        encodeAddresses(O.DNS_SERVERS, [Ipv6Address.parse('fd00:1::53')]),
        encodeDomainList(['openstacklocal']),
      ],
    });
    expect(toHex(reply)).toBe(SCAPY_REPLY);
    const m = decodeDhcp6(reply);
    const ia = decodeIaNa(dhcp6Option(m.options, O.IA_NA)!.data);
    expect(decodeIaAddr(ia.options[0]!.data).address.toString()).toBe('fd00:1::5');
    expect(decodeAddresses(dhcp6Option(m.options, O.DNS_SERVERS)!.data).map(String)).toEqual(['fd00:1::53']);
    expect(decodeDomainList(dhcp6Option(m.options, O.DOMAIN_LIST)!.data)).toEqual(['openstacklocal']);
  });

  it('encodes and decodes a status code as scapy does', () => {
    const s = encodeStatus(2, 'no addresses');
    expect(toHex(Uint8Array.of(0, s.code, 0, s.data.length, ...s.data))).toBe(SCAPY_STATUS);
    expect(decodeStatus(s.data)).toEqual({ code: 2, message: 'no addresses' });
  });

  it('refuses truncated input at every length, relay messages and bad values', () => {
    const b = hex(SCAPY_SOLICIT);
    // Cut inside the fixed header or inside an option: every prefix that is not a whole message fails.
    const boundaries = new Set([4, 10, 24, 28, 44]);
    for (let n = 0; n < b.length; n++) {
      if (boundaries.has(n)) expect(() => decodeDhcp6(b.subarray(0, n))).not.toThrow();
      else expect(() => decodeDhcp6(b.subarray(0, n)), `${n} bytes`).toThrow(PacketDecodeError);
    }
    expect(() => decodeDhcp6(Uint8Array.of(12, 0, 0, 0))).toThrow(/relay/);
    expect(() => decodeIaNa(new Uint8Array(11))).toThrow(PacketDecodeError);
    expect(() => decodeIaAddr(new Uint8Array(23))).toThrow(PacketDecodeError);
    expect(() => decodeOro(new Uint8Array(3))).toThrow(PacketDecodeError);
    expect(() => decodeAddresses(new Uint8Array(15))).toThrow(PacketDecodeError);
    expect(() => decodeDomainList(Uint8Array.of(3, 0x61, 0x62))).toThrow(PacketDecodeError);
    expect(() => decodeDomainList(Uint8Array.of(1, 0x61))).toThrow(/final empty label/);
    expect(() => encodeDhcp6({ type: T.REPLY, transactionId: 0x1000000, options: [] })).toThrow(PacketEncodeError);
    expect(() => encodeDomainList(['a..b'])).toThrow(PacketEncodeError);
  });
});
