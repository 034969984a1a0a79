import { IpNetwork, MacAddress } from '@dragonflow/base';
import { describe, expect, it } from 'vitest';
import { eui64Address, isAutoAddressSubnet, isDhcpv6Stateful, raFlagsOf } from './ipv6.js';

const v6 = (ra: 'slaac' | 'dhcpv6-stateful' | 'dhcpv6-stateless' | null, addr: 'slaac' | 'dhcpv6-stateful' | 'dhcpv6-stateless' | null = ra) => ({ ipVersion: 6 as const, ipv6RaMode: ra, ipv6AddressMode: addr });

describe('IPv6 subnet modes', () => {
  it('RA flags per ra mode as Neutron radvd sets them; none without an ra mode or on IPv4', () => {
    expect(raFlagsOf(v6('slaac'))).toEqual({ autonomous: true, managed: false, otherConfig: false });
    expect(raFlagsOf(v6('dhcpv6-stateless'))).toEqual({ autonomous: true, managed: false, otherConfig: true });
    expect(raFlagsOf(v6('dhcpv6-stateful'))).toEqual({ autonomous: false, managed: true, otherConfig: false });
    expect(raFlagsOf(v6(null, 'slaac'))).toBeNull();
    expect(raFlagsOf({ ipVersion: 4, ipv6RaMode: null })).toBeNull();
  });

  it('auto-address subnets: SLAAC or DHCPv6-stateless by either mode (Neutron is_auto_address_subnet)', () => {
    expect([v6('slaac'), v6('dhcpv6-stateless'), v6(null, 'slaac'), v6('slaac', null)].map(isAutoAddressSubnet)).toEqual([true, true, true, true]);
    expect([v6('dhcpv6-stateful'), v6(null, null), { ipVersion: 4 as const, ipv6RaMode: null, ipv6AddressMode: null }].map(isAutoAddressSubnet)).toEqual([false, false, false]);
    expect([isDhcpv6Stateful(v6('dhcpv6-stateful')), isDhcpv6Stateful(v6(null, 'dhcpv6-stateful')), isDhcpv6Stateful(v6('dhcpv6-stateful', null))]).toEqual([true, true, false]);
  });

  it('the modified EUI-64 address of a MAC in a /64 (RFC 4291 appendix A: the universal/local bit flipped, ff:fe in the middle)', () => {
    expect(eui64Address(IpNetwork.parse('fd00:1::/64'), MacAddress.parse('fa:16:3e:11:22:33')).toString()).toBe('fd00:1::f816:3eff:fe11:2233');
    expect(eui64Address(IpNetwork.parse('2001:db8:0:7::/64'), MacAddress.parse('00:00:5e:00:53:01')).toString()).toBe('2001:db8:0:7:200:5eff:fe00:5301');
  });
});
