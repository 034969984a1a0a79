import { readFileSync } from 'node:fs';
import { Ipv4Address, MacAddress } from '@dragonflow/base';
import { describe, expect, it } from 'vitest';
import {
  PacketDecodeError,
  arpReply,
  arpRequest,
  checksumErrors,
  cloneFrame,
  decodeEthernet,
  describeFrame,
  encodeEthernet,
  ethernet,
  icmpEchoRequest,
  ipv4,
  ipv6,
  neighborAdvertisement,
  neighborSolicitation,
  tcp,
  udp,
  type EthernetFrame,
} from './index.js';

const fixtures = JSON.parse(readFileSync(new URL('../test/ovs-compose.json', import.meta.url), 'utf8')) as Record<string, { flow: string; hex: string }>;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const payload64 = Uint8Array.from({ length: 64 }, (_, i) => i);

describe('frames composed by Open vSwitch', () => {
  for (const [name, { flow, hex: h }] of Object.entries(fixtures)) {
    it(`${name}: decodes, has valid checksums and re-encodes byte for byte (${flow})`, () => {
      const bytes = unhex(h);
      expect(checksumErrors(bytes)).toEqual([]);
      expect(hex(encodeEthernet(decodeEthernet(bytes)))).toBe(h);
    });
  }

  it('builds the same ICMP echo as OVS', () => {
    const f = ethernet({
      src: '00:00:00:00:00:01',
      dst: '00:00:00:00:00:02',
      payload: ipv4({ src: '10.0.0.1', dst: '10.0.0.2', payload: icmpEchoRequest({ data: payload64 }) }),
    });
    expect(hex(encodeEthernet(f))).toBe(fixtures['icmp4']!.hex);
  });

  it('builds the same UDP, TCP and VLAN frames as OVS', () => {
    const base = { src: '00:00:00:00:00:01', dst: '00:00:00:00:00:02' };
    const u = ethernet({ ...base, payload: ipv4({ src: '10.0.0.1', dst: '10.0.0.2', payload: udp({ srcPort: 1234, dstPort: 53, payload: payload64 }) }) });
    expect(hex(encodeEthernet(u))).toBe(fixtures['udp4']!.hex);
    const t = ethernet({ ...base, payload: ipv4({ src: '10.0.0.1', dst: '10.0.0.2', payload: tcp({ srcPort: 1234, dstPort: 80, flags: 0, window: 0, payload: payload64 }) }) });
    expect(hex(encodeEthernet(t))).toBe(fixtures['tcp4']!.hex);
    const v = ethernet({
      ...base,
      vlan: { tpid: 0x8100, pcp: 5, dei: 0, vid: 100 },
      payload: ipv4({ src: '10.0.0.1', dst: '10.0.0.2', payload: icmpEchoRequest({ data: payload64 }) }),
    });
    expect(hex(encodeEthernet(v))).toBe(fixtures['vlanIcmp4']!.hex);
    const u6 = ethernet({ ...base, payload: ipv6({ src: 'fd00::1', dst: 'fd00::2', payload: udp({ srcPort: 1234, dstPort: 53, payload: payload64 }) }) });
    expect(hex(encodeEthernet(u6))).toBe(fixtures['udp6']!.hex);
  });

  it('builds the same neighbour solicitation as OVS', () => {
    const ns = neighborSolicitation({ srcMac: '00:00:00:00:00:01', srcIp: 'fd00::1', targetIp: 'fd00::2' });
    expect(hex(encodeEthernet(ns))).toBe(fixtures['icmp6Ns']!.hex);
    const decoded = decodeEthernet(unhex(fixtures['icmp6Ns']!.hex));
    const p = decoded.payload;
    expect(p.kind === 'ipv6' && p.payload.kind === 'icmpv6' && p.payload.nd?.sll?.toString()).toBe('00:00:00:00:00:01');
  });

  it('builds the same ARP request as OVS', () => {
    const a = arpRequest({ srcMac: '00:00:00:00:00:01', srcIp: '10.0.0.1', targetIp: '10.0.0.2' });
    expect(hex(encodeEthernet(a))).toBe(fixtures['arp']!.hex);
  });
});

describe('checksums', () => {
  it('names the checksum a corrupted byte breaks', () => {
    const icmp = unhex(fixtures['icmp4']!.hex);
    icmp[60] = icmp[60]! ^ 0xff; // ICMP data
    expect(checksumErrors(icmp)).toEqual(['icmp']);
    const hdr = unhex(fixtures['icmp4']!.hex);
    hdr[22] = hdr[22]! ^ 0x01; // TTL
    expect(checksumErrors(hdr)).toEqual(['ipv4']);
    const u6 = unhex(fixtures['udp6']!.hex);
    u6[24] = u6[24]! ^ 0x01; // source address: breaks the pseudo-header sum
    expect(checksumErrors(u6)).toEqual(['udp']);
  });

  it('recomputes every checksum after a rewrite (TTL, addresses, ports)', () => {
    const f = decodeEthernet(unhex(fixtures['tcp4']!.hex));
    const g = cloneFrame(f);
    if (g.payload.kind !== 'ipv4' || g.payload.payload.kind !== 'tcp') throw new Error('not tcp');
    g.payload.ttl = 63;
    g.payload.dst = Ipv4Address.parse('192.168.1.9');
    g.payload.payload.dstPort = 8080;
    const bytes = encodeEthernet(g);
    expect(checksumErrors(bytes)).toEqual([]);
    expect(describeFrame(decodeEthernet(bytes))).toContain('192.168.1.9 ttl 63');
    // the original is untouched by the clone's rewrite
    expect(f.payload.kind === 'ipv4' && f.payload.ttl).toBe(64);
  });

  it('writes 0xffff for a UDP checksum that computes to zero', () => {
    // Search a source port that makes the sum 0; UDP then must send 0xffff (RFC 768).
    for (let port = 0; port < 65536; port++) {
      const f = ethernet({ src: '00:00:00:00:00:01', dst: '00:00:00:00:00:02', payload: ipv4({ src: '10.0.0.1', dst: '10.0.0.2', payload: udp({ srcPort: port, dstPort: 53 }) }) });
      const b = encodeEthernet(f);
      if (b[40] === 0xff && b[41] === 0xff) {
        expect(checksumErrors(b)).toEqual([]);
        return;
      }
    }
    expect.unreachable('no port gives a zero checksum');
  });
});

describe('round trips', () => {
  const frames: Record<string, EthernetFrame> = {
    'arp reply': arpReply({ srcMac: 'fa:16:3e:00:00:01', srcIp: '10.0.0.1', dstMac: 'fa:16:3e:00:00:02', dstIp: '10.0.0.2' }),
    'neighbour advert': neighborAdvertisement({ srcMac: 'fa:16:3e:00:00:01', srcIp: 'fd00::1', dstMac: 'fa:16:3e:00:00:02', dstIp: 'fd00::2', router: true }),
    'q-in-q udp': ethernet({
      src: 'fa:16:3e:00:00:01',
      dst: 'fa:16:3e:00:00:02',
      vlan: [
        { tpid: 0x88a8, pcp: 0, dei: 0, vid: 10 },
        { tpid: 0x8100, pcp: 3, dei: 1, vid: 20 },
      ],
      payload: ipv4({ src: '10.0.0.1', dst: '10.0.0.2', dscp: 46, ecn: 1, id: 7, flags: 2, payload: udp({ srcPort: 68, dstPort: 67, payload: 'dhcp' }) }),
    }),
    'raw ethertype': ethernet({ src: 'fa:16:3e:00:00:01', dst: 'fa:16:3e:00:00:02', payload: { kind: 'raw', etherType: 0x88cc, data: new Uint8Array([1, 2, 3]) } }),
    'raw ip proto': ethernet({ src: 'fa:16:3e:00:00:01', dst: 'fa:16:3e:00:00:02', payload: ipv4({ src: '10.0.0.1', dst: '10.0.0.2', payload: { kind: 'raw', protocol: 47, data: new Uint8Array([9, 9]) } }) }),
  };
  for (const [name, frame] of Object.entries(frames)) {
    it(name, () => {
      const bytes = encodeEthernet(frame);
      expect(checksumErrors(bytes)).toEqual([]);
      expect(hex(encodeEthernet(decodeEthernet(bytes)))).toBe(hex(bytes));
      expect(decodeEthernet(bytes)).toEqual(frame);
    });
  }

  it('drops Ethernet padding after an IP datagram', () => {
    const a = encodeEthernet(frames['arp reply']!);
    const small = encodeEthernet(ethernet({ src: 'fa:16:3e:00:00:01', dst: 'fa:16:3e:00:00:02', payload: ipv4({ src: '10.0.0.1', dst: '10.0.0.2', payload: udp({ srcPort: 1, dstPort: 2 }) }) }));
    const padded = new Uint8Array(60);
    padded.set(small);
    expect(hex(encodeEthernet(decodeEthernet(padded)))).toBe(hex(small));
    expect(a.length).toBe(42);
  });

  it('keeps a non-first fragment as raw bytes', () => {
    const f = ethernet({ src: 'fa:16:3e:00:00:01', dst: 'fa:16:3e:00:00:02', payload: { ...ipv4({ src: '10.0.0.1', dst: '10.0.0.2', payload: { kind: 'raw', protocol: 17, data: new Uint8Array(16) } }), fragOffset: 185 } });
    const d = decodeEthernet(encodeEthernet(f));
    expect(d.payload.kind === 'ipv4' && d.payload.payload.kind).toBe('raw');
  });

  it('writes every layer in place: IPv4 options, two VLAN tags, a raw IP protocol and an unknown EtherType re-encode byte for byte', () => {
    const src = 'fa:16:3e:00:00:01';
    const dst = 'fa:16:3e:00:00:02';
    const withOptions = ethernet({ src, dst, vlan: [{ tpid: 0x88a8, pcp: 1, dei: 0, vid: 10 }, { tpid: 0x8100, pcp: 0, dei: 1, vid: 20 }], payload: { ...ipv4({ src: '10.0.0.1', dst: '10.0.0.2', payload: udp({ srcPort: 5, dstPort: 6, payload: payload64 }) }), options: Uint8Array.of(1, 1, 1, 0) } });
    const rawProto = ethernet({ src, dst, payload: ipv4({ src: '10.0.0.1', dst: '10.0.0.2', payload: { kind: 'raw', protocol: 47, data: payload64 } }) });
    const unknown = ethernet({ src, dst, payload: { kind: 'raw', etherType: 0x88b5, data: payload64 } });
    for (const f of [withOptions, rawProto, unknown]) {
      const bytes = encodeEthernet(f);
      expect(checksumErrors(bytes)).toEqual([]);
      expect(hex(encodeEthernet(decodeEthernet(bytes)))).toBe(hex(bytes));
    }
    const b = encodeEthernet(withOptions);
    // 14 + two tags, a 24-byte IPv4 header, UDP 8 + 64
    expect(b.length).toBe(22 + 24 + 72);
    expect(hex(b.subarray(12, 22))).toBe('88a8200a81001014' + '0800');
    expect(hex(b.subarray(22 + 20, 22 + 24))).toBe('01010100');
    expect(hex(encodeEthernet(unknown).subarray(12))).toBe('88b5' + hex(payload64));
  });
});

describe('malformed input', () => {
  it('reports truncation with the offset at every cut of a TCP frame', () => {
    const bytes = unhex(fixtures['tcp4']!.hex);
    for (let cut = 0; cut < 54; cut++) {
      try {
        decodeEthernet(bytes.subarray(0, cut));
        expect.unreachable(`cut at ${cut} decoded`);
      } catch (e) {
        expect(e).toBeInstanceOf(PacketDecodeError);
        expect((e as PacketDecodeError).offset).toBeLessThanOrEqual(cut);
      }
    }
  });

  it('refuses a bad IP version and a short header length', () => {
    const bytes = unhex(fixtures['icmp4']!.hex);
    bytes[14] = 0x55;
    expect(() => decodeEthernet(bytes)).toThrow(/version 5/);
    bytes[14] = 0x44;
    expect(() => decodeEthernet(bytes)).toThrow(/below 20/);
  });

  it('refuses values that do not fit their field when encoding', () => {
    const f = ethernet({ src: MacAddress.ZERO, dst: MacAddress.BROADCAST, vlan: 5000, payload: { kind: 'raw', etherType: 0x88cc, data: new Uint8Array(0) } });
    expect(() => encodeEthernet(f)).toThrow(/vlan vid 5000/);
  });
});

describe('describeFrame', () => {
  it('says what a frame is', () => {
    expect(describeFrame(decodeEthernet(unhex(fixtures['vlanIcmp4']!.hex)))).toBe(
      '00:00:00:00:00:01 > 00:00:00:00:00:02, vlan 100 pcp 5, ipv4 10.0.0.1 > 10.0.0.2 ttl 64, icmp echo-request id 0 seq 0',
    );
    expect(describeFrame(arpRequest({ srcMac: '00:00:00:00:00:01', srcIp: '10.0.0.1', targetIp: '10.0.0.2' }))).toBe(
      '00:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, arp who-has 10.0.0.2 tell 10.0.0.1',
    );
  });
});
