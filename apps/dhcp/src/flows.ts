import { EthType, IpProto, arpReplyActions, METADATA_NETWORK_MASK, REG_DST_PORT, REG_SRC_PORT, act, flow, packet, type Action, type DesiredFlow, type TableRef } from '@dragonflow/core';

export const DHCP_TABLE = 'dhcp';

export const PRIORITY = {
  /** A local port's DHCP client messages: to the controller. */
  punt: 100,
  /** ARP and ping for the network's DHCP server address, answered in the switch. */
  server: 90,
} as const;

const ARP_REQUEST = 1;
const ICMP_ECHO_REQUEST = 8;
const ICMP_ECHO_REPLY = 0;

const onNetwork = (key: number) => ({ metadata: [BigInt(key), METADATA_NETWORK_MASK] as const });

/** What the table punts: DHCPv4 client → server messages (the suppression of a flooding port drops only these). */
export const DHCP_CLIENT_MESSAGES = { eth_type: EthType.IPV4, ip_proto: IpProto.UDP, udp_src: packet.DHCP_CLIENT_PORT, udp_dst: packet.DHCP_SERVER_PORT } as const;

/**
 * A port's DHCP budget: a boot (DISCOVER, REQUEST, maybe a retry) and renewals stay
 * far below it; a client stuck in a loop or a flood is cut off for 10 s.
 */
export const DHCP_PUNT_LIMITS = { rate: 5, burst: 20, suppressSeconds: 10 } as const;

/** DHCP client → server messages from one local port go to this chassis' controller, nowhere else. */
export function puntFlow(t: TableRef, portKey: number, punt: { readonly actions: readonly Action[]; readonly meter?: number }): DesiredFlow {
  return flow(t, { priority: PRIORITY.punt, match: { [REG_SRC_PORT]: portKey, ...DHCP_CLIENT_MESSAGES }, ...punt });
}

/**
 * The DHCP server address answers ARP and ping on its network, in the switch: the
 * DHCP port is bound to no chassis (every chassis serves it), so no other app
 * answers for it.
 */
export function serverFlows(t: TableRef, networkKey: number, serverMac: string, serverIp: string): DesiredFlow[] {
  const mac = packet.mac(serverMac);
  const ip = packet.ip4(serverIp);
  return [
    flow(t, {
      priority: PRIORITY.server,
      match: { ...onNetwork(networkKey), eth_type: EthType.ARP, arp_op: ARP_REQUEST, arp_tpa: ip },
      actions: arpReplyActions(mac, ip),
    }),
    flow(t, {
      priority: PRIORITY.server,
      match: { ...onNetwork(networkKey), eth_type: EthType.IPV4, ip_proto: IpProto.ICMP, icmpv4_type: ICMP_ECHO_REQUEST, ipv4_dst: ip },
      actions: [
        act.move({ field: 'eth_src' }, { field: 'eth_dst' }, 48),
        act.setField('eth_src', { value: mac }),
        act.move({ field: 'ipv4_src' }, { field: 'ipv4_dst' }, 32),
        act.setField('ipv4_src', { value: ip }),
        { type: 'set_nw_ttl', ttl: 64 },
        act.setField('icmpv4_type', ICMP_ECHO_REPLY),
        act.move({ field: REG_SRC_PORT }, { field: REG_DST_PORT }, 32),
        act.inPort(),
      ],
    }),
  ];
}
