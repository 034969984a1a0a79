import { hostname } from 'node:os';
import { DfError, describeError, isDfError, redactUrl, systemClock, type Clock } from '@dragonflow/base';
import { describeDb, describeDbError, isFatalDbError, openNbDb, type OpenedDb } from '@dragonflow/db';
import { GatewayFailover, type GatewayReport } from './gateway-failover.js';
import { BfdPortsReconciler, bfdForwardingFrom, bfdPeers } from './bfd-ports.js';
import { type Logger } from '@dragonflow/core';
import { CoreMetrics, OfListener, loadApps, startChassisRuntime, switchChannel, type ChassisRuntime, type ControllerRuntime, type LoadedApp, type OfConnection, type OwnerFailure, type SwitchChannel } from '@dragonflow/core/host';
import { ChassisRegistry, NbApi, chassisIdFromName, type CacheState, type ChassisRegistration, type LivenessState, type LocalCache, type NbDriver } from '@dragonflow/nb';
import { InterfaceMonitor, OvsdbClient, VswitchDb, type ConnectionState as OvsdbState, type InterfaceState } from '@dragonflow/ovsdb';
import { Registry } from 'prom-client';
import { BehaviorSubject, type Subscription } from 'rxjs';
import { StoppedError, retry, sleep } from './retry.js';
import { PortBinder, type BinderReport } from './binder.js';
import { checkRunnable, type ControllerConfig } from './config.js';
import { BridgeDatapathGuard } from './datapath-guard.js';
import { HEAP_TRIM, HeapTrim, fullGc, heapUsed } from './heap-trim.js';
import { ManagementServer } from './management.js';
import { ControllerMetrics } from './metrics.js';
import { StandbyPair, type HaStatus, type TakeoverRecord } from './ha/standby-pair.js';
import { controllerTargetFor, ensureSwitch, infraPortsFrom, sameInfraPorts, type InfraPorts, type SwitchSpec } from './switch-setup.js';

export interface ControllerOptions {
  readonly config: ControllerConfig;
  /** The config file (for messages). */
  readonly file: string;
  /** Where app package names resolve from. */
  readonly baseDir: string;
  readonly log: Logger;
  readonly clock?: Clock;
  /** Export conditions for loading apps (tests running on sources put '@dragonflow/source' first). */
  readonly appConditions?: readonly string[];
  /** Apps already loaded (tests); otherwise loaded from the config by package name. */
  readonly apps?: readonly LoadedApp[];
  /** Test seam: wraps every switch channel before the runtime gets it (e.g. to delay barriers). */
  readonly wrapChannel?: (channel: SwitchChannel) => SwitchChannel;
  /** Default process metrics (CPU, memory) in /metrics (default true). */
  readonly processMetrics?: boolean;
}

export type HealthStatus = 'starting' | 'ok' | 'degraded';

export interface HealthReport {
  readonly status: HealthStatus;
  readonly problems: readonly string[];
  readonly chassis: { readonly name: string; readonly id: string; readonly tunnelIp: string | undefined; readonly tunnelTypes: readonly string[]; readonly gateway: boolean };
  readonly db: { readonly where: string; readonly connected: boolean; readonly cache: CacheState | undefined; readonly lastError: string | undefined };
  readonly liveness: LivenessState | { readonly alive: false; readonly failures: number; readonly reason: string };
  readonly ovsdb: { readonly remote: string; readonly state: OvsdbState; readonly lastError: string | undefined; readonly setup: string };
  readonly openflow: { readonly listen: string; readonly controllerTarget: string; readonly connected: boolean; readonly datapathId: string | undefined; readonly role: 'master' | 'slave' | 'equal' | 'unknown' };
  /** The standby pair (config `ha`), when this controller is one of two on the bridge. */
  readonly ha: HaStatus | undefined;
  readonly sync: { readonly runtimeStarted: boolean; readonly syncedRevision: number; readonly desiredFlows: number; readonly installedFlows: number; readonly failedOwners: readonly OwnerFailure[] };
  readonly infraPorts: InfraPorts;
  readonly ports: BinderReport | undefined;
  readonly apps: readonly string[];
  /** Routers with a gateway this chassis knows, with their active gateway chassis (older controllers: absent). */
  readonly gateways?: readonly GatewayReport[];
  /** What apps report about themselves (descriptor `status`), by app name; e.g. ha-fallback's fallback chassis and the chassis in fallback. */
  readonly appStatus?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

export function listenerOptions(listen: string): { tcp?: { host: string; port: number }; unixPath?: string } {
  const unix = /^p?unix:(.+)$/.exec(listen);
  if (unix) return { unixPath: unix[1]! };
  const tcp = /^tcp:(\[[^\]]+\]|[^:]+):(\d+)$/.exec(listen);
  if (tcp) return { tcp: { host: tcp[1]!.replace(/^\[|\]$/g, ''), port: Number(tcp[2]) } };
  // As OVS's own ptcp:PORT does not, ours binds loopback unless an address is given: a switch on another host is an explicit choice.
  const ptcp = /^ptcp:(\d+)(?::(.+))?$/.exec(listen);
  if (ptcp) return { tcp: { host: ptcp[2] ?? '127.0.0.1', port: Number(ptcp[1]) } };
  throw new DfError('CONFIG_INVALID', `openflow.listen: '${listen}' is not tcp:HOST:PORT, ptcp:PORT[:HOST], unix:PATH or punix:PATH`, { context: { key: 'openflow.listen' } });
}

/**
 * df-controller: one per chassis. Connects the NB DB (retrying with backoff while it
 * is not there), registers the chassis with a liveness lease, keeps the integration
 * bridge, tunnel ports and provider patches as configured, listens for the switch's
 * OpenFlow connection, binds logical ports plugged on br-int, runs the apps through
 * the runtime (which owns the reconciler), and reports health and metrics.
 *
 * Stopping leaves every flow in place (fail_mode=secure): forwarding goes on, and the
 * next start reconciles without rewriting what did not change.
 */
export class Controller {
  readonly config: ControllerConfig;
  readonly chassisId: string;
  readonly registry: Registry;
  readonly coreMetrics: CoreMetrics;
  readonly metrics: ControllerMetrics;
  readonly spec: SwitchSpec;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly abort = new AbortController();
  private readonly subs: Subscription[] = [];
  private apps: readonly LoadedApp[] = [];
  private management: ManagementServer | undefined;
  private listener: OfListener | undefined;
  private ovsdb: OvsdbClient | undefined;
  private monitor: InterfaceMonitor | undefined;
  private db: OpenedDb | undefined;
  private driver: NbDriver | undefined;
  private nb: NbApi | undefined;
  private registration: ChassisRegistration | undefined;
  private cache: LocalCache | undefined;
  private chassisRuntime: ChassisRuntime | undefined;
  private runtimeValue: ControllerRuntime | undefined;
  private binder: PortBinder | undefined;
  private gateways: GatewayFailover | undefined;
  private bfdPorts: BfdPortsReconciler | undefined;
  private heapTrim: HeapTrim | undefined;
  private readonly bfdForwarding$ = new BehaviorSubject<ReadonlyMap<string, boolean>>(new Map());
  private connection: OfConnection | undefined;
  private interfaces: ReadonlyMap<string, InterfaceState> = new Map();
  private infra: InfraPorts = { tunnels: {}, providers: {} };
  private runtimeStarted = false;
  private dbConnected = false;
  private dbError: string | undefined;
  private setupState = 'not yet';
  private lastOvsdbError: string | undefined;
  private bringUp: Promise<void> | undefined;
  private fatalHandler: ((err: unknown) => void) | undefined;
  private setupRunning = false;
  private setupAgain = false;
  /** The hot-standby pair this controller belongs to (config `ha`); undefined: alone on the bridge. */
  private readonly pair: StandbyPair | undefined;
  private registering: Promise<void> | undefined;
  private readonly switchChannels = new Map<OfConnection, SwitchChannel>();

  constructor(private readonly options: ControllerOptions) {
    checkRunnable(options.config, options.file);
    this.config = options.config;
    this.clock = options.clock ?? systemClock;
    this.log = options.log;
    this.chassisId = chassisIdFromName(this.config.chassis.name);
    this.registry = new Registry();
    this.coreMetrics = new CoreMetrics(this.registry);
    this.metrics = new ControllerMetrics(this.registry, { processMetrics: options.processMetrics ?? true });
    this.metrics.appStatusSource = () => (this.runtimeValue && this.runtimeStarted ? this.runtimeValue.appStatus() : {});
    this.spec = {
      integrationBridge: this.config.bridge.integration,
      datapathType: this.config.bridge.datapathType,
      controllerTarget: this.config.bridge.controllerTarget ?? controllerTargetFor(this.config.openflow.listen),
      peerTargets: this.config.ha?.peerTargets ?? [],
      tunnelTypes: this.config.chassis.tunnelTypes,
      mappings: this.config.bridge.mappings,
    };
    const ha = this.config.ha;
    if (ha) {
      this.pair = new StandbyPair({
        activeSocket: ha.activeSocket,
        log: this.log.child({ component: 'ha' }),
        metrics: this.metrics,
        hooks: { master: (channel, takeover) => this.onMaster(channel, takeover), slave: (why) => this.onSlave(why) },
      });
    }
  }

  /** The runtime, once the DB answered and the apps run. */
  get runtime(): ControllerRuntime | undefined {
    return this.runtimeValue;
  }

  get portBinder(): PortBinder | undefined {
    return this.binder;
  }

  get managementAddress(): string | undefined {
    return this.management?.where;
  }

  get infraPorts(): InfraPorts {
    return this.infra;
  }

  /** Called when bring-up fails in a way retrying cannot fix (the process should exit). */
  onFatal(handler: (err: unknown) => void): void {
    this.fatalHandler = handler;
  }

  /**
   * Starts what does not need the DB or OVS (apps, management endpoint, OpenFlow
   * listener, OVSDB client) and throws only for what retrying cannot fix: a bad app,
   * an address that cannot be listened on. The DB, the chassis registration and the
   * runtime come up in the background, retrying with backoff (see `whenRunning`).
   */
  async start(): Promise<void> {
    const c = this.config;
    this.log.info({ chassis: c.chassis.name, chassisId: this.chassisId, db: describeDb(c.db), ovsdb: c.ovsdb.endpoint, openflow: c.openflow.listen, apps: c.apps.map((a) => a.package) }, 'df-controller starting');
    this.apps =
      this.options.apps ??
      (await loadApps(
        c.apps.map((a) => ({ package: a.package, ...(a.options !== undefined ? { options: a.options } : {}) })),
        { baseDir: this.options.baseDir, ...(this.options.appConditions ? { conditions: this.options.appConditions } : {}) },
      ));
    try {
      if (c.management.listen) {
        this.management = await ManagementServer.start(c.management.listen, { registry: this.registry, health: () => this.healthResponse(), sync: () => this.syncReport() });
        this.log.info({ where: this.management.where }, 'serving /healthz and /metrics');
      }
      const guard = new BridgeDatapathGuard(c.bridge.integration, () => this.ovsdb, { clock: this.clock });
      this.listener = await OfListener.start({ logger: this.log.child({ component: 'openflow' }), clock: this.clock, acceptDatapath: (dpid) => guard.accept(dpid), ...listenerOptions(c.openflow.listen) });
      this.subs.push(this.listener.events$.subscribe((e) => (e.type === 'connected' ? this.onSwitchConnected(e.connection) : this.onSwitchDisconnected(e.connection, e.reason))));
      this.startOvsdb();
      this.pair?.start();
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.bringUp = this.bringUpDb().catch((err: unknown) => {
      if (err instanceof StoppedError || this.abort.signal.aborted) return;
      this.log.fatal({ err: describeDbError(err, this.config.db) }, 'df-controller cannot run');
      this.fatalHandler?.(err);
    });
  }

  /** Resolves once the runtime runs (DB reached, apps started). */
  async whenRunning(timeoutMs = 60_000): Promise<ControllerRuntime> {
    const deadline = this.clock.now() + timeoutMs;
    while (!this.runtimeStarted) {
      if (this.abort.signal.aborted) throw new StoppedError('waiting for the runtime');
      if (this.clock.now() > deadline) throw new DfError('TIMEOUT', `df-controller did not reach the running state within ${timeoutMs} ms: ${this.health().problems.join('; ')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.runtimeValue!;
  }

  // ------------------------------------------------------------------ DB side

  private async bringUpDb(): Promise<void> {
    const c = this.config;
    const signal = this.abort.signal;
    const where = describeDb(c.db);
    const db = await retry(`connect to the NB DB (${where})`, () => openNbDb(c.db), {
      log: this.log,
      clock: this.clock,
      signal,
      initialMs: 250,
      maxMs: 5_000,
      jitter: 0.5,
      isFatal: isFatalDbError,
      onFailure: (err) => (this.dbError = describeDbError(err, c.db)),
      describe: (err) => describeDbError(err, c.db),
    });
    if (signal.aborted) {
      await db.close();
      throw new StoppedError('connecting the DB');
    }
    const driver = db.driver;
    this.db = db;
    this.driver = driver;
    this.dbError = undefined;
    this.subs.push(
      driver.connection$.subscribe((s) => {
        const up = s === 'connected';
        if (up !== this.dbConnected) this.log[up ? 'info' : 'warn']({ db: where }, up ? 'NB DB connected' : 'NB DB connection lost; forwarding goes on from the local cache');
        this.dbConnected = up;
        this.metrics.linkUp.set({ link: 'db' }, up ? 1 : 0);
      }),
    );
    this.log.info({ db: where, endpoint: redactUrl(driver.endpoint) }, 'connected to the NB DB');
    this.nb = new NbApi(driver, { mirror: false, clock: this.clock });

    // A standby leaves the chassis liveness to the active controller (two leases on one record would fight); it registers when it takes over.
    if (!this.pair || this.pair.isMaster) await this.register();

    const nb = this.nb;
    const { cache, runtime } = await startChassisRuntime({
      driver,
      selective: c.topology.selective,
      apps: this.apps,
      chassisId: this.chassisId,
      clock: this.clock,
      logger: this.log.child({ component: 'runtime' }),
      metrics: this.coreMetrics,
      beforeStart: (parts) => {
        // Kept before the cache loads: a stop while the DB is slow stops these, and the
        // runtime starts with the interfaces and infrastructure ports OVSDB reported.
        this.chassisRuntime = parts;
        this.cache = parts.cache;
        this.runtimeValue = parts.runtime;
        this.binder = new PortBinder({ nb, chassisId: this.chassisId, chassisName: c.chassis.name, hostname: hostname(), runtime: parts.runtime, log: this.log.child({ component: 'binder' }), clock: this.clock, metrics: this.metrics });
        this.binder.setPassive(this.pair !== undefined && !this.pair.isMaster);
        this.binder.setInterfaces(this.interfaces);
        this.pushInfraPorts();
      },
    });
    if (signal.aborted) throw new StoppedError('starting the runtime');
    this.runtimeStarted = true;
    this.binder!.follow(cache);
    // The claims go into this chassis' liveness record, which only the active controller of a standby pair holds: a standby writes nothing (its master does).
    const registration = (): ChassisRegistration | undefined => this.registration;
    const bfd = this.bfdEnabled() ? c.chassis.gatewayBfd : undefined;
    this.gateways = new GatewayFailover({
      source: cache,
      holder: {
        get activeGateways() {
          return registration()?.activeGateways ?? [];
        },
        get gatewayEpochs() {
          return registration()?.gatewayEpochs ?? {};
        },
        setActiveGateways: (routerIds, unchanged, epochs) => registration()?.setActiveGateways(routerIds, unchanged, epochs) ?? Promise.resolve(true),
      },
      chassisId: this.chassisId,
      clock: this.clock,
      log: this.log.child({ component: 'gateways' }),
      onTakeover: () => this.metrics.gatewayFailovers.inc(),
      onActiveCount: (n) => this.metrics.gatewaysActive.set(n),
      ...(bfd ? { bfd: { forwarding$: this.bfdForwarding$, stableMs: bfd.stableMs } } : {}),
    });
    this.gateways.start();
    const tunnelType = c.chassis.tunnelTypes[0];
    if (tunnelType !== undefined) {
      // Also without BFD: it removes the BFD ports an earlier configuration made.
      this.bfdPorts = new BfdPortsReconciler({
        spec: { bridge: this.spec.integrationBridge, type: tunnelType, localIp: undefined, minTxMs: c.chassis.gatewayBfd.minTxMs, minRxMs: c.chassis.gatewayBfd.minRxMs },
        vswitch: () => (this.ovsdb?.state === 'connected' ? new VswitchDb(this.ovsdb) : undefined),
        peers: () => (bfd ? bfdPeers(this.chassisId, cache.all('logical_router'), (id) => cache.get('chassis', id)) : new Map()),
        interfaces: () => this.interfaces,
        clock: this.clock,
        log: this.log.child({ component: 'bfd' }),
      });
      this.subs.push(
        cache.updates$.subscribe((u) => {
          if (u.changes.some((ch) => ch.table === 'logical_router' || ch.table === 'chassis')) this.bfdPorts?.kick();
        }),
      );
      this.bfdPorts.kick();
    }
    this.binder!.reconcileBoundPorts(cache.localPorts());
    this.subs.push(runtime.syncedRevision$.subscribe((r) => r >= 0 && this.log.debug({ revision: r }, 'switch in sync')));
    if (c.memory.collectAfterBurst) {
      // Idle includes the binder: after a bulk, the ports' status reads and writes are in flight at the NB while
      // nothing else happens here, and a collection then came before their echoes' garbage (a second one after).
      const trim = new HeapTrim({ clock: this.clock, quietMs: HEAP_TRIM.quietMs, minGrowthBytes: HEAP_TRIM.minGrowthBytes, heapUsed, idle: () => cache.queued === 0 && runtime.idle && this.binder?.busy !== true, collect: () => {
          this.metrics.heapCollections.inc();
          this.log.info(fullGc(), 'collected the garbage of a burst of changes');
        },
      });
      this.heapTrim = trim;
      this.subs.push(runtime.syncedRevision$.subscribe((r) => r >= 0 && trim.synced()));
    }
    if (this.connection?.isOpen && (!this.pair || this.pair.isMaster)) await this.attach(this.connection);
    this.log.info({ revision: cache.state.revision, localPorts: cache.localPorts().length }, 'runtime started');
  }

  /** Registers the chassis and keeps its liveness lease (the active controller of a standby pair only). */
  private async register(): Promise<void> {
    if (this.registration || !this.nb) return;
    if (this.registering) return this.registering;
    this.registering = this.registerOnce().finally(() => (this.registering = undefined));
    return this.registering;
  }

  private async registerOnce(): Promise<void> {
    const c = this.config;
    const signal = this.abort.signal;
    // retryForMs 0: the retry below is the one layer of retries (it logs each failure, feeds /healthz and stops on
    // SIGTERM); the registry's own would hide up to a minute of failures inside each of its attempts.
    const registry = new ChassisRegistry(this.nb!, { ttlMs: c.chassis.livenessTtlMs, clock: this.clock, retryForMs: 0 });
    this.registration = await retry(
      'register the chassis',
      () =>
        registry.register({
          name: c.chassis.name,
          tunnelIp: c.chassis.tunnelIp!,
          tunnelTypes: [...c.chassis.tunnelTypes],
          bridgeMappings: { ...c.bridge.mappings },
          gateway: c.chassis.gateway,
          availabilityZone: c.chassis.availabilityZone,
          // What df-api's port binding tells Nova (binding:host_id may name the host, binding:vif_details the bridge).
          externalIds: { hostname: hostname(), 'integration-bridge': c.bridge.integration, 'datapath-type': c.bridge.datapathType },
        }),
      { log: this.log, clock: this.clock, signal, jitter: 0.5, isFatal: (e) => isDfError(e, 'NB_INVALID') },
    );
    this.subs.push(
      this.registration.state$.subscribe((s) => {
        this.metrics.alive.set(s.alive ? 1 : 0);
        if (!s.alive && s.failures === 1) this.log.warn({ reason: s.reason }, 'cannot renew the chassis liveness lease');
        if (s.alive) this.log.debug('chassis liveness renewed');
      }),
    );
    this.log.info({ chassis: c.chassis.name, chassisId: this.chassisId, tunnelIp: c.chassis.tunnelIp, tunnelTypes: c.chassis.tunnelTypes, ttlMs: c.chassis.livenessTtlMs }, 'chassis registered, liveness lease running');
  }

  // ------------------------------------------------------------------ switch side

  private onSwitchConnected(conn: OfConnection): void {
    this.connection = conn;
    this.metrics.linkUp.set({ link: 'openflow' }, 1);
    this.log.info({ datapathId: conn.datapathId.toString(16).padStart(16, '0') }, 'switch connected (OpenFlow 1.3)');
    if (this.pair) {
      const channel = switchChannel(conn);
      this.switchChannels.set(conn, channel);
      // An ERROR saying we are a slave while we think we are master: another controller claimed the switch.
      this.subs.push(conn.errors$.subscribe((e) => this.pair?.refused(e.error)));
      this.pair.switchConnected(channel);
    } else if (this.runtimeStarted) void this.attach(conn);
  }

  /** The switch confirmed this controller master (standby pair): hold the switch, register, bind. */
  private onMaster(_channel: SwitchChannel, takeover: TakeoverRecord | undefined): void {
    const conn = this.connection;
    this.binder?.setPassive(false);
    void this.register().then(
      () => this.gateways?.kick(),
      (err: unknown) => {
        if (!(err instanceof StoppedError)) this.log.error({ err: describeError(err) }, 'cannot register the chassis');
      },
    );
    if (!conn || !this.runtimeStarted) return;
    const before = this.runtimeValue!.reconciler.totals;
    const sentBefore = before.adds + before.modifies + before.deletes;
    void this.attach(conn).then(async () => {
      const runtime = this.runtimeValue;
      if (!takeover || !runtime || this.connection !== conn) return;
      await runtime.reconciler.flush();
      if (runtime.reconciler.syncedRevision < 0) await runtime.waitForRevision(0);
      const after = runtime.reconciler.totals;
      takeover.syncedAt = Date.now();
      takeover.flowMods = after.adds + after.modifies + after.deletes - sentBefore;
      this.log.info({ ms: takeover.syncedAt - takeover.detectedAt, flowMods: takeover.flowMods }, 'took over: switch in sync');
    });
  }

  /** Slave (standby, or stepped down): the runtime keeps its desired state but does not hold the switch. */
  private onSlave(why: string): void {
    this.binder?.setPassive(true);
    this.runtimeValue?.detachSwitch();
    if (why !== 'standby' && this.registration) {
      const r = this.registration;
      this.registration = undefined;
      void r.stop({ revoke: false }).catch(() => undefined);
    }
  }

  private onSwitchDisconnected(conn: OfConnection, reason: Error): void {
    if (this.connection !== conn) return;
    this.connection = undefined;
    this.metrics.linkUp.set({ link: 'openflow' }, 0);
    this.log.warn({ reason: reason.message }, 'switch disconnected; its flows stay (fail_mode=secure) and are reconciled when it is back');
    const channel = this.switchChannels.get(conn);
    this.switchChannels.delete(conn);
    if (channel) this.pair?.switchDisconnected(channel);
    this.runtimeValue?.detachSwitch();
  }

  private async attach(conn: OfConnection): Promise<void> {
    const runtime = this.runtimeValue;
    if (!runtime || this.connection !== conn) return;
    const channel = this.options.wrapChannel ? this.options.wrapChannel(switchChannel(conn)) : switchChannel(conn);
    try {
      await runtime.attachSwitch(channel);
    } catch (err) {
      this.log.warn({ err: describeError(err) }, 'attaching the switch failed; waiting for it to reconnect');
    }
  }

  private startOvsdb(): void {
    const remote = this.config.ovsdb.endpoint;
    const client = new OvsdbClient({ remote, clock: this.clock, maxBackoffMs: 5_000 });
    this.ovsdb = client;
    let lastLogged = '';
    let lastLoggedAt = -Infinity;
    this.subs.push(
      client.errors$.subscribe((err) => {
        this.lastOvsdbError = describeError(err);
        // The client retries with backoff; say so, without repeating the same line every attempt.
        if (this.lastOvsdbError !== lastLogged || this.clock.now() - lastLoggedAt > 30_000) {
          lastLogged = this.lastOvsdbError;
          lastLoggedAt = this.clock.now();
          this.log.warn({ remote, err: this.lastOvsdbError }, 'cannot reach OVSDB; retrying with backoff');
        }
      }),
      client.state$.subscribe((s) => {
        this.metrics.linkUp.set({ link: 'ovsdb' }, s === 'connected' ? 1 : 0);
        if (s === 'connected') {
          lastLogged = '';
          this.log.info({ remote }, 'OVSDB connected');
          void this.setupSwitch().then(() => this.bfdPorts?.kick());
          void this.startInterfaceMonitor();
        }
      }),
    );
    client.start();
  }

  /** BFD between gateway chassis: configured on, and this chassis is a gateway with a tunnel. */
  private bfdEnabled(): boolean {
    const c = this.config.chassis;
    return c.gatewayBfd.enabled && c.gateway && c.tunnelTypes.length > 0;
  }

  /** Ensures the bridge, tunnels and patches; on every OVSDB (re)connect, retried while it fails. */
  private async setupSwitch(): Promise<void> {
    if (this.setupRunning) {
      this.setupAgain = true;
      return;
    }
    this.setupRunning = true;
    try {
      do {
        this.setupAgain = false;
        const client = this.ovsdb;
        if (!client || this.abort.signal.aborted) return;
        try {
          await retry(
            `set up ${this.spec.integrationBridge}`,
            async () => {
              if (client.state !== 'connected') throw new DfError('OVSDB_DISCONNECTED', 'OVSDB is not connected');
              const report = await ensureSwitch(new VswitchDb(client), this.spec, this.log.child({ component: 'ovsdb' }));
              const missing = Object.entries(report.providers).filter(([, r]) => 'missing' in r);
              this.setupState = missing.length > 0 ? `missing provider bridge(s): ${missing.map(([p, r]) => `${p} (${(r as { missing: string }).missing})`).join(', ')}` : 'ok';
            },
            { log: this.log, clock: this.clock, signal: this.abort.signal, initialMs: 250, maxMs: 5_000, onFailure: (err) => (this.setupState = `failed: ${describeError(err)}`) },
          );
        } catch (err) {
          if (!(err instanceof StoppedError)) throw err;
          return;
        }
      } while (this.setupAgain);
    } finally {
      this.setupRunning = false;
    }
  }

  private async startInterfaceMonitor(): Promise<void> {
    if (this.monitor || !this.ovsdb) return;
    const client = this.ovsdb;
    try {
      const monitor = await retry('monitor the switch interfaces', () => InterfaceMonitor.start(client, { bridge: this.spec.integrationBridge, clock: this.clock }), {
        log: this.log,
        clock: this.clock,
        signal: this.abort.signal,
        initialMs: 250,
        maxMs: 5_000,
      });
      if (this.monitor || this.abort.signal.aborted) {
        await monitor.cancel().catch(() => undefined);
        return;
      }
      this.monitor = monitor;
      this.subs.push(monitor.snapshot$.subscribe((s) => this.onInterfaces(s)));
    } catch (err) {
      if (!(err instanceof StoppedError)) this.log.error({ err: describeError(err) }, 'cannot monitor interfaces');
    }
  }

  private onInterfaces(snapshot: ReadonlyMap<string, InterfaceState>): void {
    this.interfaces = snapshot;
    const bfd = bfdForwardingFrom(snapshot);
    const prev = this.bfdForwarding$.value;
    if (bfd.size !== prev.size || [...bfd].some(([k, v]) => prev.get(k) !== v)) this.bfdForwarding$.next(bfd);
    this.binder?.setInterfaces(snapshot);
    this.pushInfraPorts();
    if (this.runtimeStarted && this.cache) this.binder?.reconcileBoundPorts(this.cache.localPorts());
  }

  /** Hands the tunnel and provider ofports to the runtime when they change. */
  private pushInfraPorts(): void {
    const next = infraPortsFrom(this.interfaces, this.spec);
    const changed = !sameInfraPorts(next, this.infra);
    this.infra = next;
    if (changed) this.log.info({ tunnels: next.tunnels, providers: next.providers }, 'infrastructure ports');
    this.runtimeValue?.setInfraPorts(next);
  }

  // ------------------------------------------------------------------ health

  health(): HealthReport {
    const c = this.config;
    const problems: string[] = [];
    const cacheState = this.cache?.state;
    if (!this.driver) problems.push(`NB DB not reached yet (${describeDb(c.db)})${this.dbError ? `: ${this.dbError}` : ''}`);
    else if (!this.dbConnected) problems.push('NB DB connection lost: forwarding from the local cache');
    else if (cacheState && cacheState.phase !== 'live') problems.push(`local cache ${cacheState.phase}${cacheState.reason ? `: ${cacheState.reason}` : ''}`);
    const ha = this.pair?.status();
    const standby = ha !== undefined && ha.role !== 'master';
    const liveness = this.registration?.state ?? { alive: false as const, failures: 0, reason: standby ? 'standby: the active controller keeps the chassis liveness' : 'not registered yet' };
    if (this.registration && !liveness.alive) problems.push(`chassis liveness not renewed${liveness.reason ? `: ${liveness.reason}` : ''}`);
    const ovsdbState = this.ovsdb?.state ?? 'closed';
    if (ovsdbState !== 'connected') problems.push(`OVSDB ${ovsdbState}${this.lastOvsdbError ? `: ${this.lastOvsdbError}` : ''}`);
    else if (this.setupState !== 'ok') problems.push(`switch setup: ${this.setupState}`);
    const connected = this.connection?.isOpen === true;
    if (!connected) problems.push(`no OpenFlow connection from ${this.spec.integrationBridge} (listening on ${c.openflow.listen})`);
    const runtime = this.runtimeValue;
    const synced = runtime?.reconciler.syncedRevision ?? -1;
    const ports = this.binder?.report();
    if (ports && ports.failedInterfaces.length > 0) problems.push(`interfaces vswitchd could not open: ${ports.failedInterfaces.map((f) => f.interfaceName).join(', ')}`);
    const failedOwners = runtime?.reconciler.failedOwners() ?? [];
    if (failedOwners.length > 0) {
      const shown = failedOwners.slice(0, 5).map((f) => `${f.app}/${f.owner} (${f.errors.at(-1) ?? 'error'})`);
      problems.push(`the switch refused flows of ${failedOwners.length} owner(s), retrying: ${shown.join(', ')}${failedOwners.length > 5 ? ', …' : ''}`);
    }
    if (ha?.demoted) problems.push(`stepped down to slave: ${ha.demoted}`);
    if (ha && connected && ha.role === 'unknown') problems.push('OpenFlow role not settled yet');
    // A standby never syncs the switch (it holds no flow-mods): ready once its desired state is complete and the switch knows it as slave.
    const ready = standby ? this.runtimeStarted && runtime?.reconciler.isComplete === true && ha.role === 'slave' : this.runtimeStarted && synced >= 0;
    const status: HealthStatus = !ready ? 'starting' : problems.length > 0 ? 'degraded' : 'ok';
    return {
      status,
      problems,
      chassis: { name: c.chassis.name, id: this.chassisId, tunnelIp: c.chassis.tunnelIp, tunnelTypes: c.chassis.tunnelTypes, gateway: c.chassis.gateway },
      db: { where: describeDb(c.db), connected: this.dbConnected, cache: cacheState, lastError: this.dbError },
      liveness,
      ovsdb: { remote: c.ovsdb.endpoint, state: ovsdbState, lastError: ovsdbState === 'connected' ? undefined : this.lastOvsdbError, setup: this.setupState },
      openflow: { listen: c.openflow.listen, controllerTarget: this.spec.controllerTarget, connected, datapathId: this.connection?.datapathId.toString(16).padStart(16, '0'), role: ha ? ha.role : connected ? 'equal' : 'unknown' },
      ha,
      sync: { ...this.syncReport(), failedOwners },
      infraPorts: this.infra,
      ports,
      apps: this.apps.map((a) => a.package),
      gateways: this.gateways?.report() ?? [],
      ...(runtime && this.runtimeStarted ? { appStatus: runtime.appStatus() } : {}),
    };
  }

  /** The health document's `sync`, without the rest of it. */
  syncReport(): HealthReport['sync'] {
    const runtime = this.runtimeValue;
    return { runtimeStarted: this.runtimeStarted, syncedRevision: runtime?.reconciler.syncedRevision ?? -1, desiredFlows: runtime?.reconciler.desiredCount ?? 0, installedFlows: runtime?.reconciler.installedCount ?? 0, failedOwners: runtime?.reconciler.failedOwners() ?? [] };
  }

  private healthResponse(): { status: number; body: unknown } {
    const h = this.health();
    return { status: h.status === 'starting' ? 503 : 200, body: h };
  }

  // ------------------------------------------------------------------ stop

  /**
   * Stops everything this controller runs, leaving the switch's flows in place and
   * the ports' status as it is (the dataplane keeps forwarding). The liveness lease is
   * revoked so the other chassis learn at once.
   */
  async stop(): Promise<void> {
    if (this.abort.signal.aborted) return;
    this.abort.abort();
    const attempt = async (what: string, fn: () => Promise<unknown> | unknown): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        this.log.warn({ err: describeError(err) }, `while stopping: ${what}`);
      }
    };
    this.gateways?.stop();
    this.bfdPorts?.stop();
    this.heapTrim?.stop();
    this.binder?.stop();
    await attempt('wait for bring-up', () => Promise.race([this.bringUp, sleep(2_000)]));
    for (const s of this.subs) s.unsubscribe();
    // With a standby about to take over, the liveness record is left to it (revoking would show the chassis dead for a moment).
    const standbyTakesOver = this.pair?.isMaster === true && this.pair.hasStandby;
    await attempt('revoke the liveness lease', () => this.registration?.stop({ revoke: !standbyTakesOver }));
    await attempt('stop the runtime', () => this.chassisRuntime?.runtime.stop());
    await attempt('hand over to the standby', () => this.pair?.close());
    await attempt('close the OpenFlow listener', () => this.listener?.close());
    await attempt('stop the interface monitor', () => this.monitor?.cancel());
    await attempt('close OVSDB', () => this.ovsdb?.close());
    await attempt('stop the local cache', () => this.chassisRuntime?.topology.stop());
    await attempt('close the NB DB', async () => {
      await this.nb?.close();
      await this.db?.close();
    });
    await attempt('close the management endpoint', () => this.management?.close());
    this.log.info('df-controller stopped; flows left in place');
  }
}
