import { Ipv6Address, MacAddress } from '@dragonflow/base';
import { packet } from '@dragonflow/core';
import { describe, expect, it } from 'vitest';
import { ICMPV6_ERROR, icmpv6Error } from './icmp.js';

const from = { mac: MacAddress.parse('fa:16:3e:00:01:06'), ip: Ipv6Address.parse('fd00:1::1') };
const frame = (o: { src?: string; dst?: string; srcMac?: string; payload?: packet.IpPayload; size?: number }) =>
  packet.ethernet({
    src: o.srcMac ?? 'fa:16:3e:00:00:11',
    dst: 'fa:16:3e:00:01:06',
    payload: packet.ipv6({ src: o.src ?? 'fd00:1::11', dst: o.dst ?? 'fd00:2::12', hopLimit: 1, payload: o.payload ?? packet.udp({ srcPort: 1, dstPort: 2, payload: new Uint8Array(o.size ?? 8) }) }),
  });

describe('ICMPv6 errors (RFC 4443)', () => {
  it('quotes the offending packet, from the router address to the sender, with a valid checksum', () => {
    const f = frame({});
    const bytes = packet.encodeEthernet(f);
    const err = icmpv6Error(bytes, f, ICMPV6_ERROR.HOP_LIMIT_EXCEEDED, from)!;
    const out = packet.encodeEthernet(err);
    expect(packet.checksumErrors(out)).toEqual([]);
    const ip = err.payload as packet.Ipv6Packet;
    expect([err.src.toString(), err.dst.toString(), ip.src.toString(), ip.dst.toString()]).toEqual(['fa:16:3e:00:01:06', 'fa:16:3e:00:00:11', 'fd00:1::1', 'fd00:1::11']);
    const icmp = ip.payload as packet.Icmpv6Packet;
    expect([icmp.type, icmp.code]).toEqual([3, 0]);
    // 4 unused bytes, then the original IPv6 packet as received
    expect(Buffer.from(icmp.body.subarray(4))).toEqual(Buffer.from(bytes.subarray(14)));
  });

  it('quotes no more than fits the IPv6 minimum MTU (1280)', () => {
    const f = frame({ size: 1400 });
    const err = icmpv6Error(packet.encodeEthernet(f), f, ICMPV6_ERROR.NO_ROUTE, from)!;
    expect(packet.encodeEthernet(err).length - 14).toBe(1280);
  });

  it('is not sent about an ICMPv6 error, to a multicast or unspecified source, or about a packet to a multicast group', () => {
    const cases = [
      frame({ payload: { kind: 'icmpv6', type: 1, code: 0, body: new Uint8Array(8) } }),
      frame({ src: '::' }),
      frame({ src: 'ff02::1' }),
      frame({ dst: 'ff02::1' }),
      frame({ srcMac: '33:33:00:00:00:01' }),
    ];
    for (const f of cases) expect(icmpv6Error(packet.encodeEthernet(f), f, ICMPV6_ERROR.NO_ROUTE, from), packet.describeFrame(f)).toBeUndefined();
    // an informational message (an echo request) does get one
    const echo = frame({ payload: packet.icmpv6Echo({ id: 1, seq: 1 }) });
    expect(icmpv6Error(packet.encodeEthernet(echo), echo, ICMPV6_ERROR.NO_ROUTE, from)).toBeDefined();
  });
});
