import { EthType, IpProto, REG_SRC_PORT, flow, type AppTables, type DesiredFlow, type MatchSpec, type TableRef } from '@dragonflow/core';
import type { PortSecurityFacts, SourceBinding } from './facts.js';

/** The app's tables in the ingress-security stage, in visiting order. */
export const TABLES = {
  /** Source MAC of a checked port; everything else skips the app. */
  port: 'port',
  /** Source address (IPv4, ARP, IPv6) bound to the source MAC; protocol rules; the rest dropped. */
  address: 'address',
  /** A neighbour advertisement's target is one of the port's IPv6 addresses. */
  ndTarget: 'nd-target',
  /** A neighbour advertisement's target link-layer address is one of the port's MACs (or absent). */
  ndLla: 'nd-lla',
} as const;

export const PRIORITY = {
  /** Port table: a checked port's own MACs go on to the address check. */
  mac: 20,
  /** Port table: a checked port's other source MACs: dropped. */
  portDrop: 10,
  /** Port table: not a checked port (port security off, tunnel, provider): skips the app. */
  unchecked: 1,
  /** Address table: a checked port's packet no binding or exception let through: dropped. */
  addressDrop: 1,
  /** Address table: what no VM may send (DHCP/DHCPv6 server replies, router advertisements). */
  forbidden: 100,
  /** Address table: the unspecified-source exceptions (DHCP client, DAD). */
  unspecified: 90,
  /** Address table: a port's (address, MAC) bindings; ND tables: a port's targets and MACs. */
  binding: 50,
  /** ND tables: an advertisement no binding allowed. */
  ndDrop: 10,
} as const;

const ICMPV6_RA = 134;
const ICMPV6_NS = 135;
const ICMPV6_NA = 136;
const ARP = { eth_type: EthType.ARP } as const;
const IPV4 = { eth_type: EthType.IPV4 } as const;
const IPV6 = { eth_type: EthType.IPV6 } as const;
const NA = { ...IPV6, ip_proto: IpProto.ICMPV6, icmpv6_type: ICMPV6_NA } as const;
const NO_MAC = '00:00:00:00:00:00';

/** Where each table's flows go on to (numbers from the allocator). */
export interface PortsecPipeline {
  readonly port: TableRef;
  readonly address: TableRef;
  readonly ndTarget: TableRef;
  readonly ndLla: TableRef;
  /** The first table after the app (the next security app's, or the services stage). */
  readonly after: number;
}

export function portsecPipeline(tables: AppTables): PortsecPipeline {
  return {
    port: tables.ref(TABLES.port),
    address: tables.ref(TABLES.address),
    ndTarget: tables.ref(TABLES.ndTarget),
    ndLla: tables.ref(TABLES.ndLla),
    after: tables.next(TABLES.ndLla),
  };
}

/**
 * The flows a chassis has once while it has a checked port: the skip for unchecked
 * traffic, the protocol rules of the address and ND tables and the address table's
 * drop. Only packets from a checked port's own MAC reach the address table (the
 * port table sends nothing else there), so these rules never touch unchecked
 * traffic. The drop is a flow, not the table's miss: without checked ports (no
 * shared flows) every table of the app misses through, and nothing is dropped.
 */
export function sharedFlows(p: PortsecPipeline): DesiredFlow[] {
  return [
    // Port security off, tunnel or provider traffic (reg6 = 0), platform ports: not this app's business.
    flow(p.port, { priority: PRIORITY.unchecked, match: {}, goto: p.after }),
    // A checked port's packet that none of its bindings and none of the exceptions below let through.
    flow(p.address, { priority: PRIORITY.addressDrop, match: {}, actions: [] }),
    // DHCP and DHCPv6 server replies and router advertisements from a VM: rogue servers and routers.
    flow(p.address, { priority: PRIORITY.forbidden, match: { ...IPV4, ip_proto: IpProto.UDP, udp_src: 67 }, actions: [] }),
    flow(p.address, { priority: PRIORITY.forbidden, match: { ...IPV6, ip_proto: IpProto.UDP, udp_src: 547 }, actions: [] }),
    flow(p.address, { priority: PRIORITY.forbidden, match: { ...IPV6, ip_proto: IpProto.ICMPV6, icmpv6_type: ICMPV6_RA }, actions: [] }),
    // A DHCP client without an address yet (DISCOVER, REQUEST from 0.0.0.0); its MAC was checked already.
    flow(p.address, { priority: PRIORITY.unspecified, match: { ...IPV4, ipv4_src: '0.0.0.0', ip_proto: IpProto.UDP, udp_src: 68, udp_dst: 67 }, goto: p.after }),
    // Duplicate address detection: a neighbour solicitation from ::.
    flow(p.address, { priority: PRIORITY.unspecified, match: { ...IPV6, ipv6_src: '::', ip_proto: IpProto.ICMPV6, icmpv6_type: ICMPV6_NS }, goto: p.after }),
    // An advertisement for a target no binding of its port allowed.
    flow(p.ndTarget, { priority: PRIORITY.ndDrop, match: NA, actions: [] }),
    // An advertisement without a target link-layer option changes no neighbour's MAC (the target was checked).
    flow(p.ndLla, { priority: PRIORITY.binding, match: { ...NA, ipv6_nd_tll: NO_MAC }, goto: p.after }),
    flow(p.ndLla, { priority: PRIORITY.ndDrop, match: NA, actions: [] }),
  ];
}

/** A checked port's last resort: whatever none of its bindings lets through is dropped. */
export function dropAllFlows(p: PortsecPipeline, key: number): DesiredFlow[] {
  return [flow(p.port, { priority: PRIORITY.portDrop, match: { [REG_SRC_PORT]: key }, actions: [] })];
}

/**
 * One checked port's flows. A port with a single MAC needs no source MAC in its
 * address bindings (the port table let only that MAC through); a port whose address
 * pairs bring other MACs matches each binding's MAC, so a pair's address is
 * accepted only with the pair's MAC and the port's own addresses only with its own.
 */
export function portFlows(p: PortsecPipeline, f: PortSecurityFacts): DesiredFlow[] {
  const src = { [REG_SRC_PORT]: f.key };
  const several = f.macs.length > 1;
  const withMac = (b: SourceBinding): MatchSpec => (several ? { eth_src: b.mac } : {});
  const out = dropAllFlows(p, f.key);
  for (const mac of f.macs) {
    out.push(flow(p.port, { priority: PRIORITY.mac, match: { ...src, eth_src: mac }, goto: p.address }));
    // An ARP probe (RFC 5227: sender IP 0.0.0.0) with its own sender MAC.
    out.push(flow(p.address, { priority: PRIORITY.binding, match: { ...src, ...(several ? { eth_src: mac } : {}), ...ARP, arp_sha: mac, arp_spa: '0.0.0.0' }, goto: p.after }));
    out.push(flow(p.ndLla, { priority: PRIORITY.binding, match: { ...src, ...NA, ipv6_nd_tll: mac }, goto: p.after }));
  }
  for (const b of f.v4) {
    out.push(flow(p.address, { priority: PRIORITY.binding, match: { ...src, ...withMac(b), ...IPV4, ipv4_src: b.network }, goto: p.after }));
    out.push(flow(p.address, { priority: PRIORITY.binding, match: { ...src, ...withMac(b), ...ARP, arp_sha: b.mac, arp_spa: b.network }, goto: p.after }));
  }
  for (const b of f.v6) {
    out.push(flow(p.address, { priority: PRIORITY.binding, match: { ...src, ...withMac(b), ...IPV6, ipv6_src: b.network }, goto: p.ndTarget }));
  }
  // Targets: one flow per address, whichever MAC it is bound to (the link-layer option is checked next, against all the port's MACs).
  const targets = new Map<string, SourceBinding>();
  for (const b of f.v6) targets.set(b.network.toString(), b);
  for (const b of targets.values()) {
    out.push(flow(p.ndTarget, { priority: PRIORITY.binding, match: { ...src, ...NA, ipv6_nd_target: b.network }, goto: p.ndLla }));
  }
  return out;
}
