import type { Clock } from '@dragonflow/base';
import type { Action, Match, MatchSpec } from '@dragonflow/openflow';
import { PUNT_METER_LOCAL_ID, PUNT_METER_OWNER, PUNT_SUPPRESS_PRIORITY, controllerAction, puntTable, suppressOwner, type AppPunt, type PuntLimits, type PuntMeterHook, type PuntSpec, type PuntStats } from '../app/punt.js';
import type { Logger } from '../observe/logger.js';
import type { CoreMetrics } from '../observe/metrics.js';
import type { PipelineMap } from '../pipeline/allocator.js';
import { OWNER_KINDS, REG_SRC_PORT, ownerHash } from '../pipeline/registers.js';
import { meter, switchMeterId } from '../reconciler/meters.js';
import { flow, type DesiredFlow } from '../reconciler/flow.js';
import { flowIdentity } from '../reconciler/keys.js';
import type { OwnerId, Reconciler } from '../reconciler/reconciler.js';
import { KeyedTokenBucket } from './token-bucket.js';

export interface PuntGuardOptions {
  readonly app: string;
  readonly slot: number;
  readonly spec: PuntSpec<never>;
  readonly limits: PuntLimits;
  readonly pipeline: PipelineMap;
  readonly reconciler: Reconciler;
  readonly metrics: CoreMetrics;
  readonly clock: Clock;
  readonly log: Logger;
  readonly meters?: PuntMeterHook;
}

/**
 * One app's punt path: a token bucket per source port (reg6) in front of the app's
 * packet-ins from its punt tables, and, when a port goes over its budget, a
 * hard-timeout drop flow matching that port in each punt table, so its punts stop
 * in the switch instead of reaching the controller. The flows are desired state of
 * the app's cookie slot (owner `punt-guard:suppress:<port key>`), so they are
 * reconciled, adopted after a restart and traced to the app like its own.
 */
export class PuntGuard implements AppPunt {
  readonly limits: PuntLimits;
  /** Table id → the match of what it punts, of the app's punt tables. */
  readonly tables: ReadonlyMap<number, MatchSpec>;
  private readonly bucket: KeyedTokenBucket<number>;
  private readonly suppressed = new Set<number>();
  private readonly counts = { punts: 0, rateLimited: 0, suppressions: 0 };
  private meterId: number | undefined;
  private meterAsked = false;
  /** The app's children of the punt counters, bound once: admit() runs for every punt. */
  private readonly counters: { readonly punts: { inc(): void }; readonly rateLimited: { inc(): void }; readonly suppressions: { inc(): void } };

  constructor(private readonly o: PuntGuardOptions) {
    this.limits = o.limits;
    this.bucket = new KeyedTokenBucket(o.clock, { rate: o.limits.rate, burst: o.limits.burst });
    const own = new Map(o.pipeline.app(o.app).tables.map((t) => [t.name, t.id] as const));
    const tables = new Map<number, MatchSpec>();
    for (const t of o.spec.tables.map(puntTable)) {
      const id = own.get(t.name);
      if (id !== undefined) tables.set(id, t.match ?? {});
    }
    this.tables = tables;
    // Bound only for apps that punt, so /metrics has no zero series for the others.
    const none = { inc: () => undefined };
    const app = { app: o.app };
    this.counters =
      tables.size > 0
        ? { punts: o.metrics.punts.labels(app), rateLimited: o.metrics.puntsRateLimited.labels(app), suppressions: o.metrics.puntSuppressions.labels(app) }
        : { punts: none, rateLimited: none, suppressions: none };
  }

  stats(): PuntStats {
    return { ...this.counts };
  }

  isSuppressed(sourcePortKey: number): boolean {
    return this.suppressed.has(sourcePortKey);
  }

  toController(maxLen = 0xffff): { readonly actions: readonly Action[]; readonly meter?: number } {
    const meter = this.meter();
    return meter === undefined ? { actions: [controllerAction(maxLen)] } : { actions: [controllerAction(maxLen)], meter };
  }

  /**
   * The switch id of the app's punt meter, declared on first use: through the host's
   * hook when it gives one, else as desired state of the app's slot (owner
   * `punt-guard:meter`, the reserved local id PUNT_METER_LOCAL_ID) — installed before
   * the flows that use it, adopted as it is after a restart.
   */
  private meter(): number | undefined {
    const spec = this.o.spec.meter;
    if (!this.meterAsked && spec) {
      if (this.o.meters) {
        this.meterId = this.o.meters.meterFor(this.o.app, spec);
      } else {
        const owner: OwnerId = { app: this.o.app, slot: this.o.slot, owner: PUNT_METER_OWNER, kind: OWNER_KINDS.hash, tag: ownerHash(PUNT_METER_OWNER) };
        this.o.reconciler.replace(owner, [], [meter.pktps(PUNT_METER_LOCAL_ID, { rate: spec.rate, burst: spec.burst })]);
        this.meterId = switchMeterId(this.o.slot, PUNT_METER_LOCAL_ID);
      }
    }
    this.meterAsked = true;
    return this.meterId;
  }

  /**
   * A packet-in from one of the app's punt tables: whether the app gets it. Over
   * budget, it is dropped, counted, and the port is cut off in the switch (once per
   * suppression; a packet with no source port is only dropped).
   */
  admit(sourcePortKey: number): boolean {
    if (this.bucket.take(sourcePortKey)) {
      this.counts.punts++;
      this.counters.punts.inc();
      return true;
    }
    this.counts.rateLimited++;
    this.counters.rateLimited.inc();
    if (sourcePortKey !== 0 && !this.suppressed.has(sourcePortKey)) this.suppress(sourcePortKey);
    return false;
  }

  private suppress(sourcePortKey: number): void {
    this.suppressed.add(sourcePortKey);
    this.counts.suppressions++;
    this.counters.suppressions.inc();
    this.o.log.warn({ sourcePortKey, seconds: this.limits.suppressSeconds, rate: this.limits.rate, burst: this.limits.burst }, 'a port is over its punt budget; its punts are dropped in the switch for a while');
    this.o.reconciler.installNow(this.ownerId(sourcePortKey), this.suppressionFlows(sourcePortKey), []).catch((err: unknown) => {
      // The switch went away: the flow stays desired and is installed at the reconnect.
      this.o.log.warn({ sourcePortKey, err: String(err) }, 'a punt suppression was not confirmed by the switch');
    });
  }

  /** The drop flows of a port over budget: one per punt table, hard timeout. */
  suppressionFlows(sourcePortKey: number): DesiredFlow[] {
    return [...this.tables].map(([id, punted]) => flow(id, { priority: PUNT_SUPPRESS_PRIORITY, match: { ...punted, [REG_SRC_PORT]: sourcePortKey }, hardTimeout: this.limits.suppressSeconds }));
  }

  private ownerId(sourcePortKey: number): OwnerId {
    return { app: this.o.app, slot: this.o.slot, owner: suppressOwner(sourcePortKey), kind: OWNER_KINDS.port, tag: sourcePortKey >>> 0 };
  }

  /**
   * A timeout flow found on the switch at a (re)connect: a suppression of ours (a
   * controller restart while a port was cut off) is desired again as it is, so its
   * hard timeout runs on and nothing is sent. Returns whether it was one.
   */
  adopt(f: { readonly tableId: number; readonly priority: number; readonly match: Match; readonly hardTimeout: number }): boolean {
    if (!this.tables.has(f.tableId) || f.priority !== PUNT_SUPPRESS_PRIORITY || f.hardTimeout === 0) return false;
    const key = Number(f.match[REG_SRC_PORT]?.value ?? 0);
    const ours = this.suppressionFlows(key).find((s) => s.table === f.tableId);
    if (key === 0 || !ours || flowIdentity(ours.table, ours.priority, ours.match) !== flowIdentity(f.tableId, f.priority, f.match)) return false;
    this.suppressed.add(key);
    this.o.reconciler.replace(this.ownerId(key), this.suppressionFlows(key), []);
    return true;
  }

  /** The switch removed a suppression (its hard timeout): the port's punts reach the app again. */
  expired(sourcePortKey: number): void {
    if (this.o.reconciler.hasFlows(this.o.app, suppressOwner(sourcePortKey))) return;
    this.suppressed.delete(sourcePortKey);
  }
}
