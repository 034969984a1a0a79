import {
  EthType,
  FLAG_ROUTED,
  IpProto,
  METADATA_NETWORK_MASK,
  REG_DST_PORT,
  REG_FLAGS,
  REG_ROUTER,
  REG_SRC_PORT,
  act,
  flow,
  type Action,
  type AppPunt,
  type AppTables,
  type DesiredFlow,
  type MatchSpec,
  type TableRef,
  type TableSpec,
} from '@dragonflow/core';
import { Ipv4Address, type IpNetwork } from '@dragonflow/base';
import type { Rewrite, Router, RouterInterface } from './model.js';

const ICMP_ECHO_REQUEST = 8;
const ICMP_ECHO_REPLY = 0;
/** TTL of the replies the router makes in flows (what a Linux router uses). */
export const REPLY_TTL = 64;

/**
 * The tables both L3 apps declare in the `l3` stage, in packet order:
 *
 * - `ingress`: packets sent to a router port's MAC. Echo requests to any of the
 *   router's addresses are answered here; TTL ≤ 1 goes to `punt`; other IPv4 is
 *   tagged with the router key (reg5) and goes to `routing`. Anything else (L2
 *   traffic with reg7 already set) misses and continues untouched.
 * - `routing`: reg5 + destination → the rewrite (proactive: every route; reactive:
 *   the exact flows the controller installed), or on to `punt`.
 * - `punt`: the router's punt to the controller. It is the app's punt table (the
 *   descriptor's `punt`): the core's punt guard puts its per-port suppression
 *   flows (a port flooding the controller is cut off for a few seconds) above it.
 */
export const L3_TABLES: readonly TableSpec[] = [
  { name: 'ingress', match: ['metadata', 'eth_dst', 'eth_type', 'ip_proto', 'icmpv4_type', 'ipv4_dst', 'icmpv6_type', 'ipv6_dst', 'nw_ttl'], description: 'packets to a router port MAC: echo replies, TTL check, router key' },
  { name: 'routing', match: [REG_ROUTER, 'metadata', 'eth_type', 'ipv4_dst', 'ipv6_dst'], description: 'router key + destination → MAC rewrite, TTL-1, destination network and port' },
  { name: 'punt', match: [REG_ROUTER, REG_SRC_PORT], description: "the router punt to the controller, behind the core's per-port suppression" },
];

/** Flow priorities inside the L3 tables (the longest prefix wins in `routing`: base + prefix length). */
export const PRIORITY = {
  /** ingress: echo request to a router address. */
  ECHO: 300,
  /** ingress: TTL 0 or 1, to be answered with time exceeded. */
  TTL: 200,
  /** ingress: the router key for everything else IPv4 to the router MAC. */
  CLASSIFY: 100,
  /** ingress: non-IPv4 to the router MAC (ARP has been answered in `services`). */
  NON_IP: 50,
  /** routing: reactive exact flows. */
  EXACT: 300,
  /** routing: other traffic to the router's own addresses is dropped. */
  ROUTER_IP: 250,
  /** routing: a prefix route gets PREFIX_BASE + prefix length (≤ 132). */
  PREFIX_BASE: 100,
  /** routing (reactive): every other IPv4 destination of the router goes to the controller. */
  ROUTE_PUNT: 20,
  /** routing: no route. */
  DEFAULT: 10,
  /** punt: the router's punt. */
  PUNT: 100,
} as const;

/** Table numbers an L3 app needs, from its own AppTables. */
export interface L3TableRefs {
  readonly ingress: TableRef;
  readonly routing: TableRef;
  readonly punt: TableRef;
  /** Where a routed packet continues: past the app's tables (dnat/snat after it in the l3 stage, or the egress stage). */
  readonly afterRouting: number;
  /** The first table after the l3 stage (where the router's own replies go). */
  readonly egress: number;
}

export function l3TableRefs(tables: AppTables): L3TableRefs {
  return {
    ingress: tables.ref('ingress'),
    routing: tables.ref('routing'),
    punt: tables.ref('punt'),
    afterRouting: tables.next('punt'),
    egress: tables.stageExit('l3'),
  };
}

const onNetwork = (key: number): MatchSpec => ({ metadata: [BigInt(key), METADATA_NETWORK_MASK] });

/**
 * The echo reply made in the switch: swap the addresses (the request's destination
 * is the router's, a constant here), TTL fresh, type 0, and back to the port it
 * came from. in_port is cleared so the final output to that same port is allowed.
 */
function echoReplyActions(iface: RouterInterface, address: Ipv4Address): Action[] {
  return [
    act.move({ field: 'eth_src' }, { field: 'eth_dst' }, 48),
    act.setField('eth_src', iface.mac.toString()),
    act.move({ field: 'ipv4_src' }, { field: 'ipv4_dst' }, 32),
    act.setField('ipv4_src', address.toString()),
    { type: 'set_nw_ttl', ttl: REPLY_TTL },
    act.setField('icmpv4_type', ICMP_ECHO_REPLY),
    act.move({ field: REG_SRC_PORT }, { field: REG_DST_PORT }, 32),
    // Open vSwitch refuses set_field in_port; a 16-bit NXM load is what it takes.
    act.regLoad({ field: 'in_port', ofs: 0, nBits: 16 }, 0),
  ];
}

/** The ingress-table flows of one router: per interface (its network and MAC). */
export function ingressFlows(t: L3TableRefs, router: Router): DesiredFlow[] {
  const out: DesiredFlow[] = [];
  // The gateway (on the external network) is an ingress interface too: replies un-NATed there are routed to the VMs.
  const all = router.gateway ? [...router.interfaces, router.gateway] : router.interfaces;
  for (const iface of all) {
    const here = { ...onNetwork(iface.networkKey), eth_dst: iface.mac };
    // Any of the router's addresses answers an echo request, with the MAC it was sent to.
    for (const target of all) {
      out.push(
        flow(t.ingress, {
          priority: PRIORITY.ECHO,
          match: { ...here, eth_type: EthType.IPV4, ip_proto: IpProto.ICMP, icmpv4_type: ICMP_ECHO_REQUEST, ipv4_dst: target.ip },
          actions: echoReplyActions(iface, target.ip),
          goto: t.egress,
        }),
      );
    }
    for (const ttl of [0, 1]) {
      out.push(flow(t.ingress, { priority: PRIORITY.TTL, match: { ...here, eth_type: EthType.IPV4, nw_ttl: ttl }, actions: [act.setField(REG_ROUTER, router.key)], goto: t.punt }));
    }
    out.push(flow(t.ingress, { priority: PRIORITY.CLASSIFY, match: { ...here, eth_type: EthType.IPV4 }, actions: [act.setField(REG_ROUTER, router.key)], goto: t.routing }));
    // Not IPv4 and not answered earlier: a router does not switch it anywhere.
    out.push(flow(t.ingress, { priority: PRIORITY.NON_IP, match: here }));
  }
  return out;
}

/** Traffic to the router's own addresses that was not an echo request ends here. */
export function routerAddressFlows(t: L3TableRefs, router: Router): DesiredFlow[] {
  const seen = new Set<number>();
  const out: DesiredFlow[] = [];
  for (const iface of router.gateway ? [...router.interfaces, router.gateway] : router.interfaces) {
    if (seen.has(iface.ip.value)) continue;
    seen.add(iface.ip.value);
    out.push(flow(t.routing, { priority: PRIORITY.ROUTER_IP, match: { [REG_ROUTER]: router.key, eth_type: EthType.IPV4, ipv4_dst: iface.ip } }));
  }
  return out;
}

/** No route: drop (reg5 is set only for packets this router received). */
export function defaultDropFlow(t: L3TableRefs, router: Router): DesiredFlow {
  return flow(t.routing, { priority: PRIORITY.DEFAULT, match: { [REG_ROUTER]: router.key } });
}

/** Everything of the router not routed by a more specific flow goes to the punt table. */
export function toPuntFlow(t: L3TableRefs, router: Router, prefix?: IpNetwork): DesiredFlow {
  return flow(t.routing, {
    priority: prefix ? PRIORITY.PREFIX_BASE + prefix.prefixLength : PRIORITY.ROUTE_PUNT,
    match: { [REG_ROUTER]: router.key, eth_type: EthType.IPV4, ...(prefix ? { ipv4_dst: prefix.toString() } : {}) },
    goto: t.punt,
  });
}

/** A prefix the router knows but has nowhere to send to: drop (instead of punting for an ICMP error). */
export function prefixDropFlow(t: L3TableRefs, router: Router, prefix: IpNetwork): DesiredFlow {
  return flow(t.routing, { priority: PRIORITY.PREFIX_BASE + prefix.prefixLength, match: { [REG_ROUTER]: router.key, eth_type: EthType.IPV4, ipv4_dst: prefix.toString() } });
}

/**
 * The router's punt to the controller (the whole packet: the reactive app sends it
 * on), with what the punt path puts in front of the controller action
 * (`ctx.punt.toController()`: a meter when one is configured).
 */
export function puntFlow(t: L3TableRefs, router: Router, toController: ReturnType<AppPunt['toController']>): DesiredFlow {
  return flow(t.punt, { priority: PRIORITY.PUNT, match: { [REG_ROUTER]: router.key }, ...toController });
}

/** The actions of a routed packet: MAC rewrite, TTL−1, the destination port and the ROUTED flag. */
export function rewriteActions(r: Rewrite): Action[] {
  // The MACs are typed values already (what act.setField would parse a string into):
  // the punt path builds one of these per new flow, so no text round trip.
  return [
    { type: 'set_field', field: 'eth_src', value: r.ethSrc },
    { type: 'set_field', field: 'eth_dst', value: r.ethDst },
    act.decNwTtl(),
    act.setField(REG_DST_PORT, r.portKey),
    act.load(REG_FLAGS, FLAG_ROUTED, FLAG_ROUTED),
  ];
}

export interface ForwardFlowSpec {
  readonly routerKey: number;
  /** A prefix (proactive) or a single destination (reactive, /32). */
  readonly destination: IpNetwork | Ipv4Address;
  readonly rewrite: Rewrite;
  /** Reactive flows match the source network too: they are per (source network, destination). */
  readonly sourceNetworkKey?: number;
  readonly priority?: number;
  readonly idleTimeout?: number;
}

/** A routing flow: reg5 + destination → rewrite, metadata := destination network, on to the next table. */
export function forwardFlow(t: L3TableRefs, spec: ForwardFlowSpec): DesiredFlow {
  const prefixLength = 'prefixLength' in spec.destination ? spec.destination.prefixLength : 32;
  return flow(t.routing, {
    priority: spec.priority ?? PRIORITY.PREFIX_BASE + prefixLength,
    match: {
      [REG_ROUTER]: spec.routerKey,
      ...(spec.sourceNetworkKey !== undefined ? onNetwork(spec.sourceNetworkKey) : {}),
      eth_type: EthType.IPV4,
      ipv4_dst: spec.destination.toString(),
    },
    actions: rewriteActions(spec.rewrite),
    writeMetadata: { value: BigInt(spec.rewrite.networkKey), mask: METADATA_NETWORK_MASK },
    goto: t.afterRouting,
    ...(spec.idleTimeout ? { idleTimeout: spec.idleTimeout } : {}),
  });
}

/**
 * Builds the reactive exact flows fast: the punt path makes one per new flow, so the
 * parts that repeat — the match of a (router, source network) and the instructions
 * of a rewrite — are built once with `flow()` (validated there) and reused; only the
 * destination changes. The result is the same DesiredFlow `forwardFlow` makes.
 */
export class ExactFlowBuilder {
  private readonly templates = new Map<string, DesiredFlow>();

  constructor(
    private readonly t: L3TableRefs,
    private readonly idleTimeout: number,
    private readonly maxTemplates = 4096,
  ) {}

  build(routerKey: number, sourceNetworkKey: number, destination: Ipv4Address, rewrite: Rewrite): DesiredFlow {
    const key = `${routerKey}|${sourceNetworkKey}|${rewrite.ethSrc.value}|${rewrite.ethDst.value}|${rewrite.portKey}|${rewrite.networkKey}`;
    let template = this.templates.get(key);
    if (!template) {
      template = forwardFlow(this.t, { routerKey, sourceNetworkKey, destination: Ipv4Address.fromNumber(0), rewrite, priority: PRIORITY.EXACT, idleTimeout: this.idleTimeout });
      if (this.templates.size >= this.maxTemplates) this.templates.delete(this.templates.keys().next().value as string);
      this.templates.set(key, template);
    }
    return { ...template, match: { ...template.match, ipv4_dst: { value: destination } } };
  }
}
