import { DeviceOwner, type LogicalPort, type LogicalRouter, type LogicalSwitch, type Subnet } from '@dragonflow/core';
import type { Harness } from '@dragonflow/testing';

/** br-int's patch port to the `public` physical network in these tests. */
export const PUBLIC_PORT = 50;
/** The upstream router on the external subnet (devstack's 172.24.4.1). */
export const UPSTREAM_IP = '172.24.4.1';
export const UPSTREAM_MAC = 'fa:16:3e:aa:aa:01';
/** The gateway port MAC of router N (routerGatewayMac(1) for the first). */
export const gatewayMac = (n: number): string => `fa:16:3e:00:e${n}:01`;

export interface ExternalNetwork {
  readonly network: LogicalSwitch;
  readonly subnet: Subnet;
}

/**
 * The external network `public` (flat, physnet `public`, router:external) with
 * subnet 172.24.4.0/24 whose gateway is the upstream router 172.24.4.1, as the
 * sandbox's `--external` layout has it.
 */
export async function externalNetwork(h: Harness): Promise<ExternalNetwork> {
  const network = await h.network('public', { networkType: 'flat', physicalNetwork: 'public', external: true });
  const subnet = await h.subnet(network, '172.24.4.0/24', { gatewayIp: UPSTREAM_IP, enableDhcp: false });
  return { network, subnet };
}

/**
 * Sets a router's external gateway as df-api does: a `network:router_gateway` port
 * on the external subnet holding `ip` with `mac`, and the router's externalGateway
 * (placed on `chassisIds`, the active gateway chassis first); then settles.
 */
export async function setGateway(
  h: Harness,
  router: LogicalRouter | string,
  ext: ExternalNetwork,
  o: { ip: string; mac: string; chassisIds?: readonly string[]; enableSnat?: boolean; preempt?: boolean },
): Promise<{ port: LogicalPort; router: LogicalRouter }> {
  const id = typeof router === 'string' ? router : router.id;
  const fixedIps = [{ subnetId: ext.subnet.id, ipAddress: o.ip }];
  const port = await h.nb.create('logical_port', { networkId: ext.network.id, macAddress: o.mac, fixedIps, deviceOwner: DeviceOwner.ROUTER_GATEWAY, deviceId: id, portSecurityEnabled: false } as never);
  const updated = await h.nb.modify('logical_router', id, (r) => ({
    ...r,
    externalGateway: { networkId: ext.network.id, portId: port.id, enableSnat: o.enableSnat ?? true, fixedIps, chassisIds: [...(o.chassisIds ?? [])], preempt: o.preempt ?? false },
  }));
  await h.settle();
  return { port, router: updated };
}
