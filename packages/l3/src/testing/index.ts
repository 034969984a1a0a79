export { TUNNEL_PORT, addRouterInterface, ipPacket, ipv4Of, removeRouterInterface, routedCloud, routerMac, vmMac, type RoutedCloud } from './routed-cloud.js';
