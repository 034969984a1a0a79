import { DfError } from '@dragonflow/base';
import { NbErrorCode } from '../errors.js';
import type { NbDriver } from './driver.js';
import { MemoryClientDriver } from './memory/client.js';
import { MemoryDriver } from './memory/driver.js';

export const DRIVER_KINDS = ['memory', 'etcd', 'redis'] as const;
export type DriverKind = (typeof DRIVER_KINDS)[number];

/**
 * Which DB to open, in the same shape for every process (CLI flags `--db` and
 * `--endpoint`, the `db:` section of a config file):
 * - memory without endpoints: an embedded store in this process (persisted to `file` if given);
 * - memory with an endpoint: the DB served by another process (`unix:/path` or `tcp:host:port`);
 * - etcd: client URLs (`http://127.0.0.1:2379`); redis: `redis://127.0.0.1:6379`.
 */
export interface DbSpec {
  driver: DriverKind;
  endpoints: readonly string[];
  /** Key prefix (etcd, redis); default per driver. */
  prefix?: string;
  /** Journal file of an embedded memory store. */
  file?: string;
  /** memory with an endpoint: the token the serving process knows this client by. */
  token?: string;
}

/** Opens a driver for a spec; etcd and redis come from their own packages, passed in here. */
export type DriverFactory = (spec: DbSpec) => Promise<NbDriver>;

export async function openDriver(spec: DbSpec, factories: Partial<Record<DriverKind, DriverFactory>> = {}): Promise<NbDriver> {
  if (!(DRIVER_KINDS as readonly string[]).includes(spec.driver)) {
    throw new DfError(NbErrorCode.CONFIG, `unknown DB driver '${String(spec.driver)}' (expected ${DRIVER_KINDS.join(', ')})`, { context: { field: 'driver' } });
  }
  const factory = factories[spec.driver];
  if (factory) return factory(spec);
  if (spec.driver === 'memory') {
    if (spec.endpoints.length > 0) return MemoryClientDriver.connect({ endpoint: spec.endpoints[0]!, ...(spec.token !== undefined ? { token: spec.token } : {}) });
    return MemoryDriver.create(spec.file ? { file: spec.file } : {});
  }
  throw new DfError(NbErrorCode.CONFIG, `the ${spec.driver} driver lives in @dragonflow/db-${spec.driver}; pass its factory to openDriver`, { context: { field: 'driver' } });
}
