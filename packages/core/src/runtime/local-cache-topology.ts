import { LocalCache, type NbDriver, type NbObject, type TableName } from '@dragonflow/nb';
import { map, type Observable } from 'rxjs';
import { ControllerRuntime, type RuntimeOptions } from './runtime.js';
import type { TopologyChange, TopologySource, TopologyUpdate } from './topology.js';

/**
 * The runtime's topology input from the NB local cache (selective topology): the
 * cache's one ordered stream, as runtime updates. Every revision the cache reaches
 * — also one whose commit touched nothing this chassis holds — is an update (maybe
 * with no change), so "in sync up to revision R" is true for any R.
 *
 * `start()` starts the cache (snapshot, then the change feed).
 */
export class LocalCacheTopology implements TopologySource {
  private readyResolve!: (revision: number) => void;
  private readonly readyPromise = new Promise<number>((r) => (this.readyResolve = r));
  readonly updates$: Observable<TopologyUpdate>;

  constructor(readonly cache: LocalCache) {
    this.updates$ = cache.updates$.pipe(map((u): TopologyUpdate => ({ kind: 'changes', revision: u.revision, changes: u.changes as unknown as TopologyChange[] })));
  }

  async start(): Promise<void> {
    await this.cache.start();
    this.readyResolve(this.cache.revision);
  }

  async stop(): Promise<void> {
    await this.cache.stop();
  }

  ready(): Promise<number> {
    return this.readyPromise;
  }

  get revision(): number {
    return this.cache.revision;
  }

  /** Resolves once the cache has published `revision`. */
  waitFor(revision: number): Promise<void> {
    return this.cache.waitFor(revision);
  }

  get<T extends TableName>(table: T, id: string): NbObject<T> | undefined {
    return this.cache.get(table, id);
  }

  all<T extends TableName>(table: T): NbObject<T>[] {
    return this.cache.all(table);
  }

  lookup<T extends TableName>(table: T, index: string, value: string): NbObject<T>[] {
    return this.cache.lookup(table, index as never, value);
  }
}

export interface ChassisRuntimeOptions extends Omit<RuntimeOptions, 'topology'> {
  /** The NB DB this chassis' local cache follows. */
  readonly driver: NbDriver;
  /** Selective topology (default true): the cache holds only what this chassis' ports need. */
  readonly selective?: boolean;
  /**
   * Runs once the parts exist, before anything starts: hand the runtime what is
   * already known (bound ports, infrastructure ports), keep references for a stop
   * that may come while the cache still waits for the DB.
   */
  readonly beforeStart?: (parts: ChassisRuntime) => void;
}

/** A chassis' runtime and what feeds it, as started by `startChassisRuntime`. */
export interface ChassisRuntime {
  readonly cache: LocalCache;
  readonly topology: LocalCacheTopology;
  readonly runtime: ControllerRuntime;
  /** Stops the runtime, then the cache (the switch's flows stay). */
  stop(): Promise<void>;
}

/**
 * The one way a chassis runtime comes up (the daemon, the test harness and the
 * benchmarks all use it): NB local cache → topology → runtime, and the runtime
 * subscribes to the topology before the cache loads, so no update published in
 * between can be missed. Resolves once the apps computed their state from the
 * first complete snapshot; attaching the switch is the caller's.
 */
export async function startChassisRuntime(options: ChassisRuntimeOptions): Promise<ChassisRuntime> {
  const { driver, selective, beforeStart, ...runtimeOptions } = options;
  const allChassis = options.apps.some((a) => a.descriptor.needsAllChassis === true);
  const cache = new LocalCache(driver, { chassisId: options.chassisId, allChassis, ...(selective !== undefined ? { selective } : {}), ...(options.clock ? { clock: options.clock } : {}) });
  const topology = new LocalCacheTopology(cache);
  const runtime = new ControllerRuntime({ ...runtimeOptions, topology });
  const parts: ChassisRuntime = {
    cache,
    topology,
    runtime,
    async stop() {
      await runtime.stop();
      await topology.stop();
    },
  };
  try {
    beforeStart?.(parts);
    await Promise.all([runtime.start(), topology.start()]);
  } catch (err) {
    await parts.stop().catch(() => undefined);
    throw err;
  }
  return parts;
}
