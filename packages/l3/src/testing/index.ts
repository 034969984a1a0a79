export { TUNNEL_PORT, addRouterInterface, contractScenario, contractTeardown, ipPacket, ipv4Of, removeRouterInterface, routedCloud, routerMac, vmMac, type RoutedCloud } from './routed-cloud.js';
