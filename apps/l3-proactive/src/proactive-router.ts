import { APP_CONTEXT, APP_OPTIONS, inject, injectable, type AppContext, type DesiredFlow, type LogicalPort } from '@dragonflow/core';
import { DistributedRouter, forwardFlow, prefixDropFlow, toPuntFlow, type IpNetwork, type ProactiveOptions, type Punt, type Router } from '@dragonflow/l3';

const hostOwner = (routerId: string, portId: string): string => `route:${routerId}:${portId}`;

/**
 * The proactive distributed router: on every chassis where a router has a local
 * network, every route is a flow before the first packet — a host route per port on
 * the router's subnets (owned by the port, so a port change touches only its own
 * flows), the extra routes to their resolved next hops, and the connected subnets'
 * unreachable punt (or drop). Only TTL-expired and unreachable packets reach the
 * controller.
 */
@injectable()
export class ProactiveRouter extends DistributedRouter {
  /** Router id → ports with host-route owners. */
  private readonly hosts = new Map<string, Set<string>>();

  constructor(@inject(APP_CONTEXT) ctx: AppContext, @inject(APP_OPTIONS) options: ProactiveOptions) {
    super(ctx, options);
  }

  protected routingFlows(router: Router): DesiredFlow[] {
    const t = this.t;
    const out: DesiredFlow[] = [];
    // What has no port to go to is unreachable: punted for ICMP host unreachable, or dropped.
    const unreachable = (route: { prefix: IpNetwork }) => (this.options.unreachable === 'icmp' ? toPuntFlow(t, router, route.prefix) : prefixDropFlow(t, router, route.prefix));
    for (const route of this.model.routeTable(router)) {
      // Routes through the gateway are the shared externalRouteFlows.
      if (route.kind === 'external') continue;
      if (route.kind === 'connected') {
        // Host routes (/32) win; what is left of a connected subnet has no port.
        out.push(unreachable(route));
        continue;
      }
      const hop = this.model.resolveNexthop(router, route.nexthop);
      const networkKey = hop && this.model.networkKey(hop.port.networkId);
      if (!hop || networkKey === undefined) {
        // No port holds the next hop (yet): as the reactive decision, unreachable/no-port.
        out.push(unreachable(route));
        continue;
      }
      out.push(forwardFlow(t, { routerKey: router.key, destination: route.prefix, rewrite: { ethSrc: hop.egress.mac, ethDst: this.model.portMac(hop.port), networkKey, portKey: hop.port.key } }));
    }
    return out;
  }

  /** Drops the host routes the router no longer has (an extra route may now take their addresses) before its routing flows change. */
  protected override releaseRouter(id: string, router: Router | undefined): void {
    const set = this.hosts.get(id);
    if (!set) return;
    for (const portId of [...set]) {
      const port = router && this.ctx.topology.get('logical_port', portId);
      if (port && this.model.hostsOfPort(router, port).length > 0) continue;
      set.delete(portId);
      this.ctx.flows.remove(hostOwner(id, portId));
    }
  }

  protected routerChanged(id: string, router: Router | undefined): void {
    const before = this.hosts.get(id) ?? new Set<string>();
    const now = new Set<string>();
    if (router) {
      const byPort = new Map<string, LogicalPort>();
      for (const h of this.model.hostsOf(router)) byPort.set(h.port.id, h.port);
      for (const port of byPort.values()) if (this.setHost(router, port)) now.add(port.id);
    }
    for (const portId of before) if (!now.has(portId)) this.ctx.flows.remove(hostOwner(id, portId));
    if (now.size > 0) this.hosts.set(id, now);
    else this.hosts.delete(id);
  }

  /** Sets the host routes of one port through one router; returns whether it has any. */
  private setHost(router: Router, port: LogicalPort): boolean {
    const networkKey = this.model.networkKey(port.networkId);
    const routes = networkKey === undefined ? [] : this.model.hostsOfPort(router, port);
    const owner = hostOwner(router.id, port.id);
    if (routes.length === 0) {
      this.ctx.flows.remove(owner);
      return false;
    }
    const mac = this.model.portMac(port);
    this.ctx.flows.replace(
      { id: owner, key: port.key, kind: 'port' },
      routes.map((r) => forwardFlow(this.t, { routerKey: router.key, destination: r.ip, rewrite: { ethSrc: r.egress.mac, ethDst: mac, networkKey: networkKey!, portKey: port.key } })),
    );
    return true;
  }

  protected portChanged(old: LogicalPort | undefined, cur: LogicalPort | undefined): void {
    const id = (cur ?? old)!.id;
    const networks = new Set([old?.networkId, cur?.networkId].filter((n): n is string => n !== undefined));
    const local = this.localNetworks();
    for (const n of networks) {
      for (const r of this.ctx.topology.lookup('logical_router', 'network', n)) {
        const router = this.activeRouter(r.id, local);
        const set = this.hosts.get(r.id);
        if (router && cur && this.setHost(router, cur)) {
          if (set) set.add(id);
          else this.hosts.set(r.id, new Set([id]));
        } else if (set?.delete(id)) {
          this.ctx.flows.remove(hostOwner(r.id, id));
        }
      }
    }
  }

  protected async routedPunt(p: Punt): Promise<void> {
    const d = this.model.decide(p.router, p.ip.dst);
    if (d.kind === 'unreachable' && d.reason === 'no-port') await this.unreachable(p);
    // A forward decision means its flow is on its way (the punt raced the install); the packet is dropped.
    else this.stats.ignored++;
  }

  protected resyncMode(): void {
    for (const id of [...this.hosts.keys()]) if (!this.ctx.topology.get('logical_router', id)) this.hosts.delete(id);
  }
}
