import { type IpAddress, type IpNetwork, type MacAddress, offsetIp } from '@dragonflow/base';
import type { Subnet } from './tables.js';

/**
 * What an IPv6 subnet's modes promise a VM, in the terms of RFC 4861's router
 * advertisement: whether the prefix is for stateless autoconfiguration (A flag),
 * whether addresses come from DHCPv6 (M flag) and whether other configuration
 * does (O flag). Null for a subnet whose RAs Neutron does not send (no ra_mode, or
 * IPv4): an external router is expected to advertise it, if anyone does.
 */
export interface RaFlags {
  autonomous: boolean;
  managed: boolean;
  otherConfig: boolean;
}

export function raFlagsOf(s: Pick<Subnet, 'ipVersion' | 'ipv6RaMode'>): RaFlags | null {
  if (s.ipVersion !== 6 || s.ipv6RaMode === null) return null;
  switch (s.ipv6RaMode) {
    case 'slaac':
      return { autonomous: true, managed: false, otherConfig: false };
    case 'dhcpv6-stateless':
      return { autonomous: true, managed: false, otherConfig: true };
    // As Neutron's radvd configuration: M alone (RFC 4861: with M set, O is redundant).
    case 'dhcpv6-stateful':
      return { autonomous: false, managed: true, otherConfig: false };
  }
}

/**
 * Subnets whose port addresses are derived from the MAC (EUI-64): SLAAC and
 * DHCPv6-stateless, by either mode (Neutron's is_auto_address_subnet).
 */
export function isAutoAddressSubnet(s: Pick<Subnet, 'ipVersion' | 'ipv6AddressMode' | 'ipv6RaMode'>): boolean {
  if (s.ipVersion !== 6) return false;
  const auto = (m: string | null): boolean => m === 'slaac' || m === 'dhcpv6-stateless';
  return auto(s.ipv6AddressMode) || auto(s.ipv6RaMode);
}

/** The subnets whose addresses a DHCPv6 server hands out (IA_NA): dhcpv6-stateful. */
export function isDhcpv6Stateful(s: Pick<Subnet, 'ipVersion' | 'ipv6AddressMode'>): boolean {
  return s.ipVersion === 6 && s.ipv6AddressMode === 'dhcpv6-stateful';
}

/** The modified EUI-64 address of `mac` in a /64 (RFC 4291 appendix A). */
export function eui64Address(prefix: IpNetwork, mac: MacAddress): IpAddress {
  const m = mac.value;
  const hi = ((m >> 24n) & 0xffffffn) ^ 0x020000n;
  const lo = m & 0xffffffn;
  const iid = (hi << 40n) | (0xfffen << 24n) | lo;
  return offsetIp(prefix.first, iid);
}
