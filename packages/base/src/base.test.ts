import { describe, expect, it } from 'vitest';
import { DfError, IpNetwork, Ipv4Address, Ipv6Address, MacAddress, ManualClock, describeError, isDfError, parseIp } from './index.js';

describe('MacAddress', () => {
  it('parses, formats and round-trips bytes', () => {
    const mac = MacAddress.parse('FA:16:3E:00:0A:01');
    expect(mac.toString()).toBe('fa:16:3e:00:0a:01');
    expect(MacAddress.fromBytes(mac.toBytes()).equals(mac)).toBe(true);
    expect(mac.isMulticast).toBe(false);
    expect(MacAddress.parse('01:00:5e:00:00:01').isMulticast).toBe(true);
    expect(MacAddress.BROADCAST.toString()).toBe('ff:ff:ff:ff:ff:ff');
  });

  it('reads and writes every byte at an offset, high bits included', () => {
    for (const text of ['ff:ff:ff:ff:ff:ff', '80:00:00:00:00:01', '00:01:80:00:00:00', '12:34:56:78:9a:bc', '00:00:00:00:00:00']) {
      const mac = MacAddress.parse(text);
      const buf = new Uint8Array(9).fill(0xee);
      mac.writeTo(buf, 2);
      expect(Array.from(buf, (b) => b.toString(16).padStart(2, '0')).join(':')).toBe(`ee:ee:${text}:ee`);
      const back = MacAddress.fromBytes(buf, 2);
      expect(back.value).toBe(mac.value);
      expect(back.toString()).toBe(text);
    }
  });

  it('names the field in its error', () => {
    try {
      MacAddress.parse('fa:16:3e:00:0a', 'mac_address');
      expect.unreachable();
    } catch (e) {
      expect(isDfError(e, 'INVALID_MAC')).toBe(true);
      expect((e as DfError).context['field']).toBe('mac_address');
    }
  });
});

describe('IP addresses', () => {
  it('parses IPv4 strictly', () => {
    expect(Ipv4Address.parse('10.0.0.5').value).toBe(0x0a000005);
    expect(Ipv4Address.parse('255.255.255.255').toString()).toBe('255.255.255.255');
    expect(() => Ipv4Address.parse('10.0.5')).toThrow(/not an IPv4 address/);
    expect(() => Ipv4Address.parse('10.0.0.256')).toThrow(DfError);
  });

  it('parses IPv6 and formats it canonically', () => {
    const ip = Ipv6Address.parse('fd00:0:0:0:0:0:0:1');
    expect(ip.toString()).toBe('fd00::1');
    expect(Ipv6Address.fromBytes(ip.toBytes()).equals(ip)).toBe(true);
    expect(parseIp('::1').family).toBe(6);
  });
});

describe('IpNetwork', () => {
  it('does CIDR math', () => {
    const net = IpNetwork.parse('192.168.10.0/24');
    expect(net.size).toBe(256n);
    expect(net.netmask.toString()).toBe('255.255.255.0');
    expect(net.last.toString()).toBe('192.168.10.255');
    expect(net.contains(parseIp('192.168.10.77'))).toBe(true);
    expect(net.contains(parseIp('192.168.11.1'))).toBe(false);
    expect(net.at(1n).toString()).toBe('192.168.10.1');
    expect(net.overlaps(IpNetwork.parse('192.168.0.0/16'))).toBe(true);
    expect(net.overlaps(IpNetwork.parse('192.168.11.0/24'))).toBe(false);
  });

  it('refuses host bits and suggests the network', () => {
    expect(() => IpNetwork.parse('10.0.0.5/24')).toThrow(/did you mean '10.0.0.0\/24'/);
    expect(IpNetwork.parse('10.0.0.5/24', 'cidr', false).toString()).toBe('10.0.0.0/24');
    expect(() => IpNetwork.parse('10.0.0.0/33')).toThrow(/prefix must be 0..32/);
    expect(() => IpNetwork.parse('10.0.0.0')).toThrow(/not a CIDR/);
    expect(IpNetwork.parse('fd00:1::/64').size).toBe(1n << 64n);
  });
});

describe('DfError', () => {
  it('carries code, context and cause', () => {
    const cause = new Error('low level');
    const e = new DfError('OFP_DECODE', 'truncated', { cause, context: { offset: 12 } });
    expect(e.code).toBe('OFP_DECODE');
    expect(e.cause).toBe(cause);
    expect(describeError(e)).toBe('truncated (offset=12)');
  });
});

describe('ManualClock', () => {
  it('fires timers in order only when advanced', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    clock.setTimer(20, () => fired.push('b'));
    clock.setTimer(10, () => fired.push('a'));
    const cancel = clock.setTimer(15, () => fired.push('x'));
    cancel();
    clock.advance(5);
    expect(fired).toEqual([]);
    clock.advance(20);
    expect(fired).toEqual(['a', 'b']);
    expect(clock.now()).toBe(25);
  });
});
