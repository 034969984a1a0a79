import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryClientDriver, NbApi } from '@dragonflow/nb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../main.js';
import { resolveDbSpec, startDbServer } from './db.js';

let dir: string;
let served: { endpoints: string[]; close(): Promise<void> };
let endpoint: string;
const TOKEN = 'cli-db-test-admin-token-0123';

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'df-cli-db-'));
  served = await startDbServer({ listen: [`unix:${join(dir, 'nb.sock')}`], file: join(dir, 'nb.jsonl'), grants: [{ role: 'admin', token: TOKEN }] });
  endpoint = served.endpoints[0]!;
  writeFileSync(join(dir, 'admin.token'), `${TOKEN}\n`, { mode: 0o600 });
  process.env['DF_DB_TOKEN_FILE'] = join(dir, 'admin.token');
});
afterEach(async () => {
  delete process.env['DF_DB_TOKEN_FILE'];
  await served.close();
  rmSync(dir, { recursive: true, force: true });
});

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const write = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (err.push(String(s)), true));
  try {
    const code = await main(argv);
    return { code, out: out.join('\n'), err: err.join('') };
  } finally {
    log.mockRestore();
    write.mockRestore();
  }
}

async function seed(): Promise<{ netId: string; portId: string }> {
  const driver = await MemoryClientDriver.connect({ endpoint, token: TOKEN });
  const nb = await NbApi.open(driver);
  try {
    const ls = await nb.create('logical_switch', { name: 'blue' });
    const subnet = await nb.create('subnet', { networkId: ls.id, ipVersion: 4, cidr: '10.0.0.0/24' });
    const port = await nb.create('logical_port', { name: 'vm1', networkId: ls.id, macAddress: 'fa:16:3e:00:00:01', fixedIps: [{ subnetId: subnet.id, ipAddress: '10.0.0.5' }] });
    return { netId: ls.id, portId: port.id };
  } finally {
    await nb.close();
    await driver.close();
  }
}

describe('dfctl db', () => {
  it('lists a table with the columns that matter', async () => {
    const { portId } = await seed();
    const r = await run('db', '--db', 'memory', '--endpoint', endpoint, 'ls', 'logical_port');
    expect(r.code).toBe(0);
    expect(r.out).toContain(portId);
    expect(r.out).toMatch(/vm1\s+v1\s+key=\d+\s+fa:16:3e:00:00:01\s+10\.0\.0\.5\s+DOWN/);
    const json = await run('db', '--db', 'memory', '--endpoint', endpoint, 'ls', 'logical_switch', '--json');
    expect(JSON.parse(json.out).map((o: { name: string }) => o.name)).toEqual(['blue']);
  });

  it('gets one object and says when it does not exist', async () => {
    const { netId } = await seed();
    const r = await run('db', '--db', 'memory', '-e', endpoint, 'get', 'logical_switch', netId);
    expect(JSON.parse(r.out)).toMatchObject({ id: netId, name: 'blue', version: 2 });
    const missing = await run('db', '--db', 'memory', '-e', endpoint, 'get', 'logical_switch', '00000000-0000-4000-8000-000000000000');
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/does not exist/);
  });

  it('dumps everything at one revision', async () => {
    await seed();
    const r = await run('db', '--db', 'memory', '-e', endpoint, 'dump');
    const dump = JSON.parse(r.out) as { revision: number; tables: Record<string, unknown[]> };
    expect(dump.revision).toBeGreaterThan(0);
    expect(Object.keys(dump.tables).sort()).toEqual(['logical_port', 'logical_switch', 'subnet']);
    const all = JSON.parse((await run('db', '--db', 'memory', '-e', endpoint, 'dump', '--internal')).out) as { tables: Record<string, unknown[]> };
    expect(all.tables['_claim']).toBeDefined();
  });

  it('watches changes from a revision', async () => {
    await seed();
    const r = await run('db', '--db', 'memory', '-e', endpoint, 'watch', '--from', '1', '--count', '3', '--tables', 'logical_switch,subnet,logical_port');
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toMatch(/^1\tput\tlogical_switch\t[0-9a-f-]+\tv1$/);
    expect(lines.some((l) => /\tput\tlogical_port\t/.test(l))).toBe(true);
  });

  it('takes the DB from a config file', async () => {
    await seed();
    const cfg = join(dir, 'api.yaml');
    writeFileSync(cfg, `db:\n  driver: memory\n  serve: [${endpoint}]\n  grants: [{ role: admin, tokenFile: ${join(dir, 'admin.token')} }]\n`);
    delete process.env['DF_DB_TOKEN_FILE'];
    const r = await run('db', '--config', cfg, 'ls', 'subnet');
    expect(r.out).toContain('10.0.0.0/24');
  });

  it('is refused by the served DB without a token', async () => {
    delete process.env['DF_DB_TOKEN_FILE'];
    const r = await run('db', '--db', 'memory', '-e', endpoint, 'ls', 'logical_switch');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/refused this client/);
  });

  it('explains missing or wrong DB choices', async () => {
    expect(() => resolveDbSpec({}, {})).toThrow(/say which DB/);
    expect(() => resolveDbSpec({ db: 'mysql' }, {})).toThrow(/'mysql' is not a driver/);
    expect(() => resolveDbSpec({ db: 'etcd' }, {})).toThrow(/--db etcd: give --endpoint/);
    expect(() => resolveDbSpec({ db: 'memory' }, {})).toThrow(/--endpoint unix:\/path/);
    expect(resolveDbSpec({}, { DF_DB: 'etcd', DF_DB_ENDPOINT: 'http://a:2379,http://b:2379' })).toEqual({ driver: 'etcd', endpoints: ['http://a:2379', 'http://b:2379'] });
    const r = await run('db', '--db', 'memory', '-e', endpoint, 'ls', 'ports');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no table 'ports' \(tables: chassis/);
  });
});

describe('dfctl db on etcd and redis', () => {
  it('lists what an NbApi wrote to a real etcd and a real redis', async () => {
    const { startEtcd, startRedis } = await import('@dragonflow/sandbox');
    const { EtcdDriver } = await import('@dragonflow/db-etcd');
    const { RedisDriver } = await import('@dragonflow/db-redis');
    const etcd = await startEtcd();
    const redis = await startRedis({ persistent: false });
    try {
      for (const [kind, ep, driver] of [
        ['etcd', etcd.endpoint, await EtcdDriver.connect({ endpoints: etcd.endpoint, prefix: '/t/' })],
        ['redis', redis.url, await RedisDriver.connect({ url: redis.url, prefix: 't:' })],
      ] as const) {
        const nb = await NbApi.open(driver);
        await nb.create('logical_switch', { name: `on-${kind}` });
        await nb.close();
        await driver.close();
        const r = await run('db', '--db', kind, '-e', ep, '--prefix', kind === 'etcd' ? '/t/' : 't:', 'ls', 'logical_switch');
        expect(r.err).toBe('');
        expect(r.out).toContain(`on-${kind}`);
      }
    } finally {
      await etcd.stop();
      await redis.stop();
    }
  }, 60_000);
});
