import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';

/** What the controller itself reports, beside the runtime's and reconciler's metrics (CoreMetrics). */
export class ControllerMetrics {
  readonly portUpSeconds: Histogram;
  readonly localPorts: Gauge<'state'>;
  readonly unknownIfaceIds: Gauge;
  readonly nbWrites: Counter<'kind'>;
  readonly nbWriteFailures: Counter;
  readonly linkUp: Gauge<'link'>;
  readonly alive: Gauge;
  readonly haRole: Gauge<'role'>;
  readonly haGeneration: Gauge;
  readonly haTakeovers: Counter;
  readonly haTakeoverSeconds: Histogram;
  readonly haDemotions: Counter<'reason'>;
  readonly gatewayFailovers: Counter;
  readonly gatewaysActive: Gauge;
  /** The numeric fields of the apps' status (descriptor `status`), read at every scrape from `appStatus`. */
  readonly appStatus: Gauge<'app' | 'name'>;
  readonly heapCollections: Counter;
  /** Set by the daemon once its runtime runs. */
  appStatusSource: (() => Readonly<Record<string, Readonly<Record<string, unknown>>>>) | undefined;

  constructor(readonly registry: Registry, options: { processMetrics?: boolean } = {}) {
    const r = [registry];
    this.portUpSeconds = new Histogram({
      name: 'df_controller_port_up_seconds',
      help: 'From a VM port seen plugged on the integration bridge to its status ACTIVE (flows confirmed by a barrier)',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: r,
    });
    this.localPorts = new Gauge({ name: 'df_controller_local_ports', help: 'Logical ports plugged on this chassis, by binding state', labelNames: ['state'], registers: r });
    this.unknownIfaceIds = new Gauge({ name: 'df_controller_unknown_iface_ids', help: 'Interfaces whose external_ids:iface-id names no logical port (yet)', registers: r });
    this.nbWrites = new Counter({ name: 'df_controller_nb_writes_total', help: 'Port binding writes to the NB DB', labelNames: ['kind'], registers: r });
    this.nbWriteFailures = new Counter({ name: 'df_controller_nb_write_failures_total', help: 'Port binding writes that failed and will be retried', registers: r });
    this.linkUp = new Gauge({ name: 'df_controller_link_up', help: '1 when the link to the NB DB, OVSDB or the switch (OpenFlow) is up', labelNames: ['link'], registers: r });
    this.alive = new Gauge({ name: 'df_controller_chassis_alive', help: '1 while the chassis liveness lease is being renewed', registers: r });
    this.haRole = new Gauge({ name: 'df_controller_ha_role', help: "1 for this controller's OpenFlow role on the integration bridge (master, slave or equal: no standby pair)", labelNames: ['role'], registers: r });
    this.haGeneration = new Gauge({ name: 'df_controller_ha_generation_id', help: 'The OpenFlow generation id this controller claimed master with (standby pair), 0 before it did', registers: r });
    this.haTakeovers = new Counter({ name: 'df_controller_ha_takeovers_total', help: 'Times this controller took the switch over from the active one of its standby pair', registers: r });
    this.haTakeoverSeconds = new Histogram({
      name: 'df_controller_ha_takeover_seconds',
      help: "From the active controller's socket closing to this controller confirmed master by the switch",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: r,
    });
    this.haDemotions = new Counter({ name: 'df_controller_ha_demotions_total', help: 'Times this controller stepped down to slave: a newer master (demoted) or its generation refused as stale', labelNames: ['reason'], registers: r });
    for (const role of ['master', 'slave', 'equal']) this.haRole.set({ role }, role === 'equal' ? 1 : 0);
    this.gatewayFailovers = new Counter({ name: 'df_controller_gateway_failovers_total', help: 'Router gateways this chassis took over because their active gateway chassis died (docs/ha.md)', registers: r });
    this.heapCollections = new Counter({ name: 'df_controller_heap_collections_total', help: 'Full garbage collections after a burst of changes settled (docs/controller.md "Memory")', registers: r });
    this.gatewaysActive = new Gauge({ name: 'df_controller_gateways_active', help: 'Routers whose active gateway chassis is this one', registers: r });
    const source = (): Readonly<Record<string, Readonly<Record<string, unknown>>>> => this.appStatusSource?.() ?? {};
    this.appStatus = new Gauge({
      name: 'df_app_status',
      help: "Numeric fields of what an app reports about itself (e.g. ha-fallback's fallbacks, refreshes, servedPorts); list fields count their entries (e.g. inFallback)",
      labelNames: ['app', 'name'],
      registers: r,
      collect() {
        this.reset();
        for (const [app, st] of Object.entries(source())) {
          for (const [name, v] of Object.entries(st)) {
            if (typeof v === 'number' && Number.isFinite(v)) this.set({ app, name }, v);
            else if (Array.isArray(v)) this.set({ app, name }, v.length);
          }
        }
      },
    });
    for (const link of ['db', 'ovsdb', 'openflow']) this.linkUp.set({ link }, 0);
    this.alive.set(0);
    if (options.processMetrics) collectDefaultMetrics({ register: registry });
  }
}
