import { IpNetwork, MacAddress } from '@dragonflow/base';
import { DeviceOwner, packet, raFlagsOf, type AppTopology, type LogicalPort, type Subnet } from '@dragonflow/core';
import { dhcpPortOf } from '../facts.js';

/** What one advertiser (a router interface, or the network's DHCP port) tells the hosts of a network. */
export interface Advert {
  readonly srcMac: MacAddress;
  /** The advertiser's link-local address (RFC 4861 §6.1.2: RAs come from one). */
  readonly srcIp: packet.Ipv6Like;
  readonly ra: packet.RouterAdvert;
}

export interface AdvertTimes {
  /** Router lifetime in seconds when a router serves the prefixes. */
  readonly routerLifetime: number;
  readonly validLifetime: number;
  readonly preferredLifetime: number;
}

/** The subnets of a network whose RAs we send (ipv6_ra_mode set). */
export function advertisedSubnets(topology: AppTopology, networkId: string): Subnet[] {
  return topology.lookup('subnet', 'network', networkId).filter((s) => raFlagsOf(s) !== null);
}

function routerInterfaceOn(topology: AppTopology, subnet: Subnet): LogicalPort | undefined {
  return topology.lookup('logical_port', 'subnet', subnet.id).find((p) => p.deviceOwner === DeviceOwner.ROUTER_INTERFACE && p.fixedIps.some((f) => f.subnetId === subnet.id));
}

/**
 * The router advertisements a host on `networkId` should hear, one per advertiser:
 * each router interface advertises the prefixes of its subnets (router lifetime
 * `routerLifetime`: the hosts take it as a default router); prefixes no router
 * serves are advertised by the network's DHCP port with router lifetime 0 (on-link
 * prefixes and flags, no default route). Flags as Neutron's radvd sets them: M for a
 * dhcpv6-stateful prefix, O for a dhcpv6-stateless one, A on a prefix for SLAAC and
 * DHCPv6-stateless. The MTU option carries the network's MTU.
 */
export function advertsFor(topology: AppTopology, networkId: string, times: AdvertTimes): Advert[] {
  const network = topology.get('logical_switch', networkId);
  const subnets = advertisedSubnets(topology, networkId);
  if (!network || subnets.length === 0) return [];
  const bySource = new Map<string, { mac: string; router: boolean; subnets: Subnet[] }>();
  const dhcp = dhcpPortOf(topology, networkId);
  for (const s of subnets) {
    const itf = routerInterfaceOn(topology, s);
    const source = itf ?? dhcp;
    if (!source) continue;
    const entry = bySource.get(source.macAddress) ?? { mac: source.macAddress, router: itf !== undefined, subnets: [] };
    entry.subnets.push(s);
    bySource.set(source.macAddress, entry);
  }
  const out: Advert[] = [];
  for (const { mac, router, subnets: served } of [...bySource.values()].sort((a, b) => a.mac.localeCompare(b.mac))) {
    const flags = served.map((s) => raFlagsOf(s)!);
    const srcMac = MacAddress.parse(mac);
    out.push({
      srcMac,
      srcIp: packet.linkLocalAddress(srcMac),
      ra: {
        curHopLimit: 64,
        managed: flags.some((f) => f.managed),
        otherConfig: flags.some((f) => f.otherConfig),
        routerLifetime: router ? times.routerLifetime : 0,
        reachableTime: 0,
        retransTimer: 0,
        sourceLinkLayer: srcMac,
        mtu: network.mtu,
        prefixes: served.map((s, i) => {
          const net = IpNetwork.parse(s.cidr);
          return { prefix: packet.ip6(net.first.toString()), length: net.prefixLength, onLink: true, autonomous: flags[i]!.autonomous, validLifetime: times.validLifetime, preferredLifetime: times.preferredLifetime };
        }),
      },
    });
  }
  return out;
}

/** The frames of `adverts` to all nodes (ff02::1). */
export function advertFrames(adverts: readonly Advert[]): packet.EthernetFrame[] {
  return adverts.map((a) => packet.routerAdvertisement({ srcMac: a.srcMac, srcIp: a.srcIp, ra: a.ra }));
}
