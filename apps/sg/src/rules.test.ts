import { describe, expect, it } from 'vitest';
import { ConjIds, clauseCount, isEnforced, memberAddresses, prefixMatch, protocolMatches, remoteField, type SecurityGroupRule } from './rules.js';

const rule = (r: Partial<SecurityGroupRule>): SecurityGroupRule => ({
  id: '00000000-0000-4000-8000-000000000001',
  direction: 'ingress',
  ethertype: 'IPv4',
  protocol: null,
  portRangeMin: null,
  portRangeMax: null,
  remoteIpPrefix: null,
  remoteGroupId: null,
  description: '',
  ...r,
});

describe('rule clauses', () => {
  it('turns protocol, port range and ICMP type/code into matches', () => {
    expect(protocolMatches(rule({}))).toEqual([{ eth_type: 0x0800 }]);
    expect(protocolMatches(rule({ ethertype: 'IPv6', protocol: 'udp' }))).toEqual([{ eth_type: 0x86dd, ip_proto: 17 }]);
    expect(protocolMatches(rule({ protocol: 'tcp', portRangeMin: 22, portRangeMax: 22 }))).toEqual([{ eth_type: 0x0800, ip_proto: 6, tcp_dst: 22 }]);
    expect(protocolMatches(rule({ protocol: 'sctp', portRangeMin: 1, portRangeMax: 65535 }))).toHaveLength(16);
    expect(protocolMatches(rule({ protocol: '6', portRangeMin: 8000, portRangeMax: 8001 }))).toEqual([{ eth_type: 0x0800, ip_proto: 6, tcp_dst: [8000, 0xfffe] }]);
    expect(protocolMatches(rule({ protocol: 'icmp', portRangeMin: 3, portRangeMax: 4 }))).toEqual([{ eth_type: 0x0800, ip_proto: 1, icmpv4_type: 3, icmpv4_code: 4 }]);
    expect(protocolMatches(rule({ ethertype: 'IPv6', protocol: 'ipv6-icmp', portRangeMin: 128 }))).toEqual([{ eth_type: 0x86dd, ip_proto: 58, icmpv6_type: 128 }]);
    expect(protocolMatches(rule({ protocol: 'gre' }))).toEqual([{ eth_type: 0x0800, ip_proto: 47 }]);
  });

  it('matches the remote end on the source for ingress and the destination for egress; a /0 prefix is no restriction', () => {
    expect(remoteField('ingress', 0x0800)).toBe('ipv4_src');
    expect(remoteField('egress', 0x86dd)).toBe('ipv6_dst');
    expect(prefixMatch(rule({ direction: 'egress', remoteIpPrefix: '192.0.2.0/24' }))).toEqual({ eth_type: 0x0800, ipv4_dst: '192.0.2.0/24' });
    expect(prefixMatch(rule({ remoteIpPrefix: '0.0.0.0/0' }))).toBeUndefined();
    expect(clauseCount(rule({ remoteIpPrefix: '0.0.0.0/0' }))).toBe(2);
    expect(clauseCount(rule({ remoteGroupId: '00000000-0000-4000-8000-0000000000aa' }))).toBe(3);
  });

  it("takes a member's fixed IPs and allowed-address-pair IPs and networks", () => {
    const port = {
      fixedIps: [{ subnetId: 's', ipAddress: '10.0.0.5' }, { subnetId: 's6', ipAddress: 'fd00::5' }],
      allowedAddressPairs: [{ ipAddress: '10.0.1.0/24', macAddress: null }, { ipAddress: '10.0.0.5', macAddress: null }],
    } as never;
    expect(memberAddresses(port)).toEqual(['10.0.0.5/32', 'fd00::5/128', '10.0.1.0/24']);
  });

  it('enforces VM ports with port security, never network:* ports', () => {
    expect(isEnforced({ portSecurityEnabled: true, deviceOwner: 'compute:nova' } as never)).toBe(true);
    expect(isEnforced({ portSecurityEnabled: false, deviceOwner: '' } as never)).toBe(false);
    expect(isEnforced({ portSecurityEnabled: true, deviceOwner: 'network:router_interface' } as never)).toBe(false);
  });

  it('gives a rule the same conjunction id every time, another one on a collision', () => {
    const a = new ConjIds();
    const b = new ConjIds();
    expect(a.of('r1')).toBe(b.of('r1'));
    expect(a.of('r1')).not.toBe(a.of('r2'));
    expect(a.of('r1')).toBeGreaterThan(0);
    const colliding = new ConjIds(() => 7);
    expect([colliding.of('x'), colliding.of('y'), colliding.of('x')]).toEqual([7, 8, 7]);
    colliding.release('x');
    expect(colliding.of('z')).toBe(7);
  });
});
