import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { ethernet, ipv4, tcp, udp } from './build.js';
import { decodeEthernet } from './decode.js';
import { encodeEthernet } from './encode.js';
import { ipv4UdpPayload } from './locate.js';

// Written by the DHCP benchmark's client (struct, by hand): test/capture/dhcp-frame-fixtures.py.
const fixtures = JSON.parse(readFileSync(new URL('../test/fixtures/dhcp-frames.json', import.meta.url), 'utf8')) as Record<string, string>;
const captured = Object.values(fixtures).map((hex) => new Uint8Array(Buffer.from(hex, 'hex')));

/** What a full decode gives: the UDP datagram's ports and payload, or undefined (not IPv4 UDP, or undecodable). */
function viaDecode(bytes: Uint8Array): { srcPort: number; dstPort: number; payload: string } | undefined {
  let f;
  try {
    f = decodeEthernet(bytes);
  } catch {
    return undefined;
  }
  const ip = f.payload;
  if (ip.kind !== 'ipv4' || ip.payload.kind !== 'udp') return undefined;
  return { srcPort: ip.payload.srcPort, dstPort: ip.payload.dstPort, payload: Buffer.from(ip.payload.payload).toString('hex') };
}

function viaLocate(bytes: Uint8Array): ReturnType<typeof viaDecode> {
  const v = ipv4UdpPayload(bytes);
  return v && { srcPort: v.srcPort, dstPort: v.dstPort, payload: Buffer.from(v.payload).toString('hex') };
}

const dhcpLike = (o: { vlan?: number | number[]; options?: number; fragment?: number; flags?: number } = {}): Uint8Array => {
  const ip = ipv4({ src: '0.0.0.0', dst: '255.255.255.255', payload: udp({ srcPort: 68, dstPort: 67, payload: new Uint8Array(300).fill(7) }), flags: o.flags ?? 0 });
  const withOptions = o.options ? { ...ip, options: new Uint8Array(o.options).fill(1) } : ip;
  const tags = typeof o.vlan === 'number' ? [o.vlan] : (o.vlan ?? []);
  const vlan = tags.map((vid, i) => ({ tpid: i === 0 && tags.length > 1 ? 0x88a8 : 0x8100, pcp: 0, dei: 0, vid }));
  const bytes = encodeEthernet(ethernet({ src: 'fa:16:3e:00:00:01', dst: 'ff:ff:ff:ff:ff:ff', ...(vlan.length > 0 ? { vlan } : {}), payload: withOptions }));
  if (o.fragment !== undefined) {
    // fragment offset written after encoding (the builder makes whole datagrams)
    const at = bytes.length - 300 - 8 - 20 - (o.options ?? 0) + 6;
    bytes[at] = (bytes[at]! & 0xe0) | (o.fragment >> 8);
    bytes[at + 1] = o.fragment & 0xff;
  }
  return bytes;
};

describe('ipv4UdpPayload: the UDP payload without a decode, the same as decodeEthernet', () => {
  test('frames from an independent writer (the benchmark client): found, equal to the full decode, a view not a copy', () => {
    expect(captured).toHaveLength(2);
    for (const bytes of captured) {
      expect(viaLocate(bytes)).toEqual(viaDecode(bytes));
      const v = ipv4UdpPayload(bytes)!;
      expect([v.srcPort, v.dstPort, v.payload.length]).toEqual([68, 67, 300]);
      expect(v.payload.buffer).toBe(bytes.buffer);
    }
  });

  test('every truncation of a captured frame: the same answer as the full decode (none once the datagram is cut)', () => {
    const bytes = captured[0]!;
    for (let n = 0; n <= bytes.length; n++) {
      const cut = bytes.slice(0, n);
      expect(viaLocate(cut), `cut at ${n}`).toEqual(viaDecode(cut));
    }
    expect(ipv4UdpPayload(bytes.slice(0, bytes.length - 1))).toBeUndefined();
  });

  test('Ethernet padding after the datagram is not part of the payload', () => {
    const padded = new Uint8Array([...captured[0]!, 0, 0, 0, 0]);
    expect(viaLocate(padded)).toEqual(viaDecode(padded));
    expect(ipv4UdpPayload(padded)!.payload.length).toBe(300);
  });

  test('VLAN tags, IP options, fragments, other protocols and malformed headers: as the full decode', () => {
    const tcpFrame = encodeEthernet(ethernet({ src: 'fa:16:3e:00:00:01', dst: 'fa:16:3e:00:00:02', payload: ipv4({ src: '10.0.0.1', dst: '10.0.0.2', payload: tcp({ srcPort: 1, dstPort: 2 }) }) }));
    const variants: [string, Uint8Array][] = [
      ['untagged', dhcpLike()],
      ['one tag', dhcpLike({ vlan: 10 })],
      ['two tags', dhcpLike({ vlan: [10, 20] })],
      ['IP options', dhcpLike({ options: 8 })],
      ['first fragment (more fragments)', dhcpLike({ flags: 1 })],
      ['later fragment', dhcpLike({ fragment: 3 })],
      ["don't fragment", dhcpLike({ flags: 2 })],
      ['TCP', tcpFrame],
    ];
    const base = dhcpLike();
    const corrupt = (at: number, ...values: number[]): Uint8Array => {
      const b = base.slice();
      b.set(values, at);
      return b;
    };
    variants.push(['IP version 6 in an IPv4 header', corrupt(14, 0x65)], ['IHL below 20', corrupt(14, 0x44)], ['IHL past the frame', corrupt(14, 0x4f)]);
    variants.push(['total length below IHL', corrupt(17, 10)], ['total length past the frame', corrupt(16, 0xff)], ['UDP length below 8', corrupt(14 + 20 + 4, 0, 4)], ['UDP length past the datagram', corrupt(14 + 20 + 4, 0xff)]);
    variants.push(['ARP ethertype', corrupt(13, 0x06)]);
    for (const [name, bytes] of variants) expect(viaLocate(bytes), name).toEqual(viaDecode(bytes));
    expect(variants.filter(([, b]) => ipv4UdpPayload(b) !== undefined).map(([n]) => n)).toEqual(['untagged', 'one tag', 'two tags', 'IP options', "don't fragment"]);
  });
});
