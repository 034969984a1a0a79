import 'reflect-metadata';
import { DfError, describeError, systemClock, type Clock } from '@dragonflow/base';
import type { LogicalPort, TableName } from '@dragonflow/nb';
import { matchGet, type FlowRemoved, type Match, type NxPacketIn2, type PacketIn } from '@dragonflow/openflow';
import { Registry } from 'prom-client';
import type { Observable, Subscription } from 'rxjs';
import { container as tsyringeRoot, type DependencyContainer } from 'tsyringe';
import { AppFlows, AppTables, replyThrough, type AppContext, type AppTopology } from '../app/context.js';
import { AppZones } from '../app/zones.js';
import { ZoneTable } from '../pipeline/zones.js';
import { puntTable, resolvePuntLimits, suppressedPortOf, type PuntMeterHook, type PuntStats } from '../app/punt.js';
import type { AppDescriptor, AppEventName } from '../app/descriptor.js';
import { PIPELINE } from '../app/tokens.js';
import type { LoadedApp } from '../app/validate.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { CoreMetrics } from '../observe/metrics.js';
import { allocatePipeline, type PipelineMap } from '../pipeline/allocator.js';
import { OWNER_KINDS, PUNT_ORIGIN_MARK, PUNT_ORIGIN_TABLE_MASK, REG_PUNT_ORIGIN, REG_SRC_PORT } from '../pipeline/registers.js';
import { CORE_APP } from '../pipeline/stages.js';
import { Reconciler, type OwnerFailure, type OwnerFailureEvent, type ReconcilerOptions } from '../reconciler/reconciler.js';
import type { SwitchChannel } from '../reconciler/switch.js';
import { AppHost } from './app-host.js';
import { onlyBookkeepingChanged } from './bookkeeping.js';
import { coreAppDescriptor } from './core-app.js';
import { PuntGuard } from './punt-guard.js';
import { PuntedPacket } from './punted-packet.js';
import type { AppAdoptableFlows, AppInstalledFlow, InfraPorts, InfraTunnelType, LocalBinding, LocalPortEvent, ModelChange, PortBindingInput, RemotePortEvent } from './events.js';
import type { TopologyChange, TopologySource, TopologyUpdate } from './topology.js';

export interface RuntimeOptions {
  /** The apps, validated (from `loadApps` or `validateApps`), in config order. */
  readonly apps: readonly LoadedApp[];
  readonly topology: TopologySource;
  /** This chassis' id (ports bound elsewhere are remote). */
  readonly chassisId: string;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Metrics go here (a fresh registry when absent). */
  readonly metrics?: CoreMetrics | Registry;
  readonly reconciler?: Omit<ReconcilerOptions, 'metrics' | 'logger'>;
  /** Declares the meters apps put in front of their punts (`punt.meter`); without it punt flows carry no meter. */
  readonly puntMeters?: PuntMeterHook;
}

const NO_INFRA_PORTS: InfraPorts = Object.freeze({ tunnels: Object.freeze({}), providers: Object.freeze({}) });
const INFRA_TUNNEL_TYPES: readonly InfraTunnelType[] = ['vxlan', 'geneve', 'gre'];

/** Checks and freezes an infra port set, keys sorted (so equal sets compare equal). */
function normalizeInfraPorts(ports: InfraPorts): InfraPorts {
  const ofport = (where: string, v: unknown): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v >= 0xffffff00) {
      throw new DfError('INFRA_PORTS_INVALID', `infrastructure port ${where} has ofport ${String(v)}; expected a positive OpenFlow port number`, { context: { port: where, ofport: v } });
    }
    return v;
  };
  const tunnels: Partial<Record<InfraTunnelType, number>> = {};
  for (const [type, v] of Object.entries(ports.tunnels ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    if (!INFRA_TUNNEL_TYPES.includes(type as InfraTunnelType)) {
      throw new DfError('INFRA_PORTS_INVALID', `unknown tunnel type '${type}' (${INFRA_TUNNEL_TYPES.join(', ')})`, { context: { tunnelType: type } });
    }
    if (v !== undefined) tunnels[type as InfraTunnelType] = ofport(`tunnels.${type}`, v);
  }
  const providers: Record<string, number> = {};
  for (const [physnet, v] of Object.entries(ports.providers ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    if (physnet.length === 0) throw new DfError('INFRA_PORTS_INVALID', 'a physical network name must not be empty');
    providers[physnet] = ofport(`providers.${physnet}`, v);
  }
  return Object.freeze({ tunnels: Object.freeze(tunnels), providers: Object.freeze(providers) });
}

/** Whether the app gets an event; `bookkeeping`: an update of bookkeeping fields alone, for the apps that asked for those (see bookkeeping.ts). */
function receives(h: AppHost, bookkeeping: boolean): boolean {
  return !bookkeeping || h.descriptor.bookkeepingChanges === true;
}

/**
 * The app runtime of one chassis: allocates the pipeline, builds each app in its
 * own child container, turns topology, port-binding and switch events into each
 * app's ordered event stream, and owns the reconciler — the only thing that talks
 * to the switch.
 *
 * The controller feeds it three inputs: the NB local cache (`topology`), port
 * bindings from the OVSDB Interface monitor (`bindPort`), and the switch
 * connection (`attachSwitch` on every (re)connect, `detachSwitch` on loss).
 */
export class ControllerRuntime {
  readonly pipeline: PipelineMap;
  readonly reconciler: Reconciler;
  readonly metrics: CoreMetrics;
  readonly clock: Clock;
  private readonly log: Logger;
  private readonly root: DependencyContainer;
  private readonly hosts: AppHost[] = [];
  private readonly byName = new Map<string, AppHost>();
  private readonly guards = new Map<string, PuntGuard>();
  /** The chassis' conntrack zones of ports, networks and routers, shared by the apps. */
  readonly zoneTable = new ZoneTable();
  private readonly bindings = new Map<string, LocalBinding>();
  /** Ports whose 'bound' event went out (binding and model object both present). */
  private readonly activeLocal = new Set<string>();
  private readonly subscriptions: Subscription[] = [];
  private switchSub: Subscription | undefined;
  private channel: SwitchChannel | undefined;
  private started = false;
  private stopped = false;
  private topologyRevision = 0;
  private readonly pendingUpdates: TopologyUpdate[] = [];
  private startRevision = -1;
  private infra: InfraPorts = NO_INFRA_PORTS;
  private adoptableTables: Map<number, string> | undefined;
  /** The punt gate (an app's `puntGate` table), when one is declared. */
  private readonly puntGate: { readonly app: string; readonly tableId: number } | undefined;

  constructor(private readonly options: RuntimeOptions) {
    this.clock = options.clock ?? systemClock;
    this.log = options.logger ?? silentLogger();
    this.metrics = options.metrics instanceof CoreMetrics ? options.metrics : new CoreMetrics(options.metrics ?? new Registry());
    this.pipeline = allocatePipeline(options.apps.map((a) => ({ app: a.descriptor.name, package: a.package, tables: a.descriptor.tables ?? {}, registers: a.descriptor.registers ?? [], zones: a.descriptor.zones ?? [] })));
    this.reconciler = new Reconciler({ ...(options.reconciler ?? {}), metrics: this.metrics, logger: this.log.child({ component: 'reconciler' }), clock: this.clock });
    this.root = tsyringeRoot.createChildContainer();
    this.root.register(PIPELINE, { useValue: this.pipeline });
    const gates = options.apps.filter((a) => a.descriptor.puntGate !== undefined);
    if (gates.length > 1) throw new DfError('APP_INVALID', `apps ${gates.map((a) => `'${a.descriptor.name}'`).join(' and ')} both declare a puntGate; at most one app may`, { context: { apps: gates.map((a) => a.descriptor.name) } });
    const gate = gates[0]?.descriptor;
    if (gate) {
      const t = this.pipeline.app(gate.name).tables.find((x) => x.name === gate.puntGate);
      if (!t) throw new DfError('APP_INVALID', `app '${gate.name}': puntGate '${String(gate.puntGate)}' is not one of its tables`, { context: { app: gate.name, puntGate: gate.puntGate } });
      this.puntGate = { app: gate.name, tableId: t.id };
    }
  }

  get chassisId(): string {
    return this.options.chassisId;
  }

  /** The app hosts, core first (for tests and diagnostics). */
  get apps(): readonly AppHost[] {
    return this.hosts;
  }

  app(name: string): AppHost {
    const h = this.byName.get(name);
    if (!h) throw new DfError('APP_UNKNOWN', `no app '${name}' in this runtime`, { context: { app: name } });
    return h;
  }

  /**
   * Builds the apps, waits for a complete topology snapshot, lets every app compute
   * its desired state from it, and only then allows the reconciler to change the
   * switch.
   */
  async start(): Promise<void> {
    if (this.started) throw new DfError('RUNTIME_STATE', 'the runtime is already started');
    this.started = true;
    this.subscriptions.push(
      this.options.topology.updates$.subscribe({
        next: (u) => (this.startRevision < 0 ? this.pendingUpdates.push(u) : this.onTopology(u)),
        error: (err: unknown) => this.log.error({ err: describeError(err) }, 'the topology stream failed'),
      }),
    );
    this.subscriptions.push(
      this.reconciler.expired$.subscribe((e) => {
        const suppressed = e.owner === undefined ? undefined : suppressedPortOf(e.owner);
        // The punt guard's own flows are the core's business, not the app's.
        if (suppressed !== undefined) this.guards.get(e.app)?.expired(suppressed);
        else this.byName.get(e.app)?.enqueue('flowRemoved', { owner: e.owner, tableId: e.flow.table, priority: e.flow.priority, match: e.flow.match, cookie: 0n, reason: e.reason, packetCount: e.packetCount, byteCount: e.byteCount });
      }),
    );

    const descriptors: { d: AppDescriptor; options: unknown; slot: number }[] = [
      { d: coreAppDescriptor as AppDescriptor, options: {}, slot: 0 },
      ...this.options.apps.map((a) => ({ d: a.descriptor, options: a.options, slot: this.pipeline.app(a.descriptor.name).slot })),
    ];
    for (const { d, options, slot } of descriptors) {
      const host = this.buildHost(d, options, slot);
      this.hosts.push(host);
      this.byName.set(d.name, host);
    }
    for (const h of this.hosts) h.instantiate();

    const revision = await this.options.topology.ready();
    this.topologyRevision = revision;
    this.startRevision = revision;
    this.resyncAll('start', revision);
    for (const u of this.pendingUpdates.splice(0)) if (u.revision > revision || u.kind === 'reset') this.onTopology(u);
    this.log.info({ apps: this.options.apps.map((a) => a.descriptor.name), revision }, 'runtime started');
  }

  private buildHost(d: AppDescriptor, options: unknown, slot: number): AppHost {
    const log = this.log.child({ app: d.name });
    const tables = new AppTables(d.name, this.pipeline);
    const ref: { host?: AppHost } = {};
    const gate = this.puntGate && d.name !== this.puntGate.app && d.name !== CORE_APP ? this.puntGate.tableId : undefined;
    const flows = new AppFlows(d.name, slot, this.pipeline, this.reconciler, this.metrics, (owner) => ref.host?.touch(owner), gate);
    const topology = this.appTopology();
    const punt = new PuntGuard({
      app: d.name,
      slot,
      spec: (d.punt ?? { tables: [] }) as never,
      limits: resolvePuntLimits(d.name, d.punt as never, options),
      pipeline: this.pipeline,
      reconciler: this.reconciler,
      metrics: this.metrics,
      clock: this.clock,
      log,
      ...(this.options.puntMeters ? { meters: this.options.puntMeters } : {}),
    });
    this.guards.set(d.name, punt);
    const zones = new AppZones(d.name, this.pipeline.app(d.name).zones, this.zoneTable);
    const ctx: AppContext = { name: d.name, options, tables, flows, topology, punt, reply: replyThrough(flows), zones, clock: this.clock, log };
    const host = new AppHost({
      descriptor: d,
      ctx,
      parent: this.root,
      metrics: this.metrics,
      log,
      clock: this.clock,
      onRevision: () => this.checkRevision(),
    });
    ref.host = host;
    return host;
  }

  private appTopology(): AppTopology {
    const src = this.options.topology;
    const bindings = this.bindings;
    const active = this.activeLocal;
    return {
      chassisId: this.options.chassisId,
      get: (t, id) => src.get(t, id),
      all: (t) => src.all(t),
      lookup: (t, index, value) => src.lookup(t, index, value),
      localBindings: () => [...active].map((id) => bindings.get(id)!).filter(Boolean),
      localBinding: (id) => (active.has(id) ? bindings.get(id) : undefined),
      infraPorts: () => this.infra,
    };
  }

  /** The lowest revision every app has processed is what the desired state reflects. */
  private checkRevision(): void {
    let min = Infinity;
    for (const h of this.hosts) min = Math.min(min, h.revision);
    if (min < this.startRevision || !Number.isFinite(min)) return;
    if (!this.reconciler.isComplete) {
      this.reconciler.setComplete(min);
      this.log.info({ revision: min }, 'desired state complete; reconciling');
    } else this.reconciler.markRevision(min);
  }

  // ---------------- topology ----------------

  private onTopology(u: TopologyUpdate): void {
    if (this.stopped) return;
    this.topologyRevision = Math.max(this.topologyRevision, u.revision);
    if (u.kind === 'reset') {
      this.resyncAll('reset', u.revision);
      return;
    }
    for (const c of u.changes) this.deliverChange(c);
    for (const h of this.hosts) h.marker(u.revision);
  }

  /**
   * Every app recomputes from the topology as it is now (a complete snapshot, at
   * start or after a reload): which bound ports are usable is read again, without
   * bound/unbound events, then each app gets a resync and the revision's marker.
   */
  private resyncAll(reason: string, revision: number): void {
    this.activeLocal.clear();
    for (const [portId] of this.bindings) if (this.options.topology.get('logical_port', portId)) this.activeLocal.add(portId);
    for (const h of this.hosts) {
      h.requestResync(reason);
      h.marker(revision);
    }
  }

  private deliverChange(c: TopologyChange): void {
    const kind = c.old === undefined ? 'created' : c.new === undefined ? 'deleted' : 'updated';
    // An update of bookkeeping fields alone reaches only the apps that asked for those (see bookkeeping.ts).
    const bookkeeping = onlyBookkeepingChanged(c.table, c.old, c.new);
    if (bookkeeping) this.metrics.bookkeepingUpdates.inc();
    const change: ModelChange = { kind, table: c.table, id: c.id, old: c.old, new: c.new, revision: c.revision } as ModelChange;
    for (const h of this.hosts) if (h.descriptor.watches?.includes(c.table as TableName) && receives(h, bookkeeping)) h.enqueue('modelChanged', change);
    if (c.table === 'logical_port') this.portChanged(c.id, c.old as LogicalPort | undefined, c.new as LogicalPort | undefined, c.revision, bookkeeping);
  }

  private portChanged(id: string, old: LogicalPort | undefined, cur: LogicalPort | undefined, revision: number, bookkeeping: boolean): void {
    const binding = this.bindings.get(id);
    if (binding) {
      if (cur && !this.activeLocal.has(id)) {
        this.activeLocal.add(id);
        this.broadcastLocal({ kind: 'bound', port: cur, binding, revision });
      } else if (cur && old) {
        this.broadcastLocal({ kind: 'updated', port: cur, oldPort: old, binding, revision }, bookkeeping);
      } else if (!cur && old && this.activeLocal.delete(id)) {
        this.broadcastLocal({ kind: 'unbound', port: old, binding, revision });
      }
    }
    const remoteOf = (p: LogicalPort | undefined): string | null => (p && p.chassisId && p.chassisId !== this.options.chassisId ? p.chassisId : null);
    const wasRemote = remoteOf(old);
    const isRemote = binding ? null : remoteOf(cur);
    let ev: RemotePortEvent | undefined;
    if (isRemote && !wasRemote) ev = { kind: 'added', port: cur!, chassisId: isRemote, revision };
    else if (isRemote && wasRemote) ev = { kind: 'updated', port: cur!, oldPort: old!, chassisId: isRemote, revision };
    else if (!isRemote && wasRemote) ev = { kind: 'removed', port: cur ?? old!, oldPort: old!, chassisId: wasRemote, revision };
    if (ev) for (const h of this.hosts) if (receives(h, bookkeeping && ev.kind === 'updated')) h.enqueue('remotePortChanged', ev);
  }

  /** `bookkeeping`: an update of bookkeeping fields alone, for the apps that asked for those only. */
  private broadcastLocal(ev: LocalPortEvent, bookkeeping = false): void {
    const name: AppEventName = ev.kind === 'bound' ? 'localPortBound' : ev.kind === 'updated' ? 'localPortUpdated' : 'localPortUnbound';
    for (const h of this.hosts) if (receives(h, bookkeeping)) h.enqueue(name, ev);
  }

  /**
   * Input from the controller's OVSDB Interface monitor: an interface with
   * `external_ids:iface-id` appeared on br-int (or changed ofport), or went away.
   */
  bindPort(input: PortBindingInput): void {
    if (this.stopped) return;
    const revision = this.topologyRevision;
    if (input.kind === 'bound') {
      if (input.ofport === undefined || !Number.isInteger(input.ofport) || input.ofport <= 0) {
        this.log.warn({ port: input.portId, ofport: input.ofport }, 'ignoring a binding without a valid ofport');
        return;
      }
      const binding: LocalBinding = { portId: input.portId, ofport: input.ofport, interfaceName: input.interfaceName ?? '' };
      const prev = this.bindings.get(input.portId);
      this.bindings.set(input.portId, binding);
      if (this.startRevision < 0) return;
      const port = this.options.topology.get('logical_port', input.portId);
      if (!port) return;
      if (!this.activeLocal.has(input.portId)) {
        this.activeLocal.add(input.portId);
        this.broadcastLocal({ kind: 'bound', port, binding, revision });
      } else if (!prev || prev.ofport !== binding.ofport || prev.interfaceName !== binding.interfaceName) {
        this.broadcastLocal({ kind: 'updated', port, oldPort: port, binding, revision });
      }
    } else {
      const binding = this.bindings.get(input.portId);
      this.bindings.delete(input.portId);
      if (!binding || !this.activeLocal.delete(input.portId)) return;
      const port = this.options.topology.get('logical_port', input.portId);
      if (port) this.broadcastLocal({ kind: 'unbound', port, binding, revision });
    }
  }

  /**
   * Input from the controller's OVSDB monitor: the ofports of br-int's flow-based
   * tunnel ports (by tunnel type) and of its patch ports to provider bridges (by
   * physical network), e.g. `setInfraPorts({ tunnels: { vxlan: 5, geneve: 6 }, providers: { physnet1: 7 } })`.
   * The whole set each time; a port missing from it is gone. Apps see it as
   * `ctx.topology.infraPorts()` and get an `infraPortsChanged` event when it differs.
   */
  setInfraPorts(ports: InfraPorts): void {
    if (this.stopped) return;
    const next = normalizeInfraPorts(ports);
    const old = this.infra;
    if (JSON.stringify(old) === JSON.stringify(next)) return;
    this.infra = next;
    this.log.info({ infraPorts: next }, 'infrastructure ports changed');
    if (this.startRevision < 0) return;
    for (const h of this.hosts) h.enqueue('infraPortsChanged', { old, new: next });
  }

  get infraPorts(): InfraPorts {
    return this.infra;
  }

  /** Feeds a stream of bindings (the OVSDB monitor's output). */
  bindPorts(input$: Observable<PortBindingInput>): Subscription {
    const sub = input$.subscribe((b) => this.bindPort(b));
    this.subscriptions.push(sub);
    return sub;
  }

  // ---------------- switch ----------------

  /**
   * A switch connected (or reconnected). The reconciler reads its flows back and,
   * once the apps' desired state is complete, fixes only what differs.
   */
  async attachSwitch(channel: SwitchChannel): Promise<void> {
    if (this.channel) this.detachSwitch();
    this.channel = channel;
    this.switchSub = channel.messages$.subscribe({
      next: (m) => {
        if (m.type === 'packet_in' || m.type === 'nx_packet_in2') this.routePacketIn(m);
        else if (m.type === 'flow_removed') this.onFlowRemoved(m);
      },
      complete: () => {
        if (this.channel === channel) this.detachSwitch();
      },
      error: () => {
        if (this.channel === channel) this.detachSwitch();
      },
    });
    const offers = await this.reconciler.attach(channel, { adoptableBy: (tableId) => this.adoptable.get(tableId) });
    if (this.channel !== channel) return;
    for (const h of this.hosts) h.enqueue('switchConnected', { kind: 'connected', datapathId: channel.datapathId });
    for (const [app, offered] of offers) {
      const host = this.byName.get(app);
      const guard = this.guards.get(app);
      // The punt guard takes back its suppressions first; the app is offered the rest of its adoptTables.
      const found = offered.filter((f) => !guard?.adopt(f) && host?.descriptor.adoptTables?.includes(this.pipeline.tableById(f.tableId)?.name ?? ''));
      if (!host || found.length === 0) {
        this.reconciler.adoptionDone(app, channel);
        continue;
      }
      const flows: AppInstalledFlow[] = found.map((f) => ({
        tableId: f.tableId,
        tableName: this.pipeline.tableById(f.tableId)?.name ?? String(f.tableId),
        priority: f.priority,
        match: f.match,
        instructions: f.instructions,
        cookie: f.cookie,
        idleTimeout: f.idleTimeout,
        hardTimeout: f.hardTimeout,
        flags: f.flags,
        durationSec: f.durationSec,
        packetCount: f.packetCount,
        byteCount: f.byteCount,
      }));
      this.log.info({ app, flows: flows.length }, 'offering installed timeout flows to their app for adoption');
      host.enqueue('adoptFlows', { datapathId: channel.datapathId, flows } satisfies AppAdoptableFlows);
      // After the handler: what the app did not take back is deleted.
      host.after(() => this.reconciler.adoptionDone(app, channel));
    }
  }

  /** Table id → the app that declared it in `adoptTables`. */
  private get adoptable(): Map<number, string> {
    if (!this.adoptableTables) {
      this.adoptableTables = new Map();
      for (const a of this.options.apps) {
        // Punt tables too: a suppression in force when the controller restarts is kept until it expires.
        for (const name of [...(a.descriptor.adoptTables ?? []), ...(a.descriptor.punt?.tables ?? []).map((t) => puntTable(t).name)]) {
          const t = this.pipeline.app(a.descriptor.name).tables.find((x) => x.name === name);
          if (t) this.adoptableTables.set(t.id, a.descriptor.name);
        }
      }
    }
    return this.adoptableTables;
  }

  detachSwitch(): void {
    const channel = this.channel;
    if (!channel) return;
    this.channel = undefined;
    this.switchSub?.unsubscribe();
    this.switchSub = undefined;
    this.reconciler.detach(channel);
    for (const h of this.hosts) h.enqueue('switchDisconnected', { kind: 'disconnected', datapathId: channel.datapathId });
  }

  private onFlowRemoved(m: FlowRemoved): void {
    this.reconciler.handleFlowRemoved(m);
  }

  /** A packet-in goes to the app owning the table it was punted from, and to no one else. */
  private routePacketIn(m: PacketIn | NxPacketIn2): void {
    const match: Match = m.type === 'packet_in' ? m.match : m.metadata;
    // Through the punt gate: the punting table is in reg15 (the gate's own punts, reg15 unmarked, stay the gate app's).
    const origin = Number(matchGet(match, REG_PUNT_ORIGIN)?.value ?? 0);
    const tableId = this.puntGate?.tableId === m.tableId && (origin & PUNT_ORIGIN_MARK) !== 0 ? origin & PUNT_ORIGIN_TABLE_MASK : m.tableId;
    const table = this.pipeline.tableById(tableId);
    const host = table ? this.byName.get(table.app) : undefined;
    if (!table || !host || table.app === CORE_APP) {
      this.metrics.packetInsUnrouted.inc();
      return;
    }
    const sourcePortKey = Number(matchGet(match, REG_SRC_PORT)?.value ?? 0);
    const guard = this.guards.get(table.app);
    if (guard?.tables.has(tableId) && !guard.admit(sourcePortKey)) return;
    const cookie = m.cookie ?? 0n;
    const userdata = m.type === 'nx_packet_in2' && m.userdata ? m.userdata : undefined;
    const ev = new PuntedPacket(
      tableId,
      table.name,
      cookie,
      this.reconciler.ownerOfCookie(cookie)?.owner,
      m.reason,
      match,
      Number(matchGet(match, 'in_port')?.value ?? 0),
      sourcePortKey,
      Number((matchGet(match, 'metadata')?.value ?? 0n) & 0xffffffffn),
      m.data,
      userdata,
    );
    host.enqueuePacketIn(ev);
  }

  // ---------------- status ----------------

  /** What each app reports about itself (apps whose descriptor has `status`; one that throws reports its error). */
  appStatus(): Record<string, Readonly<Record<string, unknown>>> {
    const out: Record<string, Readonly<Record<string, unknown>>> = {};
    for (const h of this.hosts) {
      const d = h.descriptor;
      if (!d.status || h.instance === undefined) continue;
      try {
        out[d.name] = d.status(h.instance as never);
      } catch (err) {
        out[d.name] = { error: describeError(err) };
      }
    }
    return out;
  }

  /** What each app's punt guard did (apps with punt tables only). */
  puntStats(): Record<string, PuntStats> {
    const out: Record<string, PuntStats> = {};
    for (const [app, g] of this.guards) if (g.tables.size > 0) out[app] = g.stats();
    return out;
  }

  /** Resolves once every change up to `revision` is confirmed on the switch. */
  waitForRevision(revision: number): Promise<number> {
    return this.reconciler.waitForRevision(revision);
  }

  get syncedRevision$(): Observable<number> {
    return this.reconciler.syncedRevision$;
  }

  /**
   * The failures (flows or groups the switch refused, not installed yet) of every
   * owner that stands for one local port: owner text `port:<id>` in any app, or a
   * keyed owner of kind `port` with the port's key (e.g. a mirror of that port).
   * Empty when all of them are installed. "In sync up to R" does not wait for
   * refused flows (one bad flow would block every later change); this is the
   * per-port check for whoever reports a port as up.
   */
  failedFlowsOfPort(portId: string): OwnerFailure[] {
    const failed = this.reconciler.failedOwners();
    if (failed.length === 0) return failed;
    const key = this.options.topology.get('logical_port', portId)?.key;
    const text = `port:${portId}`;
    return failed.filter((f) => f.owner === text || (key !== undefined && f.kind === OWNER_KINDS.port && f.tag === key >>> 0));
  }

  /** Owners becoming failed (the switch refused some of their flows) and recovering. */
  get ownerFailures$(): Observable<OwnerFailureEvent> {
    return this.reconciler.ownerFailures$;
  }

  /**
   * Nothing queued for any app, none handling an event, and the reconciler has
   * nothing to send or confirm: the switch is in sync with every change seen so far.
   */
  get idle(): boolean {
    return this.pendingUpdates.length === 0 && this.hosts.every((h) => !h.busy) && this.reconciler.idle;
  }

  /** Resolves when every app has handled everything queued so far and the reconciler has sent it. */
  async settle(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      for (const h of this.hosts) await h.idle();
      await new Promise((r) => setImmediate(r));
      await this.reconciler.flush();
      if (this.hosts.every((h) => h.pending === 0)) return;
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.detachSwitch();
    this.reconciler.stop();
    for (const s of this.subscriptions) s.unsubscribe();
    for (const h of [...this.hosts].reverse()) await h.stop();
  }
}

