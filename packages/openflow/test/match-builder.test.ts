import { IpNetwork, Ipv4Address, Ipv6Address, MacAddress } from '@dragonflow/base';
import { describe, expect, it } from 'vitest';
import { act, formatActions, formatMatch, match } from '../src/index.js';

describe('match builder with typed addresses', () => {
  it('takes MacAddress / Ipv4Address / Ipv6Address as exact values, not as { value, mask } entries', () => {
    const m = match({
      eth_type: 0x0800,
      eth_dst: MacAddress.parse('fa:16:3e:00:00:01'),
      ipv4_dst: Ipv4Address.parse('10.0.0.5'),
    });
    expect(m.eth_dst?.value).toBeInstanceOf(MacAddress);
    expect(m.eth_dst?.mask).toBeUndefined();
    expect(m.ipv4_dst?.value.toString()).toBe('10.0.0.5');
    expect(formatMatch(m)).toContain('nw_dst=10.0.0.5');
    const v6 = match({ eth_type: 0x86dd, ipv6_src: Ipv6Address.parse('fd00::1') });
    expect(v6.ipv6_src?.value.toString()).toBe('fd00::1');
  });

  it('still takes an explicit { value, mask } entry and a network', () => {
    const m = match({ eth_type: 0x0800, ipv4_src: { value: Ipv4Address.parse('10.0.0.0'), mask: Ipv4Address.parse('255.255.255.0') }, ipv4_dst: IpNetwork.parse('10.1.0.0/16') });
    expect(m.ipv4_src?.mask?.toString()).toBe('255.255.255.0');
    expect(m.ipv4_dst?.mask?.toString()).toBe('255.255.0.0');
  });

  it('sets a field from a typed address', () => {
    expect(formatActions([act.setField('eth_src', MacAddress.parse('fa:16:3e:aa:bb:cc'))])).toContain('fa:16:3e:aa:bb:cc');
  });
});
