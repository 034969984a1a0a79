export { arpRequest, gratuitousArp } from './arp.js';
export { installAhead } from './install-ahead.js';
export { HOLD_LIMIT, NeighborResolver, type NeighborResolverOptions, type NeighborSource } from './neighbor-resolver.js';
export { providerIngressFlow, providerOutput, providerPort, providerSegment, requireProviderOutput, type ProviderSegment } from './provider.js';
export { redirectActions, redirectClassifyFlows, redirectTunnelPort, type RedirectClassifySpec } from './redirect.js';
export { NAT_REDIRECT_TUNNEL_KEY, FLAG_NAT_DONE } from '@dragonflow/core';
