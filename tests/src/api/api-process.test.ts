import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemoryClientDriver, NbApi } from '@dragonflow/nb';
import { freePort, isAlive, makeTempDir, removeDir, spawnDaemon, stopPid, waitFor } from '@dragonflow/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok, quiet, requireOpenstackCli } from './openstack.js';

/** The built df-api executable (turbo builds dependencies before tests run). */
const BIN = fileURLToPath(new URL('../../../packages/api/dist/bin.js', import.meta.url));
const ADMIN_TOKEN = 'api-process-test-admin-token-01';

function dfApi(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('df-api as a process', () => {
  let dir: string;
  let pid: number | undefined;
  let url: string;
  let socket: string;

  beforeAll(async () => {
    requireOpenstackCli();
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build the workspace first (pnpm build)`);
    dir = makeTempDir('df-api-proc-');
    socket = join(dir, 'nb.sock');
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const config = join(dir, 'df-api.yaml');
    writeFileSync(join(dir, 'admin.token'), `${ADMIN_TOKEN}\n`, { mode: 0o600 });
    writeFileSync(
      config,
      [`listen: { host: 127.0.0.1, port: ${port} }`, 'db:', '  driver: memory', `  file: ${join(dir, 'nb.db')}`, `  serve: ['unix:${socket}']`, `  grants: [{ role: admin, tokenFile: '${join(dir, 'admin.token')}' }]`, 'logLevel: info', ''].join('\n'),
    );
    const log = join(dir, 'df-api.log');
    pid = spawnDaemon(process.execPath, [BIN, '--config', config], { logFile: log });
    await waitFor(async () => (await fetch(`${url}/`).catch(() => undefined))?.ok === true, { what: `df-api to answer on ${url}`, timeoutMs: 20_000, logFile: log });
  });
  afterAll(async () => {
    if (pid !== undefined) await stopPid(pid);
    if (dir) removeDir(dir);
  });

  it('serves the openstack CLI and shares its memory DB on a unix socket', async () => {
    const cli = { endpoint: url };
    const net = await ok(cli, ['network', 'create', 'proc-net']);
    expect((await ok<{ Name: string }[]>(cli, ['network', 'list'])).map((n) => n.Name)).toEqual(['proc-net']);
    const driver = await MemoryClientDriver.connect({ endpoint: `unix:${socket}`, token: ADMIN_TOKEN });
    try {
      const nb = await NbApi.open(driver, { mirror: false });
      expect((await nb.get('logical_switch', String(net['id'])))?.name).toBe('proc-net');
      await nb.close();
    } finally {
      await driver.close();
    }
    await quiet(cli, ['network', 'delete', 'proc-net']);
  });

  it('stops cleanly on SIGTERM and removes its socket', async () => {
    process.kill(pid!, 'SIGTERM');
    await waitFor(() => !isAlive(pid!), { what: 'df-api to exit on SIGTERM', timeoutMs: 10_000 });
    pid = undefined;
    expect(existsSync(socket)).toBe(false);
    expect(readFileSync(join(dir, 'df-api.log'), 'utf8')).toContain('df-api listening on');
  });

  it('explains itself in --help and names the file, key and reason of a bad config', async () => {
    const help = await dfApi(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--config <file>');
    expect(help.stdout).toContain('openstack --os-auth-type none --os-endpoint http://127.0.0.1:9696 network list');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'db:\n  driver: etcd\n');
    const r = await dfApi(['--config', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`df-api: ${bad}: db.endpoints: at least one endpoint is required for the etcd driver`);
    const check = await dfApi(['--config', bad, '--check']);
    expect(check.code).toBe(1);
  });

  it('refuses noauth on a non-loopback address unless auth.allowInsecureNoauth, naming the key', async () => {
    const r = await dfApi(['--host', '0.0.0.0', '--port', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      'df-api: (defaults): listen.host: noauth (auth.mode) on 0.0.0.0 lets anyone who reaches it act as admin: listen on a loopback address, use auth.mode: token, or set auth.allowInsecureNoauth: true',
    );
    const allowed = join(dir, 'insecure.yaml');
    writeFileSync(allowed, 'auth: { allowInsecureNoauth: true }\n');
    const ok = await dfApi(['--config', allowed, '--host', '0.0.0.0', '--check']);
    expect(ok.code).toBe(0);
  });
});
