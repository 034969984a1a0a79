import { FLAG_ROUTED, METADATA_NETWORK_MASK, NAT_REDIRECT_TUNNEL_KEY, REG_FLAGS, REG_ROUTER, act, flow, type Action, type DesiredFlow, type InfraPorts, type InfraTunnelType, type MacAddress, type TableRef } from '@dragonflow/core';

/**
 * Centralized NAT's redirect (E): a packet already routed towards the outside on a
 * chassis that does not translate for its router (source MAC the gateway's or a
 * floating IP's, metadata the external network) goes to the router's active
 * gateway chassis over the tunnel, with the reserved key NAT_REDIRECT_TUNNEL_KEY
 * (no network has it: df-api refuses it as a segmentation id). The gateway chassis
 * recognises it by tunnel port + key + source MAC (`redirectClassifyFlow`).
 */
export function redirectActions(tunnelPort: number, gatewayChassisTunnelIp: string): Action[] {
  return [act.setField('tunnel_id', BigInt(NAT_REDIRECT_TUNNEL_KEY)), act.setField('tun_ipv4_dst', gatewayChassisTunnelIp), act.output(tunnelPort)];
}

/** The tunnel port a redirect leaves through: the first tunnel type both this chassis and the gateway chassis carry. */
export function redirectTunnelPort(infra: InfraPorts, peerTunnelTypes: readonly string[]): number | undefined {
  for (const type of ['vxlan', 'geneve', 'gre'] as const satisfies readonly InfraTunnelType[]) {
    const port = infra.tunnels[type];
    if (port !== undefined && peerTunnelTypes.includes(type)) return port;
  }
  return undefined;
}

export interface RedirectClassifySpec {
  /** br-int's tunnel ports (each type a redirect may arrive on). */
  readonly tunnelPorts: readonly number[];
  /** The source MAC the redirected packets carry (the router's gateway MAC, or a floating IP's). */
  readonly mac: MacAddress;
  readonly routerKey: number;
  /** The external network's key. */
  readonly networkKey: number;
  /** The NAT table to continue in (in the l3 stage). */
  readonly next: number;
  readonly priority?: number;
}

/**
 * On the gateway chassis, in a classify table declaring `in_port`, `tunnel_id` and
 * `eth_src`: a redirected packet → reg5 := the router, metadata := the external
 * network, ROUTED (it was routed at its source), straight on to the NAT table.
 */
export function redirectClassifyFlows(table: TableRef, spec: RedirectClassifySpec): DesiredFlow[] {
  return spec.tunnelPorts.map((port) =>
    flow(table, {
      priority: spec.priority ?? 200,
      match: { in_port: port, tunnel_id: BigInt(NAT_REDIRECT_TUNNEL_KEY), eth_src: spec.mac },
      actions: [act.setField(REG_ROUTER, spec.routerKey), act.load(REG_FLAGS, FLAG_ROUTED, FLAG_ROUTED)],
      writeMetadata: { value: BigInt(spec.networkKey), mask: METADATA_NETWORK_MASK },
      goto: spec.next,
    }),
  );
}
