import { BehaviorSubject, Subject, type Observable, type Subscription } from 'rxjs';
import { DfError, systemClock, type Clock } from '@dragonflow/base';
import type { OvsdbClient } from './client.js';
import { OvsdbErrorCode } from './errors.js';
import { interfaceStateFromRows, interfaceStatesEqual } from './interface-state.js';
import type { Monitor } from './monitor.js';
import type { Row } from './operations.js';
import { setOf, type Uuid } from './values.js';
import { OPEN_VSWITCH_DB, type InterfaceChange, type InterfaceState } from './vswitch-types.js';

export interface InterfaceMonitorOptions {
  /** Only report interfaces on this bridge (e.g. br-int). */
  bridge?: string;
  clock?: Clock;
}

const INTERFACE_COLUMNS = ['name', 'type', 'options', 'external_ids', 'ofport', 'mac_in_use', 'link_state', 'admin_state', 'error', 'bfd_status'];

/**
 * Follows the Interface table (joined with Port and Bridge) and reports typed
 * interface states. This is how the controller learns that a VM port was plugged:
 * an interface with external_ids:iface-id and an ofport > 0 (see `isBound`).
 * Statistics columns are not monitored, so a quiet switch sends nothing.
 */
export class InterfaceMonitor {
  private readonly snapshotSubject: BehaviorSubject<ReadonlyMap<string, InterfaceState>>;
  private readonly changesSubject = new Subject<readonly InterfaceChange[]>();
  private readonly subscription: Subscription;
  private readonly clock: Clock;

  /** Every change of the set of interfaces, one batch per OVSDB update. */
  readonly changes$: Observable<readonly InterfaceChange[]> = this.changesSubject.asObservable();
  /** The current interfaces by name; a new subscriber gets the current map first. */
  readonly snapshot$: Observable<ReadonlyMap<string, InterfaceState>>;

  private constructor(
    private readonly monitor: Monitor,
    private readonly options: InterfaceMonitorOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.snapshotSubject = new BehaviorSubject<ReadonlyMap<string, InterfaceState>>(this.compute());
    this.snapshot$ = this.snapshotSubject.asObservable();
    this.subscription = monitor.changes$.subscribe({
      next: () => this.refresh(),
      complete: () => {
        this.changesSubject.complete();
        this.snapshotSubject.complete();
      },
    });
  }

  static async start(client: OvsdbClient, options: InterfaceMonitorOptions = {}): Promise<InterfaceMonitor> {
    const monitor = await client.monitor(OPEN_VSWITCH_DB, {
      Bridge: { columns: ['name', 'ports'] },
      Port: { columns: ['name', 'interfaces'] },
      Interface: { columns: INTERFACE_COLUMNS },
    });
    return new InterfaceMonitor(monitor, options);
  }

  current(): ReadonlyMap<string, InterfaceState> {
    return this.snapshotSubject.value;
  }

  get(name: string): InterfaceState | undefined {
    return this.current().get(name);
  }

  /** Resolves with the first interface state that satisfies `predicate` (now or later). */
  waitFor(predicate: (state: InterfaceState) => boolean, timeoutMs = 10_000, what = 'an interface state'): Promise<InterfaceState> {
    return new Promise((resolve, reject) => {
      let done = false;
      const cancelTimer = this.clock.setTimer(timeoutMs, () => {
        if (done) return;
        done = true;
        sub.unsubscribe();
        reject(new DfError(OvsdbErrorCode.TIMEOUT, `timed out after ${timeoutMs} ms waiting for ${what}`, { context: { what } }));
      });
      // The first value arrives synchronously, before `sub` is assigned: unsubscribe in a microtask.
      const sub: Subscription = this.snapshot$.subscribe({
        next: (snapshot) => {
          if (done) return;
          for (const state of snapshot.values()) {
            if (predicate(state)) {
              done = true;
              cancelTimer();
              queueMicrotask(() => sub.unsubscribe());
              resolve(state);
              return;
            }
          }
        },
        complete: () => {
          if (done) return;
          done = true;
          cancelTimer();
          reject(new DfError(OvsdbErrorCode.CLOSED, `interface monitor closed while waiting for ${what}`));
        },
      });
    });
  }

  async cancel(): Promise<void> {
    this.subscription.unsubscribe();
    this.changesSubject.complete();
    this.snapshotSubject.complete();
    await this.monitor.cancel();
  }

  private compute(): Map<string, InterfaceState> {
    const bridges = this.monitor.rows('Bridge');
    const ports = this.monitor.rows('Port');
    const bridgeOfPort = new Map<string, Row>();
    for (const br of bridges.values()) for (const p of setOf<Uuid>(br['ports'])) bridgeOfPort.set(p.value, br);
    const portOfIface = new Map<string, { port: Row; bridge: Row | undefined }>();
    for (const [uuid, port] of ports) {
      for (const i of setOf<Uuid>(port['interfaces'])) portOfIface.set(i.value, { port, bridge: bridgeOfPort.get(uuid) });
    }
    const out = new Map<string, InterfaceState>();
    for (const [uuid, iface] of this.monitor.rows('Interface')) {
      const holder = portOfIface.get(uuid);
      const state = interfaceStateFromRows(iface, holder?.port, holder?.bridge);
      if (this.options.bridge !== undefined && state.bridge !== this.options.bridge) continue;
      out.set(state.name, state);
    }
    return out;
  }

  private refresh(): void {
    const previous = this.snapshotSubject.value;
    const next = this.compute();
    const changes: InterfaceChange[] = [];
    for (const [name, prev] of previous) if (!next.has(name)) changes.push({ kind: 'removed', name, previous: prev });
    for (const [name, cur] of next) {
      const prev = previous.get(name);
      if (!prev) changes.push({ kind: 'added', name, current: cur });
      else if (!interfaceStatesEqual(prev, cur)) changes.push({ kind: 'updated', name, current: cur, previous: prev });
    }
    if (changes.length === 0) return;
    this.snapshotSubject.next(next);
    this.changesSubject.next(changes);
  }
}
