import { EthType, IpProto, REG_SRC_PORT, flow, type Action, type DesiredFlow, type TableRef } from '@dragonflow/core';

/** Router solicitations of local ports → controller. */
export const RA_TABLE = 'ra';
/** DHCPv6 client messages of local ports → controller. */
export const DHCPV6_TABLE = 'dhcpv6';

const ICMPV6_ROUTER_SOLICIT = 133;
export const DHCPV6_CLIENT_PORT = 546;
export const DHCPV6_SERVER_PORT = 547;

/** What the ra table punts (and the punt guard drops for a port over budget). */
export const RS_PUNTED = { eth_type: EthType.IPV6, ip_proto: IpProto.ICMPV6, icmpv6_type: ICMPV6_ROUTER_SOLICIT } as const;
/** What the dhcpv6 table punts: client → server messages (RFC 8415 §7.2: from port 546 to 547). */
export const DHCPV6_PUNTED = { eth_type: EthType.IPV6, ip_proto: IpProto.UDP, udp_src: DHCPV6_CLIENT_PORT, udp_dst: DHCPV6_SERVER_PORT } as const;

type Punt = { readonly actions: readonly Action[]; readonly meter?: number };

/** A local port's router solicitations go to this chassis' controller and no further. */
export function rsPuntFlow(t: TableRef, portKey: number, punt: Punt): DesiredFlow {
  return flow(t, { priority: 100, match: { [REG_SRC_PORT]: portKey, ...RS_PUNTED }, ...punt });
}

/** A local port's DHCPv6 client messages go to this chassis' controller and no further. */
export function dhcpv6PuntFlow(t: TableRef, portKey: number, punt: Punt): DesiredFlow {
  return flow(t, { priority: 100, match: { [REG_SRC_PORT]: portKey, ...DHCPV6_PUNTED }, ...punt });
}
