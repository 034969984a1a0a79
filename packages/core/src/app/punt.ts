import { DfError } from '@dragonflow/base';
import { OfPort, type Action, type MatchSpec } from '@dragonflow/openflow';

/**
 * The budget of one app's punts per source port (reg6). Over budget, a packet-in is
 * dropped before the app sees it and the port's punts are dropped in the switch for
 * `suppressSeconds` (a hard-timeout flow in each of the app's punt tables).
 */
export interface PuntLimits {
  /** Punts handled per second and port, sustained. */
  readonly rate: number;
  /** Punts a port may send at once after a quiet period. */
  readonly burst: number;
  /** How long a port over its budget has its punts dropped in the switch (seconds). */
  readonly suppressSeconds: number;
}

/**
 * What a chassis can take from one VM without noticing: 100 punts/s sustained, a
 * burst of 200 (a VM resolving a handful of neighbours and flows at boot), cut off
 * for 5 s when it goes beyond.
 */
export const DEFAULT_PUNT_LIMITS: PuntLimits = Object.freeze({ rate: 100, burst: 200, suppressSeconds: 5 });

/**
 * A meter in front of an app's controller actions: packets over `rate` (packets per
 * second, `burst` packets deep) are dropped by the switch before they reach the
 * controller — the second line of defence, behind the per-port budget, for a flood
 * spread over many ports.
 */
export interface PuntMeterSpec {
  readonly rate: number;
  readonly burst: number;
}

/**
 * Reads the budget from the app's options. (Method syntax on purpose, as for the
 * handlers: a descriptor of a specific app stays assignable to the general one.)
 */
type LimitsFromOptions<O> = { read(options: O): Partial<PuntLimits> | undefined }['read'];

/**
 * A punt table that also passes other traffic: `match` names the packets it punts
 * (l2's `nd-responder`: neighbour solicitations), and a suppression drops only
 * those of the port — every one of them, answered or not, until it expires.
 */
export interface PuntTable {
  readonly name: string;
  readonly match?: MatchSpec;
}

/** How an app declares its punt path (`defineApp({ punt: { … } })`). */
export interface PuntSpec<O = unknown> {
  /**
   * The app's tables whose packets go to the controller, by name. A packet-in from
   * one of them counts against its source port's budget, and the core installs the
   * port's suppression flow there (priority `PUNT_SUPPRESS_PRIORITY`, match reg6 and
   * the table's `match`), so the table declares reg6 (and those fields) among its
   * match fields. A bare name is a table whose every packet is punted (l3's `punt`).
   */
  readonly tables: readonly (string | PuntTable)[];
  /** The budget per source port: fixed, or read from the app's options (so operators can set it). Missing keys take `DEFAULT_PUNT_LIMITS`. */
  readonly limits?: Partial<PuntLimits> | LimitsFromOptions<O>;
  /** A switch meter in front of the app's controller actions (see `ctx.punt.toController()`). */
  readonly meter?: PuntMeterSpec;
}

/** What the punt guard did for one app (also in the core metrics: df_punts_*). */
export interface PuntStats {
  /** Packet-ins from the app's punt tables handed to the app. */
  readonly punts: number;
  /** Packet-ins dropped because their source port was over its budget. */
  readonly rateLimited: number;
  /** Suppression flows installed (a port over budget, cut off in the switch). */
  readonly suppressions: number;
}

/** The punt path as an app sees it: `ctx.punt`. */
export interface AppPunt {
  /** The budget in force (after the app's options and the defaults). */
  readonly limits: PuntLimits;
  /** What the guard did so far. */
  stats(): PuntStats;
  /** Whether a source port's punts are dropped in the switch right now. */
  isSuppressed(sourcePortKey: number): boolean;
  /**
   * The parts of a punting flow, to spread into `flow()`: the controller action
   * and, when a punt meter is in place, the meter instruction in front of it.
   * `flow(t, { priority, match, ...ctx.punt.toController() })`.
   */
  toController(maxLen?: number): { readonly actions: readonly Action[]; readonly meter?: number };
}

/**
 * Gives the switch id of the meter an app's punt flows should pass through. The
 * host implements it (declaring the meter as desired state of the app); without
 * one, punt flows have no meter and the per-port budget is the only guard.
 */
export interface PuntMeterHook {
  meterFor(app: string, spec: PuntMeterSpec): number | undefined;
}

/** Priority of the core's suppression flows in a punt table: an app's flows there stay below it. */
export const PUNT_SUPPRESS_PRIORITY = 65000;

/** Owners of the punt guard's flows (in the app's cookie slot). Apps may not use owners starting with it. */
export const PUNT_OWNER_PREFIX = 'punt-guard:';

/** The app-local meter id of the punt guard's meter (`punt.meter`): reserved, apps use 1..16777214. */
export const PUNT_METER_LOCAL_ID = 0xffffff;

/** The owner of the punt guard's meter of an app. */
export const PUNT_METER_OWNER = `${PUNT_OWNER_PREFIX}meter`;

/** The owner of a source port's suppression flows. */
export const suppressOwner = (sourcePortKey: number): string => `${PUNT_OWNER_PREFIX}suppress:${sourcePortKey}`;

/** The source port key of a suppression owner, or undefined for any other owner. */
export function suppressedPortOf(owner: string): number | undefined {
  const m = /^punt-guard:suppress:(\d+)$/.exec(owner);
  return m ? Number(m[1]) : undefined;
}

/** The controller action of a punt: the whole packet (the app may send it on). */
export function controllerAction(maxLen = 0xffff): Action {
  return { type: 'output', port: OfPort.CONTROLLER, maxLen };
}

/** The budget of `app` from its punt spec and options; throws a DfError naming the bad key. */
export function resolvePuntLimits(app: string, spec: PuntSpec<never> | undefined, options: unknown): PuntLimits {
  // A host that builds a runtime without validating its apps may give no options: then the defaults.
  const given = typeof spec?.limits === 'function' ? (options === undefined ? undefined : (spec.limits as (o: unknown) => Partial<PuntLimits> | undefined)(options)) : spec?.limits;
  // A key given as undefined (an optional option left out) keeps its default.
  const set = Object.fromEntries(Object.entries(given ?? {}).filter(([, v]) => v !== undefined));
  const limits: PuntLimits = { ...DEFAULT_PUNT_LIMITS, ...set };
  const bad = (key: keyof PuntLimits, want: string): never => {
    throw new DfError('APP_INVALID', `app '${app}': punt.${key} is ${String(limits[key])}; ${want}`, { context: { app, key: `punt.${key}`, value: limits[key] } });
  };
  if (!(typeof limits.rate === 'number' && limits.rate > 0 && Number.isFinite(limits.rate))) bad('rate', 'expected a number > 0');
  if (!Number.isInteger(limits.burst) || limits.burst < 1) bad('burst', 'expected an integer >= 1');
  if (!Number.isInteger(limits.suppressSeconds) || limits.suppressSeconds < 1 || limits.suppressSeconds > 3600) bad('suppressSeconds', 'expected an integer 1..3600');
  return Object.freeze(limits);
}

/** A punt table entry as a `PuntTable`. */
export const puntTable = (t: string | PuntTable): PuntTable => (typeof t === 'string' ? { name: t } : t);
