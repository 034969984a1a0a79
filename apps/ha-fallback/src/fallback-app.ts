import { describeError } from '@dragonflow/base';
import { APP_CONTEXT, inject, injectable, type AppContext, type AppFlowRemoved, type Chassis, type DesiredFlow, type LogicalPort } from '@dragonflow/core';
import { MAX_FALLBACK_PORT_KEY, fallbackInFlows, fallbackOutFlow, fallbackPipeline, livenessFlow, orphanFlow, type FallbackPipeline, type FallbackTarget } from './flows.js';
import { refreshPeriod, type HaFallbackOptions } from './options.js';

const OFPRR_HARD_TIMEOUT = 1;

/** The owner of the liveness flow (the dead-man switch). */
export const LIVENESS_OWNER = 'liveness';
/** The owner of the drop for punts of no local port. */
export const ORPHAN_OWNER = 'orphan';
/** A local port's fallback flow. */
export const outOwner = (p: Pick<LogicalPort, 'id' | 'key'>) => ({ id: `fallback-out:${p.id}`, key: p.key, kind: 'port' as const });
/** A stranded port's classification on the fallback chassis. */
export const inOwner = (p: Pick<LogicalPort, 'id' | 'key'>) => ({ id: `fallback-in:${p.id}`, key: p.key, kind: 'port' as const });

/** What the app reports (`dfctl status`, metrics). */
export interface HaFallbackStatus {
  /** The chassis this one's punts go to while its controller is gone (none: no candidate, or no common tunnel type). */
  readonly fallbackChassis: string | null;
  /** Chassis (by name) whose ports this chassis serves as their fallback. */
  readonly serves: readonly string[];
  /** Stranded ports classified here (fallback-in flows' owners). */
  readonly servedPorts: number;
  /**
   * Served chassis in fallback now: their liveness record is gone from the NB (their
   * controller stopped renewing its lease), so their punts come here. Seen
   * livenessTtlMs after the death; the switch falls back within livenessSeconds.
   */
  readonly inFallback: readonly string[];
  /** Served chassis that went into fallback since this controller started. */
  readonly fallbacks: number;
  /** Liveness refreshes written, and those the switch could not be sent (no switch). */
  readonly refreshes: number;
  readonly refreshFailures: number;
  /** The switch reported the liveness flow's hard timeout while this controller was connected (it was stalled for longer than livenessSeconds). */
  readonly livenessExpired: number;
}

/**
 * The fallback path (docs/ha.md "Fallback path"). On every chassis: the punt gate
 * with its liveness flow, refreshed every `refreshMs`, and, per local port, the
 * fallback flow that tunnels the port's punts to the fallback chassis once the
 * liveness flow has expired. On a fallback chassis, also: the classification of the
 * ports of the chassis it serves, so its own apps handle their punted packets.
 */
@injectable()
export class HaFallback {
  private readonly pipeline: FallbackPipeline;
  private readonly options: HaFallbackOptions;
  private cancelTimer: (() => void) | undefined;
  private stopped = false;
  private counts = { refreshes: 0, refreshFailures: 0, livenessExpired: 0, fallbacks: 0 };
  private fallback: Chassis | undefined;
  private served = new Set<string>();
  /** Served chassis (id → name) and the ones whose liveness is gone. */
  private servedIds = new Map<string, string>();
  private readonly stranded = new Set<string>();
  private servedPorts = 0;
  private readonly warned = new Set<string>();

  constructor(@inject(APP_CONTEXT) private readonly ctx: AppContext<HaFallbackOptions>) {
    this.pipeline = fallbackPipeline(ctx.tables);
    this.options = ctx.options ?? { livenessSeconds: 1 };
  }

  /** Everything from the current topology: liveness, the local ports' fallback flows, the stranded ports served here. */
  recomputeAll(): void {
    const wanted = new Set<string>([LIVENESS_OWNER, ORPHAN_OWNER]);
    this.ctx.flows.replace(LIVENESS_OWNER, [livenessFlow(this.pipeline, this.options.livenessSeconds)]);
    this.ctx.flows.replace(ORPHAN_OWNER, [orphanFlow(this.pipeline)]);
    const me = this.ctx.topology.chassisId;
    this.fallback = this.fallbackOf(me);
    const target = this.fallback ? this.targetOf(this.fallback) : undefined;
    for (const b of this.ctx.topology.localBindings()) {
      const port = this.ctx.topology.get('logical_port', b.portId);
      if (!port || !target || !this.fits(port)) continue;
      const owner = outOwner(port);
      wanted.add(owner.id);
      this.ctx.flows.replace(owner, [fallbackOutFlow(this.pipeline, port.key, target)]);
    }
    const tunnels = Object.values(this.ctx.topology.infraPorts().tunnels).filter((p): p is number => p !== undefined);
    this.served = new Set();
    this.servedIds = new Map();
    this.servedPorts = 0;
    if (tunnels.length > 0) {
      const byChassis = new Map<string, Chassis | undefined>();
      for (const port of this.ctx.topology.all('logical_port')) {
        const c = port.chassisId;
        if (!c || c === me || !this.fits(port)) continue;
        if (!byChassis.has(c)) byChassis.set(c, this.fallbackOf(c));
        if (byChassis.get(c)?.id !== me) continue;
        const network = this.ctx.topology.get('logical_switch', port.networkId);
        if (!network) continue;
        const owner = inOwner(port);
        wanted.add(owner.id);
        this.ctx.flows.replace(owner, fallbackInFlows(this.pipeline, port.key, network.key, tunnels));
        this.served.add(this.ctx.topology.get('chassis', c)?.name ?? c);
        this.servedIds.set(c, this.ctx.topology.get('chassis', c)?.name ?? c);
        this.servedPorts++;
      }
    }
    this.checkLiveness();
    for (const owner of this.ctx.flows.owners()) if (!wanted.has(owner)) this.ctx.flows.remove(owner);
    this.startRefreshing();
  }

  /** Which served chassis have lost their NB liveness (a change of chassis_liveness or of what is served). */
  checkLiveness(): void {
    for (const [id, name] of this.servedIds) {
      const alive = this.ctx.topology.get('chassis_liveness', id) !== undefined;
      if (!alive && !this.stranded.has(id)) {
        this.stranded.add(id);
        this.counts.fallbacks++;
        this.ctx.log.warn({ chassis: name }, "a served chassis' controller is gone (NB liveness expired): its punts are handled here");
      } else if (alive && this.stranded.delete(id)) {
        this.ctx.log.info({ chassis: name }, "a served chassis' controller is back (NB liveness renewed): it handles its punts again");
      }
    }
    for (const id of this.stranded) if (!this.servedIds.has(id)) this.stranded.delete(id);
  }

  /**
   * The fallback of chassis `id`: the first of `fallbackChassis` (by name; default
   * the gateway chassis by name) that is not `id`, is known and is alive (its NB
   * liveness record is there); if none is alive, the first known one. Every
   * controller computes the same answer from the same NB: the stranded chassis'
   * fallback flows and the fallback chassis' classification agree.
   */
  fallbackOf(id: string): Chassis | undefined {
    const all = this.ctx.topology.all('chassis');
    const names = this.options.fallbackChassis ?? all.filter((c) => c.gateway).map((c) => c.name).sort();
    let known: Chassis | undefined;
    for (const name of names) {
      const c = all.find((x) => x.name === name);
      if (!c || c.id === id) continue;
      if (this.ctx.topology.get('chassis_liveness', c.id) !== undefined) return c;
      known ??= c;
    }
    return known;
  }

  /**
   * A chassis' liveness record came or went: which chassis are stranded, and — when a
   * fallback chassis died or came back — who falls back where. (Renewals of a lease
   * change nothing here.)
   */
  livenessChanged(kind: 'created' | 'updated' | 'deleted'): void {
    if (kind === 'updated') this.checkLiveness();
    else this.recomputeAll();
  }

  /** How this chassis reaches the fallback: a tunnel type both have, and the fallback's IPv4 tunnel IP. */
  private targetOf(c: Chassis): FallbackTarget | undefined {
    const tunnels = this.ctx.topology.infraPorts().tunnels;
    const type = c.tunnelTypes.find((t) => tunnels[t] !== undefined);
    if (type === undefined || c.tunnelIp.includes(':')) {
      this.warnOnce(`target:${c.id}`, { fallbackChassis: c.name, tunnelTypes: c.tunnelTypes, tunnelIp: c.tunnelIp, local: Object.keys(tunnels) }, 'no tunnel to the fallback chassis (no common tunnel type, or an IPv6 tunnel IP): punts have no fallback while the controller is gone');
      return undefined;
    }
    return { tunnelPort: tunnels[type]!, tunnelIp: c.tunnelIp };
  }

  private fits(port: LogicalPort): boolean {
    if (port.key <= MAX_FALLBACK_PORT_KEY) return true;
    this.warnOnce(`key:${port.id}`, { port: port.id, key: port.key, max: MAX_FALLBACK_PORT_KEY }, 'port key beyond the fallback tunnel key range: its punts have no fallback');
    return false;
  }

  /**
   * The liveness flow left the switch: its hard timeout fired while this controller
   * was connected (it was stalled for longer than livenessSeconds), or it was found
   * missing at a (re)connect. Desire it again: punts come back here.
   */
  flowRemoved(ev: AppFlowRemoved): void {
    if (ev.owner !== LIVENESS_OWNER) return;
    if (ev.reason === OFPRR_HARD_TIMEOUT) {
      this.counts.livenessExpired++;
      this.ctx.log.warn({ livenessSeconds: this.options.livenessSeconds }, 'the liveness flow expired while this controller ran (stalled longer than livenessSeconds); punts went to the fallback chassis until now');
    }
    this.ctx.flows.replace(LIVENESS_OWNER, [livenessFlow(this.pipeline, this.options.livenessSeconds)]);
  }

  private startRefreshing(): void {
    if (this.cancelTimer || this.stopped) return;
    const period = refreshPeriod(this.options);
    const tick = (): void => {
      this.cancelTimer = undefined;
      if (this.stopped) return;
      this.cancelTimer = this.ctx.clock.setTimer(period, tick);
      this.ctx.flows.refresh(LIVENESS_OWNER).then(
        () => void this.counts.refreshes++,
        (err: unknown) => {
          this.counts.refreshFailures++;
          this.ctx.log.debug({ err: describeError(err) }, 'liveness refresh not sent');
        },
      );
    };
    this.cancelTimer = this.ctx.clock.setTimer(period, tick);
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  status(): HaFallbackStatus {
    return {
      fallbackChassis: this.fallback?.name ?? null,
      serves: [...this.served].sort(),
      servedPorts: this.servedPorts,
      inFallback: [...this.stranded].map((id) => this.servedIds.get(id) ?? id).sort(),
      ...this.counts,
    };
  }

  /** The flows of the liveness owner (for tests). */
  livenessFlows(): DesiredFlow[] {
    return this.ctx.flows.flowsOf(LIVENESS_OWNER);
  }

  private warnOnce(key: string, detail: Record<string, unknown>, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.ctx.log.warn(detail, message);
  }
}
