import { Counter, Gauge, Registry } from 'prom-client';

/**
 * The runtime's and reconciler's Prometheus metrics, created in a registry the
 * caller owns (the controller exposes it; tests use a fresh one each).
 */
export class CoreMetrics {
  readonly flowMods: Counter<'command'>;
  readonly groupMods: Counter<'command'>;
  readonly meterMods: Counter<'command'>;
  readonly batches: Counter;
  readonly switchErrors: Counter<'app'>;
  readonly conflicts: Counter<'app'>;
  readonly desiredFlows: Gauge;
  readonly installedFlows: Gauge;
  readonly syncedRevision: Gauge;
  readonly failedOwners: Gauge;
  readonly flowRetries: Counter;
  readonly handlerErrors: Counter<'app' | 'event'>;
  readonly resyncs: Counter<'app' | 'reason'>;
  /** NB updates that changed bookkeeping fields only (a port's status…), not handed to apps. */
  readonly bookkeepingUpdates: Counter;
  readonly packetIns: Counter<'app'>;
  readonly packetInsDropped: Counter<'app'>;
  readonly packetInsUnrouted: Counter;
  readonly flowsRefused: Counter<'app'>;
  readonly punts: Counter<'app'>;
  readonly puntsRateLimited: Counter<'app'>;
  readonly puntSuppressions: Counter<'app'>;
  readonly flowsEvicted: Counter<'app'>;

  constructor(readonly registry: Registry = new Registry()) {
    const r = [registry];
    this.flowMods = new Counter({ name: 'df_reconciler_flow_mods_total', help: 'Flow-mods sent to the switch', labelNames: ['command'], registers: r });
    this.groupMods = new Counter({ name: 'df_reconciler_group_mods_total', help: 'Group-mods sent to the switch', labelNames: ['command'], registers: r });
    this.meterMods = new Counter({ name: 'df_reconciler_meter_mods_total', help: 'Meter-mods sent to the switch', labelNames: ['command'], registers: r });
    this.batches = new Counter({ name: 'df_reconciler_batches_total', help: 'Batches sent, each confirmed by a barrier', registers: r });
    this.switchErrors = new Counter({ name: 'df_reconciler_switch_errors_total', help: 'Errors the switch reported for our requests', labelNames: ['app'], registers: r });
    this.conflicts = new Counter({ name: 'df_reconciler_owner_conflicts_total', help: 'Flows desired by two owners at once', labelNames: ['app'], registers: r });
    this.desiredFlows = new Gauge({ name: 'df_reconciler_desired_flows', help: 'Flows in the desired state', registers: r });
    this.installedFlows = new Gauge({ name: 'df_reconciler_installed_flows', help: 'Flows believed installed on the switch', registers: r });
    this.syncedRevision = new Gauge({ name: 'df_reconciler_synced_revision', help: 'NB revision the switch is confirmed in sync with', registers: r });
    this.failedOwners = new Gauge({ name: 'df_reconciler_failed_owners', help: 'Owners with flows or groups the switch refused (retried with backoff)', registers: r });
    this.flowRetries = new Counter({ name: 'df_reconciler_retries_total', help: 'Refused flows and groups sent again (backoff timer)', registers: r });
    this.handlerErrors = new Counter({ name: 'df_app_handler_errors_total', help: 'App event handlers that threw', labelNames: ['app', 'event'], registers: r });
    this.resyncs = new Counter({ name: 'df_app_resyncs_total', help: 'Full recomputes of an app', labelNames: ['app', 'reason'], registers: r });
    this.bookkeepingUpdates = new Counter({ name: 'df_runtime_bookkeeping_updates_total', help: 'NB updates that changed bookkeeping fields only (version, update time, a port status or binding host): not handed to apps unless they ask', registers: r });
    this.packetIns = new Counter({ name: 'df_app_packet_ins_total', help: 'Packet-ins delivered to an app', labelNames: ['app'], registers: r });
    this.packetInsDropped = new Counter({ name: 'df_app_packet_ins_dropped_total', help: 'Packet-ins dropped because the app buffer was full', labelNames: ['app'], registers: r });
    this.packetInsUnrouted = new Counter({ name: 'df_packet_ins_unrouted_total', help: 'Packet-ins from a table no app owns', registers: r });
    this.flowsRefused = new Counter({ name: 'df_app_flows_refused_total', help: 'Desired flows refused (wrong table, undeclared match field)', labelNames: ['app'], registers: r });
    this.punts = new Counter({ name: 'df_punts_total', help: "Packet-ins from an app's punt tables within their source port's budget", labelNames: ['app'], registers: r });
    this.puntsRateLimited = new Counter({ name: 'df_punts_rate_limited_total', help: "Packet-ins from an app's punt tables dropped: their source port was over its budget", labelNames: ['app'], registers: r });
    this.puntSuppressions = new Counter({ name: 'df_punt_suppressions_total', help: 'Source ports cut off in the switch for going over their punt budget', labelNames: ['app'], registers: r });
    this.flowsEvicted = new Counter({ name: 'df_app_flows_evicted_total', help: 'Owners whose flows an app evicted to stay within a cap (e.g. exact routing flows per port)', labelNames: ['app'], registers: r });
  }
}
