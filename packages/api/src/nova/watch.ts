import { FeedFollower, type NbDriver, decodeObject } from '@dragonflow/nb';
import type { ChangeBatch, Snapshot } from '@dragonflow/nb';
import { type NovaEvent, type PortFacts, portEvents, portFacts } from './events.js';

/**
 * Follows the NB DB's logical_port table (status is written by df-controller, not
 * through the API) and hands the events each change means to Nova to `emit`.
 * It keeps a few facts per port; after a resync (history compacted) it compares the
 * new snapshot with what it knew, so no transition is lost, and the first snapshot
 * sends nothing (what happened before df-api started was Neutron's or an earlier
 * df-api's to tell).
 */
export class NovaPortWatcher {
  readonly #follower: FeedFollower;
  #ports: Map<string, PortFacts> | undefined;

  constructor(driver: NbDriver, emit: (events: NovaEvent[]) => void) {
    this.#follower = new FeedFollower(
      driver,
      {
        onSnapshot: (snap: Snapshot) => {
          const next = new Map<string, PortFacts>();
          for (const r of snap.records) if (r.table === 'logical_port') next.set(r.id, portFacts(decodeObject('logical_port', r.value, r.version)));
          if (this.#ports) {
            const events: NovaEvent[] = [];
            for (const id of new Set([...this.#ports.keys(), ...next.keys()])) events.push(...portEvents(id, this.#ports.get(id), next.get(id)));
            emit(events);
          }
          this.#ports = next;
        },
        onBatch: (batch: ChangeBatch) => {
          const ports = this.#ports!;
          const events: NovaEvent[] = [];
          for (const e of batch.events) {
            if (e.table !== 'logical_port') continue;
            const after = e.type === 'put' && e.value !== undefined ? portFacts(decodeObject('logical_port', e.value, e.version)) : undefined;
            events.push(...portEvents(e.id, ports.get(e.id), after));
            if (after) ports.set(e.id, after);
            else ports.delete(e.id);
          }
          emit(events);
        },
      },
      { tables: ['logical_port'] },
    );
  }

  start(): Promise<void> {
    return this.#follower.start();
  }

  stop(): Promise<void> {
    return this.#follower.stop();
  }
}
