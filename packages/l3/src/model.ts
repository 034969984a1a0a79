import { IpNetwork, Ipv4Address, MacAddress } from '@dragonflow/base';
import type { LogicalPort, LogicalRouter, TopologyReader } from '@dragonflow/core';
import { externalRoutes, gatewayOf, type RouterGateway } from './gateway.js';

/** Neutron's device owner of a router interface port. */
export const ROUTER_INTERFACE_OWNER = 'network:router_interface';

/** One IPv4 interface of a router: its port on a network, with that subnet's gateway MAC and IP. */
export interface RouterInterface {
  readonly routerId: string;
  readonly routerKey: number;
  readonly portId: string;
  readonly networkId: string;
  /** The network's unique key (metadata). */
  readonly networkKey: number;
  readonly subnetId: string;
  readonly mac: MacAddress;
  readonly ip: Ipv4Address;
  readonly cidr: IpNetwork;
}

export interface StaticRoute {
  readonly destination: IpNetwork;
  readonly nexthop: Ipv4Address;
}

/**
 * A router as routing sees it: IPv4 interfaces on networks this chassis knows, its
 * extra routes, and its external gateway (when it has one on an external network
 * this chassis knows). The gateway is an interface for `ingress` (packets to its MAC
 * on the external network) but not one of `interfaces`: its subnet's hosts are
 * outside, reached through the next hop, never delivered to as ports.
 */
export interface Router {
  readonly id: string;
  readonly key: number;
  readonly interfaces: readonly RouterInterface[];
  readonly routes: readonly StaticRoute[];
  readonly gateway?: RouterGateway;
}

/**
 * Where a routed packet goes: out of `egress` (its MAC becomes the source MAC) to
 * `target` (its MAC becomes the destination MAC, its network the packet's network,
 * its key the destination port key). `via` says whether the destination is on a
 * connected subnet or behind an extra route's next hop.
 */
export interface Forward {
  readonly kind: 'forward';
  readonly via: 'connected' | 'static';
  /** The route that matched (a connected subnet or an extra route's destination). */
  readonly prefix: IpNetwork;
  readonly egress: RouterInterface;
  readonly target: LogicalPort;
  readonly targetMac: MacAddress;
}

/**
 * The destination is outside: the packet leaves through the router's gateway on the
 * external network, towards `nextHop` (the external subnet's gateway, an extra
 * route's next hop there, or the destination itself when it is on the external
 * subnet). Routing sets the gateway MAC as source and the external network; the
 * NAT apps translate it and pick the next hop's MAC (docs/nat.md).
 */
export interface External {
  readonly kind: 'external';
  readonly prefix: IpNetwork;
  readonly gateway: RouterGateway;
  readonly nextHop: Ipv4Address;
}

export type RouteDecision =
  | Forward
  | External
  /** The destination is one of the router's own addresses. */
  | { readonly kind: 'router-ip'; readonly iface: RouterInterface }
  /**
   * `no-port`: on a connected subnet (or behind a next hop) but no port has the address;
   * `no-route`: no connected subnet and no extra route covers it.
   */
  | { readonly kind: 'unreachable'; readonly reason: 'no-port' | 'no-route'; readonly prefix?: IpNetwork };

/**
 * One route of a router's table (IPv4: `base`/`mask` as unsigned 32-bit numbers for a
 * fast match). `external`: through the gateway, to `nexthop` (undefined: the
 * destination itself, on the external subnet).
 */
export type RouteEntry = (
  | { readonly kind: 'connected'; readonly iface: RouterInterface }
  | { readonly kind: 'static'; readonly nexthop: Ipv4Address }
  | { readonly kind: 'external'; readonly gateway: RouterGateway; readonly nexthop: Ipv4Address | undefined }
) & {
  readonly prefix: IpNetwork;
  readonly base: number;
  readonly mask: number;
};

/** The rewrite a routed packet gets, as data (the flow builders turn it into actions). */
export interface Rewrite {
  readonly ethSrc: MacAddress;
  readonly ethDst: MacAddress;
  /** Network key of the destination network (the new metadata). */
  readonly networkKey: number;
  /** Destination port key (reg7). */
  readonly portKey: number;
}

export function rewriteOf(f: Forward, networkKeyOf: (networkId: string) => number | undefined): Rewrite | undefined {
  const networkKey = networkKeyOf(f.target.networkId);
  if (networkKey === undefined) return undefined;
  return { ethSrc: f.egress.mac, ethDst: f.targetMac, networkKey, portKey: f.target.key };
}

/** A stable text of a decision: two decisions with the same signature install the same flow. */
export function decisionSignature(d: RouteDecision): string {
  switch (d.kind) {
    case 'forward':
      return `forward ${d.egress.portId} ${d.egress.mac.toString()} ${d.target.id} ${d.target.key} ${d.targetMac.toString()} ${d.target.networkId}`;
    case 'router-ip':
      return `router-ip ${d.iface.portId}`;
    case 'external':
      return `external ${d.gateway.portId} ${d.gateway.mac.toString()} ${d.gateway.networkKey} ${d.nextHop.toString()}`;
    case 'unreachable':
      return `unreachable ${d.reason} ${d.prefix?.toString() ?? ''}`;
  }
}

function parseV4(text: string): Ipv4Address | undefined {
  return text.includes(':') ? undefined : Ipv4Address.parse(text);
}

/**
 * The L3 model both apps share: routers, their interfaces and routes, and the routing
 * decision for a destination, read from the chassis' topology view. Pure reads; no
 * state of its own, so it is always as current as the view.
 *
 * IPv4 only: IPv6 interfaces and routes are routed by v6/ (docs/ipv6.md).
 */
export class L3Model {
  /**
   * Views of routers, kept while the router object and its networks' objects are the
   * same (topology objects are immutable: a change is a new object), so the punt path
   * does not re-parse addresses for every packet.
   */
  private readonly views = new Map<string, { readonly source: LogicalRouter; readonly deps: readonly unknown[]; readonly view: Router | undefined }>();
  private readonly tables = new WeakMap<Router, readonly RouteEntry[]>();
  private readonly macs = new WeakMap<LogicalPort, MacAddress>();

  constructor(private readonly topology: TopologyReader) {}

  /** A router with its usable IPv4 interfaces (on networks this chassis knows), or undefined when it is down or gone. */
  router(id: string): Router | undefined {
    const r = this.topology.get('logical_router', id);
    return r ? this.view(r) : undefined;
  }

  routerByKey(key: number): Router | undefined {
    const r = this.topology.lookup('logical_router', 'key', String(key))[0];
    return r ? this.view(r) : undefined;
  }

  private view(r: LogicalRouter): Router | undefined {
    const cached = this.views.get(r.id);
    const deps = this.depsOf(r);
    if (cached && cached.source === r && deps.length === cached.deps.length && deps.every((d, i) => d === cached.deps[i])) return cached.view;
    const view = this.build(r);
    this.views.set(r.id, { source: r, deps, view });
    if (this.views.size > 4096) this.views.delete(this.views.keys().next().value as string);
    return view;
  }

  /** The objects a router's view is built from besides the router: its networks, and its gateway's port, network, subnets and chassis' liveness. */
  private depsOf(r: LogicalRouter): unknown[] {
    const deps: unknown[] = r.ports.map((p) => this.topology.get('logical_switch', p.networkId));
    const gw = r.externalGateway;
    if (gw) {
      const port = this.topology.get('logical_port', gw.portId);
      deps.push(this.topology.get('logical_switch', gw.networkId), port);
      for (const f of port?.fixedIps ?? []) deps.push(this.topology.get('subnet', f.subnetId));
      // the active gateway chassis follows the gateway chassis' liveness records
      for (const c of gw.chassisIds) deps.push(this.topology.get('chassis_liveness', c));
    }
    return deps;
  }

  /** Every administratively up router this chassis knows. */
  routers(): Router[] {
    return this.topology
      .all('logical_router')
      .map((r) => this.view(r))
      .filter((r): r is Router => r !== undefined);
  }

  /** Routers with an interface on `networkId`. */
  routersOn(networkId: string): Router[] {
    return this.topology
      .lookup('logical_router', 'network', networkId)
      .map((r) => this.view(r))
      .filter((r): r is Router => r !== undefined && r.interfaces.some((i) => i.networkId === networkId));
  }

  private build(r: LogicalRouter): Router | undefined {
    if (!r.adminStateUp) return undefined;
    const interfaces: RouterInterface[] = [];
    for (const p of r.ports) {
      const ip = parseV4(p.ipAddress);
      if (!ip) continue;
      const network = this.topology.get('logical_switch', p.networkId);
      if (!network) continue;
      interfaces.push({
        routerId: r.id,
        routerKey: r.key,
        portId: p.portId,
        networkId: p.networkId,
        networkKey: network.key,
        subnetId: p.subnetId,
        mac: MacAddress.parse(p.macAddress),
        ip,
        cidr: IpNetwork.parse(p.cidr),
      });
    }
    const routes: StaticRoute[] = [];
    for (const rt of r.routes) {
      const nexthop = parseV4(rt.nexthop);
      const destination = IpNetwork.parse(rt.destination, 'destination', false);
      if (nexthop && destination.family === 4) routes.push({ destination, nexthop });
    }
    const gateway = gatewayOf(this.topology, r);
    return { id: r.id, key: r.key, interfaces, routes, ...(gateway ? { gateway } : {}) };
  }

  /** The network key of a network, if this chassis knows it. */
  networkKey(networkId: string): number | undefined {
    return this.topology.get('logical_switch', networkId)?.key;
  }

  /** The interface a packet entered the router through: the one on its network whose MAC it was sent to. */
  ingressInterface(router: Router, networkKey: number, mac: MacAddress): RouterInterface | undefined {
    const gw = router.gateway;
    if (gw && gw.networkKey === networkKey && gw.mac.equals(mac)) return gw;
    return router.interfaces.find((i) => i.networkKey === networkKey && i.mac.equals(mac));
  }

  portMac(port: LogicalPort): MacAddress {
    // Topology objects are immutable (a change is a new object): parse each once.
    let mac = this.macs.get(port);
    if (!mac) {
      mac = MacAddress.parse(port.macAddress);
      this.macs.set(port, mac);
    }
    return mac;
  }

  /** The port on `networkId` holding IPv4 `ip` as a fixed IP, when it can receive traffic. */
  portWithIp(networkId: string, ip: Ipv4Address): LogicalPort | undefined {
    return this.topology.lookup('logical_port', 'ip', `${networkId}/${ip.toString()}`).find((p) => p.adminStateUp);
  }

  /**
   * The ports a router can deliver to directly: every port (but the router's own
   * interfaces) with a fixed IP inside one of its interfaces' subnets, with that IP
   * and the interface it leaves through. An IP that an extra route more specific
   * than its subnet covers is not one: longest prefix match sends it to that route's
   * next hop (as `decide` does), so it gets no host route.
   */
  hostsOf(router: Router): { port: LogicalPort; ip: Ipv4Address; egress: RouterInterface }[] {
    const own = new Set(router.interfaces.map((i) => i.portId));
    const out: { port: LogicalPort; ip: Ipv4Address; egress: RouterInterface }[] = [];
    for (const iface of router.interfaces) {
      for (const port of this.topology.lookup('logical_port', 'subnet', iface.subnetId)) {
        if (own.has(port.id) || port.networkId !== iface.networkId || !port.adminStateUp) continue;
        for (const f of port.fixedIps) {
          const ip = f.subnetId === iface.subnetId ? parseV4(f.ipAddress) : undefined;
          if (ip && iface.cidr.contains(ip) && this.isConnected(router, ip)) out.push({ port, ip, egress: iface });
        }
      }
    }
    return out;
  }

  /** The host routes one port gets from `router` (empty when none of its IPs is on the router's subnets). */
  hostsOfPort(router: Router, port: LogicalPort): { ip: Ipv4Address; egress: RouterInterface }[] {
    if (!port.adminStateUp || router.interfaces.some((i) => i.portId === port.id)) return [];
    const out: { ip: Ipv4Address; egress: RouterInterface }[] = [];
    for (const f of port.fixedIps) {
      const iface = router.interfaces.find((i) => i.subnetId === f.subnetId && i.networkId === port.networkId);
      const ip = iface ? parseV4(f.ipAddress) : undefined;
      if (iface && ip && iface.cidr.contains(ip) && this.isConnected(router, ip)) out.push({ ip, egress: iface });
    }
    return out;
  }

  /**
   * The routes of a router, longest prefix first: its connected subnets, its
   * extra routes and, with a gateway, the routes through it (externalRoutes). A
   * connected subnet wins over an extra route to the same prefix; of two extra
   * routes to the same prefix the one with the lowest next hop is used.
   */
  routeTable(router: Router): readonly RouteEntry[] {
    const cached = this.tables.get(router);
    if (cached) return cached;
    const seen = new Set<string>();
    const out: RouteEntry[] = [];
    const entry = (prefix: IpNetwork) => ({ prefix, base: (prefix.address as Ipv4Address).value, mask: prefix.prefixLength === 0 ? 0 : (0xffffffff << (32 - prefix.prefixLength)) >>> 0 });
    for (const iface of router.interfaces) {
      const k = iface.cidr.toString();
      if (seen.has(k)) continue;
      seen.add(k);
      out.push({ kind: 'connected', ...entry(iface.cidr), iface });
    }
    const gw = router.gateway;
    if (gw) {
      for (const ext of externalRoutes(gw, router.routes)) {
        const k = ext.prefix.toString();
        if (seen.has(k)) continue;
        seen.add(k);
        out.push({ kind: 'external', ...entry(ext.prefix), gateway: gw, nexthop: ext.nextHop });
      }
    }
    const statics = [...router.routes].sort((a, b) => a.nexthop.value - b.nexthop.value);
    for (const rt of statics) {
      const k = rt.destination.toString();
      if (seen.has(k)) continue;
      seen.add(k);
      out.push({ kind: 'static', ...entry(rt.destination), nexthop: rt.nexthop });
    }
    out.sort((a, b) => b.prefix.prefixLength - a.prefix.prefixLength);
    this.tables.set(router, out);
    return out;
  }

  /** Resolves an extra route's next hop to the port that has it, on a connected subnet. */
  resolveNexthop(router: Router, nexthop: Ipv4Address): { egress: RouterInterface; port: LogicalPort } | undefined {
    for (const iface of router.interfaces) {
      if (!iface.cidr.contains(nexthop) || iface.ip.equals(nexthop)) continue;
      const port = this.portWithIp(iface.networkId, nexthop);
      if (port && !router.interfaces.some((i) => i.portId === port.id)) return { egress: iface, port };
    }
    return undefined;
  }

  /** The route a packet to `dst` takes: the longest prefix of the router's table that holds it. */
  bestRoute(router: Router, dst: Ipv4Address): RouteEntry | undefined {
    const v = dst.value;
    return this.routeTable(router).find((route) => ((v & route.mask) >>> 0) === route.base);
  }

  /** Whether `ip` is delivered on one of the router's connected subnets (no more specific extra route takes it). */
  private isConnected(router: Router, ip: Ipv4Address): boolean {
    return this.bestRoute(router, ip)?.kind === 'connected';
  }

  /** What the router does with a packet to `dst`: longest prefix match over connected subnets and extra routes. */
  decide(router: Router, dst: Ipv4Address): RouteDecision {
    const own = router.interfaces.find((i) => i.ip.equals(dst)) ?? (router.gateway?.ip.equals(dst) ? router.gateway : undefined);
    if (own) return { kind: 'router-ip', iface: own };
    const route = this.bestRoute(router, dst);
    if (route) {
      if (route.kind === 'external') return { kind: 'external', prefix: route.prefix, gateway: route.gateway, nextHop: route.nexthop ?? dst };
      if (route.kind === 'connected') {
        const port = this.portWithIp(route.iface.networkId, dst);
        if (!port || router.interfaces.some((i) => i.portId === port.id)) return { kind: 'unreachable', reason: 'no-port', prefix: route.prefix };
        return { kind: 'forward', via: 'connected', prefix: route.prefix, egress: route.iface, target: port, targetMac: MacAddress.parse(port.macAddress) };
      }
      const hop = this.resolveNexthop(router, route.nexthop);
      if (!hop) return { kind: 'unreachable', reason: 'no-port', prefix: route.prefix };
      return { kind: 'forward', via: 'static', prefix: route.prefix, egress: hop.egress, target: hop.port, targetMac: MacAddress.parse(hop.port.macAddress) };
    }
    return { kind: 'unreachable', reason: 'no-route' };
  }

  /**
   * What a source network can reach through its routers: for each router with an
   * interface on it, the prefixes it routes (its other subnets and its extra routes).
   * Tenant isolation is this list: nothing else is routed from the network.
   */
  routableFrom(networkId: string): { router: Router; prefixes: IpNetwork[] }[] {
    return this.routersOn(networkId).map((router) => ({ router, prefixes: this.routeTable(router).map((r) => r.prefix) }));
  }
}
