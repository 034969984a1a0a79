export { TUNNEL_PORT, addRouterInterface, contractScenario, contractTeardown, ipPacket, ipv4Of, removeRouterInterface, routedCloud, routerMac, vmMac, type RoutedCloud } from './routed-cloud.js';
export { dualStackCloud, ip6Packet, ipv6Of, routerMac6, type DualStackCloud } from './dual-stack.js';
export { PUBLIC_PORT, UPSTREAM_IP, UPSTREAM_MAC, externalNetwork, gatewayMac, setGateway, type ExternalNetwork } from './gateway.js';
export { describeIpv6Routing, type Ipv6RoutingSuiteOptions } from './ipv6-routing-suite.js';
