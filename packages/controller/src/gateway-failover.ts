import { type Clock, describeError } from '@dragonflow/base';
import type { Logger } from '@dragonflow/core';
import { activeGatewayChassis, activeGatewayOf, highestClaimEpoch, type ChassisLiveness, type LogicalRouter, type NbCacheUpdate, type NbObject, type TableName } from '@dragonflow/nb';
import type { Observable, Subscription } from 'rxjs';

/** What gateway failover reads: the local cache (routers, chassis, liveness records) and its change stream. */
export interface GatewaySource {
  readonly updates$: Observable<NbCacheUpdate>;
  get<T extends TableName>(table: T, id: string): NbObject<T> | undefined;
  all<T extends TableName>(table: T): NbObject<T>[];
}

/** What it writes: this chassis' liveness record, which names the routers whose gateway the chassis holds. */
export interface GatewayHolder {
  readonly activeGateways: readonly string[];
  readonly gatewayEpochs: Readonly<Record<string, number>>;
  setActiveGateways(routerIds: readonly string[], unchanged: readonly { chassisId: string; version: number }[], epochs: Readonly<Record<string, number>>): Promise<boolean>;
}

/** BFD to the other gateway chassis: per peer chassis id, whether its session forwards (peers without a running session are absent). */
export interface GatewayBfd {
  readonly forwarding$: Observable<ReadonlyMap<string, boolean>>;
  /** A session must have been up this long before its going down counts (ms). */
  readonly stableMs: number;
}

/** One router's gateway as `dfctl status` shows it. */
export interface GatewayReport {
  readonly routerId: string;
  readonly routerName: string;
  /** The active gateway chassis (name, else id), as computed here. */
  readonly active: string | undefined;
  /**
   * The gateway chassis in order of preference (names, else ids), with whether each is
   * alive (NB liveness) and, for the others when this chassis runs BFD to them, whether
   * the BFD session forwards ('up'/'down'; absent: no session).
   */
  readonly candidates: readonly { readonly chassis: string; readonly alive: boolean; readonly bfd?: 'up' | 'down' }[];
  readonly preempt: boolean;
}

export interface GatewayFailoverOptions {
  readonly source: GatewaySource;
  readonly holder: GatewayHolder;
  readonly chassisId: string;
  readonly clock: Clock;
  readonly log: Logger;
  /** Called once per router whose gateway this chassis took over from another (live before, dead now). */
  readonly onTakeover?: (routerId: string, from: string) => void;
  /** Called with the number of routers whose gateway is active here, after each decision. */
  readonly onActiveCount?: (n: number) => void;
  /** BFD sessions to the other gateway chassis; absent: detection by NB liveness only. */
  readonly bfd?: GatewayBfd;
}

/**
 * Keeps this chassis' claim on the gateways it is the active gateway chassis of
 * (activeGatewayOf): after every change of a router or a liveness record, the
 * routers where this chassis is active (and pre-emption is off) are written into its
 * liveness record with a compare-and-set against the other gateway chassis' records.
 * The flows do not wait for this: every app computes the active gateway chassis from
 * the same NB data; the claim only makes the choice sticky (a chassis that comes back
 * does not take a gateway back) — docs/ha.md, "Gateway failover".
 *
 * With BFD: when the session to the active gateway chassis of a router goes down
 * (after being up for stableMs) while that chassis is the active one, the chassis is
 * "suspected" for that router here; if this chassis is the router's first live
 * gateway chassis once the suspected one is left out, it claims the router with an
 * epoch above the suspected one's claim, which overrides it on every chassis
 * (activeGatewayChassis) although its liveness record is still there. Only the next
 * candidate acts, so the chassis that see BFD differently cannot disagree; every
 * other chassis follows the claim.
 */
export class GatewayFailover {
  private sub: Subscription | undefined;
  private running = false;
  private again = false;
  private stopped = false;
  private cancelRetry: (() => void) | undefined;
  /** The active gateway chassis of each router as last computed here (takeovers are counted against it). */
  private readonly lastActive = new Map<string, string>();
  /** BFD per peer as last seen: up since when (ms), or down. */
  private readonly bfdPeers = new Map<string, { up: boolean; since: number }>();
  /** Peers whose BFD session went down while they were the active gateway chassis of these routers. */
  private readonly suspects = new Map<string, Set<string>>();
  takeovers = 0;
  bfdTakeovers = 0;

  constructor(private readonly o: GatewayFailoverOptions) {}

  start(): void {
    this.sub = this.o.source.updates$.subscribe((u) => {
      if (u.changes.some((c) => c.table === 'logical_router' || c.table === 'chassis_liveness')) {
        // A suspected chassis whose record went is dead for everyone: the suspicion has done its work.
        for (const peer of [...this.suspects.keys()]) if (this.liveness(peer) === undefined) this.suspects.delete(peer);
        this.kick();
      }
    });
    const bfdSub = this.o.bfd?.forwarding$.subscribe((m) => this.onBfd(m));
    if (bfdSub) this.sub.add(bfdSub);
    this.kick();
  }

  /** Follows the BFD sessions; a session that goes down after being up for stableMs makes its peer suspected for the routers it is active for. */
  private onBfd(forwarding: ReadonlyMap<string, boolean>): void {
    const now = this.o.clock.now();
    let changed = false;
    for (const peer of [...this.bfdPeers.keys()]) {
      if (!forwarding.has(peer)) {
        this.bfdPeers.delete(peer);
        this.suspects.delete(peer);
      }
    }
    for (const [peer, up] of forwarding) {
      const prev = this.bfdPeers.get(peer);
      if (prev?.up === up) continue;
      this.bfdPeers.set(peer, { up, since: now });
      if (up) {
        if (this.suspects.delete(peer)) changed = true;
        continue;
      }
      if (prev === undefined || now - prev.since < this.o.bfd!.stableMs) {
        if (prev !== undefined) this.o.log.info({ peer: this.chassisName(peer), upMs: now - prev.since }, 'BFD to a gateway chassis went down before it was stable; not acting on it');
        continue;
      }
      const routers = new Set<string>();
      for (const r of this.o.source.all('logical_router')) {
        const gw = r.externalGateway;
        if (gw && gw.chassisIds.includes(this.o.chassisId) && activeGatewayOf(r, this.liveness) === peer) routers.add(r.id);
      }
      this.o.log.info({ peer: this.chassisName(peer), routers: [...routers] }, 'BFD to a gateway chassis went down');
      if (routers.size > 0) {
        this.suspects.set(peer, routers);
        changed = true;
      }
    }
    if (changed) this.kick();
  }

  private chassisName(id: string): string {
    return this.o.source.get('chassis', id)?.name ?? id;
  }

  stop(): void {
    this.stopped = true;
    this.sub?.unsubscribe();
    this.cancelRetry?.();
  }

  private liveness = (id: string): ChassisLiveness | undefined => this.o.source.get('chassis_liveness', id);

  /** Runs a decision now, or once more after the one running. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.decide()
      .catch((err: unknown) => {
        this.o.log.warn({ err: describeError(err) }, 'cannot write the gateways this chassis holds; retrying');
        this.retrySoon();
      })
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private retrySoon(): void {
    this.cancelRetry?.();
    this.cancelRetry = this.o.clock.setTimer(200, () => this.kick());
  }

  private async decide(): Promise<void> {
    const me = this.o.chassisId;
    const want: string[] = [];
    const epochs: Record<string, number> = {};
    const taken: { router: LogicalRouter; from: string }[] = [];
    const checks = new Map<string, number>();
    const routers = this.o.source.all('logical_router');
    for (const r of routers) {
      const gw = r.externalGateway;
      if (!gw) {
        this.lastActive.delete(r.id);
        continue;
      }
      const active = activeGatewayOf(r, this.liveness);
      const before = this.lastActive.get(r.id);
      if (active !== undefined) this.lastActive.set(r.id, active);
      if (active !== me) {
        // BFD: the active one is suspected here; take over if this chassis is next without it.
        if (active === undefined || gw.preempt || !this.suspects.get(active)?.has(r.id)) continue;
        const next = activeGatewayChassis(r.id, gw, (id) => (id === active ? undefined : this.liveness(id)));
        if (next !== me) continue;
        this.o.log.info({ router: r.id, name: r.name, from: this.chassisName(active) }, 'taking the gateway over: BFD to its active gateway chassis is down');
        this.bfdTakeovers++;
      } else if (before !== undefined && before !== me) taken.push({ router: r, from: before });
      if (gw.preempt) continue;
      want.push(r.id);
      if (!this.o.holder.activeGateways.includes(r.id)) {
        epochs[r.id] = highestClaimEpoch(r.id, gw.chassisIds, this.liveness) + 1;
        for (const c of gw.chassisIds) if (c !== me) checks.set(c, this.liveness(c)?.version ?? 0);
      }
    }
    for (const id of [...this.lastActive.keys()]) if (!routers.some((r) => r.id === id)) this.lastActive.delete(id);
    for (const t of taken) {
      this.takeovers++;
      this.o.onTakeover?.(t.router.id, t.from);
      this.o.log.info({ router: t.router.id, name: t.router.name, from: this.o.source.get('chassis', t.from)?.name ?? t.from }, 'gateway chassis of the router is now this one (the active one is dead)');
    }
    this.o.onActiveCount?.(want.length + routers.filter((r) => r.externalGateway?.preempt && activeGatewayOf(r, this.liveness) === me).length);
    const held = [...this.o.holder.activeGateways].sort();
    want.sort();
    if (held.length === want.length && held.every((id, i) => id === want[i])) return;
    const ok = await this.o.holder.setActiveGateways(
      want,
      [...checks].map(([chassisId, version]) => ({ chassisId, version })),
      epochs,
    );
    if (!ok) {
      this.o.log.info({ routers: want }, 'another gateway chassis changed while taking gateways over; deciding again');
      this.retrySoon();
    }
  }

  /** Every router with a gateway this chassis knows, with its active gateway chassis as computed here. */
  report(): GatewayReport[] {
    const name = (id: string): string => this.o.source.get('chassis', id)?.name ?? id;
    return this.o.source
      .all('logical_router')
      .filter((r) => r.externalGateway !== null && r.externalGateway.chassisIds.length > 0)
      .map((r) => {
        const active = activeGatewayOf(r, this.liveness);
        return {
          routerId: r.id,
          routerName: r.name,
          active: active === undefined ? undefined : name(active),
          candidates: r.externalGateway!.chassisIds.map((c) => {
            const session = this.bfdPeers.get(c);
            return { chassis: name(c), alive: this.liveness(c) !== undefined, ...(session ? { bfd: session.up ? ('up' as const) : ('down' as const) } : {}) };
          }),
          preempt: r.externalGateway!.preempt,
        };
      })
      .sort((a, b) => a.routerName.localeCompare(b.routerName) || a.routerId.localeCompare(b.routerId));
  }
}
