import { readFileSync } from 'node:fs';
import { DfError, describeError, isDfError, redactUrl } from '@dragonflow/base';
import { EtcdDriver } from '@dragonflow/db-etcd';
import { RedisDriver } from '@dragonflow/db-redis';
import { MemoryClientDriver, MemoryDriver, NbErrorCode, type NbDriver } from '@dragonflow/nb';
import type { DbConfig } from './config.js';

/** `unix:/p`, `unix:///p` → `/p`; anything else → undefined. */
export function unixPath(endpoint: string): string | undefined {
  const m = /^unix:(?:\/\/)?(\/.+)$/.exec(endpoint);
  return m ? m[1] : undefined;
}

/** Where the DB is, for messages (logs, the unauthenticated /healthz): the driver and its endpoints, without credentials. */
export function describeDb(db: DbConfig): string {
  if (db.driver === 'memory' && db.endpoints.length === 0) return 'an embedded memory DB (private to this process)';
  return `${db.driver} at ${db.endpoints.map(redactUrl).join(', ')}`;
}

/**
 * A DB error as shown in logs and /healthz. Driver errors may quote the URL they
 * were given, credentials included; every configured endpoint is replaced by its
 * redacted form.
 */
export function describeDbError(err: unknown, db: DbConfig): string {
  let text = describeError(err);
  for (const e of db.endpoints) text = text.split(e).join(redactUrl(e));
  // Drivers also print the URL as they parsed it (`redis://user:pw@host:6379/`): strip any userinfo left.
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/?#@\s]*@/gi, '$1');
}

/**
 * Opens the NB driver the config names and checks it answers (NB_UNAVAILABLE
 * otherwise; the caller retries). Unix sockets work for every driver, which is
 * how controllers inside network namespaces reach a DB server in another one.
 */
export async function openNbDriver(db: DbConfig): Promise<NbDriver> {
  switch (db.driver) {
    case 'memory':
      if (db.endpoints.length === 0) return MemoryDriver.create();
      return MemoryClientDriver.connect({
        endpoint: db.endpoints[0]!,
        ...(db.tokenFile !== undefined ? { token: readConfigFile(db.tokenFile, 'db.tokenFile').trim() } : {}),
        ...(db.caFile !== undefined ? { tls: { ca: readConfigFile(db.caFile, 'db.caFile') } } : {}),
      });
    case 'etcd': {
      // grpc targets: unix:///abs/path for a socket; etcd3 strips the http:// the driver adds.
      const endpoints = db.endpoints.map((e) => {
        const path = unixPath(e);
        return path ? `unix://${path}` : e;
      });
      return EtcdDriver.connect({ endpoints, ...(db.prefix ? { prefix: db.prefix } : {}) });
    }
    case 'redis': {
      const first = db.endpoints[0]!;
      const path = unixPath(first);
      return RedisDriver.connect(path ? { url: 'redis://localhost', redis: { path }, ...(db.prefix ? { prefix: db.prefix } : {}) } : { url: first, ...(db.prefix ? { prefix: db.prefix } : {}) });
    }
  }
}

function readConfigFile(file: string, key: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (cause) {
    throw new DfError(NbErrorCode.CONFIG, `${key}: cannot read ${file} (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause, context: { key, file } });
  }
}

/** Errors that waiting will not fix (a refused token included: the config must change). */
export function isFatalDbError(err: unknown): boolean {
  return isDfError(err, NbErrorCode.CONFIG) || isDfError(err, NbErrorCode.SCHEMA) || isDfError(err, NbErrorCode.FORBIDDEN);
}
