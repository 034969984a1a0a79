import { APP_CONTEXT, DeviceOwner, inject, injectable, packet, type AppContext, type AppPacketIn, type Ipv4Address, type LogicalPort, type ModelChange } from '@dragonflow/core';
import { NeighborResolver, installAhead, providerIngressFlow, providerOutput } from '@dragonflow/nat';
import { floatingIpFlows, type DnatPipeline, type ExternalPath } from './flows.js';
import { floatingIpView, translatesHere, type FloatingIpView } from './model.js';
import type { DnatOptions } from './options.js';

/** Owner names: `dfctl flows` and traces show them. */
export const owners = {
  fip: (id: string) => `fip:${id}`,
  /** An external network's provider ingress, while it has floating IPs translated here. */
  network: (id: string) => `fip-network:${id}`,
} as const;

/** What the app did, for logs, tests and the e2e. */
export interface DnatStats {
  /** Gratuitous ARPs sent for floating IPs that started being translated here (associate, move). */
  gratuitousArps: number;
  /** Packets sent before their next hop was resolved that could not be held (the hold is full). */
  heldDropped: number;
}

/** Text that changes when what the outside must relearn changes: the address, its MAC, where it is translated. */
const announceKey = (v: FloatingIpView): string => `${v.address.toString()} ${v.mac.toString()} ${v.gateway.networkKey}`;

/**
 * Floating IPs: every associated floating IP this chassis translates (its port is
 * local, distributed; the router's gateway is here, centralized) gets its ARP entry,
 * its DNAT and its SNAT flows, owned by `fip:<id>`. A floating IP that starts being
 * translated here (associated, moved here) is announced with a gratuitous ARP on the
 * external network so the outside's stale ARP entries point here at once.
 */
@injectable()
export class FloatingIps {
  readonly stats: DnatStats = { gratuitousArps: 0, heldDropped: 0 };
  /** Floating IPs with flows here, and what was last announced for them. */
  private readonly active = new Map<string, { readonly routerKey: number; readonly networkId: string; readonly nextHop: Ipv4Address | undefined; readonly announced: string | undefined }>();
  /** Per external network: the floating IPs translated here on it. */
  private readonly networks = new Map<string, Set<string>>();
  /** Per router key: floating IPs here using its zone (released when none is left). */
  private readonly zoneUsers = new Map<number, Set<string>>();

  private readonly pipeline: DnatPipeline;
  /** The next hops' MACs on the external networks (ARP, or the NB), and the packets held until they are known. */
  private readonly nextHops: NeighborResolver;

  constructor(@inject(APP_CONTEXT) private readonly ctx: AppContext<DnatOptions>) {
    this.pipeline = { tables: ctx.tables, l3Entry: ctx.tables.stageEntry('l3'), afterClassify: ctx.tables.stageExit('classify'), toController: ctx.punt.toController() };
    this.nextHops = new NeighborResolver(ctx, (_networkId, _ip, users) => {
      for (const id of users) this.update(id);
    });
  }

  stop(): void {
    this.nextHops.stop();
  }

  /**
   * A punt: from `fip-egress`, a floating IP's translated packet sent before its next
   * hop answered (held until it does); from `fip-ingress`, an ARP reply to one of the
   * floating IPs' MACs (a next hop answering).
   */
  onPacketIn(ev: AppPacketIn): void {
    if (ev.tableName === 'fip-egress') {
      const id = ev.owner?.startsWith('fip:') ? ev.owner.slice('fip:'.length) : undefined;
      const fip = id === undefined ? undefined : this.active.get(id);
      if (id && fip?.nextHop && ev.frame && !this.nextHops.hold(id, fip.networkId, fip.nextHop, ev.frame)) this.stats.heldDropped++;
      return;
    }
    this.nextHops.onPacketIn(ev);
  }

  resync(): void {
    const seen = new Set<string>();
    for (const f of this.ctx.topology.all('floating_ip')) {
      seen.add(f.id);
      this.update(f.id);
    }
    for (const id of [...this.active.keys()]) if (!seen.has(id)) this.update(id);
    // a resync removes the owners it does not set again
    for (const n of this.networks.keys()) this.updateNetwork(n);
  }

  /**
   * A model change: the floating IP itself, or something its flows read. A VM port
   * touches only its own floating IPs; a floating IP or gateway port, a router, an
   * external network or subnet may touch any (they are few per chassis): every one
   * is looked at again, and an unchanged one sends nothing.
   */
  onModelChanged(ev: ModelChange): void {
    if (ev.table === 'floating_ip') return this.update(ev.id);
    if (ev.table === 'logical_port') {
      const owner = ((ev.new ?? ev.old) as LogicalPort | undefined)?.deviceOwner;
      if (owner !== DeviceOwner.FLOATING_IP && owner !== DeviceOwner.ROUTER_GATEWAY) return this.onLocalPort(ev.id);
    }
    this.updateAll();
  }

  /** A port was bound here, changed or unbound (or its NB object changed): its floating IPs follow it. */
  onLocalPort(portId: string): void {
    for (const f of this.ctx.topology.lookup('floating_ip', 'port', portId)) this.update(f.id);
  }

  updateAll(): void {
    const ids = new Set([...this.active.keys(), ...this.ctx.topology.all('floating_ip').map((f) => f.id)]);
    for (const id of ids) this.update(id);
    for (const n of this.networks.keys()) this.updateNetwork(n);
  }

  private update(id: string): void {
    const { topology, flows, zones } = this.ctx;
    const fip = topology.get('floating_ip', id);
    const view = fip && floatingIpView(topology, fip);
    const here = view && translatesHere(view, this.ctx.options.mode, topology.chassisId, (p) => topology.localBinding(p) !== undefined);
    const before = this.active.get(id);
    if (!view || !here) {
      if (before) {
        flows.remove(owners.fip(id));
        this.nextHops.release(id);
        this.active.delete(id);
        this.releaseZone(before.routerKey, id);
        this.leaveNetwork(before.networkId, id);
      }
      return;
    }
    if (before && before.networkId !== view.gateway.networkId) this.leaveNetwork(before.networkId, id);
    this.joinNetwork(view.gateway.networkId, id);
    if (before && before.routerKey !== view.gateway.routerKey) this.releaseZone(before.routerKey, id);
    this.useZone(view.gateway.routerKey, id);
    const path = this.pathOf(view);
    const pipeline = this.ctx.options.mode === 'centralized' ? { ...this.pipeline, redirectPorts: Object.values(topology.infraPorts().tunnels).filter((p): p is number => p !== undefined) } : this.pipeline;
    installAhead(this.ctx, owners.fip(id), floatingIpFlows(pipeline, view, zones.of('router', view.gateway.routerKey), path));
    // only now: the ARP request goes out at once, and the answer needs the flow above to be punted
    this.wantNextHop(view, path);
    const key = announceKey(view);
    let announced = before?.announced;
    if (path.uplink && announced !== key) {
      this.announce(view, path);
      announced = key;
    }
    this.active.set(id, { routerKey: view.gateway.routerKey, networkId: view.gateway.networkId, nextHop: path.uplink ? view.gateway.nextHop : undefined, announced });
  }

  /** The uplink to the external network and the next hop's MAC (undefined while nobody has learnt it). */
  private pathOf(v: FloatingIpView): ExternalPath {
    const network = this.ctx.topology.get('logical_switch', v.gateway.networkId);
    const uplink = network && providerOutput(network, this.ctx.topology.infraPorts());
    const nextHop = v.gateway.nextHop;
    return { nextHopMac: uplink && nextHop ? this.nextHops.lookup(v.gateway.networkId, nextHop) : undefined, uplink };
  }

  /** Registers the floating IP as a user of its next hop (asking for it when nobody knows it yet), or releases it. */
  private wantNextHop(v: FloatingIpView, path: ExternalPath): void {
    const nextHop = v.gateway.nextHop;
    if (!path.uplink || !nextHop) return this.nextHops.release(v.id);
    this.nextHops.resolveOnly(v.id, { networkId: v.gateway.networkId, mac: v.mac, ip: v.address }, nextHop);
  }

  /**
   * Gratuitous ARP (sender = target = the floating IP, from its MAC, broadcast) out
   * of the uplink, as a request and as a reply: switches learn where the MAC now is,
   * hosts update their entry from the request — but a Linux router (forwarding on)
   * ignores requests for addresses it routes and updates its entry only from the
   * reply, which also completes an entry it is still resolving. Nobody waits for it.
   */
  private announce(v: FloatingIpView, path: ExternalPath): void {
    const request = packet.arpRequest({ srcMac: v.mac, srcIp: v.address, targetIp: v.address });
    const reply = packet.ethernet({ src: v.mac, dst: packet.mac('ff:ff:ff:ff:ff:ff'), payload: packet.arp({ op: 2, sha: v.mac, spa: v.address, tha: v.mac, tpa: v.address }) });
    this.stats.gratuitousArps++;
    for (const frame of [request, reply]) {
      void this.ctx.flows.packetOut({ data: packet.encodeEthernet(frame), actions: [...path.uplink!] }, { confirm: false }).catch((err: unknown) => {
        this.ctx.log.warn({ fip: v.id, err }, 'gratuitous ARP for a floating IP not sent');
      });
    }
  }

  private joinNetwork(networkId: string, id: string): void {
    let fips = this.networks.get(networkId);
    if (!fips) {
      this.networks.set(networkId, (fips = new Set()));
      fips.add(id);
      this.updateNetwork(networkId);
    } else fips.add(id);
  }

  private leaveNetwork(networkId: string, id: string): void {
    const fips = this.networks.get(networkId);
    if (!fips?.delete(id) || fips.size > 0) return;
    this.networks.delete(networkId);
    this.updateNetwork(networkId);
  }

  /** The external network's provider ingress while it has floating IPs translated here. */
  private updateNetwork(networkId: string): void {
    const net = this.networks.has(networkId) ? this.ctx.topology.get('logical_switch', networkId) : undefined;
    const ingress = net && providerIngressFlow(this.ctx.tables.ref('fip-classify'), net, this.ctx.topology.infraPorts(), this.pipeline.afterClassify);
    if (!net || !ingress) return this.ctx.flows.remove(owners.network(networkId));
    installAhead(this.ctx, { id: owners.network(networkId), key: net.key }, [ingress]);
  }

  private useZone(routerKey: number, id: string): void {
    let users = this.zoneUsers.get(routerKey);
    if (!users) this.zoneUsers.set(routerKey, (users = new Set()));
    users.add(id);
  }

  private releaseZone(routerKey: number, id: string): void {
    const users = this.zoneUsers.get(routerKey);
    if (!users?.delete(id) || users.size > 0) return;
    this.zoneUsers.delete(routerKey);
    this.ctx.zones.release('router', routerKey);
  }
}
