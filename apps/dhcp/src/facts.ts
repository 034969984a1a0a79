import { Ipv4Address, IpNetwork, MacAddress } from '@dragonflow/base';
import { DeviceOwner, packet, type AppTopology, type LogicalPort, type LogicalSwitch, type Subnet } from '@dragonflow/core';
import type { DhcpOptions } from './options.js';
import type { LeaseFacts } from './responder.js';

/**
 * The network's DHCP port (df-api keeps one per network with a DHCP-enabled subnet).
 * Found among the DHCP ports (one per network), not among the network's ports: this
 * runs for every port, and a network may hold thousands.
 */
export function dhcpPortOf(topology: AppTopology, networkId: string): LogicalPort | undefined {
  return topology.lookup('logical_port', 'deviceOwner', DeviceOwner.DHCP).find((p) => p.networkId === networkId);
}

/** One subnet this server answers a port on: its IPv4 address there, the subnet, the server's address on it. */
export interface ServedAddress {
  readonly address: string;
  readonly subnet: Subnet;
  readonly serverIp: string;
}

/**
 * The IPv4 addresses of `port` that DHCP hands out: fixed IPs on subnets with DHCP
 * enabled where the network's DHCP port has an address (the first one is the lease;
 * a client gets one address per interface).
 */
export function servedAddresses(topology: AppTopology, port: LogicalPort, dhcpPort: LogicalPort | undefined): ServedAddress[] {
  if (!dhcpPort) return [];
  const out: ServedAddress[] = [];
  for (const f of port.fixedIps) {
    const subnet = topology.get('subnet', f.subnetId);
    if (!subnet || subnet.ipVersion !== 4 || !subnet.enableDhcp) continue;
    const server = dhcpPort.fixedIps.find((d) => d.subnetId === subnet.id);
    if (server) out.push({ address: f.ipAddress, subnet, serverIp: server.ipAddress });
  }
  return out;
}

/** What the server tells `port` about `served`: every value from the NB, or the app's defaults. */
export function leaseFacts(port: LogicalPort, network: LogicalSwitch, dhcpPort: LogicalPort, served: ServedAddress, options: DhcpOptions): LeaseFacts {
  const { subnet } = served;
  const v4 = (s: string): boolean => !s.includes(':');
  const extraOptions = new Map<number, Uint8Array>();
  for (const o of port.extraDhcpOpts) {
    if (o.ipVersion !== 4) continue;
    // df-api refused values that do not encode; one stored by another writer is skipped, not fatal.
    try {
      const { code, data } = packet.encodeExtraDhcpOption(o.optName, o.optValue);
      extraOptions.set(code, data);
    } catch {
      continue;
    }
  }
  const dns = subnet.dnsNameservers.filter(v4);
  return {
    address: Ipv4Address.parse(served.address),
    subnet: IpNetwork.parse(subnet.cidr),
    gateway: subnet.gatewayIp ? Ipv4Address.parse(subnet.gatewayIp) : null,
    serverIp: Ipv4Address.parse(served.serverIp),
    serverMac: MacAddress.parse(dhcpPort.macAddress),
    dnsServers: (dns.length > 0 ? dns : options.defaultDnsServers).map((s) => Ipv4Address.parse(s)),
    hostRoutes: subnet.hostRoutes.filter((r) => v4(r.destination)).map((r) => ({ destination: IpNetwork.parse(r.destination), nextHop: Ipv4Address.parse(r.nexthop) })),
    mtu: network.mtu,
    leaseSeconds: options.leaseSeconds,
    domainName: options.domainName,
    // Neutron's DHCP agent names a port host-<address with dashes>.
    hostname: `host-${served.address.replaceAll('.', '-')}`,
    extraOptions,
  };
}
