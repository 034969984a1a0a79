import type { TableName } from '@dragonflow/nb';
import type { InjectionToken } from 'tsyringe';
import type { Stage } from '../pipeline/stages.js';
import type { TableSpec } from '../pipeline/tables.js';
import type { AppAdoptableFlows, AppFlowRemoved, AppPacketIn, InfraPortsEvent, LocalPortEvent, ModelChange, RemotePortEvent, SwitchEvent } from '../runtime/events.js';
import type { AppContext } from './context.js';
import type { PuntSpec } from './punt.js';

/** The version of the API apps are written against; descriptors give a semver range for it. */
export const CORE_API_VERSION = '1.4.0';

/** The stages an app may put tables in (dispatch belongs to the core). */
export type AppStage = Exclude<Stage, 'dispatch'>;

/**
 * Validates an app's options from the controller config. Any zod schema fits
 * (`z.object({...})`); so does anything with the same `safeParse` shape.
 */
export interface OptionsSchema<T> {
  safeParse(input: unknown): { success: true; data: T } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

/** A DI registration in the app's own child container. */
export type AppProvider =
  | { readonly provide: InjectionToken<unknown>; readonly useValue: unknown }
  | { readonly provide: InjectionToken<unknown>; readonly useClass: new (...args: never[]) => unknown }
  | { readonly provide: InjectionToken<unknown>; readonly useFactory: (resolve: <T>(token: InjectionToken<T>) => T) => unknown };

/**
 * Declarative event handlers. The runtime calls them one at a time per app, in
 * event order. A handler that throws is contained: counted, logged with the event,
 * and the app's flows are recomputed with `resync`; other apps carry on.
 * (Method syntax on purpose: a descriptor of a specific app class stays assignable
 * to the general AppDescriptor.)
 */
export interface AppHandlers<A> {
  /** A watched model object was created, updated or deleted. */
  modelChanged?(app: A, event: ModelChange, ctx: AppContext): void | Promise<void>;
  localPortBound?(app: A, event: LocalPortEvent, ctx: AppContext): void | Promise<void>;
  localPortUpdated?(app: A, event: LocalPortEvent, ctx: AppContext): void | Promise<void>;
  localPortUnbound?(app: A, event: LocalPortEvent, ctx: AppContext): void | Promise<void>;
  /** A port bound to another chassis was added, changed or removed. */
  remotePortChanged?(app: A, event: RemotePortEvent, ctx: AppContext): void | Promise<void>;
  /** A packet punted from one of this app's tables (never another app's). */
  packetIn?(app: A, event: AppPacketIn, ctx: AppContext): void | Promise<void>;
  /** One of this app's timeout flows was removed by the switch (it has left the desired state). */
  flowRemoved?(app: A, event: AppFlowRemoved, ctx: AppContext): void | Promise<void>;
  switchConnected?(app: A, event: SwitchEvent, ctx: AppContext): void | Promise<void>;
  switchDisconnected?(app: A, event: SwitchEvent, ctx: AppContext): void | Promise<void>;
  /** br-int's tunnel or provider patch ports changed (`ctx.topology.infraPorts()` has the new set). */
  infraPortsChanged?(app: A, event: InfraPortsEvent, ctx: AppContext): void | Promise<void>;
  /**
   * At a (re)connect the switch had timeout flows in the app's `adoptTables` that no
   * owner desires (typically: reactive flows installed before a controller restart).
   * The app re-desires those it recognises (`ctx.flows.replace`/`installNow` with the
   * same flow: nothing is sent); the others are deleted once this handler returns.
   */
  adoptFlows?(app: A, event: AppAdoptableFlows, ctx: AppContext): void | Promise<void>;
}

export type AppEventName = keyof AppHandlers<unknown>;

/** What an app package's default export describes. Build it with `defineApp`. */
export interface AppDescriptor<A extends object = object, O = unknown> {
  /** Short name: table names (`<name>.<table>`), cookies, logs and metrics use it. */
  readonly name: string;
  /** The @dragonflow/core API versions this app works with (a semver range, e.g. '^1.0.0'). */
  readonly coreApi: string;
  readonly description?: string;
  /** App names that must also be loaded. */
  readonly requires?: readonly string[];
  /** App names that must not be loaded together with this one. */
  readonly conflicts?: readonly string[];
  /** Named tables per stage, in the order packets should visit them. */
  readonly tables?: { readonly [S in AppStage]?: readonly TableSpec[] };
  /** Names of scratch registers the app needs (each gets its own reg). */
  readonly registers?: readonly string[];
  /**
   * Names of fixed conntrack zones the app needs (each gets its own, `ctx.zones.shared(name)`).
   * Per-object zones (a port's, a network's, a router's) need no declaration: `ctx.zones.of(scope, key)`.
   */
  readonly zones?: readonly string[];
  /**
   * The app's tables (by name) whose installed idle/hard-timeout flows it can take
   * back after a (re)connect: found on the switch and desired by no one, they are
   * handed to the `adoptFlows` handler instead of being deleted at once, so a
   * controller restart need not rewrite reactive flows (core API 1.1).
   */
  readonly adoptTables?: readonly string[];
  /** Model tables whose changes the app receives (`modelChanged`). */
  readonly watches?: readonly TableName[];
  /**
   * The app also receives updates that change only bookkeeping fields — an object's
   * version and update time, a port's status and binding host — as `modelChanged`,
   * `localPortUpdated` and `remotePortChanged` (core API 1.4). By default they are
   * left out: no flow is computed from them, and a bulk's status writes echoed back
   * made every app rebuild every port's flows a second time.
   */
  readonly bookkeepingChanges?: boolean;
  /**
   * The app reads chassis records (or liveness) beyond the ones its chassis' topology
   * names — its own, the chassis of the ports it holds (tunnel peers) and the gateway
   * chassis of the routers it holds — e.g. it picks among all chassis. A selective NB
   * cache then holds every chassis and liveness record (its memory grows with the
   * cloud's chassis).
   */
  readonly needsAllChassis?: boolean;
  /** Schema of the app's options in the controller config. */
  readonly options?: OptionsSchema<O>;
  /**
   * The app's punt path (core API 1.2): the tables whose packets go to the
   * controller, guarded per source port by the core (token bucket, suppression
   * flows in the switch, counters), and an optional meter in front of them.
   */
  readonly punt?: PuntSpec<O>;
  /**
   * The app's table every other app's punt passes through (core API 1.3, docs/ha.md
   * "Fallback path"): the core turns their `output:CONTROLLER` actions into
   * `reg15 := PUNT_ORIGIN_MARK | <punting table>; resubmit(,<this table>)` and hands
   * a packet-in from this table to the app whose table is in reg15. At most one app
   * declares it; its own controller actions go to the controller as written.
   */
  readonly puntGate?: string;
  /** Packet-ins buffered for the app before new ones are dropped (default 1024). */
  readonly packetInBuffer?: number;
  readonly providers?: readonly AppProvider[];
  /** The app class, built by the app's child container (`@injectable()`, `@inject(TOKEN)` on every parameter). */
  readonly app: new (...args: never[]) => A;
  readonly handlers?: AppHandlers<A>;
  /**
   * Full recompute: replace the desired flows of every owner from the current
   * topology. Called at start (from a complete snapshot), after a handler threw,
   * and when the topology was reloaded. Owners the app does not set again are removed.
   */
  resync(app: A, ctx: AppContext): void | Promise<void>;
  /** Called when the runtime stops. */
  stop?(app: A): void | Promise<void>;
  /**
   * What the app reports about itself (core API 1.3): a JSON-able summary the
   * controller shows in its health report (`dfctl status`); its numeric fields are
   * also metrics (`df_app_status{app,name}`). Called on demand, so keep it cheap.
   */
  status?(app: A): Readonly<Record<string, unknown>>;
}

/**
 * Declares an app. The result is the package's default export:
 *
 * ```ts
 * export default defineApp({ name: 'port-counters', coreApi: '^1.0.0', app: PortCounters,
 *   tables: { 'ingress-security': [{ name: 'count', match: ['in_port'] }] },
 *   resync: (app) => app.recompute(), handlers: { localPortBound: (app, ev) => app.portUp(ev) } });
 * ```
 */
export function defineApp<A extends object, O = unknown>(descriptor: AppDescriptor<A, O>): AppDescriptor<A, O> {
  return Object.freeze({ ...descriptor });
}

/** Whether a value looks like an app descriptor (what the loader checks an import for). */
export function isAppDescriptor(v: unknown): v is AppDescriptor {
  if (typeof v !== 'object' || v === null) return false;
  const d = v as Record<string, unknown>;
  return typeof d['name'] === 'string' && typeof d['coreApi'] === 'string' && typeof d['app'] === 'function' && typeof d['resync'] === 'function';
}
