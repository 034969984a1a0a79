import { readFileSync } from 'node:fs';
import { DfError, describeError, isDfError, redactUrl } from '@dragonflow/base';
import type { EtcdDriverOptions } from '@dragonflow/db-etcd';
import type { RedisDriverOptions } from '@dragonflow/db-redis';
import { MemoryClientDriver, MemoryDriver, MemoryServer, NbErrorCode, type MemoryServerOptions, type NbDriver, type NbGrant, type NbRole } from '@dragonflow/nb';

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
  /** memory, served: the tokens a connection may present and each one's rights (required with serve). */
  readonly grants?: readonly DbGrantSection[] | undefined;
  /** memory, served: mode of the unix sockets ('600' the owner only, the default; '660' and its group). */
  readonly socketMode?: '600' | '660' | undefined;
  /** memory, served: TLS for TCP endpoints (PEM files; a non-loopback address needs it). */
  readonly tls?: { readonly keyFile: string; readonly certFile: string } | null | undefined;
  /** memory, served: largest request frame a client may send. */
  readonly maxFrameBytes?: number | undefined;
  /** memory, served: most client connections at once. */
  readonly maxConnections?: number | undefined;
  /** memory, reached where served: the token the serving process knows this client by. */
  readonly token?: string | undefined;
  /** memory, reached where served: the file holding that token (when token is not given). */
  readonly tokenFile?: string | null | undefined;
  /** memory, reached over TLS: the CA (PEM file) that signed the server's certificate. */
  readonly caFile?: string | null | undefined;
}

/** One grant of a served memory DB as configured: a role and the file holding its token. */
export interface DbGrantSection {
  readonly role: NbRole;
  readonly tokenFile: string;
  /** controller: the chassis (by name) it writes for; without it, any chassis. */
  readonly chassis?: string | undefined;
}

/** What openNbDb may tell its caller about while the DB is open. */
export interface OpenNbDbOptions {
  /** A served memory DB closed a client connection on its own (refused token, oversized frame, ...). */
  readonly onPeerClosed?: MemoryServerOptions['onPeerClosed'];
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

/** Where the DB is, for messages (logs, the unauthenticated /healthz): the driver and its endpoints, without credentials. */
export function describeDb(db: DbSection): string {
  if (db.driver === 'memory' && db.endpoints.length === 0) {
    const served = db.serve?.length ? `, served at ${db.serve.join(', ')}` : '';
    return `an embedded memory DB${db.file ? ` (journal ${db.file})` : ''}${served || ' (private to this process)'}`;
  }
  return `${db.driver} at ${db.endpoints.map(redactUrl).join(', ')}`;
}

/**
 * A DB error as shown in logs and /healthz. Driver errors may quote the URL they
 * were given, credentials included; every configured endpoint is replaced by its
 * redacted form.
 */
export function describeDbError(err: unknown, db: Pick<DbSection, 'endpoints'>): string {
  let text = describeError(err);
  for (const e of db.endpoints) text = text.split(e).join(redactUrl(e));
  // Drivers also print the URL as they parsed it (`redis://user:pw@host:6379/`): strip any userinfo left.
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/?#@\s]*@/gi, '$1');
}

/** Errors that waiting will not fix (a bad config, a DB of another schema, a refused token: the config must change). */
export function isFatalDbError(err: unknown): boolean {
  return isDfError(err, NbErrorCode.CONFIG) || isDfError(err, NbErrorCode.SCHEMA) || isDfError(err, NbErrorCode.FORBIDDEN);
}

function readConfigFile(file: string, key: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (cause) {
    throw new DfError(NbErrorCode.CONFIG, `${key}: cannot read ${file} (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause, context: { key, file } });
  }
}

/** The grants of db.grants with their tokens read from their files. */
export function loadGrants(db: Pick<DbSection, 'grants'>): NbGrant[] {
  return (db.grants ?? []).map((g, i) => ({
    role: g.role,
    token: readConfigFile(g.tokenFile, `db.grants[${i}].tokenFile`).trim(),
    ...(g.chassis !== undefined ? { chassis: g.chassis } : {}),
  }));
}

/** The served memory DB's options other than its store: grants, socket mode, TLS, caps. */
function serverOptions(db: DbSection, options: OpenNbDbOptions): Omit<MemoryServerOptions, 'store'> {
  return {
    listen: db.serve ?? [],
    grants: loadGrants(db),
    socketMode: db.socketMode === '660' ? 0o660 : 0o600,
    ...(db.maxFrameBytes !== undefined ? { maxFrameBytes: db.maxFrameBytes } : {}),
    ...(db.maxConnections !== undefined ? { maxConnections: db.maxConnections } : {}),
    ...(db.tls ? { tls: { key: readConfigFile(db.tls.keyFile, 'db.tls.keyFile'), cert: readConfigFile(db.tls.certFile, 'db.tls.certFile') } } : {}),
    ...(options.onPeerClosed ? { onPeerClosed: options.onPeerClosed } : {}),
  };
}

/** A memory client's options: its endpoint, its token (given or read from tokenFile), the CA it trusts. */
function clientOptions(db: DbSection): Parameters<typeof MemoryClientDriver.connect>[0] {
  const token = db.token ?? (db.tokenFile ? readConfigFile(db.tokenFile, 'db.tokenFile').trim() : undefined);
  return {
    endpoint: db.endpoints[0]!,
    ...(token !== undefined ? { token } : {}),
    ...(db.caFile ? { tls: { ca: readConfigFile(db.caFile, 'db.caFile') } } : {}),
  };
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
  if (db.serve?.length && !db.grants?.length) bad('grants', 'serving the memory DB needs at least one grant (role and tokenFile); without one nobody could connect');
  if (db.driver !== 'memory' && (db.token !== undefined || db.tokenFile)) bad('tokenFile', 'only applies to the memory driver (etcd and redis carry credentials in their URLs)');
}

/**
 * Opens the NB DB a db section names and checks it answers (NB_UNAVAILABLE
 * otherwise: a caller that can wait retries). Unix sockets work for every driver,
 * which is how controllers inside network namespaces reach a DB in another one.
 * The etcd and redis drivers are loaded only when asked for (their clients are big).
 * A served memory DB authenticates every connection: it is served with the grants
 * of the section, and reached with a token (docs/security.md).
 */
export async function openNbDb(db: DbSection, options: OpenNbDbOptions = {}): Promise<OpenedDb> {
  checkSection(db);
  switch (db.driver) {
    case 'memory': {
      if (db.endpoints.length > 0) return justDriver(await MemoryClientDriver.connect(clientOptions(db)));
      const memory = MemoryDriver.create(db.file ? { file: db.file } : {});
      if (!db.serve?.length) return justDriver(memory);
      let server: MemoryServer;
      try {
        server = await MemoryServer.start({ store: memory.store, ...serverOptions(db, options) });
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
