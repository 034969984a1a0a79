import { APP_CONTEXT, APP_OPTIONS, inject, injectable, type Action, type AppContext, type AppPacketIn, type DesiredFlow, type Ipv4Address, type LocalPortEvent, type LogicalPort, type ModelChange } from '@dragonflow/core';
import { L3Model, ROUTER_GATEWAY_OWNER, type Router, type RouterGateway } from '@dragonflow/l3';
import { NeighborResolver, installAhead, providerIngressFlow, providerOutput, redirectActions, redirectClassifyFlows, redirectTunnelPort } from '@dragonflow/nat';
import { chassisInboundFlows, inboundFlows, natDoneFlow, outFlow, redirectFlow, snatFlow, snatTables, unnatFlows, type SnatSource, type SnatTables } from './flows.js';
import { LocalNetworks } from './local-networks.js';
import type { SnatOptions } from './options.js';
import { SnatAddresses } from './snat-addresses.js';

export const snatOwner = (routerId: string): string => `snat:${routerId}`;
const networkOwner = (networkId: string): string => `network:${networkId}`;
const NAT_DONE_OWNER = 'snat:nat-done';

/** What this chassis does for one router. */
interface RouterState {
  readonly key: number;
  readonly networkId: string;
  /** Translates here (holds the router's zone) or only redirects to the gateway chassis. */
  readonly translating: boolean;
  readonly source: SnatSource | undefined;
  readonly zone: number | undefined;
}

/** Distributed: each router translated on a chassis gets its own source port range (PORT_SLOTS ranges of PORT_SLOT_SIZE from PORT_BASE). */
const PORT_BASE = 1024;
const PORT_SLOT_SIZE = 1000;
const PORT_SLOTS = 64;

/** Counters for logs, tests and the e2e. */
export interface SnatStats {
  /** Gratuitous ARPs sent for a SNAT address this chassis took over. */
  announced: number;
  /** ARP replies that resolved or refreshed a next hop. */
  arpReplies: number;
  /** Punts that were not an ARP reply the app asked for. */
  ignored: number;
}

/**
 * Source NAT for routers with an external gateway and `enable_snat`. A packet the
 * L3 app routed out through a router's gateway (ROUTED, external network, source
 * MAC the gateway's) is translated in the router's conntrack zone to the router's
 * SNAT address and put on the provider network towards its next hop; replies to
 * that address are un-translated in the same zone and routed back to the VM by the
 * L3 app (the gateway is an ingress interface of the router).
 *
 * - centralized: the router's active gateway chassis (df-api's placement)
 *   translates, with the gateway IP and MAC; every other chassis with a VM behind
 *   the router redirects the routed packets to it over the tunnel.
 * - distributed: every chassis with a VM behind the router translates that VM's
 *   traffic itself, with the chassis' own SNAT address (SnatAddresses).
 */
@injectable()
export class SnatApp {
  readonly model: L3Model;
  readonly stats: SnatStats = { announced: 0, arpReplies: 0, ignored: 0 };
  readonly resolver: NeighborResolver;
  private readonly local: LocalNetworks;
  private readonly addresses: SnatAddresses;
  private readonly routers = new Map<string, RouterState>();
  /** External network → the routers translated here on it (its ingress and un-NAT flows are theirs). */
  private readonly networks = new Map<string, Set<string>>();
  private tables: SnatTables | undefined;
  private readonly warned = new Set<string>();
  /** Distributed: router id → its port slot on this chassis. */
  private readonly slots = new Map<string, number>();
  /** Distributed: external networks whose chassis address was announced. */
  private readonly announcedNetworks = new Set<string>();

  constructor(
    @inject(APP_CONTEXT) private readonly ctx: AppContext,
    @inject(APP_OPTIONS) private readonly options: SnatOptions,
  ) {
    this.model = new L3Model(ctx.topology);
    this.local = new LocalNetworks(ctx.topology);
    this.addresses = new SnatAddresses(ctx.topology, options);
    this.resolver = new NeighborResolver(ctx, (networkId) => this.nextHopChanged(networkId), options.arp);
  }

  private get t(): SnatTables {
    this.tables ??= snatTables(this.ctx.tables);
    return this.tables;
  }

  // ---------------- events ----------------

  resync(): void {
    this.local.reset();
    for (const id of [...this.routers.keys()]) if (!this.ctx.topology.get('logical_router', id)) this.setRouter(id);
    for (const r of this.ctx.topology.all('logical_router')) this.setRouter(r.id);
    this.updateNatDone();
    const mine = new Set([NAT_DONE_OWNER, ...[...this.routers.keys()].map(snatOwner), ...[...this.networks.keys()].map(networkOwner)]);
    for (const owner of this.ctx.flows.owners()) if (!mine.has(owner)) this.ctx.flows.remove(owner);
  }

  onModelChanged(ev: ModelChange): void {
    switch (ev.table) {
      case 'logical_router':
        this.setRouter(ev.id);
        return;
      case 'logical_port': {
        const p = (ev.new ?? ev.old) as LogicalPort | undefined;
        if (p?.deviceOwner === ROUTER_GATEWAY_OWNER && p.deviceId) this.setRouter(p.deviceId);
        return;
      }
      case 'logical_switch':
      case 'subnet': {
        const networkId = ev.table === 'logical_switch' ? ev.id : ((ev.new ?? ev.old) as { networkId?: string } | undefined)?.networkId;
        if (networkId !== undefined) for (const r of this.ctx.topology.lookup('logical_router', 'network', networkId)) this.setRouter(r.id);
        return;
      }
      case 'chassis':
      case 'chassis_liveness':
        // A gateway chassis' tunnel IP or types: the redirects towards it (and distributed addresses) may change.
        this.recomputeAll();
        return;
      default:
        return;
    }
  }

  onLocalPort(ev: LocalPortEvent): void {
    for (const n of this.local.apply(ev)) for (const r of this.ctx.topology.lookup('logical_router', 'network', n)) this.setRouter(r.id);
  }

  onInfraPorts(): void {
    this.recomputeAll();
  }

  onPacketIn(ev: AppPacketIn): void {
    if (this.resolver.onPacketIn(ev)) this.stats.arpReplies++;
    else this.stats.ignored++;
  }

  stop(): void {
    this.resolver.stop();
  }

  private recomputeAll(): void {
    for (const id of [...this.routers.keys()]) this.setRouter(id);
    for (const r of this.ctx.topology.all('logical_router')) if (r.externalGateway) this.setRouter(r.id);
  }

  private nextHopChanged(networkId: string): void {
    for (const [id, s] of this.routers) if (s.translating && s.networkId === networkId) this.setRouter(id);
  }

  // ---------------- one router ----------------

  /** What this chassis does for router `id`: translate, redirect, or nothing. */
  setRouter(id: string): void {
    const r = this.model.router(id);
    const gw = r?.gateway;
    const role = r && gw && gw.enableSnat ? this.roleOf(r, gw) : 'none';
    if (!r || !gw || role === 'none') return this.dropRouter(id);
    if (role === 'redirect') {
      const redirect = this.redirectTo(gw);
      if (!redirect) return this.dropRouter(id);
      this.leaveNetwork(id);
      this.releaseTranslation(id);
      this.routers.set(id, { key: r.key, networkId: gw.networkId, translating: false, source: undefined, zone: undefined });
      this.ctx.flows.replace({ id: snatOwner(id), key: r.key, kind: 'router' }, [redirectFlow(this.t, gw, redirect)]);
      this.updateNatDone();
      return;
    }
    const source = this.options.mode === 'centralized' ? { ip: gw.ip, mac: gw.mac } : this.addresses.of(gw);
    const net = this.ctx.topology.get('logical_switch', gw.networkId);
    const output = net && providerOutput(net, this.ctx.topology.infraPorts());
    if (!source || !output) {
      this.warnOnce(`router:${id}`, { router: id, network: gw.networkId }, source ? 'external network has no provider port on this chassis (bridge mapping?): no SNAT here' : 'no SNAT address for this chassis on the external network (pool): no SNAT here');
      return this.dropRouter(id);
    }
    const zone = this.ctx.zones.of('router', r.key);
    const t = this.t;
    const centralized = this.options.mode === 'centralized';
    const flows: DesiredFlow[] = [...unnatFlows(t, gw, zone, centralized), snatFlow(t, gw, source, zone, centralized ? undefined : this.portRange(id)), ...this.outFlows(r, gw, source, zone, output)];
    if (centralized) {
      flows.push(...inboundFlows(t, gw, source, zone, this.resolver.replyPuntFlow(t.inbound, gw.networkKey, source.mac)));
      const tunnels = Object.values(this.ctx.topology.infraPorts().tunnels).filter((p): p is number => p !== undefined);
      flows.push(...redirectClassifyFlows(t.classify, { tunnelPorts: tunnels, mac: gw.mac, routerKey: r.key, networkKey: gw.networkKey, next: t.nat.id }));
    }
    const before = this.routers.get(id);
    this.routers.set(id, { key: r.key, networkId: gw.networkId, translating: true, source, zone });
    // installed ahead of the flush: centralized, they punt the next hop's ARP answer (distributed: setNetwork's do)
    installAhead(this.ctx, { id: snatOwner(id), key: r.key, kind: 'router' }, flows);
    this.joinNetwork(id, gw.networkId);
    this.updateNatDone();
    // The gateway IP moved here (centralized; distributed: the chassis address, announced once per network).
    if (centralized && (!before?.translating || !before.source?.ip.equals(source.ip) || !before.source.mac.equals(source.mac))) void this.announce(gw.networkId, source);
  }

  /**
   * Distributed: the router's source port range on this chassis — a slot of its
   * own, first free from its key (stable while the same routers are here), so the
   * replies of two routers' translations never look alike.
   */
  private portRange(routerId: string): { min: number; max: number } {
    let slot = this.slots.get(routerId);
    if (slot === undefined) {
      const used = new Set(this.slots.values());
      const key = this.ctx.topology.get('logical_router', routerId)?.key ?? 0;
      for (let i = 0; i < PORT_SLOTS; i++) {
        const candidate = (key + i) % PORT_SLOTS;
        if (!used.has(candidate)) {
          slot = candidate;
          break;
        }
      }
      if (slot === undefined) {
        // More routers than slots on one chassis: share (a reply may then be un-SNATed in the wrong zone; docs/nat.md).
        slot = key % PORT_SLOTS;
        this.warnOnce(`slots:${routerId}`, { router: routerId, slots: PORT_SLOTS }, 'more routers translated on this chassis than source port ranges: sharing one');
      }
      this.slots.set(routerId, slot);
    }
    const min = PORT_BASE + slot * PORT_SLOT_SIZE;
    return { min, max: min + PORT_SLOT_SIZE - 1 };
  }

  /**
   * centralized: translate on the router's active gateway chassis, redirect from a
   * chassis with a VM behind it; distributed: translate where a VM is behind it.
   */
  private roleOf(r: Router, gw: RouterGateway): 'translate' | 'redirect' | 'none' {
    const hasVm = r.interfaces.some((i) => this.local.has(i.networkId));
    if (this.options.mode === 'distributed') return hasVm ? 'translate' : 'none';
    if (gw.chassisId === this.ctx.topology.chassisId) return 'translate';
    return hasVm ? 'redirect' : 'none';
  }

  /** The redirect actions towards the router's active gateway chassis, when it is known and reachable over a tunnel type both carry. */
  private redirectTo(gw: RouterGateway): Action[] | undefined {
    const chassis = gw.chassisId ? this.ctx.topology.get('chassis', gw.chassisId) : undefined;
    if (!chassis) {
      this.warnOnce(`gateway:${gw.routerId}:${gw.chassisId ?? ''}`, { router: gw.routerId, chassis: gw.chassisId }, gw.chassisId ? 'gateway chassis of the router is unknown here: its outside traffic is dropped' : 'router has no gateway chassis (none was alive when its gateway was set): its outside traffic is dropped');
      return undefined;
    }
    const port = redirectTunnelPort(this.ctx.topology.infraPorts(), chassis.tunnelTypes);
    if (port === undefined || chassis.tunnelIp.includes(':')) {
      this.warnOnce(`tunnel:${chassis.id}`, { router: gw.routerId, chassis: chassis.name }, 'no tunnel to the gateway chassis (no common tunnel type, or an IPv6 underlay): the router’s outside traffic is dropped');
      return undefined;
    }
    return redirectActions(port, chassis.tunnelIp);
  }

  /**
   * After SNAT, by destination: each route through the gateway to its next hop's
   * MAC (a route whose next hop is not resolved yet has no flow: its packets are
   * dropped until the ARP reply comes). The external subnet itself goes through the
   * subnet's gateway too (it hairpins what is on the subnet), except the next hops,
   * which are reached directly.
   */
  private outFlows(r: Router, gw: RouterGateway, source: SnatSource, zone: number, output: readonly Action[]): DesiredFlow[] {
    const user = snatOwner(r.id);
    const from = { networkId: gw.networkId, mac: source.mac, ip: source.ip };
    const out: DesiredFlow[] = [];
    const direct = new Map<number, { ip: Ipv4Address; mac: NonNullable<ReturnType<NeighborResolver['lookup']>> }>();
    for (const route of this.model.routeTable(r)) {
      if (route.kind !== 'external') continue;
      const hop = route.nexthop ?? gw.nextHop;
      const mac = hop && this.resolver.resolve(user, from, hop);
      if (!hop || !mac) continue;
      out.push(outFlow(this.t, gw, zone, route.prefix, mac, output));
      if (!direct.has(hop.value)) direct.set(hop.value, { ip: hop, mac });
    }
    for (const d of direct.values()) out.push(outFlow(this.t, gw, zone, d.ip, d.mac, output));
    return out;
  }

  private async announce(networkId: string, source: SnatSource): Promise<void> {
    try {
      if (await this.resolver.announce(networkId, source.mac, source.ip)) this.stats.announced++;
    } catch (err) {
      this.ctx.log.warn({ network: networkId, ip: source.ip.toString(), err: String(err) }, 'gratuitous ARP for the SNAT address not sent');
    }
  }

  private dropRouter(id: string): void {
    this.leaveNetwork(id);
    this.releaseTranslation(id);
    this.routers.delete(id);
    this.ctx.flows.remove(snatOwner(id));
    this.updateNatDone();
  }

  /** What another NAT app translated skips snat: needed while snat handles a router here. */
  private updateNatDone(): void {
    if (this.routers.size > 0) this.ctx.flows.replace(NAT_DONE_OWNER, [natDoneFlow(this.t)]);
    else this.ctx.flows.remove(NAT_DONE_OWNER);
  }

  private releaseTranslation(id: string): void {
    const s = this.routers.get(id);
    this.slots.delete(id);
    if (!s?.translating) return;
    this.resolver.release(snatOwner(id));
    this.ctx.zones.release('router', s.key);
  }

  // ---------------- the external networks' shared flows ----------------

  private joinNetwork(routerId: string, networkId: string): void {
    for (const [n, set] of this.networks) if (n !== networkId && set.has(routerId)) this.leaveNetwork(routerId);
    let set = this.networks.get(networkId);
    if (!set) this.networks.set(networkId, (set = new Set()));
    set.add(routerId);
    this.setNetwork(networkId);
  }

  private leaveNetwork(routerId: string): void {
    for (const [n, set] of this.networks) {
      if (!set.delete(routerId)) continue;
      if (set.size === 0) this.networks.delete(n);
      this.setNetwork(n);
    }
  }

  /**
   * The external network's provider ingress (where l2 does not switch it), while a
   * router is translated here on it; distributed, also the chassis address' ARP and
   * its un-SNAT chain over the routers' zones (chassisInboundFlows).
   */
  private setNetwork(networkId: string): void {
    const net = this.ctx.topology.get('logical_switch', networkId);
    const routers = this.networks.get(networkId);
    if (!net || !routers) {
      this.announcedNetworks.delete(networkId);
      this.ctx.flows.remove(networkOwner(networkId));
      return;
    }
    const flows: DesiredFlow[] = [];
    const ingress = providerIngressFlow(this.t.classify, net, this.ctx.topology.infraPorts(), this.t.afterClassify);
    if (ingress) flows.push(ingress);
    const states = [...routers].map((id) => this.routers.get(id)).filter((x): x is RouterState => x?.translating === true && x.zone !== undefined);
    const source = this.options.mode === 'distributed' ? states[0]?.source : undefined;
    if (source) {
      const zones = states.sort((a, b) => a.key - b.key).map((x) => x.zone!);
      flows.push(...chassisInboundFlows(this.t, net.key, source, zones, this.resolver.replyPuntFlow(this.t.inbound, net.key, source.mac)));
      if (!this.announcedNetworks.has(networkId)) {
        this.announcedNetworks.add(networkId);
        void this.announce(networkId, source);
      }
    }
    installAhead(this.ctx, { id: networkOwner(networkId), key: net.key, kind: 'network' }, flows);
  }

  private warnOnce(key: string, detail: Record<string, unknown>, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.ctx.log.warn(detail, message);
  }
}
