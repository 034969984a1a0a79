export { TUNNEL_PORT, addRouterInterface, contractScenario, contractTeardown, ipPacket, ipv4Of, removeRouterInterface, routedCloud, routerMac, vmMac, type RoutedCloud } from './routed-cloud.js';
export { dualStackCloud, ip6Packet, ipv6Of, routerMac6, type DualStackCloud } from './dual-stack.js';
