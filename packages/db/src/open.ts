import { DfError, isDfError } from '@dragonflow/base';
import type { EtcdDriverOptions } from '@dragonflow/db-etcd';
import type { RedisDriverOptions } from '@dragonflow/db-redis';
import { MemoryClientDriver, MemoryDriver, MemoryServer, NbErrorCode, type NbDriver } from '@dragonflow/nb';

export const DRIVER_KINDS = ['memory', 'etcd', 'redis'] as const;
export type DriverKind = (typeof DRIVER_KINDS)[number];

/**
 * Which NB DB, in the one shape every process reads it in: the `db:` section of a
 * df-api or df-controller config, or df's `--db`/`--endpoint` flags.
 */
export interface DbSection {
  readonly driver: DriverKind;
  /**
   * memory: the process serving it (`unix:/PATH`, `tcp:HOST:PORT`; none = a DB
   * embedded in this process); etcd: `http(s)://HOST:PORT` or `unix:/PATH`;
   * redis: `redis://HOST:PORT[/DB]` or `unix:/PATH`.
   */
  readonly endpoints: readonly string[];
  /** etcd, redis: key prefix (the driver's default when absent). */
  readonly prefix?: string | null | undefined;
  /** memory, embedded: the journal file it loads and persists to. */
  readonly file?: string | null | undefined;
  /** memory, embedded: also serve it here to other processes (df-controllers). */
  readonly serve?: readonly string[] | undefined;
}

/** An opened NB DB: the driver, where it is served (embedded memory only), and one close for both. */
export interface OpenedDb {
  readonly driver: NbDriver;
  readonly servedAt: readonly string[];
  close(): Promise<void>;
}

/** `unix:/p`, `unix:///p` → `/p`; anything else → undefined. */
export function unixPath(endpoint: string): string | undefined {
  const m = /^unix:(?:\/\/)?(\/.+)$/.exec(endpoint);
  return m ? m[1] : undefined;
}

/** Where the DB is, for messages: the driver and its endpoints. */
export function describeDb(db: DbSection): string {
  if (db.driver === 'memory' && db.endpoints.length === 0) {
    const served = db.serve?.length ? `, served at ${db.serve.join(', ')}` : '';
    return `an embedded memory DB${db.file ? ` (journal ${db.file})` : ''}${served || ' (private to this process)'}`;
  }
  return `${db.driver} at ${db.endpoints.join(', ')}`;
}

/** Errors that waiting will not fix (a bad config, a DB of another schema). */
export function isFatalDbError(err: unknown): boolean {
  return isDfError(err, NbErrorCode.CONFIG) || isDfError(err, NbErrorCode.SCHEMA);
}

const prefixOf = (db: DbSection): { prefix?: string } => (db.prefix ? { prefix: db.prefix } : {});

/** The etcd driver's options: a unix socket becomes the grpc target `unix:///PATH`. */
export function etcdOptions(db: DbSection): EtcdDriverOptions {
  const endpoints = db.endpoints.map((e) => {
    const path = unixPath(e);
    return path ? `unix://${path}` : e;
  });
  return { endpoints, ...prefixOf(db) };
}

/** The redis driver's options: the first endpoint; a unix socket is given to ioredis as its path. */
export function redisOptions(db: DbSection): RedisDriverOptions {
  const first = db.endpoints[0]!;
  const path = unixPath(first);
  return path ? { url: 'redis://localhost', redis: { path }, ...prefixOf(db) } : { url: first, ...prefixOf(db) };
}

function checkSection(db: DbSection): void {
  const bad = (key: string, message: string): never => {
    throw new DfError(NbErrorCode.CONFIG, `db.${key}: ${message}`, { context: { key: `db.${key}` } });
  };
  if (!(DRIVER_KINDS as readonly string[]).includes(db.driver)) bad('driver', `'${String(db.driver)}' is not a driver (expected ${DRIVER_KINDS.join(', ')})`);
  if (db.driver !== 'memory' && db.endpoints.length === 0) bad('endpoints', `at least one endpoint is required for the ${db.driver} driver`);
  if (db.driver === 'memory' && db.endpoints.length > 1) bad('endpoints', 'the memory driver takes one endpoint (where its DB is served)');
  if (db.endpoints.length > 0 && (db.serve?.length || db.file)) bad(db.file ? 'file' : 'serve', 'only applies to an embedded memory DB (no endpoints)');
}

/**
 * Opens the NB DB a db section names and checks it answers (NB_UNAVAILABLE
 * otherwise: a caller that can wait retries). Unix sockets work for every driver,
 * which is how controllers inside network namespaces reach a DB in another one.
 * The etcd and redis drivers are loaded only when asked for (their clients are big).
 */
export async function openNbDb(db: DbSection): Promise<OpenedDb> {
  checkSection(db);
  switch (db.driver) {
    case 'memory': {
      if (db.endpoints.length > 0) return justDriver(await MemoryClientDriver.connect({ endpoint: db.endpoints[0]! }));
      const memory = MemoryDriver.create(db.file ? { file: db.file } : {});
      if (!db.serve?.length) return justDriver(memory);
      let server: MemoryServer;
      try {
        server = await MemoryServer.start({ store: memory.store, listen: db.serve });
      } catch (err) {
        await memory.close();
        throw err;
      }
      return {
        driver: memory,
        servedAt: [...server.endpoints],
        async close() {
          await server.close();
          await memory.close();
        },
      };
    }
    case 'etcd': {
      const { EtcdDriver } = await import('@dragonflow/db-etcd');
      return justDriver(await EtcdDriver.connect(etcdOptions(db)));
    }
    case 'redis': {
      const { RedisDriver } = await import('@dragonflow/db-redis');
      return justDriver(await RedisDriver.connect(redisOptions(db)));
    }
  }
}

function justDriver(driver: NbDriver): OpenedDb {
  return { driver, servedAt: [], close: () => driver.close() };
}
