import { APP_CONTEXT, activeGatewayOf, inject, injectable, type Action, type AppContext, type DesiredFlow, type LogicalPort, type LogicalSwitch } from '@dragonflow/core';
import { chunkFlows, egressFlow, floodFlows, ingressFlows, l2Pipeline, portFlows, uplinkActions, type L2Pipeline, type RemoteTarget } from './flows.js';
import type { L2Options } from './options.js';
import { chunkOf, networkKind, placementOf, tunnelIpv4, uplinkOf, type NetworkKind, type Placement } from './model.js';

/** What switching needs to know about one port; kept to find what a change affects. */
interface PortState {
  readonly networkId: string;
  readonly key: number;
  readonly placement: Placement;
  readonly chassisId: string | null;
  /** The model object the port's flows were last computed from. */
  readonly obj: LogicalPort;
}

/** Local ports of a network, by flood chunk; remote ports counted by chassis. */
interface NetworkMembers {
  readonly local: Map<number, Map<string, number>>;
  readonly remote: Map<string, number>;
}

const portOwner = (id: string): string => `port:${id}`;
const networkOwner = (id: string): string => `network:${id}`;
const chunkOwner = (networkId: string, chunk: number): string => `flood:${networkId}/${chunk}`;

/**
 * Distributed switching from the NB. A network is switched on this chassis while
 * it has at least one local port (and is administratively up); then every port on
 * it with a place — local, remote, or a router interface — gets its flows, and the
 * network gets its ingress (tunnel/provider classify) and flood flows.
 *
 * A network with no local port that an administratively up router connects to a
 * switched network is *routed to* from here: routing happens on the source
 * chassis, so a packet a local router sends to one of its remote ports must find
 * that port's egress here. Such a network gets only that: one egress flow per
 * remote port — no lookup, ARP, ingress or flood flows (nothing here sends on it
 * but the router, and nothing arrives here on it).
 *
 * Flows are a pure function of the topology. Events update an index of who is
 * where (local ports by flood chunk, remote ports by chassis), mark what they
 * affect and recompute only that: a port's own flows, its flood chunk, and its
 * network's flows when the network's chunk or chassis list changed.
 */
@injectable()
export class L2Switch {
  private readonly pipeline: L2Pipeline;
  private readonly ports = new Map<string, PortState>();
  private readonly members = new Map<string, NetworkMembers>();
  /** Networks whose flows are installed (switched here). */
  private readonly switched = new Set<string>();
  /** Networks routed to from here: not switched, but a local router's other side (their remote ports get egress). */
  private routed = new Set<string>();
  /** Routers or networks changed: which networks are routed to must be computed again. */
  private routesDirty = false;
  private readonly dirtyPorts = new Set<string>();
  private readonly dirtyChunks = new Map<string, Set<number>>();
  private readonly dirtyNetworks = new Set<string>();
  private readonly warned = new Set<string>();

  /** Switch networks without a local port too (option `allNetworks`: a fallback chassis). */
  private readonly allNetworks: boolean;

  constructor(@inject(APP_CONTEXT) private readonly ctx: AppContext) {
    this.pipeline = l2Pipeline(ctx.tables, ctx.punt.toController());
    this.allNetworks = (ctx.options as L2Options | undefined)?.allNetworks === true;
  }

  // ---------------- events ----------------

  /** Full recompute from the topology (start, reload, after a failure, new infra ports). */
  recomputeAll(): void {
    this.ports.clear();
    this.members.clear();
    this.switched.clear();
    this.routed.clear();
    this.routesDirty = true;
    this.dirtyPorts.clear();
    this.dirtyChunks.clear();
    this.dirtyNetworks.clear();
    // a full recompute reports what is still wrong
    this.warned.clear();
    const before = new Set(this.ctx.flows.owners());
    // Every port is indexed (the controller's selective cache holds only the networks of local ports anyway),
    // so a network that starts being switched here already knows its remote ports.
    for (const port of this.ctx.topology.all('logical_port')) this.track(port.id, port);
    for (const n of this.members.keys()) this.dirtyNetworks.add(n);
    const touched = this.flush();
    for (const owner of before) if (!touched.has(owner)) this.ctx.flows.remove(owner);
  }

  portChanged(id: string): void {
    this.track(id, this.ctx.topology.get('logical_port', id));
    this.flush();
  }

  networkChanged(id: string): void {
    // Its type, segment or state may have changed: everything on it is recomputed.
    this.dirtyNetworks.add(id);
    this.markPortsOf(id);
    this.routesDirty = true;
    this.flush();
  }

  /** A router was created, changed (interfaces, state) or deleted: the networks routed to from here may change. */
  routerChanged(): void {
    this.routesDirty = true;
    this.flush();
  }

  /** A chassis record (tunnel IP) or its liveness changed. */
  chassisChanged(id: string): void {
    for (const [n, m] of this.members) if (m.remote.has(id)) this.dirtyNetworks.add(n);
    for (const port of this.ctx.topology.lookup('logical_port', 'chassis', id)) if (this.ports.get(port.id)?.placement === 'remote') this.dirtyPorts.add(port.id);
    this.flush();
  }

  /** Marks every indexed port of a network and its flood chunks for recompute. */
  private markPortsOf(networkId: string): void {
    for (const port of this.ctx.topology.lookup('logical_port', 'network', networkId)) if (this.ports.has(port.id)) this.dirtyPorts.add(port.id);
    const m = this.members.get(networkId);
    if (m) for (const c of m.local.keys()) this.markChunk(networkId, c);
  }

  // ---------------- the index ----------------

  /** Updates the index for one port and marks what its change affects. */
  private track(id: string, port: LogicalPort | undefined): void {
    const old = this.ports.get(id);
    const placement = port ? placementOf(port, { localChassisId: this.ctx.topology.chassisId, hasLocalBinding: this.ctx.topology.localBinding(id) !== undefined }) : null;
    const next: PortState | undefined = port && placement ? { networkId: port.networkId, key: port.key, placement, chassisId: port.chassisId, obj: port } : undefined;
    if (old && next && old.obj === next.obj && old.placement === next.placement) return;
    this.dirtyPorts.add(id);
    if (old && next && old.networkId === next.networkId && old.key === next.key && old.placement === next.placement && old.chassisId === next.chassisId) {
      this.ports.set(id, next);
      return;
    }
    if (old) this.unindex(id, old);
    if (next) {
      this.ports.set(id, next);
      this.index(id, next);
    } else this.ports.delete(id);
  }

  private membersOf(networkId: string): NetworkMembers {
    let m = this.members.get(networkId);
    if (!m) {
      m = { local: new Map(), remote: new Map() };
      this.members.set(networkId, m);
    }
    return m;
  }

  private index(id: string, s: PortState): void {
    const m = this.membersOf(s.networkId);
    if (s.placement === 'local') {
      const c = chunkOf(s.key);
      let chunk = m.local.get(c);
      if (!chunk) {
        chunk = new Map();
        m.local.set(c, chunk);
        this.dirtyNetworks.add(s.networkId);
      }
      chunk.set(id, s.key);
      this.markChunk(s.networkId, c);
    } else if (s.placement === 'remote' && s.chassisId) {
      const n = m.remote.get(s.chassisId) ?? 0;
      m.remote.set(s.chassisId, n + 1);
      if (n === 0) this.dirtyNetworks.add(s.networkId);
    }
  }

  private unindex(id: string, s: PortState): void {
    const m = this.members.get(s.networkId);
    if (!m) return;
    if (s.placement === 'local') {
      const c = chunkOf(s.key);
      const chunk = m.local.get(c);
      if (chunk?.delete(id)) {
        this.markChunk(s.networkId, c);
        if (chunk.size === 0) {
          m.local.delete(c);
          this.dirtyNetworks.add(s.networkId);
        }
      }
    } else if (s.placement === 'remote' && s.chassisId) {
      const n = (m.remote.get(s.chassisId) ?? 0) - 1;
      if (n <= 0) {
        m.remote.delete(s.chassisId);
        this.dirtyNetworks.add(s.networkId);
      } else m.remote.set(s.chassisId, n);
    }
  }

  private markChunk(networkId: string, chunk: number): void {
    let s = this.dirtyChunks.get(networkId);
    if (!s) {
      s = new Set();
      this.dirtyChunks.set(networkId, s);
    }
    s.add(chunk);
  }

  // ---------------- computing flows ----------------

  /** The network's state when this chassis switches it; undefined when it does not. */
  private switchedNetwork(networkId: string): { net: LogicalSwitch; kind: NetworkKind } | undefined {
    const net = this.ctx.topology.get('logical_switch', networkId);
    const m = this.members.get(networkId);
    if (!net || !net.adminStateUp || !m || (m.local.size === 0 && !this.allNetworks)) return undefined;
    const kind = networkKind(net);
    if (!kind) {
      this.warnOnce(`kind:${networkId}`, { network: networkId, type: net.networkType }, 'network has no usable segment; not switched');
      return undefined;
    }
    return { net, kind };
  }

  /** Recomputes everything marked dirty; returns the owners it set. */
  private flush(): Set<string> {
    const touched = new Set<string>();
    const flows = this.ctx.flows;
    const set = (owner: string | { id: string; key: number }, desired: DesiredFlow[]): void => {
      const text = typeof owner === 'string' ? owner : owner.id;
      if (desired.length === 0) flows.remove(text);
      else {
        flows.replace(owner, desired);
        touched.add(text);
      }
    };

    // Networks first: a network starting or stopping to be switched changes what its ports get.
    for (const id of this.dirtyNetworks) {
      const sw = this.switchedNetwork(id);
      const was = this.switched.has(id);
      if (Boolean(sw) !== was) {
        if (sw) this.switched.add(id);
        else this.switched.delete(id);
        this.markPortsOf(id);
        this.routesDirty = true;
      }
      if (!sw) {
        this.removeNetworkFlows(id, this.members.get(id));
        const m = this.members.get(id);
        if (m && m.local.size === 0 && m.remote.size === 0) this.members.delete(id);
        continue;
      }
      set({ id: networkOwner(id), key: sw.net.key }, this.networkFlows(sw.net, sw.kind));
    }
    this.dirtyNetworks.clear();
    if (this.routesDirty) this.updateRouted();

    for (const [networkId, chunks] of this.dirtyChunks) {
      const sw = this.switched.has(networkId) ? this.ctx.topology.get('logical_switch', networkId) : undefined;
      const m = this.members.get(networkId);
      for (const c of chunks) {
        const ports = m?.local.get(c);
        if (!sw || !ports || ports.size === 0) flows.remove(chunkOwner(networkId, c));
        else set(chunkOwner(networkId, c), chunkFlows(this.pipeline, sw, c, [...ports.values()].sort((a, b) => a - b)));
      }
    }
    this.dirtyChunks.clear();

    for (const id of this.dirtyPorts) {
      const s = this.ports.get(id);
      const switched = s !== undefined && this.switched.has(s.networkId);
      const routedTo = s !== undefined && s.placement === 'remote' && this.routed.has(s.networkId);
      const net = switched || routedTo ? this.ctx.topology.get('logical_switch', s.networkId) : undefined;
      const kind = net && networkKind(net);
      if (!s || !net || !kind) {
        flows.remove(portOwner(id));
        continue;
      }
      const remote = s.placement === 'remote' ? this.remoteTarget(kind, s.chassisId) : undefined;
      if (switched) set({ id: portOwner(id), key: s.key }, portFlows(this.pipeline, s.obj, net, s.placement, kind, remote));
      else set({ id: portOwner(id), key: s.key }, remote ? [egressFlow(this.pipeline, s.obj, kind, remote)] : []);
    }
    this.dirtyPorts.clear();
    return touched;
  }

  /**
   * The networks routed to from here: every other network of an administratively up
   * router with an interface on a switched network (the one hop the local cache
   * holds), or of a router whose active gateway chassis this is (centralized NAT
   * routes the replies from outside to the VMs here), when it is up and has a usable
   * segment. Ports of networks that enter or leave the set are recomputed.
   */
  private updateRouted(): void {
    this.routesDirty = false;
    const next = new Set<string>();
    const me = this.ctx.topology.chassisId;
    for (const r of this.ctx.topology.all('logical_router')) {
      const gatewayHere = activeGatewayOf(r, (id) => this.ctx.topology.get('chassis_liveness', id)) === me;
      if (!r.adminStateUp || !(gatewayHere || r.ports.some((p) => this.switched.has(p.networkId)))) continue;
      for (const { networkId } of r.ports) {
        if (this.switched.has(networkId) || next.has(networkId)) continue;
        const net = this.ctx.topology.get('logical_switch', networkId);
        if (!net || !net.adminStateUp) continue;
        if (!networkKind(net)) {
          this.warnOnce(`kind:${networkId}`, { network: networkId, type: net.networkType }, 'network has no usable segment; not routed to');
          continue;
        }
        next.add(networkId);
      }
    }
    for (const n of this.routed) if (!next.has(n)) this.markPortsOf(n);
    for (const n of next) if (!this.routed.has(n)) this.markPortsOf(n);
    this.routed = next;
  }

  private removeNetworkFlows(id: string, m: NetworkMembers | undefined): void {
    this.ctx.flows.remove(networkOwner(id));
    if (m) for (const c of m.local.keys()) this.ctx.flows.remove(chunkOwner(id, c));
  }

  private networkFlows(net: LogicalSwitch, kind: NetworkKind): DesiredFlow[] {
    const infra = this.ctx.topology.infraPorts();
    const uplink = uplinkOf(kind, infra);
    const m = this.members.get(net.id)!;
    const chunks = [...m.local.keys()].sort((a, b) => a - b);
    const outward: Action[] = [];
    if (uplink === undefined) {
      this.warnOnce(`uplink:${net.id}:${kind.kind === 'tunnel' ? kind.type : kind.physnet}`, { network: net.id, uplink: kind.kind === 'tunnel' ? `${kind.type} tunnel port` : `patch port of ${kind.physnet}` }, 'no uplink on br-int for this network: switched on this chassis only');
    } else if (kind.kind === 'tunnel') {
      for (const chassisId of [...m.remote.keys()].sort()) {
        const target = this.remoteTarget(kind, chassisId);
        // A chassis whose liveness expired is left out of replication (its lease ran out, its controller is gone).
        if (target && this.ctx.topology.get('chassis_liveness', chassisId)) outward.push(...uplinkActions(kind, target));
      }
    } else {
      outward.push(...uplinkActions(kind, { uplink }));
    }
    return [...(uplink === undefined ? [] : ingressFlows(this.pipeline, net, kind, uplink)), ...floodFlows(this.pipeline, net, chunks, outward)];
  }

  private remoteTarget(kind: NetworkKind, chassisId: string | null): RemoteTarget | undefined {
    const uplink = uplinkOf(kind, this.ctx.topology.infraPorts());
    if (uplink === undefined || chassisId === null) return undefined;
    if (kind.kind !== 'tunnel') return { uplink };
    const chassis = this.ctx.topology.get('chassis', chassisId);
    const tunnelIp = tunnelIpv4(chassis);
    if (!tunnelIp) {
      this.warnOnce(`chassis:${chassisId}`, { chassis: chassisId, tunnelIp: chassis?.tunnelIp }, chassis ? 'chassis has no IPv4 tunnel IP; its ports are unreachable from here' : 'ports are bound to an unknown chassis');
      return undefined;
    }
    return { uplink, tunnelIp };
  }

  private warnOnce(key: string, detail: Record<string, unknown>, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.ctx.log.warn(detail, message);
  }
}
