import { packet, type Chassis, type InfraPorts, type LogicalPort, type LogicalSwitch } from '@dragonflow/core';

/** Neutron's device owner of a router interface port (its MAC leads to the l3 stage). */
export const ROUTER_INTERFACE = 'network:router_interface';
/** Neutron's device owner of a router's gateway port on an external network (its MAC leads to the l3 stage too). */
export const ROUTER_GATEWAY = 'network:router_gateway';

/**
 * Local ports are flooded in chunks of ports whose keys share `key >>> CHUNK_BITS`:
 * a pure function of the model (a restart computes the same flows), each chunk's
 * flow stays small (≤ 64 copies, about 2 KB) and a port event rebuilds only its chunk.
 */
export const CHUNK_BITS = 6;

export function chunkOf(portKey: number): number {
  return portKey >>> CHUNK_BITS;
}

/** Where a port is, as far as switching is concerned. */
export type Placement =
  /** Bound to this chassis' br-int (and its interface is there). */
  | 'local'
  /** Bound to another chassis. */
  | 'remote'
  /** A router interface or gateway: not bound anywhere, its MAC is the router's on this network. */
  | 'router';

export interface PortPlacementInput {
  readonly localChassisId: string;
  readonly hasLocalBinding: boolean;
}

/** Null: the port takes no part in switching (unbound, or administratively down). */
export function placementOf(p: LogicalPort, where: PortPlacementInput): Placement | null {
  if (!p.adminStateUp) return null;
  if (p.deviceOwner === ROUTER_INTERFACE || p.deviceOwner === ROUTER_GATEWAY) return 'router';
  if (where.hasLocalBinding) return 'local';
  if (p.chassisId !== null && p.chassisId !== where.localChassisId) return 'remote';
  return null;
}

export type NetworkKind =
  | { readonly kind: 'tunnel'; readonly type: 'vxlan' | 'geneve' | 'gre'; readonly vni: number }
  | { readonly kind: 'vlan'; readonly physnet: string; readonly vid: number }
  | { readonly kind: 'flat'; readonly physnet: string };

/**
 * How a network reaches other chassis: over a tunnel with its segmentation id as
 * VNI/key (a null id means the network key, as the NB model says), or through a
 * physical network, tagged or not.
 */
export function networkKind(ls: LogicalSwitch): NetworkKind | null {
  switch (ls.networkType) {
    case 'vxlan':
    case 'geneve':
    case 'gre':
      return { kind: 'tunnel', type: ls.networkType, vni: ls.segmentationId ?? ls.key };
    case 'vlan':
      return ls.physicalNetwork !== null && ls.segmentationId !== null ? { kind: 'vlan', physnet: ls.physicalNetwork, vid: ls.segmentationId } : null;
    case 'flat':
      return ls.physicalNetwork !== null ? { kind: 'flat', physnet: ls.physicalNetwork } : null;
    default:
      return null;
  }
}

/** The br-int port a network leaves this chassis through (tunnel port or provider patch port), if present. */
export function uplinkOf(kind: NetworkKind, infra: InfraPorts): number | undefined {
  return kind.kind === 'tunnel' ? infra.tunnels[kind.type] : infra.providers[kind.physnet];
}

/** IPv4 tunnel endpoint of a chassis (flow-based tunnels here carry IPv4 underlays only). */
export function tunnelIpv4(c: Chassis | undefined): string | undefined {
  return c && !c.tunnelIp.includes(':') ? c.tunnelIp : undefined;
}

export function ipv4Addresses(p: LogicalPort): string[] {
  return p.fixedIps.map((f) => f.ipAddress).filter((ip) => !ip.includes(':'));
}

/**
 * The IPv6 addresses a port answers neighbour solicitations for: its fixed IPs and,
 * for a router interface with one, its link-local address — the address its router
 * advertisements come from, which hosts use as their default router's (a VM
 * answers for its own link-local address itself).
 */
export function ipv6Addresses(p: LogicalPort): string[] {
  const fixed = p.fixedIps.map((f) => f.ipAddress).filter((ip) => ip.includes(':'));
  if (p.deviceOwner !== ROUTER_INTERFACE || fixed.length === 0) return fixed;
  return [...fixed, packet.linkLocalAddress(p.macAddress).toString()];
}
