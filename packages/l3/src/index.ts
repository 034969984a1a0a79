export { ROUTER_INTERFACE_OWNER, L3Model, decisionSignature, rewriteOf, type External, type Forward, type Rewrite, type RouteDecision, type RouteEntry, type Router, type RouterInterface, type StaticRoute } from './model.js';
export {
  L3_TABLES,
  PRIORITY,
  REPLY_TTL,
  ExactFlowBuilder,
  defaultDropFlow,
  forwardFlow,
  ingressFlows,
  l3TableRefs,
  prefixDropFlow,
  puntFlow,
  rewriteActions,
  routerAddressFlows,
  toPuntFlow,
  type ForwardFlowSpec,
  type L3TableRefs,
} from './flows.js';
export { ICMP_ERROR, icmpError } from './icmp.js';
export { proactiveOptionsSchema, puntOptionsSchema, reactiveOptionsSchema, type L3Options, type ProactiveOptions, type PuntOptions, type ReactiveOptions } from './options.js';
export { DistributedRouter, L3_ADOPT_TABLES, L3_HANDLERS, L3_PUNT, L3_WATCHES, routerOwner, type L3Stats, type NetworkSet, type Punt } from './router-app.js';
export { IpNetwork, Ipv4Address, MacAddress } from '@dragonflow/base';
export { ROUTER_GATEWAY_OWNER, externalRoutes, gatewayOf, type ExternalRoute, type RouterGateway } from './gateway.js';
export { externalActions, externalRouteFlows } from './external-flows.js';
