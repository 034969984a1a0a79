import { Backoff, describeError, isDfError, systemClock, type Clock } from '@dragonflow/base';
import type { Logger } from '@dragonflow/core';
import type { OwnerFailure, PortBindingInput } from '@dragonflow/core/host';
import { NbErrorCode, type LogicalPort, type NbApi, type NbCacheUpdate, type TableName } from '@dragonflow/nb';
import type { InterfaceState } from '@dragonflow/ovsdb';
import { Subject, filter, type Observable, type Subscription } from 'rxjs';
import { PortBatch } from './port-batch.js';
import { StoppedError, sleep } from './retry.js';
import type { ControllerMetrics } from './metrics.js';

/** What the binder needs from the runtime: the binding input, "flows confirmed up to revision R", and which of a port's flows the switch refused. */
export interface BinderRuntime {
  bindPort(input: PortBindingInput): void;
  waitForRevision(revision: number): Promise<number>;
  /** The owners standing for this port whose flows the switch refused (and a retry has not installed yet). */
  failedFlowsOfPort(portId: string): readonly Pick<OwnerFailure, 'app' | 'owner' | 'errors'>[];
  /** Any owner becoming failed or recovering. */
  readonly ownerFailures$: Observable<unknown>;
}

/** What the binder follows: the NB local cache's ordered stream (the one the runtime follows too). */
export interface BinderSource {
  readonly updates$: Observable<NbCacheUpdate>;
  /** Whether the DB has this object, also when it is outside this chassis' scope. */
  inDb(table: TableName, id: string): boolean;
}

export interface PortBinderOptions {
  readonly nb: NbApi;
  readonly chassisId: string;
  readonly chassisName: string;
  /**
   * The machine's hostname: a port whose binding:host_id is this (Nova sends its compute
   * host's name) keeps it when bound here, instead of it being replaced by the chassis name.
   */
  readonly hostname?: string;
  readonly runtime: BinderRuntime;
  readonly log: Logger;
  readonly clock?: Clock;
  readonly metrics?: ControllerMetrics;
}

/** Where one plugged port stands. */
export type BindingState = 'binding' | 'waiting-for-flows' | 'active' | 'flows-failed' | 'admin-down' | 'unknown-port' | 'retrying';

export interface PortReport {
  readonly portId: string;
  readonly interfaceName: string;
  readonly ofport: number;
  readonly state: BindingState;
  readonly detail?: string;
}

export interface BinderReport {
  readonly plugged: number;
  readonly active: number;
  readonly ports: readonly PortReport[];
  /** iface-ids that name no logical port (yet): bound as soon as the port is created. */
  readonly unknownIfaceIds: readonly { readonly ifaceId: string; readonly interfaceName: string }[];
  /** Interfaces with an iface-id that vswitchd could not open (ofport -1). */
  readonly failedInterfaces: readonly { readonly interfaceName: string; readonly ifaceId: string; readonly error: string }[];
}

interface Plug {
  readonly portId: string;
  readonly ofport: number;
  readonly interfaceName: string;
  /** When the port was first seen plugged (clock ms), for plug → ACTIVE latency. */
  readonly since: number;
}

interface Worker {
  dirty: boolean;
}

/** Interface types that are switch plumbing, never a VM's port. */
const INFRA_TYPES = new Set(['patch', 'vxlan', 'geneve', 'gre', 'stt', 'lisp', 'bareudp', 'erspan', 'ip6erspan', 'gtpu']);

class Superseded extends Error {}

/**
 * Binds logical ports to this chassis from what is plugged on the integration
 * bridge (ARCHITECTURE §7): an interface with `external_ids:iface-id=<port id>`
 * and an ofport.
 *
 * For each plugged port: tell the runtime (its flows get computed), set the port's
 * binding chassis in the NB, wait until the reconciler confirms the switch is in
 * sync up to the revision of that port record (barrier), and only then set status
 * ACTIVE. Unplugged: the runtime drops the flows, the NB port loses its binding
 * chassis and goes DOWN. An iface-id naming no port is reported and bound as soon
 * as the port is created. Every NB write is retried with backoff while the DB is
 * unreachable; one port's work never blocks another's.
 */
export class PortBinder {
  private readonly clock: Clock;
  private readonly log: Logger;
  private plugged = new Map<string, Plug>();
  private readonly failed = new Map<string, { interfaceName: string; ifaceId: string; error: string }>();
  private readonly workers = new Map<string, Worker>();
  private readonly states = new Map<string, { state: BindingState; detail?: string }>();
  private readonly unknown = new Set<string>();
  private readonly changes = new Subject<string>();
  private readonly abort = new AbortController();
  private source: BinderSource | undefined;
  private sourceSub: Subscription | undefined;
  private interfacesSeen = false;
  private gaugesQueued = false;
  private readonly duplicateWarned = new Set<string>();
  private readonly failuresSub: Subscription;
  /** A standby's binder: feeds the runtime but writes nothing to the NB (the active controller does); ports to look at once active. */
  private passive = false;
  private readonly deferred = new Set<string>();
  /** Reads and writes of the ports handled in one turn go to the NB together (a bulk's N status writes: one transaction per 100). */
  private readonly batch: PortBatch;

  constructor(private readonly options: PortBinderOptions) {
    this.batch = new PortBatch(options.nb);
    this.clock = options.clock ?? systemClock;
    this.log = options.log;
    // A port's flows refused (or, after a retry, installed): look at its status again.
    this.failuresSub = options.runtime.ownerFailures$.subscribe(() => this.recheckFailures());
  }

  /**
   * The integration bridge's interfaces, as the OVSDB monitor sees them now. Called
   * with every snapshot; works out what was plugged, moved or unplugged.
   */
  setInterfaces(snapshot: ReadonlyMap<string, InterfaceState>): void {
    if (this.abort.signal.aborted) return;
    const next = new Map<string, Plug>();
    this.failed.clear();
    const byName = [...snapshot.values()].sort((a, b) => a.name.localeCompare(b.name));
    for (const i of byName) {
      if (!i.ifaceId || INFRA_TYPES.has(i.type)) continue;
      if (i.ofport === -1) {
        this.failed.set(i.name, { interfaceName: i.name, ifaceId: i.ifaceId, error: i.error ?? 'vswitchd could not open the interface' });
        continue;
      }
      if (i.ofport === undefined || i.ofport <= 0) continue;
      const prev = this.plugged.get(i.ifaceId);
      const taken = next.get(i.ifaceId);
      if (taken) {
        // Two interfaces claim one logical port: keep the one already bound.
        if (!this.duplicateWarned.has(i.ifaceId)) {
          this.duplicateWarned.add(i.ifaceId);
          this.log.warn({ port: i.ifaceId, interfaces: [taken.interfaceName, i.name] }, 'two interfaces carry the same iface-id; binding only one of them');
        }
        if (prev?.interfaceName !== i.name) continue;
      }
      const same = prev && prev.interfaceName === i.name;
      next.set(i.ifaceId, { portId: i.ifaceId, ofport: i.ofport, interfaceName: i.name, since: same ? prev.since : this.clock.now() });
    }
    const previous = this.plugged;
    this.plugged = next;
    for (const [id, plug] of next) {
      const prev = previous.get(id);
      if (prev && prev.ofport === plug.ofport && prev.interfaceName === plug.interfaceName) continue;
      this.options.runtime.bindPort({ kind: 'bound', portId: id, ofport: plug.ofport, interfaceName: plug.interfaceName });
      this.log.info({ port: id, interface: plug.interfaceName, ofport: plug.ofport }, prev ? 'plugged port moved' : 'port plugged');
      this.schedule(id);
    }
    for (const [id, prev] of previous) {
      if (next.has(id)) continue;
      this.options.runtime.bindPort({ kind: 'unbound', portId: id, interfaceName: prev.interfaceName });
      this.log.info({ port: id, interface: prev.interfaceName }, 'port unplugged');
      this.schedule(id);
    }
    this.interfacesSeen = true;
    this.updateGauges();
  }

  /**
   * Follows the NB local cache's ordered stream (after the runtime subscribed to it,
   * so a port's change reaches the runtime first): logical port changes, and iface-ids
   * that named no port and now do. Call once, when the cache runs.
   */
  follow(source: BinderSource): void {
    this.sourceSub?.unsubscribe();
    this.source = source;
    this.sourceSub = source.updates$.subscribe((u) => {
      for (const c of u.changes) if (c.table === 'logical_port') this.portChanged(c.id, c.old, c.new);
      this.recheckUnknown();
    });
    this.recheckUnknown();
  }

  /**
   * A logical port changed in the NB (from the local cache). Re-examined when it
   * matters to its binding: created or deleted, bound or unbound, admin state, or a
   * status someone else wrote.
   */
  portChanged(id: string, old: LogicalPort | undefined, cur: LogicalPort | undefined): void {
    if (this.abort.signal.aborted) return;
    const me = this.options.chassisId;
    const plugged = this.plugged.has(id);
    const relevant =
      old === undefined ||
      cur === undefined ||
      old.chassisId !== cur.chassisId ||
      old.adminStateUp !== cur.adminStateUp ||
      (cur.chassisId === me && old.status !== cur.status && this.states.get(id)?.state === 'active');
    if (!relevant) return;
    if (plugged || (cur?.chassisId === me && this.interfacesSeen) || this.unknown.has(id)) this.schedule(id);
  }

  /**
   * Ports the NB says are bound here. Once the interfaces are known, any without an
   * interface (unplugged while the controller was down) is unbound.
   */
  reconcileBoundPorts(ports: readonly LogicalPort[]): void {
    if (!this.interfacesSeen) return;
    for (const p of ports) if (p.chassisId === this.options.chassisId && !this.plugged.has(p.id)) this.schedule(p.id);
  }

  /** Whether some port's binding or status is being written (or waits for its flows). */
  get busy(): boolean {
    return this.workers.size > 0;
  }

  report(): BinderReport {
    const ports: PortReport[] = [];
    for (const plug of this.plugged.values()) {
      const s = this.states.get(plug.portId) ?? { state: 'binding' as const };
      ports.push({ portId: plug.portId, interfaceName: plug.interfaceName, ofport: plug.ofport, state: s.state, ...(s.detail ? { detail: s.detail } : {}) });
    }
    return {
      plugged: ports.length,
      active: ports.filter((p) => p.state === 'active').length,
      ports,
      unknownIfaceIds: [...this.unknown].map((id) => ({ ifaceId: id, interfaceName: this.plugged.get(id)?.interfaceName ?? '' })),
      failedInterfaces: [...this.failed.values()],
    };
  }

  /**
   * Passive (the standby of a pair): plugged ports still reach the runtime, but no
   * binding or status is written — the active controller writes them. Turned
   * active (a takeover), every port seen meanwhile is looked at again.
   */
  setPassive(passive: boolean): void {
    if (passive === this.passive) return;
    this.passive = passive;
    if (passive) return;
    const ids = new Set([...this.deferred, ...this.plugged.keys()]);
    this.deferred.clear();
    for (const id of ids) this.schedule(id);
  }

  stop(): void {
    this.failuresSub.unsubscribe();
    this.sourceSub?.unsubscribe();
    this.abort.abort();
    this.changes.next('*');
  }

  /** iface-ids that named no logical port: bound as soon as the cache has seen the port created. */
  private recheckUnknown(): void {
    if (this.unknown.size === 0 || !this.source || this.abort.signal.aborted) return;
    for (const id of this.unknown) if (this.source.inDb('logical_port', id)) this.schedule(id);
  }

  /** Ports whose status no longer matches whether the switch refused some of their flows. */
  private recheckFailures(): void {
    if (this.abort.signal.aborted) return;
    for (const id of this.plugged.keys()) {
      const state = this.states.get(id)?.state;
      if (state !== 'active' && state !== 'flows-failed') continue;
      const failed = this.options.runtime.failedFlowsOfPort(id).length > 0;
      if (failed !== (state === 'flows-failed')) this.schedule(id);
    }
  }

  // ------------------------------------------------------------------ workers

  private schedule(portId: string): void {
    if (this.passive) {
      this.deferred.add(portId);
      return;
    }
    const w = this.workers.get(portId);
    if (w) {
      w.dirty = true;
      this.changes.next(portId);
      return;
    }
    const worker: Worker = { dirty: true };
    this.workers.set(portId, worker);
    void this.run(portId, worker);
  }

  private async run(portId: string, w: Worker): Promise<void> {
    try {
      while (w.dirty && !this.abort.signal.aborted) {
        w.dirty = false;
        await this.converge(portId, w);
      }
    } finally {
      this.workers.delete(portId);
      this.updateGauges();
    }
  }

  /** Brings the NB binding of one port in line with what is plugged, retrying until it is or the plug changes. */
  private async converge(portId: string, w: Worker): Promise<void> {
    const backoff = new Backoff({ initialMs: 100, maxMs: 5_000 });
    for (;;) {
      try {
        await this.convergeOnce(portId);
        return;
      } catch (err) {
        if (err instanceof Superseded || err instanceof StoppedError || this.abort.signal.aborted) return;
        if (isDfError(err, NbErrorCode.CONFLICT)) {
          // Someone wrote the port in between: read it again at once.
          if (w.dirty) return;
          continue;
        }
        const delay = backoff.next();
        this.options.metrics?.nbWriteFailures.inc();
        if (this.plugged.has(portId)) this.setState(portId, 'retrying', describeError(err));
        this.log.warn({ port: portId, retryInMs: delay, err: describeError(err) }, 'cannot update the port binding in the NB DB; retrying');
        try {
          await this.waitOrChange(portId, sleep(delay, this.clock, this.abort.signal));
        } catch {
          return;
        }
        if (w.dirty) return;
      }
    }
  }

  private readPort(portId: string): Promise<{ port: LogicalPort; revision: number } | undefined> {
    return this.batch.read(portId);
  }

  private async write(kind: string, port: LogicalPort): Promise<void> {
    await this.batch.write(port);
    this.options.metrics?.nbWrites.inc({ kind });
  }

  private async convergeOnce(portId: string): Promise<void> {
    const me = this.options.chassisId;
    const plug = this.plugged.get(portId);
    if (!plug) {
      this.forgetUnknown(portId);
      this.states.delete(portId);
      const cur = await this.readPort(portId);
      if (cur && cur.port.chassisId === me) {
        await this.write('unbind', { ...cur.port, chassisId: null, status: 'DOWN' });
        this.log.info({ port: portId }, 'port unbound from this chassis: status DOWN');
      }
      return;
    }

    let cur = await this.readPort(portId);
    if (!cur) {
      if (!this.unknown.has(portId)) {
        this.log.warn({ port: portId, interface: plug.interfaceName }, 'interface names a logical port that does not exist (external_ids:iface-id); it is bound as soon as the port is created');
        this.unknown.add(portId);
        // Created after the read above and already published by the cache: not missed.
        if (this.source?.inDb('logical_port', portId)) this.schedule(portId);
      }
      this.setState(portId, 'unknown-port', `no logical port ${portId} in the NB DB`);
      return;
    }
    if (this.forgetUnknown(portId)) this.log.info({ port: portId }, 'the logical port now exists; binding it');

    const namesMe = cur.port.bindingHost === this.options.chassisName || (this.options.hostname !== undefined && cur.port.bindingHost === this.options.hostname);
    if (cur.port.chassisId !== me || !namesMe) {
      if (cur.port.chassisId && cur.port.chassisId !== me) this.log.info({ port: portId, from: cur.port.chassisId }, 'port was bound to another chassis; binding it here, where it is plugged');
      this.setState(portId, 'binding');
      const bindingHost = namesMe ? cur.port.bindingHost : this.options.chassisName;
      await this.write('bind', { ...cur.port, chassisId: me, bindingHost, status: cur.port.status === 'ACTIVE' ? 'DOWN' : cur.port.status });
      cur = await this.readPort(portId);
      if (!cur) return this.convergeOnce(portId);
    }
    if (!cur.port.adminStateUp) {
      this.setState(portId, 'admin-down', 'admin_state_up is false');
      if (cur.port.status !== 'DOWN') await this.write('down', { ...cur.port, status: 'DOWN' });
      return;
    }
    if (cur.port.status === 'ACTIVE' && this.states.get(portId)?.state === 'active' && this.options.runtime.failedFlowsOfPort(portId).length === 0) return;

    // ACTIVE only once the switch is confirmed (barrier) in sync with this very port record.
    for (;;) {
      this.setState(portId, 'waiting-for-flows', `flows up to revision ${cur.revision}`);
      await this.waitOrChange(portId, this.options.runtime.waitForRevision(cur.revision));
      if (this.plugged.get(portId) !== plug) throw new Superseded();
      const again = await this.readPort(portId);
      if (!again || again.port.chassisId !== me || !again.port.adminStateUp) return this.convergeOnce(portId);
      if (again.revision === cur.revision || again.port.status === 'ACTIVE') {
        cur = again;
        break;
      }
      cur = again;
    }
    // Confirmed is not installed: a flow the switch refused does not hold the synced
    // revision back, so check the port's own owners. Neutron's answer is ERROR; the
    // reconciler retries with backoff and a recovery brings the port here again.
    const failed = this.options.runtime.failedFlowsOfPort(portId);
    if (failed.length > 0) {
      const owners = failed.map((f) => `${f.app}/${f.owner}`);
      const detail = `the switch refused flows of ${owners.join(', ')}: ${failed[0]!.errors.at(-1) ?? 'error'} (retrying)`;
      this.setState(portId, 'flows-failed', detail);
      if (cur.port.status !== 'ERROR') {
        await this.write('error', { ...cur.port, status: 'ERROR' });
        this.log.warn({ port: portId, interface: plug.interfaceName, owners, errors: failed.flatMap((f) => f.errors) }, 'port ERROR: the switch refused some of its flows; retrying');
      }
      return;
    }
    if (cur.port.status !== 'ACTIVE') {
      await this.write('active', { ...cur.port, status: 'ACTIVE' });
      const seconds = (this.clock.now() - plug.since) / 1000;
      this.options.metrics?.portUpSeconds.observe(seconds);
      this.log.info({ port: portId, interface: plug.interfaceName, ofport: plug.ofport, plugToActiveMs: Math.round(seconds * 1000) }, 'port ACTIVE: its flows are confirmed on the switch');
    }
    this.setState(portId, 'active');
  }

  private setState(portId: string, state: BindingState, detail?: string): void {
    this.states.set(portId, detail ? { state, detail } : { state });
    this.updateGauges();
  }

  private forgetUnknown(portId: string): boolean {
    if (!this.unknown.delete(portId)) return false;
    this.updateGauges();
    return true;
  }

  /**
   * The gauges are recomputed once per turn of the event loop, not per state change:
   * counting every plugged port on each change made a bulk of N ports cost N².
   */
  private updateGauges(): void {
    if (!this.options.metrics || this.gaugesQueued) return;
    this.gaugesQueued = true;
    setImmediate(() => {
      this.gaugesQueued = false;
      this.writeGauges();
    }).unref();
  }

  private writeGauges(): void {
    const m = this.options.metrics;
    if (!m) return;
    const counts: Record<string, number> = { binding: 0, 'waiting-for-flows': 0, active: 0, 'flows-failed': 0, 'admin-down': 0, 'unknown-port': 0, retrying: 0 };
    for (const plug of this.plugged.values()) {
      const s = this.states.get(plug.portId)?.state ?? 'binding';
      counts[s] = (counts[s] ?? 0) + 1;
    }
    for (const [state, n] of Object.entries(counts)) m.localPorts.set({ state }, n);
    m.unknownIfaceIds.set(this.unknown.size);
  }

  /** Rejects with Superseded as soon as the port's plug changes (or the binder stops). */
  private waitOrChange<T>(portId: string, p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const sub = this.changes.pipe(filter((id) => id === portId || id === '*')).subscribe(() => {
        sub.unsubscribe();
        reject(new Superseded());
      });
      p.then(
        (v) => {
          sub.unsubscribe();
          resolve(v);
        },
        (e: unknown) => {
          sub.unsubscribe();
          reject(e);
        },
      );
    });
  }
}
