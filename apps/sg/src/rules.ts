import { IpNetwork } from '@dragonflow/base';
import type { LogicalPort, MatchSpec, SecurityGroup } from '@dragonflow/core';
import { protocolNumber } from '@dragonflow/nb';
import { rangeMasks } from './ranges.js';

export type SecurityGroupRule = SecurityGroup['rules'][number];
export type Direction = SecurityGroupRule['direction'];

export const ETH_IPV4 = 0x0800;
export const ETH_IPV6 = 0x86dd;
const ICMPV4 = 1;
const ICMPV6 = 58;
const PORT_FIELD: Readonly<Record<number, 'tcp_dst' | 'udp_dst' | 'sctp_dst'>> = { 6: 'tcp_dst', 17: 'udp_dst', 132: 'sctp_dst' };

export const ethTypeOf = (r: Pick<SecurityGroupRule, 'ethertype'>): number => (r.ethertype === 'IPv6' ? ETH_IPV6 : ETH_IPV4);

/**
 * The match field that holds the other end of a connection: a rule about what a VM
 * receives (ingress) names the sender, one about what it sends (egress) the receiver.
 */
export function remoteField(direction: Direction, ethType: number): 'ipv4_src' | 'ipv4_dst' | 'ipv6_src' | 'ipv6_dst' {
  const v6 = ethType === ETH_IPV6;
  if (direction === 'ingress') return v6 ? 'ipv6_src' : 'ipv4_src';
  return v6 ? 'ipv6_dst' : 'ipv4_dst';
}

/**
 * A rule's protocol dimension as matches (one conjunction clause: any of them):
 * the ethertype, the protocol, and a destination port range as value/mask pairs
 * (Neutron's port range is the destination port in both directions) or an ICMP
 * type and code.
 */
export function protocolMatches(r: SecurityGroupRule): MatchSpec[] {
  const eth_type = ethTypeOf(r);
  const proto = protocolNumber(r.protocol);
  if (proto === null) return [{ eth_type }];
  const base = { eth_type, ip_proto: proto };
  const portField = PORT_FIELD[proto];
  if (portField !== undefined) {
    if (r.portRangeMin === null || r.portRangeMax === null) return [base];
    return rangeMasks(r.portRangeMin, r.portRangeMax).map(({ value, mask }) => (mask === 0 ? base : { ...base, [portField]: mask === 0xffff ? value : [value, mask] }));
  }
  if ((proto === ICMPV4 || proto === ICMPV6) && r.portRangeMin !== null) {
    const [typeField, codeField] = proto === ICMPV4 ? (['icmpv4_type', 'icmpv4_code'] as const) : (['icmpv6_type', 'icmpv6_code'] as const);
    return [{ ...base, [typeField]: r.portRangeMin, ...(r.portRangeMax !== null ? { [codeField]: r.portRangeMax } : {}) }];
  }
  return [base];
}

/** The remote prefix of a rule as a match (none for no prefix, or a /0 that names everything). */
export function prefixMatch(r: SecurityGroupRule): MatchSpec | undefined {
  if (r.remoteIpPrefix === null) return undefined;
  const net = IpNetwork.parse(r.remoteIpPrefix, 'remoteIpPrefix', false);
  if (net.prefixLength === 0) return undefined;
  const eth_type = ethTypeOf(r);
  return { eth_type, [remoteField(r.direction, eth_type)]: net.toString() };
}

/** How many clauses the rule's conjunction has: the port, the protocol, and the remote end when it is restricted. */
export function clauseCount(r: SecurityGroupRule): number {
  return r.remoteGroupId !== null || prefixMatch(r) !== undefined ? 3 : 2;
}

/**
 * Whether the app enforces groups on a port: port security on, and a VM's port —
 * router interfaces, DHCP and other `network:*` ports get no security group flows.
 */
export function isEnforced(p: LogicalPort): boolean {
  return p.portSecurityEnabled && !p.deviceOwner.startsWith('network:');
}

/**
 * What a port contributes as a remote-group member: its fixed IPs and its
 * allowed-address-pair IPs or networks, as CIDRs ('10.0.0.5/32').
 */
export function memberAddresses(p: LogicalPort): string[] {
  const out = new Set<string>();
  for (const f of p.fixedIps) out.add(asCidr(f.ipAddress));
  for (const a of p.allowedAddressPairs) out.add(asCidr(a.ipAddress));
  return [...out];
}

function asCidr(text: string): string {
  if (text.includes('/')) return IpNetwork.parse(text, 'ipAddress', false).toString();
  return `${text}/${text.includes(':') ? 128 : 32}`;
}

/** The ethertype of a member address in CIDR form. */
export const ethTypeOfCidr = (cidr: string): number => (cidr.includes(':') ? ETH_IPV6 : ETH_IPV4);

/** 32-bit FNV-1a: a rule's conjunction id comes from its id, so it is the same on every chassis and after a restart. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * Conjunction ids of rules: the hash of the rule id, or the next free id on the rare
 * collision (then it may differ after a restart, which only rewrites those flows).
 */
export class ConjIds {
  private readonly byRule = new Map<string, number>();
  private readonly used = new Map<number, string>();

  constructor(private readonly hash: (text: string) => number = fnv1a) {}

  of(ruleId: string): number {
    const known = this.byRule.get(ruleId);
    if (known !== undefined) return known;
    let id = this.hash(ruleId) || 1;
    while (this.used.has(id)) id = (id % 0xffffffff) + 1;
    this.byRule.set(ruleId, id);
    this.used.set(id, ruleId);
    return id;
  }

  release(ruleId: string): void {
    const id = this.byRule.get(ruleId);
    if (id === undefined) return;
    this.byRule.delete(ruleId);
    this.used.delete(id);
  }

  clear(): void {
    this.byRule.clear();
    this.used.clear();
  }
}
