import { readFileSync } from 'node:fs';
import { DfError } from '@dragonflow/base';
import { MemoryDriver, MemoryServer, NbApi, type NbDriver, type NbGrant } from '@dragonflow/nb';
import type { ApiConfig } from './config.js';

/** The northbound DB df-api writes to, as opened from its config. */
export interface OpenedDb {
  readonly driver: NbDriver;
  readonly nb: NbApi;
  /** Where the memory DB is served to other processes (empty when not served). */
  readonly servedAt: readonly string[];
  close(): Promise<void>;
}

type DriverClass = (new (options: { endpoints: string[]; prefix?: string }) => NbDriver) & {
  connect?: (options: { endpoints: string[]; prefix?: string }) => Promise<NbDriver>;
};

const DRIVER_PACKAGES = {
  etcd: { pkg: '@dragonflow/db-etcd', exportName: 'EtcdDriver' },
  redis: { pkg: '@dragonflow/db-redis', exportName: 'RedisDriver' },
} as const;

/**
 * Loads the etcd or redis driver package only when the config asks for it, so
 * df-api runs on the memory DB without them.
 */
async function loadDriver(kind: 'etcd' | 'redis', db: ApiConfig['db']): Promise<NbDriver> {
  const { pkg, exportName } = DRIVER_PACKAGES[kind];
  let mod: Record<string, unknown>;
  try {
    const specifier: string = pkg;
    mod = (await import(specifier)) as Record<string, unknown>;
  } catch (cause) {
    throw new DfError('CONFIG_INVALID', `db.driver: ${kind} needs the package ${pkg}, which cannot be loaded (${(cause as Error).message})`, { cause, context: { key: 'db.driver' } });
  }
  const Driver = mod[exportName] as DriverClass | undefined;
  if (typeof Driver !== 'function') {
    throw new DfError('CONFIG_INVALID', `db.driver: ${pkg} does not provide ${exportName} (the ${kind} driver is not available in this build)`, { context: { key: 'db.driver' } });
  }
  const options = { endpoints: [...db.endpoints], ...(db.prefix !== null ? { prefix: db.prefix } : {}) };
  return typeof Driver.connect === 'function' ? Driver.connect(options) : new Driver(options);
}

function readSecret(file: string, key: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (cause) {
    throw new DfError('CONFIG_INVALID', `${key}: cannot read ${file} (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause, context: { key, file } });
  }
}

/** The grants of db.grants with their tokens read from their files. */
export function loadGrants(db: ApiConfig['db']): NbGrant[] {
  return db.grants.map((g, i) => ({ role: g.role, token: readSecret(g.tokenFile, `db.grants[${i}].tokenFile`), ...(g.chassis !== undefined ? { chassis: g.chassis } : {}) }));
}

/** Opens the configured driver, serves the memory DB when asked, and loads NbApi's view. */
export async function openDb(db: ApiConfig['db'], onPeerClosed?: (e: { peer: string; reason: string }) => void): Promise<OpenedDb> {
  let driver: NbDriver;
  let server: MemoryServer | undefined;
  if (db.driver === 'memory') {
    const memory = MemoryDriver.create(db.file !== null ? { file: db.file } : {});
    driver = memory;
    if (db.serve.length > 0) {
      try {
        server = await MemoryServer.start({
          store: memory.store,
          listen: db.serve,
          grants: loadGrants(db),
          socketMode: db.socketMode === '660' ? 0o660 : 0o600,
          maxFrameBytes: db.maxFrameBytes,
          maxConnections: db.maxConnections,
          ...(db.tls ? { tls: { key: readSecret(db.tls.keyFile, 'db.tls.keyFile'), cert: readSecret(db.tls.certFile, 'db.tls.certFile') } } : {}),
          ...(onPeerClosed ? { onPeerClosed } : {}),
        });
      } catch (e) {
        await memory.close();
        throw e;
      }
    }
  } else {
    driver = await loadDriver(db.driver, db);
  }
  let nb: NbApi;
  try {
    nb = await NbApi.open(driver);
  } catch (e) {
    await server?.close();
    await driver.close();
    throw e;
  }
  return {
    driver,
    nb,
    servedAt: server ? [...server.endpoints] : [],
    async close() {
      await nb.close();
      await server?.close();
      await driver.close();
    },
  };
}
