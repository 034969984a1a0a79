import { Ipv4Address, MacAddress } from '@dragonflow/base';
import type { FloatingIp, TopologyReader } from '@dragonflow/core';
import { gatewayOf, type RouterGateway } from '@dragonflow/l3';
import type { DnatMode } from './options.js';

/** An associated floating IP, with everything its flows use. */
export interface FloatingIpView {
  readonly id: string;
  readonly address: Ipv4Address;
  /** The floating IP port's MAC: ARP for the floating IP is answered with it, and NATed packets leave from it. */
  readonly mac: MacAddress;
  readonly fixedIp: Ipv4Address;
  /** The port the floating IP is associated with. */
  readonly portId: string;
  /** The gateway of the router that NATs it (df-api's `router_id`). */
  readonly gateway: RouterGateway;
}

function v4(text: string | null | undefined): Ipv4Address | undefined {
  return text && !text.includes(':') ? Ipv4Address.parse(text) : undefined;
}

/**
 * The view of an associated floating IP, or undefined when it is not associated or
 * a piece its flows need (the router, up, with its gateway; the floating IP port) is
 * not in this chassis' topology. A router whose gateway is on another network than
 * the floating IP's cannot NAT it (df-api refuses that association; a gateway moved
 * since is the same case).
 */
export function floatingIpView(topology: TopologyReader, fip: FloatingIp): FloatingIpView | undefined {
  if (!fip.portId || !fip.routerId || !fip.floatingPortId) return undefined;
  const address = v4(fip.floatingIpAddress);
  const fixedIp = v4(fip.fixedIpAddress);
  const router = topology.get('logical_router', fip.routerId);
  const fport = topology.get('logical_port', fip.floatingPortId);
  if (!address || !fixedIp || !router?.adminStateUp || !fport) return undefined;
  const gateway = gatewayOf(topology, router);
  if (!gateway || gateway.networkId !== fip.floatingNetworkId) return undefined;
  return { id: fip.id, address, mac: MacAddress.parse(fport.macAddress), fixedIp, portId: fip.portId, gateway };
}

/**
 * Whether this chassis translates the floating IP: distributed, the chassis the
 * associated port is bound to; centralized, the router's active gateway chassis.
 */
export function translatesHere(view: FloatingIpView, mode: DnatMode, chassisId: string, isLocalPort: (portId: string) => boolean): boolean {
  return mode === 'distributed' ? isLocalPort(view.portId) : view.gateway.chassisId === chassisId;
}
