import { DfError, type Clock } from '@dragonflow/base';
import { OFP_NO_BUFFER, OfPort, act, type Action } from '@dragonflow/openflow';
import { encodeEthernet, type EthernetFrame } from '@dragonflow/packet';
import type { Logger } from '../observe/logger.js';
import type { AppZones } from './zones.js';
import type { CoreMetrics } from '../observe/metrics.js';
import type { PipelineMap } from '../pipeline/allocator.js';
import { METADATA_NETWORK_MASK, OWNER_KINDS, PUNT_ORIGIN_MARK, REG_DST_PORT, REG_PUNT_ORIGIN, REG_SRC_PORT, ownerHash, ownerKindOf, type OwnerKind, type ScratchRegister } from '../pipeline/registers.js';
import { CORE_APP, type Stage } from '../pipeline/stages.js';
import type { AllocatedTable } from '../pipeline/tables.js';
import type { DesiredFlow, TableRef } from '../reconciler/flow.js';
import type { Instruction } from '@dragonflow/openflow';
import { matchFields } from '../reconciler/keys.js';
import { switchGroupId, switchMeterId, type DesiredGroup, type DesiredMeter, type OwnerId, type Reconciler } from '../reconciler/reconciler.js';
import type { AppPacketIn, InfraPorts, LocalBinding } from '../runtime/events.js';
import type { TopologyReader } from '../runtime/topology.js';
import { PUNT_METER_LOCAL_ID, PUNT_OWNER_PREFIX, type AppPunt } from './punt.js';

/**
 * An owner of desired flows: `"port:<id>"`-style text, optionally with the model
 * object's unique key (which then becomes the cookie's owner tag, so a flow on the
 * switch names its object). Keys are unique per kind of object (port, network,
 * router, …), so the cookie also carries the kind: taken from `kind`, or from the
 * owner text's prefix (`port:…`, `network:…`, `router:…`; see OWNER_KINDS). A keyed
 * owner whose text does not name its kind (`mirror:<port id>`) should say it:
 * `{ id: 'mirror:…', key: port.key, kind: 'port' }`.
 */
export type Owner = string | { readonly id: string; readonly key: number; readonly kind?: Exclude<OwnerKind, 'hash'> };

const ownerText = (o: Owner): string => (typeof o === 'string' ? o : o.id);

/** An app's own tables, and where the rest of the pipeline is. */
export class AppTables {
  private readonly own = new Map<string, AllocatedTable>();

  constructor(
    readonly app: string,
    private readonly pipeline: PipelineMap,
  ) {
    for (const t of pipeline.app(app).tables) this.own.set(t.name, t);
  }

  /** One of the app's tables, by the name it declared. */
  ref(name: string): TableRef {
    const t = this.own.get(name);
    if (!t) throw new DfError('PIPELINE_NO_TABLE', `app '${this.app}' has no table '${name}' (declared: ${[...this.own.keys()].join(', ') || 'none'})`, { context: { app: this.app, table: name } });
    return t;
  }

  id(name: string): number {
    return this.ref(name).id;
  }

  /** The table after the app's table `name` in the chain (where its miss goes). */
  next(name: string): number {
    const t = this.own.get(name) ?? (this.ref(name) as AllocatedTable);
    if (t.next === null) throw new DfError('PIPELINE_NO_TABLE', `table '${t.qualifiedName}' is the last table`);
    return t.next;
  }

  /** Where a packet entering `stage` goes (the stage's first table, or the next non-empty stage's). */
  stageEntry(stage: Stage): number {
    return this.pipeline.stageEntry(stage);
  }

  /** The first table after `stage`. */
  stageExit(stage: Stage): number {
    return this.pipeline.stageExit(stage);
  }

  /** The app's tables in pipeline order. */
  get all(): readonly TableRef[] {
    return [...this.own.values()];
  }

  owns(tableId: number): boolean {
    return this.pipeline.ownerOf(tableId) === this.app;
  }

  /** The scratch register the app declared as `name`. */
  register(name: string): ScratchRegister {
    const r = this.pipeline.app(this.app).registers[name];
    if (!r) throw new DfError('PIPELINE_NO_REGISTER', `app '${this.app}' did not declare register '${name}'`, { context: { app: this.app, register: name } });
    return r;
  }
}

export interface PacketOutSpec {
  readonly data: Uint8Array;
  /** The port the packet is treated as arriving on (default OFPP_CONTROLLER). */
  readonly inPort?: number;
  /** Default: output to OFPP_TABLE, i.e. run the packet through the pipeline from table 0. */
  readonly actions?: readonly Action[];
  /**
   * The packet-in this packet-out sends on (a punted packet going on its way once
   * its flow is in); used when neither `inPort` nor `actions` is given. A packet
   * that entered from a local port runs the pipeline from table 0 with that
   * `in_port`, as before. A packet classified without a port of this switch (a
   * stranded port's punt on the fallback chassis: `in_port` 0, `reg6` its key;
   * docs/ha.md "Fallback path") gets its classification back instead — `reg6` and
   * the network in `metadata` — and continues after the classify stage.
   */
  readonly from?: Pick<AppPacketIn, 'inPort' | 'sourcePortKey' | 'networkKey'>;
}

/** An OpenFlow port number a packet can enter by (not 0, LOCAL, CONTROLLER, …). */
export const isSwitchPort = (port: number): boolean => Number.isInteger(port) && port > 0 && port < OfPort.MAX;

/**
 * A packet-in classified as a port's without entering by a port of this switch: a
 * stranded port's punt that the fallback chassis classified (reg6 set, in_port
 * cleared). Its packet-outs carry that context themselves.
 */
export const classifiedRemotely = (p: Pick<AppPacketIn, 'inPort' | 'sourcePortKey'>): boolean => p.sourcePortKey !== 0 && !isSwitchPort(p.inPort);

/** How an app hands its desired flows to the core. Only the core talks to the switch. */
export class AppFlows {
  constructor(
    readonly app: string,
    private readonly slot: number,
    private readonly pipeline: PipelineMap,
    private readonly reconciler: Reconciler,
    private readonly metrics: CoreMetrics,
    private readonly onReplace: (owner: string) => void = () => undefined,
    /** The punt gate's table id when an app declares one (docs/ha.md): this app's punts go through it. */
    private readonly puntGate?: number,
  ) {}

  /**
   * With a punt gate, a flow's `output:CONTROLLER` actions become `reg15 :=
   * PUNT_ORIGIN_MARK | <this table>; resubmit(,gate)`: the gate decides whether the
   * packet goes to the controller or to the fallback chassis, and the packet-in
   * still reaches the punting app (the runtime reads the table from reg15).
   */
  private gated(f: DesiredFlow): DesiredFlow {
    const gate = this.puntGate;
    if (gate === undefined) return f;
    const punts = (a: Action): boolean => a.type === 'output' && a.port === OfPort.CONTROLLER;
    // apply_actions only: resubmit belongs to no action set (a controller output in write_actions is left as it is and does not fall back).
    if (!f.instructions.some((i) => i.type === 'apply_actions' && i.actions.some(punts))) return f;
    const through: Action[] = [
      { type: 'set_field', field: REG_PUNT_ORIGIN, value: (PUNT_ORIGIN_MARK | f.table) >>> 0 },
      { type: 'resubmit', table: gate },
    ];
    const instructions = f.instructions.map((i): Instruction => (i.type === 'apply_actions' ? { ...i, actions: i.actions.flatMap((a) => (punts(a) ? through : [a])) } : i));
    return { ...f, instructions };
  }

  private ownerId(owner: Owner): OwnerId {
    const text = ownerText(owner);
    if (text.length === 0) throw new DfError('OWNER_INVALID', `app '${this.app}': an owner must be a non-empty string`);
    if (text.startsWith(PUNT_OWNER_PREFIX)) throw new DfError('OWNER_INVALID', `app '${this.app}': owner '${text}' starts with '${PUNT_OWNER_PREFIX}', which names the core's punt guard flows`, { context: { app: this.app, owner: text } });
    if (typeof owner === 'string') return { app: this.app, slot: this.slot, owner: text, kind: OWNER_KINDS.hash, tag: ownerHash(owner) };
    if (!Number.isInteger(owner.key) || owner.key < 0 || owner.key > 0xffff_ffff) {
      throw new DfError('OWNER_INVALID', `app '${this.app}': owner '${text}' has key ${String(owner.key)}; a unique key is an integer 0..2^32-1`, { context: { app: this.app, owner: text } });
    }
    const kind = owner.kind ?? ownerKindOf(text) ?? 'object';
    if (kind === ('hash' as string) || !Object.hasOwn(OWNER_KINDS, kind)) {
      throw new DfError('OWNER_INVALID', `app '${this.app}': owner '${text}' has kind '${String(kind)}'; expected one of ${Object.keys(OWNER_KINDS).filter((k) => k !== 'hash').join(', ')}`, { context: { app: this.app, owner: text } });
    }
    return { app: this.app, slot: this.slot, owner: text, kind: OWNER_KINDS[kind], tag: owner.key >>> 0 };
  }

  /**
   * Sets the complete desired flows of `owner`, with the groups and meters they use
   * (`group.ff(...)`, `meter.pktps(...)`), replacing the previous ones. The core
   * installs a group or meter before the flows that refer to it and removes it
   * after them.
   */
  replace(owner: Owner, flows: readonly DesiredFlow[], objects: readonly (DesiredGroup | DesiredMeter)[] = []): void {
    for (const f of flows) this.check(f);
    const id = this.ownerId(owner);
    this.onReplace(id.owner);
    this.reconciler.replace(id, flows.map((f) => this.gated(f)), objects);
  }

  /** Drops every flow, group and meter of `owner`. */
  remove(owner: Owner): void {
    const text = ownerText(owner);
    if (text.startsWith(PUNT_OWNER_PREFIX)) return;
    this.onReplace(text);
    this.reconciler.remove({ app: this.app, owner: text });
  }

  /**
   * Drops every flow of `owner` because the app is over one of its own caps (not
   * because the owner's object changed): the same as remove, counted in
   * df_app_flows_evicted_total so an operator sees a cap being hit.
   */
  evict(owner: Owner): void {
    this.remove(owner);
    this.metrics.flowsEvicted.inc({ app: this.app });
  }

  /** The owners this app currently has flows for (not the punt guard's, which the core manages). */
  owners(): string[] {
    return this.reconciler.ownersOf(this.app).filter((o) => !o.startsWith(PUNT_OWNER_PREFIX));
  }

  /** The desired flows of one owner (decoded from the core's compact form: for tests and diagnostics). */
  flowsOf(owner: Owner): DesiredFlow[] {
    return this.reconciler.flowsOf(this.app, ownerText(owner));
  }

  /** Whether `owner` desires any flow now (cheap: nothing is decoded). */
  hasFlows(owner: Owner): boolean {
    return this.reconciler.hasFlows(this.app, ownerText(owner));
  }

  /** The switch's id for the app's group `localId` (use it in `act.group()`). */
  groupId(localId: number): number {
    return switchGroupId(this.slot, localId);
  }

  /** The switch's id for the app's meter `localId` (use it as a flow's `meter`, or in `act.controller({ meterId })`). */
  meterId(localId: number): number {
    if (localId === PUNT_METER_LOCAL_ID) throw new DfError('METER_INVALID', `app '${this.app}': meter id ${localId} is the punt guard's (declare punt.meter instead); apps use 1..${localId - 1}`, { context: { app: this.app, meterId: localId } });
    return switchMeterId(this.slot, localId);
  }

  /**
   * Reactive install: makes `flows` the desired flows of `owner` and sends them to
   * the switch at once, then (in the same ordered batch) the packet-out — so the
   * punted packet goes through the pipeline after its flow is in. Resolves when the
   * switch confirmed both.
   */
  async installNow(owner: Owner, flows: readonly DesiredFlow[], packetOut?: PacketOutSpec): Promise<void> {
    for (const f of flows) this.check(f);
    const id = this.ownerId(owner);
    this.onReplace(id.owner);
    await this.reconciler.installNow(id, flows.map((f) => this.gated(f)), packetOut ? [this.packetOutRequest(packetOut)] : []);
  }

  /**
   * Sends the installed flows of `owner` again as OFPFC_ADD, unchanged: the switch
   * replaces each in place and restarts its hard and idle timers (a dead-man
   * switch: a liveness flow stays while the controller keeps refreshing it). Not a
   * change of desired state, so not drift: the reconciler's view stays the same.
   * Resolves once written (no barrier); rejects without a switch.
   */
  async refresh(owner: Owner): Promise<void> {
    await this.reconciler.refresh(this.app, ownerText(owner));
  }

  /**
   * Sends a packet (an ARP or ICMP reply, or a punted packet) through the switch.
   * Resolves when the switch confirmed it (a barrier shared with the tick's other
   * immediate requests); with `confirm: false`, once it is written — no barrier is
   * sent for it, and an error the switch reports for it is only logged.
   */
  packetOut(spec: PacketOutSpec, options: SendOptions = {}): Promise<void> {
    // Not async: the reply path of a punt is hot, and each async layer is a promise and a microtask more.
    try {
      return this.reconciler.sendNow([this.packetOutRequest(spec)], this.app, options.confirm ?? true);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Actions that put a packet back where a remotely classified packet-in was
   * (`reg6` := its port, `metadata` := its network) and go on to `table`.
   */
  private contextActions(from: Pick<AppPacketIn, 'sourcePortKey' | 'networkKey'>, table: number): Action[] {
    return [act.setField(REG_SRC_PORT, from.sourcePortKey), act.load('metadata', BigInt(from.networkKey), METADATA_NETWORK_MASK), act.resubmit(table)];
  }

  /**
   * Actions that take a controller-built packet to port `portKey` on network
   * `networkKey` through the egress stage (`reg7` := the port, `metadata` := its
   * network): a port of another chassis is reached by tunnel like any packet for it.
   */
  toPortActions(portKey: number, networkKey: number): Action[] {
    return [act.setField(REG_DST_PORT, portKey), act.load('metadata', BigInt(networkKey), METADATA_NETWORK_MASK), act.resubmit(this.pipeline.stageEntry('egress'))];
  }

  private packetOutRequest(spec: PacketOutSpec) {
    const from = spec.inPort === undefined && spec.actions === undefined ? spec.from : undefined;
    const resume = from !== undefined && classifiedRemotely(from);
    return {
      type: 'packet_out' as const,
      bufferId: OFP_NO_BUFFER,
      inPort: resume ? OfPort.CONTROLLER : (spec.inPort ?? from?.inPort ?? OfPort.CONTROLLER),
      actions: resume ? this.contextActions(from, this.pipeline.stageExit('classify')) : (spec.actions ?? [{ type: 'output' as const, port: OfPort.TABLE }]),
      data: spec.data,
    };
  }

  /** The Faucet rule: a flow must be in one of the app's tables and match only declared fields. */
  private check(f: DesiredFlow): void {
    const t = this.pipeline.tableById(f.table);
    const refuse = (message: string, context: Record<string, unknown>): never => {
      this.metrics.flowsRefused.inc({ app: this.app });
      throw new DfError('FLOW_REFUSED', `app '${this.app}': ${message}`, { context: { app: this.app, table: t?.qualifiedName ?? f.table, ...context } });
    };
    const fields = matchFields(f.match);
    const missFlow = f.priority === 0 && fields.length === 0;
    // The core owns every table's miss flow; otherwise a flow must be in one of the app's own tables.
    if (!t || (t.app !== this.app && !(missFlow && this.app === CORE_APP))) {
      refuse(`flow for table ${f.table}${t ? ` (${t.qualifiedName})` : ''}, which the app does not own`, {});
    }
    if (!Number.isInteger(f.priority) || f.priority < 0 || f.priority > 0xffff) refuse(`priority ${f.priority} is not 0..65535`, {});
    if (missFlow && this.app !== CORE_APP) refuse(`a priority-0 catch-all in ${t!.qualifiedName} is the table's miss flow, which the core installs; declare 'miss' on the table instead`, {});
    if (t!.match) {
      for (const field of fields) {
        if (!t!.match.has(field)) refuse(`table ${t!.qualifiedName} does not declare match field '${field}' (declared: ${[...t!.match].join(', ')})`, { field });
      }
    }
    for (const i of f.instructions) {
      if (i.type === 'goto_table' && i.tableId <= f.table) refuse(`goto_table ${i.tableId} from table ${f.table} goes backwards`, { goto: i.tableId });
      if (i.type === 'goto_table' && !this.pipeline.tableById(i.tableId)) refuse(`goto_table ${i.tableId}: no such table`, { goto: i.tableId });
    }
  }
}

/** The local view apps read: model objects plus the ports bound on this chassis. */
export interface AppTopology extends TopologyReader {
  /** This chassis' id (the NB Chassis object's id). */
  readonly chassisId: string;
  /** Ports bound on this chassis' br-int. */
  localBindings(): readonly LocalBinding[];
  localBinding(portId: string): LocalBinding | undefined;
  /** br-int's tunnel and provider patch ports (empty until the controller reports them). */
  infraPorts(): InfraPorts;
}

/** Everything the runtime gives one app. Also injectable piecewise by token. */
export interface AppContext<O = unknown> {
  readonly name: string;
  readonly options: O;
  readonly tables: AppTables;
  readonly flows: AppFlows;
  readonly topology: AppTopology;
  /** The app's punt path (budget, suppressions, meter): see the descriptor's `punt`. */
  readonly punt: AppPunt;
  /**
   * Sends a controller-built packet (an ARP/ND/ICMP/DHCP answer) back out of the
   * port `to` came in on. Resolves false, sending nothing, when `to` did not come
   * from a local port (a tunnel or provider packet has no port to answer to).
   */
  reply(to: ReplyTarget, frame: EthernetFrame | Uint8Array, options?: SendOptions): Promise<boolean>;
  /** Conntrack zones: the app's declared fixed zones and the per-port/network/router ones (docs/pipeline.md). */
  readonly zones: AppZones;
  readonly clock: Clock;
  readonly log: Logger;
}

/** How a packet-out is sent (`ctx.reply`, `ctx.flows.packetOut`). */
export interface SendOptions {
  /**
   * Wait for the switch's confirmation (a barrier; the default). False: resolve once
   * written, with no barrier — for answers nobody waits for (a DHCP reply), which
   * spares the switch a barrier and the controller its reply per packet. An error
   * the switch sends for an unconfirmed packet is logged by the connection.
   */
  readonly confirm?: boolean;
}

/** Whom `ctx.reply` answers: the packet-in (its port, and its network for a port of another chassis). */
export type ReplyTarget = Pick<AppPacketIn, 'inPort' | 'sourcePortKey'> & Partial<Pick<AppPacketIn, 'networkKey'>>;

const NOT_SENT = Promise.resolve(false);
const sent = (): boolean => true;

/**
 * `ctx.reply` of an app: a packet-out through the app's flows to the asking port —
 * out of its ofport when it is local; through the egress stage (so by tunnel to its
 * chassis) when the packet-in was a stranded port's punt classified here by the
 * fallback chassis (docs/ha.md "Fallback path").
 */
export function replyThrough(flows: AppFlows): AppContext['reply'] {
  // Not async (one promise per reply instead of a chain of them): a throw still comes back as a rejection.
  return (to, frame, options) => {
    try {
      // reg6 is set by classify for VM ports only; in_port must be a real port (not LOCAL, CONTROLLER, …) unless the port is another chassis'.
      if (to.sourcePortKey === 0) return NOT_SENT;
      const data = frame instanceof Uint8Array ? frame : encodeEthernet(frame);
      if (isSwitchPort(to.inPort)) return flows.packetOut({ data, actions: [{ type: 'output', port: to.inPort }] }, options).then(sent);
      if (to.networkKey === undefined || to.networkKey === 0) return NOT_SENT;
      return flows.packetOut({ data, actions: flows.toPortActions(to.sourcePortKey, to.networkKey) }, options).then(sent);
    } catch (err) {
      return Promise.reject(err);
    }
  };
}
