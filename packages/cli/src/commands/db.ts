import { readFileSync } from 'node:fs';
import { DfError, describeError } from '@dragonflow/base';
import { DRIVER_KINDS, type DbSection, type DriverKind, openNbDb } from '@dragonflow/db';
import {
  type ChangeBatch,
  MemoryServer,
  MemoryStore,
  type NbDriver,
  type NbGrant,
  type StoredRecord,
  TABLES,
  decodeObject,
  isTableName,
} from '@dragonflow/nb';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';

/*
 * dfctl db — look into the northbound DB.
 *
 * Which DB: --db memory|etcd|redis with --endpoint (repeatable or comma-separated),
 * or --config FILE (the `db:` section of a df-api or df-controller config), or the
 * environment (DF_DB, DF_DB_ENDPOINT, DF_DB_PREFIX). Flags win over the file, the
 * file over the environment. A memory DB is reached through the process serving it
 * (`--endpoint unix:/path`) with a token it knows (--token-file, or the config's
 * db.tokenFile / first admin grant, or DF_DB_TOKEN_FILE), or read from its journal
 * with --file (read-only use).
 */

export interface DbFlags {
  db?: string;
  endpoint?: string[];
  prefix?: string;
  file?: string;
  config?: string;
  tokenFile?: string;
}

function fail(message: string, key?: string): never {
  throw new DfError('CLI_USAGE', message, { context: key ? { key } : {} });
}

function splitList(values: readonly string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

/** Reads the `db:` section of a df-api / df-controller config file. */
function dbFromConfig(file: string): Partial<DbSection> & { serve?: string[]; tokenFile?: string } {
  let raw: unknown;
  try {
    const text = readFileSync(file, 'utf8');
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    fail(`${file}: cannot read it: ${describeError(e)}`, 'config');
  }
  const db = (raw as { db?: Record<string, unknown> } | null)?.db;
  if (db === undefined) fail(`${file}: has no db section`, 'db');
  if (typeof db !== 'object' || db === null) fail(`${file}: db must be a mapping`, 'db');
  const list = (k: string): string[] | undefined => {
    const v = db[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return splitList([v]);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return splitList(v as string[]);
    fail(`${file}: db.${k} must be a string or a list of strings`, `db.${k}`);
  };
  const str = (k: string): string | undefined => {
    const v = db[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') fail(`${file}: db.${k} must be a string`, `db.${k}`);
    return v;
  };
  const out: { driver?: DriverKind; endpoints?: string[]; serve?: string[]; prefix?: string; file?: string; tokenFile?: string } = {};
  // A df-controller config names its token file; a df-api config, the grants of the DB it serves (an admin one is the operator's).
  const tokenFile = str('tokenFile');
  const grants = Array.isArray(db['grants']) ? (db['grants'] as { role?: unknown; tokenFile?: unknown }[]) : [];
  const admin = grants.find((g) => g?.role === 'admin' && typeof g.tokenFile === 'string');
  if (tokenFile !== undefined) out.tokenFile = tokenFile;
  else if (admin) out.tokenFile = admin.tokenFile as string;
  const driver = str('driver');
  if (driver !== undefined) out.driver = driver as DriverKind;
  const endpoints = list('endpoints');
  if (endpoints) out.endpoints = endpoints;
  const serve = list('serve');
  if (serve) out.serve = serve;
  const prefix = str('prefix');
  if (prefix !== undefined) out.prefix = prefix;
  const f = str('file');
  if (f !== undefined) out.file = f;
  return out;
}

/** Resolves flags, config file and environment into one db section (what `openNbDb` opens). */
export function resolveDbSpec(flags: DbFlags, env: NodeJS.ProcessEnv = process.env): DbSection {
  const fromFile = flags.config ? dbFromConfig(flags.config) : {};
  const driver = flags.db ?? fromFile.driver ?? env['DF_DB'] ?? (fromFile.serve?.length ? 'memory' : undefined);
  if (driver === undefined) fail(`say which DB: --db ${DRIVER_KINDS.join('|')} with --endpoint, or --config FILE (or set DF_DB / DF_DB_ENDPOINT)`, 'db');
  if (!(DRIVER_KINDS as readonly string[]).includes(driver)) fail(`--db: '${driver}' is not a driver (expected ${DRIVER_KINDS.join(', ')})`, 'db');
  let endpoints: readonly string[] = splitList(flags.endpoint);
  if (endpoints.length === 0) endpoints = fromFile.endpoints ?? [];
  // A config that serves its memory DB: reach it where it is served.
  if (endpoints.length === 0 && driver === 'memory' && !flags.file) endpoints = fromFile.serve ?? [];
  if (endpoints.length === 0) endpoints = splitList(env['DF_DB_ENDPOINT'] ? [env['DF_DB_ENDPOINT']] : []);
  const file = flags.file ?? (endpoints.length === 0 ? fromFile.file : undefined);
  const prefix = flags.prefix ?? fromFile.prefix ?? env['DF_DB_PREFIX'];
  if (driver === 'memory' && endpoints.length === 0 && !file) {
    fail('--db memory: give --endpoint unix:/path (or tcp:host:port) of the process serving it, or --file of its journal', 'endpoint');
  }
  if (driver !== 'memory' && endpoints.length === 0) fail(`--db ${driver}: give --endpoint (e.g. ${driver === 'etcd' ? 'http://127.0.0.1:2379' : 'redis://127.0.0.1:6379'})`, 'endpoint');
  if (driver !== 'memory' && file) fail('--file only applies to --db memory', 'file');
  const tokenFile = flags.tokenFile ?? fromFile.tokenFile ?? env['DF_DB_TOKEN_FILE'];
  let token: string | undefined;
  if (driver === 'memory' && endpoints.length > 0 && tokenFile !== undefined) {
    try {
      token = readFileSync(tokenFile, 'utf8').trim();
    } catch (e) {
      fail(`--token-file: cannot read ${tokenFile}: ${describeError(e)}`, 'token-file');
    }
  }
  return { driver: driver as DriverKind, endpoints, ...(prefix !== undefined ? { prefix } : {}), ...(file !== undefined ? { file } : {}), ...(token !== undefined ? { token } : {}) };
}

function checkTable(table: string): void {
  if (isTableName(table) || table.startsWith('_')) return;
  fail(`no table '${table}' (tables: ${TABLES.join(', ')}; internal: _claim, _guard)`, 'table');
}

function decoded(r: StoredRecord): Record<string, unknown> {
  if (!isTableName(r.table)) return { id: r.id, value: r.value, version: r.version };
  return decodeObject(r.table, r.value, r.version) as unknown as Record<string, unknown>;
}

/** One line per object: the columns an operator looks at first. */
function columns(table: string, o: Record<string, unknown>): string[] {
  const s = (v: unknown): string => (v === null || v === undefined || v === '' ? '-' : Array.isArray(v) ? v.join(',') : String(v));
  const base = [s(o['id']), s(o['name']), `v${s(o['version'])}`];
  switch (table) {
    case 'chassis':
      return [...base, s(o['tunnelIp']), s(o['tunnelTypes'])];
    case 'chassis_liveness':
      return [...base, `since ${s(o['startedAt'])}`];
    case 'logical_switch':
      return [...base, `key=${s(o['key'])}`, `${s(o['networkType'])}:${s(o['segmentationId'])}`, `mtu=${s(o['mtu'])}`, o['external'] ? 'external' : ''];
    case 'subnet':
      return [...base, s(o['cidr']), `gw=${s(o['gatewayIp'])}`, `net=${s(o['networkId'])}`];
    case 'logical_port':
      return [
        ...base,
        `key=${s(o['key'])}`,
        s(o['macAddress']),
        s((o['fixedIps'] as { ipAddress: string }[]).map((f) => f.ipAddress)),
        s(o['status']),
        `chassis=${s(o['chassisId'])}`,
        s(o['deviceOwner']),
      ];
    case 'logical_router':
      return [...base, `key=${s(o['key'])}`, `${(o['ports'] as unknown[]).length} ports`, o['externalGateway'] ? 'gateway' : ''];
    case 'floating_ip':
      return [...base, s(o['floatingIpAddress']), `-> ${s(o['fixedIpAddress'])}`, s(o['status'])];
    case 'security_group':
      return [...base, `key=${s(o['key'])}`, `${(o['rules'] as unknown[]).length} rules`];
    default:
      return [s(o['id']), s(o['value']), `v${s(o['version'])}`];
  }
}

function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

function describeBatch(b: ChangeBatch): string {
  return b.events.map((e) => `${b.revision}\t${e.type}\t${e.table}\t${e.id}\tv${e.version}`).join('\n');
}

async function withDriver<T>(flags: DbFlags, fn: (d: NbDriver) => Promise<T>): Promise<T> {
  const db = await openNbDb(resolveDbSpec(flags));
  try {
    return await fn(db.driver);
  } finally {
    await db.close();
  }
}

export interface WatchCommandOptions {
  from?: string;
  tables?: string;
  json?: boolean;
  count?: string;
}

/** Serves an embedded memory DB (journaled to `file`) on `listen` endpoints. */
export async function startDbServer(options: { file?: string; listen: string[]; grants: NbGrant[] }): Promise<{ endpoints: string[]; close(): Promise<void> }> {
  if (options.listen.length === 0) fail('serve: give at least one --listen unix:/path or tcp:127.0.0.1:PORT', 'listen');
  const store = new MemoryStore(options.file ? { file: options.file } : {});
  try {
    const server = await MemoryServer.start({ store, listen: options.listen, grants: options.grants, onPeerClosed: (e) => console.error(`closed a client connection (${e.peer}): ${e.reason}`) });
    return {
      endpoints: [...server.endpoints],
      async close() {
        await server.close();
        store.close();
      },
    };
  } catch (e) {
    store.close();
    throw e;
  }
}

export function registerDb(program: Command): void {
  const db = program
    .command('db')
    .description('inspect the northbound DB: list, get, dump and watch objects; serve an embedded memory DB')
    .option('--db <driver>', `DB driver: ${DRIVER_KINDS.join(', ')} (env DF_DB)`)
    .option(
      '-e, --endpoint <endpoint>',
      'where the DB is: http://host:2379 (etcd), redis://host:6379, unix:/path or tcp:host:port (served memory); repeat or comma-separate for several; env DF_DB_ENDPOINT',
      (v: string, acc: string[] = []) => [...acc, v],
    )
    .option('--prefix <prefix>', 'key prefix of the deployment (etcd, redis; env DF_DB_PREFIX)')
    .option('--file <file>', 'a memory DB journal to read (memory only)')
    .option('-c, --config <file>', 'take the DB from the db: section of a df-api or df-controller config')
    .option('--token-file <file>', 'memory: file holding the token the serving process knows (env DF_DB_TOKEN_FILE)');

  const flags = (cmd: Command): DbFlags => cmd.optsWithGlobals() as DbFlags;

  db.command('ls')
    .description(`list the objects of a table (${TABLES.join(', ')})`)
    .argument('<table>', 'table name')
    .option('--json', 'print as JSON')
    .action(async (tableName: string, opts: { json?: boolean }, cmd: Command) => {
      checkTable(tableName);
      await withDriver(flags(cmd), async (d) => {
        const snap = await d.list(tableName);
        const objs = snap.records.map(decoded).sort((a, b) => String(a['name'] ?? a['id']).localeCompare(String(b['name'] ?? b['id'])));
        if (opts.json) console.log(JSON.stringify(objs, null, 2));
        else if (objs.length === 0) console.log(`(no ${tableName} objects; revision ${snap.revision})`);
        else console.log(table(objs.map((o) => columns(tableName, o))));
      });
    });

  db.command('get')
    .description('print one object as JSON')
    .argument('<table>', 'table name')
    .argument('<id>', 'object id')
    .action(async (tableName: string, id: string, _opts: unknown, cmd: Command) => {
      checkTable(tableName);
      await withDriver(flags(cmd), async (d) => {
        const r = await d.get(tableName, id);
        if (!r) fail(`${tableName} ${id} does not exist`, 'id');
        console.log(JSON.stringify({ ...decoded(r), _modRevision: r.modRevision, ...(r.lease ? { _lease: r.lease } : {}) }, null, 2));
      });
    });

  db.command('dump')
    .description('print every object at one revision (JSON)')
    .option('--tables <list>', 'only these tables (comma-separated)')
    .option('--internal', 'include the internal claim and guard tables')
    .action(async (opts: { tables?: string; internal?: boolean }, cmd: Command) => {
      const tables = opts.tables ? splitList([opts.tables]) : undefined;
      tables?.forEach(checkTable);
      await withDriver(flags(cmd), async (d) => {
        const snap = await d.snapshot(tables);
        const out: Record<string, Record<string, unknown>[]> = {};
        for (const r of snap.records) {
          if (!opts.internal && !tables && !isTableName(r.table)) continue;
          (out[r.table] ??= []).push(decoded(r));
        }
        console.log(JSON.stringify({ revision: snap.revision, driver: d.kind, endpoint: d.endpoint, tables: out }, null, 2));
      });
    });

  db.command('watch')
    .description('print changes as they are committed (one line per change: revision, put/delete, table, id, version)')
    .option('--from <revision>', 'start at this revision (default: only new changes)')
    .option('--tables <list>', 'only these tables (comma-separated)')
    .option('--json', 'print each commit as a JSON line')
    .option('--count <n>', 'stop after n commits')
    .action(async (opts: WatchCommandOptions, cmd: Command) => {
      const tables = opts.tables ? splitList([opts.tables]) : undefined;
      tables?.forEach(checkTable);
      const count = opts.count !== undefined ? Number(opts.count) : Infinity;
      if (!(count > 0)) fail(`--count: '${opts.count}' is not a positive number`, 'count');
      const from = opts.from !== undefined ? Number(opts.from) : undefined;
      if (from !== undefined && !(Number.isInteger(from) && from >= 1)) fail(`--from: '${opts.from}' is not a revision (1, 2, …)`, 'from');
      await withDriver(flags(cmd), async (d) => {
        const start = from ?? (await d.currentRevision()) + 1;
        const feed = d.watch(start, tables ? { tables } : {});
        const stop = (): void => feed.close();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        if (!opts.json) process.stderr.write(`watching ${d.kind} ${d.endpoint} from revision ${start} (Ctrl-C to stop)\n`);
        let seen = 0;
        try {
          for await (const b of feed) {
            console.log(opts.json ? JSON.stringify(b) : describeBatch(b));
            if (++seen >= count) break;
          }
        } finally {
          feed.close();
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
      });
    });

  db.command('serve')
    .description('serve an embedded memory DB to other processes (controllers in network namespaces, df-api) until stopped')
    .requiredOption('--listen <endpoint>', 'unix:/path/to/socket or tcp:127.0.0.1:PORT (repeat for both)', (v: string, acc: string[] = []) => [...acc, v])
    .option('--file <file>', 'persist to this journal (loaded when it exists)')
    .requiredOption('--token-file <file>', 'file holding the admin token (full rights; df-api and the operator use it)')
    .option('--controller-token-file <file>', 'file holding a token for df-controllers (chassis rows, liveness, port bindings only)')
    .action(async (opts: { listen: string[]; file?: string; tokenFile: string; controllerTokenFile?: string }) => {
      const read = (f: string, flag: string): string => {
        try {
          return readFileSync(f, 'utf8').trim();
        } catch (e) {
          fail(`${flag}: cannot read ${f}: ${describeError(e)}`, flag);
        }
      };
      const grants: NbGrant[] = [{ role: 'admin', token: read(opts.tokenFile, '--token-file') }];
      if (opts.controllerTokenFile) grants.push({ role: 'controller', token: read(opts.controllerTokenFile, '--controller-token-file') });
      const served = await startDbServer({ listen: splitList(opts.listen), grants, ...(opts.file ? { file: opts.file } : {}) });
      console.log(`serving the memory DB${opts.file ? ` (${opts.file})` : ''} at ${served.endpoints.join(', ')}`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await served.close();
    });
}
