/**
 * The NB DB of the in-process convergence benchmarks, in a process of its own: a
 * memory store served on a unix socket (as df-api serves the sandbox's DB), which
 * also does the writes df-api would do, on command from stdin, answering `rev R`.
 * So the writer's memory and CPU are not counted as the controller's.
 *
 * A benchmark names its commands (`name → ops`); `prepare NAME ARGS…` builds a
 * commit's ops ahead (validated and encoded, what the API does before it writes) so
 * the clock runs from the write, and `bulk` commits what was prepared.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { MemoryServer, MemoryStore, encodeObject, parseObject, type TableName, type TxnOp } from '@dragonflow/nb';
import { makeTempDir, removeDir, stopPid, type CleanupStack } from '@dragonflow/sandbox';

export type DbCommands = Readonly<Record<string, (args: readonly string[]) => TxnOp[]>>;

/** A validated, encoded put of `obj` into `table`. */
export function put(table: TableName, obj: Record<string, unknown>): TxnOp {
  const parsed = parseObject(table, obj) as Record<string, unknown>;
  return { type: 'put', table, id: String(parsed['id']), value: encodeObject(table, parsed as never) };
}

/** A Neutron-style MAC from a number below 2^24. */
export const benchMac = (n: number): string =>
  `fa:16:3e:${((n >> 16) & 255).toString(16).padStart(2, '0')}:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;

export const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

/** A process' user+system CPU seconds, from /proc. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The DB process' main: serve the store on `endpoint` with a controller grant for `token`, run `commands`. */
export async function serveDb(endpoint: string, token: string, commands: DbCommands): Promise<void> {
  const store = new MemoryStore();
  // The controller-side driver binds a port and registers its chassis: the controller role suffices.
  await MemoryServer.start({ store, listen: [endpoint], grants: [{ role: 'controller', token }] });
  let prepared: TxnOp[] = [];
  const ops = (name: string, args: readonly string[]): TxnOp[] => {
    const command = commands[name];
    if (!command) throw new Error(`unknown DB command ${name} (known: ${Object.keys(commands).join(', ')}, prepare, bulk)`);
    return command(args);
  };
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [cmd, ...args] = line.trim().split(' ');
    let rev = 0;
    if (cmd === 'prepare') prepared = ops(args[0]!, args.slice(1));
    else if (cmd === 'bulk') {
      rev = store.commit(prepared).revision;
      prepared = [];
    } else rev = store.commit(ops(cmd!, args)).revision;
    console.log(`rev ${rev}`);
  });
  console.log('ready');
}

/**
 * A convergence benchmark's process may be its own DB server (started by
 * startDbProcess with `--serve-db ENDPOINT`): serves and returns true when it is.
 */
export async function serveDbIfAsked(token: string, commands: DbCommands): Promise<boolean> {
  const at = process.argv.indexOf('--serve-db');
  if (at < 0) return false;
  await serveDb(process.argv[at + 1]!, token, commands);
  return true;
}

export interface DbProcess {
  readonly endpoint: string;
  readonly pid: number;
  /** Sends one command and resolves with the revision of its commit (0 for `prepare`). */
  request(command: string): Promise<number>;
}

/** Starts `script --serve-db ENDPOINT` (a benchmark that calls serveDb for that flag) and waits until it serves. */
export async function startDbProcess(cleanup: CleanupStack, script: string): Promise<DbProcess> {
  const dir = makeTempDir('df-bench-db-');
  cleanup.defer('remove db dir', () => removeDir(dir));
  const endpoint = `unix:${join(dir, 'nb.sock')}`;
  const server: ChildProcess = spawn(process.execPath, [script, '--serve-db', endpoint], { stdio: ['pipe', 'pipe', 'inherit'] });
  cleanup.defer('stop db server', () => stopPid(server.pid!));
  await new Promise<void>((resolve, reject) => {
    server.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    server.on('exit', (code) => reject(new Error(`the NB DB server exited (${code})`)));
  });
  const waiting: ((rev: number) => void)[] = [];
  createInterface({ input: server.stdout! }).on('line', (line) => {
    const m = /^rev (\d+)$/.exec(line);
    if (m) waiting.shift()?.(Number(m[1]));
  });
  return {
    endpoint,
    pid: server.pid!,
    request: (command) =>
      new Promise((resolve) => {
        waiting.push(resolve);
        server.stdin!.write(`${command}\n`);
      }),
  };
}
