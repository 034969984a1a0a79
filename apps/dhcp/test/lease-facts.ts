import { Ipv4Address, IpNetwork, MacAddress } from '@dragonflow/base';
import type { LeaseFacts } from '../src/responder.js';

export const ip = (s: string): Ipv4Address => Ipv4Address.parse(s);
/** The client of the responder tests: the port's MAC. */
export const client = MacAddress.parse('fa:16:3e:00:00:05');

/** A lease of 10.0.0.5 on 10.0.0.0/24 from the DHCP port 10.0.0.2 (MTU 1450, one day); `over` changes what a test needs. */
export function leaseFacts(over: Partial<LeaseFacts> = {}): LeaseFacts {
  return {
    address: ip('10.0.0.5'),
    subnet: IpNetwork.parse('10.0.0.0/24'),
    gateway: ip('10.0.0.1'),
    serverIp: ip('10.0.0.2'),
    serverMac: MacAddress.parse('fa:16:3e:00:00:02'),
    dnsServers: [ip('10.0.0.53')],
    hostRoutes: [],
    mtu: 1450,
    leaseSeconds: 86400,
    domainName: 'openstacklocal',
    hostname: 'host-10-0-0-5',
    extraOptions: new Map(),
    ...over,
  };
}
