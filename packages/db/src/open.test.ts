import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDfError } from '@dragonflow/base';
import { NbApi, NbErrorCode } from '@dragonflow/nb';
import { makeTempDir, removeDir, startEtcd, startRedis, type EtcdServer, type RedisServer } from '@dragonflow/sandbox';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeDb, etcdOptions, isFatalDbError, openNbDb, redisOptions, type DbSection, type OpenedDb } from './index.js';

const opened: OpenedDb[] = [];
let dir: string;

beforeAll(() => {
  dir = makeTempDir('df-db-open-');
});
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close();
});
afterAll(() => removeDir(dir));

async function open(db: DbSection): Promise<OpenedDb> {
  const o = await openNbDb(db);
  opened.push(o);
  return o;
}

/** Writes a network through one opening and reads it back through another. */
async function roundTrip(writer: OpenedDb, reader: OpenedDb): Promise<void> {
  const nb = await NbApi.open(writer.driver);
  const ls = await nb.create('logical_switch', { name: 'through-the-door' });
  await nb.close();
  const rec = await reader.driver.get('logical_switch', ls.id);
  expect(rec?.value).toContain('through-the-door');
}

describe('openNbDb: memory', () => {
  it('embeds a DB, journals it to its file and serves it with its grants to a client opened the same way', async () => {
    const file = join(dir, 'nb.journal');
    const socket = join(dir, 'nb.sock');
    const tokenFile = join(dir, 'admin.token');
    writeFileSync(tokenFile, 'open-test-admin-token-0123456789\n', { mode: 0o600 });
    const server = await open({ driver: 'memory', endpoints: [], file, serve: [`unix:${socket}`], grants: [{ role: 'admin', tokenFile }] });
    expect(server.servedAt).toEqual([`unix:${socket}`]);
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    const client = await open({ driver: 'memory', endpoints: [`unix:${socket}`], tokenFile });
    expect(client.servedAt).toEqual([]);
    // Without a token (or with one the server does not know) the client is refused, and waiting will not help.
    for (const db of [{ driver: 'memory', endpoints: [`unix:${socket}`] }, { driver: 'memory', endpoints: [`unix:${socket}`], token: 'not-a-granted-token-0123456789' }] as const) {
      const refused = await openNbDb(db).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isDfError(refused, NbErrorCode.FORBIDDEN)).toBe(true);
      expect(isFatalDbError(refused)).toBe(true);
    }
    await roundTrip(client, server);
    await server.close();
    opened.splice(opened.indexOf(server), 1);
    // The journal holds what the client wrote: a new embedded DB on the file has it.
    const again = await open({ driver: 'memory', endpoints: [], file });
    expect((await again.driver.list('logical_switch')).records.map((r) => r.value).join()).toContain('through-the-door');
  });

  it('refuses a section that makes no sense, naming the key', async () => {
    for (const [db, key] of [
      [{ driver: 'mysql', endpoints: [] }, 'db.driver'],
      [{ driver: 'etcd', endpoints: [] }, 'db.endpoints'],
      [{ driver: 'memory', endpoints: ['unix:/a', 'unix:/b'] }, 'db.endpoints'],
      [{ driver: 'memory', endpoints: ['unix:/a'], serve: ['unix:/b'] }, 'db.serve'],
      [{ driver: 'memory', endpoints: [], serve: ['unix:/b'] }, 'db.grants'],
      [{ driver: 'memory', endpoints: [], serve: ['unix:/b'], grants: [{ role: 'admin', tokenFile: '/nonexistent/admin.token' }] }, 'db.grants[0].tokenFile'],
      [{ driver: 'memory', endpoints: ['unix:/a'], tokenFile: '/nonexistent/ctl.token' }, 'db.tokenFile'],
      [{ driver: 'redis', endpoints: ['redis://a:6379'], tokenFile: '/t' }, 'db.tokenFile'],
    ] as const) {
      const err = await openNbDb(db as unknown as DbSection).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isDfError(err, NbErrorCode.CONFIG)).toBe(true);
      expect((err as { context: Record<string, unknown> }).context['key']).toBe(key);
      expect(isFatalDbError(err)).toBe(true);
    }
  });

  it('says where the DB is', () => {
    expect(describeDb({ driver: 'memory', endpoints: [] })).toBe('an embedded memory DB (private to this process)');
    expect(describeDb({ driver: 'memory', endpoints: [], serve: ['unix:/run/df/nb.sock'] })).toBe('an embedded memory DB, served at unix:/run/df/nb.sock');
    expect(describeDb({ driver: 'etcd', endpoints: ['http://a:2379', 'http://b:2379'] })).toBe('etcd at http://a:2379, http://b:2379');
    expect(describeDb({ driver: 'redis', endpoints: ['redis://u:pw@a:6379/0'] })).toBe('redis at redis://a:6379/0');
  });
});

describe('openNbDb: etcd and redis', () => {
  let etcd: EtcdServer;
  let redis: RedisServer;
  beforeAll(async () => {
    etcd = await startEtcd();
    redis = await startRedis({ persistent: false });
  });
  afterAll(async () => {
    await etcd?.stop();
    await redis?.stop();
  });

  it('opens etcd, under a prefix, and reaches the same data twice', async () => {
    const db: DbSection = { driver: 'etcd', endpoints: [etcd.endpoint], prefix: '/open-test/' };
    await roundTrip(await open(db), await open(db));
    const other = await open({ ...db, prefix: '/elsewhere/' });
    expect((await other.driver.list('logical_switch')).records).toEqual([]);
  });

  it('opens redis, under a prefix, and reaches the same data twice', async () => {
    const db: DbSection = { driver: 'redis', endpoints: [redis.url], prefix: 'open-test:' };
    await roundTrip(await open(db), await open(db));
    const other = await open({ ...db, prefix: 'elsewhere:' });
    expect((await other.driver.list('logical_switch')).records).toEqual([]);
  });

  it('reaches etcd and redis on unix sockets (controllers in other namespaces)', () => {
    expect(etcdOptions({ driver: 'etcd', endpoints: ['unix:/run/etcd.sock', 'http://10.0.0.1:2379'], prefix: '/p/' })).toEqual({ endpoints: ['unix:///run/etcd.sock', 'http://10.0.0.1:2379'], prefix: '/p/' });
    expect(etcdOptions({ driver: 'etcd', endpoints: ['unix:///run/etcd.sock'] })).toEqual({ endpoints: ['unix:///run/etcd.sock'] });
    expect(redisOptions({ driver: 'redis', endpoints: ['unix:/run/redis.sock'], prefix: null })).toEqual({ url: 'redis://localhost', redis: { path: '/run/redis.sock' } });
    expect(redisOptions({ driver: 'redis', endpoints: ['redis://10.0.0.1:6379/2'], prefix: 'x:' })).toEqual({ url: 'redis://10.0.0.1:6379/2', prefix: 'x:' });
  });
});
