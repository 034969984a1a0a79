import { FeedFollower, type NbDriver, decodeObject } from '@dragonflow/nb';
import type { ChangeBatch, Snapshot, StoredRecord } from '@dragonflow/nb';
import { type FloatingIpTarget, type NovaEvent, type PortFacts, floatingIpEvents, portEvents, portFacts } from './events.js';

const TABLES = ['logical_port', 'floating_ip'] as const;

interface View {
  readonly ports: Map<string, PortFacts>;
  readonly fips: Map<string, FloatingIpTarget>;
}

function fipTarget(value: string, version: number): FloatingIpTarget {
  const f = decodeObject('floating_ip', value, version);
  return f.portId !== null && f.fixedIpAddress !== null ? { portId: f.portId, fixedIp: f.fixedIpAddress } : null;
}

/**
 * Follows the NB DB's ports (status is written by df-controller, not through the API)
 * and floating IPs, and hands the events each change means to Nova to `emit`.
 * It keeps a few facts per port and floating IP; after a resync (history compacted)
 * it compares the new snapshot with what it knew, so no transition is lost, and the
 * first snapshot sends nothing (what happened before df-api started was Neutron's or
 * an earlier df-api's to tell).
 */
export class NovaPortWatcher {
  readonly #follower: FeedFollower;
  #view: View | undefined;

  constructor(driver: NbDriver, emit: (events: NovaEvent[]) => void) {
    this.#follower = new FeedFollower(
      driver,
      {
        onSnapshot: (snap: Snapshot) => {
          const next: View = { ports: new Map(), fips: new Map() };
          for (const r of snap.records) this.#load(next, r);
          const old = this.#view;
          this.#view = next;
          if (!old) return;
          const events: NovaEvent[] = [];
          for (const id of new Set([...old.ports.keys(), ...next.ports.keys()])) events.push(...portEvents(id, old.ports.get(id), next.ports.get(id)));
          for (const id of new Set([...old.fips.keys(), ...next.fips.keys()])) events.push(...floatingIpEvents(old.fips.get(id), next.fips.get(id), (p) => next.ports.get(p) ?? old.ports.get(p)));
          emit(events);
        },
        onBatch: (batch: ChangeBatch) => {
          const view = this.#view!;
          const events: NovaEvent[] = [];
          for (const e of batch.events) {
            const put = e.type === 'put' && e.value !== undefined ? e.value : undefined;
            if (e.table === 'logical_port') {
              const after = put !== undefined ? portFacts(decodeObject('logical_port', put, e.version)) : undefined;
              events.push(...portEvents(e.id, view.ports.get(e.id), after));
              if (after) view.ports.set(e.id, after);
              else view.ports.delete(e.id);
            } else if (e.table === 'floating_ip') {
              const after = put !== undefined ? fipTarget(put, e.version) : undefined;
              events.push(...floatingIpEvents(view.fips.get(e.id), after, (p) => view.ports.get(p)));
              if (after !== undefined) view.fips.set(e.id, after);
              else view.fips.delete(e.id);
            }
          }
          emit(events);
        },
      },
      { tables: TABLES },
    );
  }

  start(): Promise<void> {
    return this.#follower.start();
  }

  stop(): Promise<void> {
    return this.#follower.stop();
  }

  #load(view: View, r: StoredRecord): void {
    if (r.table === 'logical_port') view.ports.set(r.id, portFacts(decodeObject('logical_port', r.value, r.version)));
    else if (r.table === 'floating_ip') view.fips.set(r.id, fipTarget(r.value, r.version));
  }
}
