import { openflow, type AppAdoptableFlows, type AppContext, type AppHandlers, type AppFlowRemoved, type AppInstalledFlow, type AppPacketIn, type DesiredFlow, type LocalPortEvent, type LogicalPort, type ModelChange, type PuntSpec, type packet } from '@dragonflow/core';
import { ICMP_ERROR, icmpError } from './icmp.js';
import { L3Model, type Router, type RouterInterface } from './model.js';
import { defaultDropFlow, ingressFlows, l3TableRefs, puntFlow, routerAddressFlows, type L3TableRefs } from './flows.js';
import { externalRouteFlows } from './external-flows.js';
import { ROUTER_GATEWAY_OWNER } from './gateway.js';
import type { L3Options } from './options.js';
import { V6Routing } from './v6/routing.js';

/** The model tables an L3 app watches. */
export const L3_WATCHES = ['logical_router', 'logical_port', 'logical_switch', 'subnet', 'chassis_liveness'] as const;

/**
 * The tables whose timeout flows the reactive app takes back after a controller
 * restart (descriptor `adoptTables`): `routing` (its exact flows). The core keeps the
 * punt table's suppressions itself.
 */
export const L3_ADOPT_TABLES = ['routing'] as const;

/**
 * The punt path of both L3 apps: the `punt` table, guarded per source port by the
 * core with the budget of the app's `punt` option.
 */
export const L3_PUNT: PuntSpec<L3Options> = { tables: ['punt'], limits: (o) => o.punt };

/** The event handlers both L3 apps declare: every event goes to the shared router logic. */
export const L3_HANDLERS: AppHandlers<DistributedRouter> = {
  modelChanged: (app, ev) => app.onModelChanged(ev),
  localPortBound: (app, ev) => app.onLocalPort(ev),
  localPortUpdated: (app, ev) => app.onLocalPort(ev),
  localPortUnbound: (app, ev) => app.onLocalPort(ev),
  packetIn: (app, ev) => app.onPacketIn(ev),
  flowRemoved: (app, ev) => app.onFlowRemoved(ev),
  adoptFlows: (app, ev) => app.adoptFlows(ev),
};

/** A punted IPv4 packet, with what the switch said about it. */
export interface Punt {
  readonly event: AppPacketIn;
  readonly router: Router;
  /** The interface it entered the router through (its network and the MAC it was sent to). */
  readonly ingress: RouterInterface;
  readonly frame: packet.EthernetFrame;
  readonly ip: packet.Ipv4Packet;
  /** reg6: the local port that sent it. */
  readonly sourcePortKey: number;
}

/** What an L3 app did with its punts, for logs, tests and the e2e (the punt budget's counts are `ctx.punt.stats()`). */
export interface L3Stats {
  timeExceeded: number;
  unreachable: number;
  /** Punts the app could not use (unknown router, not IPv4, …). */
  ignored: number;
}

export const routerOwner = (id: string): string => `router:${id}`;

/** A set of network ids, as far as asking for one goes (the local networks are the keys of a map). */
export type NetworkSet = Pick<ReadonlySet<string>, 'has'>;

function regValue(ev: AppPacketIn, reg: 'reg5'): number {
  return Number(openflow.matchGet(ev.match, reg)?.value ?? 0);
}

/**
 * What both L3 apps share: which routers matter on this chassis (those with an
 * interface on a network that has a local port), their ingress/punt flows, and
 * what a punt gets (TTL exceeded and unreachable replies); the per-port budget in
 * front of the punts is the core's (`L3_PUNT`). A subclass adds the routing itself: every route up front
 * (proactive) or exact flows on the first packet (reactive).
 */
export abstract class DistributedRouter {
  readonly model: L3Model;
  /** IPv6: every delivery up front in both modes, and the ICMPv6 answers (v6/). */
  readonly v6: V6Routing;
  readonly stats: L3Stats = { timeExceeded: 0, unreachable: 0, ignored: 0 };
  /** Routers whose flows are on this chassis (they have a local network). */
  private readonly active = new Set<string>();
  private refs: L3TableRefs | undefined;
  /**
   * The local ports' networks, kept from the local port events (a walk over every
   * binding per event made a chassis with N ports cost N² on start-up); built from
   * the bindings on first use and at every resync.
   */
  private local: { readonly ports: Map<string, string>; readonly byNetwork: Map<string, Set<string>> } | undefined;

  constructor(
    protected readonly ctx: AppContext,
    protected readonly options: L3Options,
  ) {
    this.model = new L3Model(ctx.topology);
    this.v6 = new V6Routing(ctx);
  }

  protected get t(): L3TableRefs {
    this.refs ??= l3TableRefs(this.ctx.tables);
    return this.refs;
  }

  // ---------------- what the subclass provides ----------------

  /** The mode's routing-table flows of a router (beside its ingress, own-address and punt flows). */
  protected abstract routingFlows(router: Router): DesiredFlow[];
  /**
   * A router is about to be (re)computed: let go of flows of other owners that its
   * new routing flows may now desire, so no flow is ever wanted by two owners.
   */
  protected releaseRouter(_id: string, _router: Router | undefined): void {}
  /** A router was (re)computed, or went away (`router` undefined) or became inactive here. */
  protected abstract routerChanged(id: string, router: Router | undefined): void;
  /** A port changed (created, updated, deleted): its routes may change. */
  protected abstract portChanged(old: LogicalPort | undefined, cur: LogicalPort | undefined): void;
  /** An IPv4 packet with TTL > 1 reached the punt table of a router. */
  protected abstract routedPunt(p: Punt): Promise<void>;
  /** Resync the mode's own owners (everything not `router:*`). */
  protected abstract resyncMode(): void;
  /**
   * A timeout flow found on the switch at a (re)connect that no owner desires:
   * re-desire it (returning true) if it is one of the mode's and still right.
   */
  protected adoptMode(_flow: AppInstalledFlow): boolean {
    return false;
  }

  // ---------------- routers ----------------

  /** Networks with a port bound to this chassis. */
  localNetworks(): NetworkSet {
    // A fallback chassis (option allNetworks) routes for every network it knows.
    if (this.options.allNetworks === true) return { has: (id) => this.ctx.topology.get('logical_switch', id) !== undefined };
    if (!this.local) {
      this.local = { ports: new Map(), byNetwork: new Map() };
      for (const b of this.ctx.topology.localBindings()) {
        const p = this.ctx.topology.get('logical_port', b.portId);
        if (p) this.setLocal(p.id, p.networkId);
      }
    }
    return this.local.byNetwork;
  }

  /** Records a local port on `networkId` (undefined: no longer local). */
  private setLocal(portId: string, networkId: string | undefined): void {
    const local = this.local!;
    const was = local.ports.get(portId);
    if (was === networkId) return;
    if (was !== undefined) {
      const set = local.byNetwork.get(was)!;
      set.delete(portId);
      if (set.size === 0) local.byNetwork.delete(was);
      local.ports.delete(portId);
    }
    if (networkId !== undefined) {
      local.ports.set(portId, networkId);
      const set = local.byNetwork.get(networkId);
      if (set) set.add(portId);
      else local.byNetwork.set(networkId, new Set([portId]));
    }
  }

  /**
   * A router routes here when one of its networks has a local port (routing happens
   * on the source chassis), or when this chassis is its active gateway chassis:
   * centralized NAT un-translates replies there and routes them to the VMs.
   */
  isActive(router: Router, local: NetworkSet = this.localNetworks()): boolean {
    return (
      router.interfaces.some((i) => local.has(i.networkId)) ||
      this.v6.networks(router.id).some((n) => local.has(n)) ||
      (router.gateway !== undefined && router.gateway.chassisId === this.ctx.topology.chassisId)
    );
  }

  /** The router as this chassis routes it, or undefined when it is down, gone or not active here. */
  activeRouter(id: string, local?: NetworkSet): Router | undefined {
    const r = this.model.router(id);
    return r && this.isActive(r, local) ? r : undefined;
  }

  routerFlows(router: Router): DesiredFlow[] {
    const t = this.t;
    return [
      ...ingressFlows(t, router),
      ...routerAddressFlows(t, router),
      ...this.routingFlows(router),
      ...this.v6.flows(t, router.id),
      ...externalRouteFlows(t, this.model, router),
      defaultDropFlow(t, router),
      puntFlow(t, router, this.ctx.punt.toController()),
    ];
  }

  /** Recomputes one router's flows. */
  setRouter(id: string, local?: NetworkSet): void {
    const r = this.activeRouter(id, local);
    this.releaseRouter(id, r);
    if (r) {
      this.active.add(id);
      this.ctx.flows.replace({ id: routerOwner(id), key: r.key }, this.routerFlows(r));
    } else {
      this.active.delete(id);
      this.ctx.flows.remove(routerOwner(id));
    }
    this.routerChanged(id, r);
  }

  resync(): void {
    this.local = undefined;
    const local = this.localNetworks();
    for (const id of [...this.active]) if (!this.ctx.topology.get('logical_router', id)) this.setRouter(id, local);
    for (const r of this.ctx.topology.all('logical_router')) this.setRouter(r.id, local);
    this.resyncMode();
  }

  // ---------------- events ----------------

  onModelChanged(ev: ModelChange): void {
    switch (ev.table) {
      case 'logical_router':
        this.setRouter(ev.id);
        return;
      case 'logical_switch': {
        // A network appearing or going changes which interfaces routers have here.
        const local = this.localNetworks();
        for (const r of this.ctx.topology.lookup('logical_router', 'network', ev.id)) this.setRouter(r.id, local);
        return;
      }
      case 'logical_port': {
        const old = ev.old as LogicalPort | undefined;
        const cur = ev.new as LogicalPort | undefined;
        this.gatewayPortChanged(old, cur);
        this.nexthopsChanged(old, cur);
        this.portChanged(old, cur);
        for (const id of this.v6.routersOfPort(old, cur)) this.setRouter(id);
        return;
      }
      case 'subnet': {
        // The external subnet's gateway IP is the default next hop of the routers with a gateway there.
        const networkId = ((ev.new ?? ev.old) as { networkId?: string } | undefined)?.networkId;
        if (networkId === undefined) return;
        for (const r of this.ctx.topology.lookup('logical_router', 'network', networkId)) if (r.externalGateway?.networkId === networkId) this.setRouter(r.id);
        return;
      }
      case 'chassis_liveness':
        // A gateway chassis died, came back or took a gateway over: the active gateway chassis of its routers may move.
        for (const r of this.ctx.topology.all('logical_router')) if (r.externalGateway?.chassisIds.includes(ev.id)) this.setRouter(r.id);
        return;
      default:
        return;
    }
  }

  /** A router's gateway port (its MAC and addresses) is part of the router's view. */
  private gatewayPortChanged(old: LogicalPort | undefined, cur: LogicalPort | undefined): void {
    const p = cur ?? old;
    if (p?.deviceOwner !== ROUTER_GATEWAY_OWNER || !p.deviceId) return;
    const r = this.ctx.topology.get('logical_router', p.deviceId);
    if (r?.externalGateway?.portId === p.id) this.setRouter(r.id);
  }

  /** Extra routes are resolved to the port holding the next hop: a port with such an IP changes its router's flows. */
  private nexthopsChanged(old: LogicalPort | undefined, cur: LogicalPort | undefined): void {
    const ips = new Set([...(old?.fixedIps ?? []), ...(cur?.fixedIps ?? [])].map((f) => f.ipAddress));
    const networks = new Set([old?.networkId, cur?.networkId].filter((n): n is string => n !== undefined));
    const done = new Set<string>();
    for (const n of networks) {
      for (const r of this.ctx.topology.lookup('logical_router', 'network', n)) {
        if (done.has(r.id) || !r.routes.some((rt) => ips.has(rt.nexthop))) continue;
        done.add(r.id);
        this.setRouter(r.id);
      }
    }
  }

  /**
   * A local port came, changed or went: the routers of its network may become
   * active or inactive here (their flows depend on nothing else local, so a router
   * whose state does not change is left alone).
   */
  onLocalPort(ev: LocalPortEvent): void {
    const networks = new Set([ev.port.networkId, ev.oldPort?.networkId].filter((n): n is string => n !== undefined));
    const local = this.localNetworks();
    this.setLocal(ev.port.id, ev.kind === 'unbound' ? undefined : ev.port.networkId);
    for (const n of networks) {
      for (const r of this.ctx.topology.lookup('logical_router', 'network', n)) {
        const view = this.model.router(r.id);
        if ((view !== undefined && this.isActive(view, local)) !== this.active.has(r.id)) this.setRouter(r.id, local);
      }
    }
  }

  /**
   * After a controller restart the switch still has the timeout flows the previous
   * controller installed: take back those that are still right (the same flow again:
   * nothing is sent, the switch's timers keep running), so the restart rewrites
   * nothing; the rest are deleted by the core.
   */
  adoptFlows(ev: AppAdoptableFlows): void {
    let adopted = 0;
    for (const f of ev.flows) if (this.adoptMode(f)) adopted++;
    this.ctx.log.info({ offered: ev.flows.length, adopted }, 'took back timeout flows found on the switch');
  }

  /** One of the app's timeout flows left the switch (the reactive mode forgets its exact flow). */
  onFlowRemoved(_ev: AppFlowRemoved): void {}

  /**
   * A packet from the punt table, within its source port's budget (the core drops
   * the others and cuts a flooding port off in the switch, so a flood of new
   * destinations cannot starve the controller). TTL ≤ 1 gets time exceeded;
   * everything else is the mode's business.
   */
  async onPacketIn(ev: AppPacketIn): Promise<void> {
    const sourcePortKey = ev.sourcePortKey;
    const frame = ev.frame;
    if (frame?.payload.kind === 'ipv6') {
      if (!(await this.v6.punt(ev, regValue(ev, 'reg5')))) this.stats.ignored++;
      return;
    }
    const router = this.model.routerByKey(regValue(ev, 'reg5'));
    const ingress = frame && router ? this.model.ingressInterface(router, ev.networkKey, frame.dst) : undefined;
    if (!frame || frame.payload.kind !== 'ipv4' || !router || !ingress) {
      this.stats.ignored++;
      return;
    }
    const p: Punt = { event: ev, router, ingress, frame, ip: frame.payload, sourcePortKey };
    if (p.ip.ttl <= 1) {
      if (await this.sendIcmpError(p, ICMP_ERROR.TIME_EXCEEDED)) this.stats.timeExceeded++;
      return;
    }
    await this.routedPunt(p);
  }

  /** Answers a punted packet's sender with an ICMP error from the ingress interface. Returns whether it was sent. */
  protected async sendIcmpError(p: Punt, error: { readonly type: number; readonly code: number }): Promise<boolean> {
    const reply = icmpError(p.event.data, p.frame, error, p.ingress);
    return reply !== undefined && (await this.ctx.reply(p.event, reply));
  }

  /** An unreachable destination: ICMP host unreachable (rate limited like every punt) or silence, as configured. */
  protected async unreachable(p: Punt): Promise<void> {
    if (this.options.unreachable === 'icmp' && (await this.sendIcmpError(p, ICMP_ERROR.HOST_UNREACHABLE))) this.stats.unreachable++;
  }
}
