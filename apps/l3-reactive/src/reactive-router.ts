import { APP_CONTEXT, APP_OPTIONS, METADATA_NETWORK_MASK, REG_ROUTER, inject, injectable, openflow, type AppContext, type AppFlowRemoved, type AppInstalledFlow, type DesiredFlow, type LogicalPort } from '@dragonflow/core';
import { DistributedRouter, ExactFlowBuilder, Ipv4Address, PRIORITY, decisionSignature, rewriteOf, toPuntFlow, type Forward, type NetworkSet, type Punt, type ReactiveOptions, type Router } from '@dragonflow/l3';

/** One exact flow the controller installed: (router, source network, destination IP) → its decision. */
interface ExactFlow {
  readonly owner: string;
  readonly routerId: string;
  readonly networkId: string;
  readonly networkKey: number;
  readonly dst: Ipv4Address;
  readonly signature: string;
  /** Key of the local port whose punt installed it (0 when adopted after a restart: unknown). */
  readonly portKey: number;
}

/** Counters of the reactive path (beside the shared ones). */
export interface ReactiveStats {
  /** Exact flows installed (each with the first packet sent on). */
  installs: number;
  /** Punts of a flow that was already installed (the packet raced the install): sent on, not installed again. */
  raced: number;
  /** Exact flows removed because the topology changed under them. */
  invalidated: number;
  /** Exact flows the switch removed after their idle timeout. */
  expired: number;
  /** Installs or packet-outs the switch did not confirm (connection lost). */
  failed: number;
  /** Exact flows found on the switch after a restart and taken back (still right): not rewritten. */
  adopted: number;
  /** Exact flows removed to stay within maxExactFlowsPerPort / maxExactFlowsPerRouter (least recently punted first). */
  evicted: number;
}

function index<K>(m: Map<K, Set<string>>, key: K, owner: string): void {
  const set = m.get(key);
  if (set) set.add(owner);
  else m.set(key, new Set([owner]));
}

/** Moves `owner` to the most recently used end of its set (sets iterate in insertion order). */
function touchIndex<K>(m: Map<K, Set<string>>, key: K, owner: string): void {
  const set = m.get(key);
  if (set?.delete(owner)) set.add(owner);
}

function unindex<K>(m: Map<K, Set<string>>, key: K, owner: string): void {
  const set = m.get(key);
  if (set?.delete(owner) && set.size === 0) m.delete(key);
}

const flowOwner = (routerId: string, networkId: string, dst: Ipv4Address): string => `flow:${routerId}:${networkId}:${dst.toString()}`;

/**
 * The reactive distributed router: a router's routing table holds only a punt until
 * the first packet of a (source network, destination IP) arrives. The controller of
 * the source VM's chassis — the only one that sees it — decides from the L3 model,
 * installs the exact flow with an idle timeout and, in the same ordered batch, sends
 * the packet on through the pipeline (OFPP_TABLE), so it is not lost. Later packets
 * never leave the switch. When a router or a port changes, the exact flows whose
 * decision changed are removed (the next packet is punted again).
 */
@injectable()
export class ReactiveRouter extends DistributedRouter {
  readonly reactive: ReactiveStats = { installs: 0, raced: 0, invalidated: 0, expired: 0, failed: 0, adopted: 0, evicted: 0 };
  private readonly exact = new Map<string, ExactFlow>();
  private readonly byRouter = new Map<string, Set<string>>();
  /** Destination IP → owners of the exact flows to it (a port change re-decides only these). */
  private readonly byDst = new Map<string, Set<string>>();
  /** Source port key → owners of the exact flows its punts installed, least recently punted first. */
  private readonly byPort = new Map<number, Set<string>>();
  private builder: ExactFlowBuilder | undefined;

  constructor(
    @inject(APP_CONTEXT) ctx: AppContext,
    @inject(APP_OPTIONS) private readonly reactiveOptions: ReactiveOptions,
  ) {
    super(ctx, reactiveOptions);
  }

  /** Owners of the exact flows installed now (for tests and diagnostics). */
  get exactFlows(): string[] {
    return [...this.exact.keys()];
  }

  /**
   * The punt, and, for a router with a gateway, a punt per route that does not
   * leave through it: the gateway's routes (the default one among them) are flows
   * up front (externalRouteFlows), and they must not catch the destinations the
   * router learns one by one.
   */
  protected routingFlows(router: Router): DesiredFlow[] {
    const out = [toPuntFlow(this.t, router)];
    if (router.gateway) for (const route of this.model.routeTable(router)) if (route.kind !== 'external') out.push(toPuntFlow(this.t, router, route.prefix));
    return out;
  }

  protected routerChanged(id: string): void {
    this.revalidate(this.byRouter.get(id));
  }

  /**
   * A port's addresses are the only destinations whose decision it changes (a port
   * holding an extra route's next hop recomputes that router: nexthopsChanged), so
   * only the exact flows to its old and new fixed IPs are re-decided.
   */
  protected portChanged(old: LogicalPort | undefined, cur: LogicalPort | undefined): void {
    const ips = new Set([...(old?.fixedIps ?? []), ...(cur?.fixedIps ?? [])].map((f) => f.ipAddress));
    const owners: string[] = [];
    for (const ip of ips) for (const owner of this.byDst.get(ip) ?? []) owners.push(owner);
    this.revalidate(owners);
  }

  /**
   * The decision for an exact flow now, when it still forwards out of an active router on its source network.
   * `local` (the networks with a local port) is computed once by a caller that checks many flows.
   */
  private current(e: Pick<ExactFlow, 'routerId' | 'networkId' | 'dst'>, local?: NetworkSet): { router: Router; decision: Forward } | undefined {
    const router = this.activeRouter(e.routerId, local);
    if (!router || !router.interfaces.some((i) => i.networkId === e.networkId)) return undefined;
    const decision = this.model.decide(router, e.dst);
    return decision.kind === 'forward' ? { router, decision } : undefined;
  }

  private flowFor(router: Router, e: Pick<ExactFlow, 'networkKey' | 'dst'>, d: Forward): DesiredFlow | undefined {
    const rewrite = rewriteOf(d, (n) => this.model.networkKey(n));
    if (!rewrite) return undefined;
    this.builder ??= new ExactFlowBuilder(this.t, this.reactiveOptions.idleTimeout);
    return this.builder.build(router.key, e.networkKey, e.dst, rewrite);
  }

  /** Keeps the exact flows whose decision is unchanged; removes the others. */
  private revalidate(owners: Iterable<string> | undefined, touch = false): void {
    const list = [...(owners ?? [])];
    if (list.length === 0) return;
    // Once per call, not per flow: it walks every local binding.
    const local = this.localNetworks();
    for (const owner of list) {
      const e = this.exact.get(owner);
      if (!e) continue;
      const now = this.current(e, local);
      const f = now && decisionSignature(now.decision) === e.signature ? this.flowFor(now.router, e, now.decision) : undefined;
      if (!f) {
        this.forget(owner);
        this.ctx.flows.remove(owner);
        this.reactive.invalidated++;
      } else if (touch) {
        this.ctx.flows.replace(owner, [f]);
      }
    }
  }

  private forget(owner: string): void {
    const e = this.exact.get(owner);
    if (!e) return;
    this.exact.delete(owner);
    unindex(this.byRouter, e.routerId, owner);
    unindex(this.byDst, e.dst.toString(), owner);
    if (e.portKey !== 0) unindex(this.byPort, e.portKey, owner);
  }

  /** Marks an exact flow used (a punt for it): the last its port or router would evict. */
  private touch(e: ExactFlow): void {
    touchIndex(this.byRouter, e.routerId, e.owner);
    if (e.portKey !== 0) touchIndex(this.byPort, e.portKey, e.owner);
  }

  /** Makes room for one more exact flow of `e`'s port and router, evicting their least recently punted ones. */
  private makeRoom(e: ExactFlow): void {
    const evictFrom = (set: Set<string> | undefined, max: number, why: string): void => {
      while (set && set.size >= max) {
        const oldest = set.values().next().value as string;
        this.forget(oldest);
        this.ctx.flows.evict(oldest);
        this.reactive.evicted++;
        this.ctx.log.debug({ owner: oldest, reason: why }, 'evicted an exact routing flow');
      }
    };
    if (e.portKey !== 0) evictFrom(this.byPort.get(e.portKey), this.reactiveOptions.maxExactFlowsPerPort, `port key ${e.portKey} holds ${this.reactiveOptions.maxExactFlowsPerPort}`);
    evictFrom(this.byRouter.get(e.routerId), this.reactiveOptions.maxExactFlowsPerRouter, `router ${e.routerId} holds ${this.reactiveOptions.maxExactFlowsPerRouter}`);
  }

  /**
   * An exact flow a previous controller installed: (router key, source network,
   * destination) come from its match; it is taken back when the router still
   * forwards that destination from that network — as the flow it would install now
   * (the same flow: nothing is sent; a changed decision: the flow is corrected).
   */
  protected override adoptMode(f: AppInstalledFlow): boolean {
    if (f.tableName !== 'routing' || f.priority !== PRIORITY.EXACT || f.idleTimeout === 0) return false;
    const dstEntry = openflow.matchGet(f.match, 'ipv4_dst');
    const meta = openflow.matchGet(f.match, 'metadata');
    if (!dstEntry || dstEntry.mask !== undefined || !(dstEntry.value instanceof Ipv4Address) || !meta) return false;
    const router = this.model.routerByKey(Number(openflow.matchGet(f.match, REG_ROUTER)?.value ?? 0));
    const networkKey = Number(meta.value & METADATA_NETWORK_MASK);
    const ingress = router?.interfaces.find((i) => i.networkKey === networkKey);
    if (!router || !ingress) return false;
    const dst = dstEntry.value;
    const now = this.current({ routerId: router.id, networkId: ingress.networkId, dst });
    if (!now) return false;
    const e: ExactFlow = { owner: flowOwner(router.id, ingress.networkId, dst), routerId: router.id, networkId: ingress.networkId, networkKey, dst, signature: decisionSignature(now.decision), portKey: 0 };
    const flow = this.flowFor(now.router, e, now.decision);
    if (!flow) return false;
    this.remember(e);
    this.ctx.flows.replace(e.owner, [flow]);
    this.reactive.adopted++;
    return true;
  }

  private remember(e: ExactFlow): void {
    this.forget(e.owner);
    this.makeRoom(e);
    this.exact.set(e.owner, e);
    index(this.byRouter, e.routerId, e.owner);
    index(this.byDst, e.dst.toString(), e.owner);
    if (e.portKey !== 0) index(this.byPort, e.portKey, e.owner);
  }

  protected async routedPunt(p: Punt): Promise<void> {
    const d = this.model.decide(p.router, p.ip.dst);
    if (d.kind === 'unreachable') {
      if (d.reason === 'no-port') await this.unreachable(p);
      else this.stats.ignored++;
      return;
    }
    if (d.kind !== 'forward') {
      this.stats.ignored++;
      return;
    }
    const e: ExactFlow = { owner: flowOwner(p.router.id, p.ingress.networkId, p.ip.dst), routerId: p.router.id, networkId: p.ingress.networkId, networkKey: p.ingress.networkKey, dst: p.ip.dst, signature: decisionSignature(d), portKey: p.sourcePortKey };
    const packetOut = { data: p.event.data, from: p.event };
    // Several packets may have been punted before the flow was in: send the later ones on.
    const known = this.exact.get(e.owner);
    if (known?.signature === e.signature && this.ctx.flows.hasFlows(e.owner)) {
      this.reactive.raced++;
      this.touch(known);
      this.confirm(e.owner, this.ctx.flows.packetOut(packetOut));
      return;
    }
    const f = this.flowFor(p.router, e, d);
    if (!f) {
      this.stats.ignored++;
      return;
    }
    this.remember(e);
    this.reactive.installs++;
    this.ctx.log.debug({ owner: e.owner, target: d.target.id, via: d.via }, 'installing an exact routing flow and sending the first packet on');
    // The flow-mod and the packet-out go out in order with this tick's other punts (one
    // batch, one barrier); waiting for the barrier here would only hold the next punt back.
    this.confirm(e.owner, this.ctx.flows.installNow(e.owner, [f], packetOut));
  }

  /** Follows a send the handler did not wait for: a failure (the switch went away) is logged and the flow forgotten. */
  private confirm(owner: string, sent: Promise<void>): void {
    sent.catch((err: unknown) => {
      this.reactive.failed++;
      this.ctx.log.warn({ owner, err: String(err) }, 'an exact flow or its packet-out did not reach the switch; the next packet is punted again');
      if (this.exact.has(owner)) {
        this.forget(owner);
        this.ctx.flows.remove(owner);
      }
    });
  }

  override onFlowRemoved(ev: AppFlowRemoved): void {
    super.onFlowRemoved(ev);
    if (ev.owner && this.exact.has(ev.owner) && !this.ctx.flows.hasFlows(ev.owner)) {
      this.forget(ev.owner);
      this.reactive.expired++;
    }
  }

  protected resyncMode(): void {
    // Keep (re-set) the exact flows that still hold; the resync removes owners not set again.
    this.revalidate([...this.exact.keys()], true);
  }
}
