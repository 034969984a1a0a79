/**
 * df-controller as a process, as an operator runs it: --help, config errors that
 * name the file, the key and the reason, --check; started before its DB and its
 * OVS exist it says so, retries with backoff and comes up when they appear; the DB
 * going away makes it degraded (it keeps the switch's flows and answers health),
 * the DB coming back makes it whole; SIGTERM stops it leaving the flows in place.
 * Needs root, Open vSwitch and etcd (./scripts/setup); never skips.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openNbDb } from '@dragonflow/db';
import { NbApi, chassisIdFromName } from '@dragonflow/nb';
import { Sandbox, freePort, isAlive, makeTempDir, removeDir, requireBinary, spawnDaemon, startEtcd, stopPid, type EtcdServer } from '@dragonflow/sandbox';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROOT, curlUnix, ensureBuilt } from '../sandbox-cli/df-cli.js';

const BIN = join(ROOT, 'packages/controller/dist/bin.js');

function dfController(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 }, (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }));
  });
}

let dir: string;
beforeAll(() => {
  ensureBuilt();
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: pnpm build`);
  dir = makeTempDir('df-ctl-proc-');
});
afterAll(() => removeDir(dir));

function configFile(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

describe('df-controller command line', () => {
  test('--help explains the config, the behaviour and the exit codes', async () => {
    const r = await dfController(['--help']);
    expect(r.code).toBe(0);
    for (const s of ['Usage: df-controller', '--config <file>', '--check', 'Config example', 'tunnelIp', 'management:', 'retries with backoff', 'SIGTERM', 'every flow in place']) expect(r.stdout).toContain(s);
  });

  test('config errors name the file, the key and the reason, and exit 1', async () => {
    const cases: [string, string, RegExp][] = [
      ['bad-ip.yaml', 'chassis: { tunnelIp: 10.0.0.300, tunnelTypes: [vxlan] }\n', /bad-ip\.yaml: chassis\.tunnelIp: must be an IPv4 or IPv6 address/],
      ['no-ip.yaml', 'chassis: { name: c1 }\n', /no-ip\.yaml: chassis\.tunnelIp: is required to run df-controller/],
      ['typo.yaml', 'chassis: { tunnelIp: 10.0.0.1, tunnelTypes: [vxlan] }\nopenflw: {}\n', /typo\.yaml: \(top level\): unknown key\(s\) 'openflw'/],
      ['db.yaml', 'chassis: { tunnelIp: 10.0.0.1, tunnelTypes: [vxlan] }\ndb: { driver: etcd }\n', /db\.yaml: db\.endpoints: at least one endpoint is required for the etcd driver/],
      ['yaml.yaml', 'chassis: [1, 2\n', /yaml\.yaml:\d+:\d+: not valid YAML\/JSON/],
    ];
    for (const [name, text, re] of cases) {
      const r = await dfController(['--config', configFile(name, text)]);
      expect(r.code, name).toBe(1);
      expect(r.stderr, name).toMatch(re);
      expect(r.stderr, name).toMatch(/^df-controller: /);
    }
    const missing = await dfController(['--config', join(dir, 'nope.yaml')]);
    expect(missing.stderr).toMatch(/nope\.yaml: cannot read the config file \(ENOENT\)/);
    const app = await dfController(['--config', configFile('app.yaml', 'chassis: { tunnelIp: 10.0.0.1, tunnelTypes: [vxlan] }\napps: ["@acme/not-installed"]\n'), '--check']);
    expect(app.code).toBe(1);
    expect(app.stderr).toMatch(/app package '@acme\/not-installed' is not installed/);
  });

  test('--check validates a good config (and loads its apps)', async () => {
    const f = configFile('good.yaml', `chassis: { tunnelIp: 10.0.0.1, tunnelTypes: [vxlan] }\nappsFrom: ${join(ROOT, 'packages/cli')}\napps: ['@dragonflow/app-l2']\n`);
    const r = await dfController(['--config', f, '--check']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/good\.yaml: ok/);
    expect(r.code).toBe(0);
  });
});

describe('df-controller started before its DB and OVS exist', () => {
  let sb: Sandbox | undefined;
  let etcd: EtcdServer | undefined;
  let pid: number | undefined;
  const log = (): string => readFileSync(join(dir, 'controller.log'), 'utf8');
  const health = async (): Promise<{ status: string; problems: string[]; liveness: { alive: boolean }; db: { connected: boolean } }> => JSON.parse(await curlUnix(join(dir, 'mgmt.sock'), '/healthz'));
  async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await fn().catch(() => undefined);
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; log:\n${log().split('\n').slice(-10).join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  afterAll(async () => {
    if (pid) await stopPid(pid);
    await etcd?.stop();
    await sb?.destroy();
  });

  test('says what it waits for, retries with backoff, and comes up when OVS and the DB appear', async () => {
    requireBinary('etcd');
    const port = await freePort();
    sb = await Sandbox.create({ dir: join(dir, 'sb') });
    const chassisDir = join(dir, 'sb', 'chassis-1');
    const f = configFile(
      'controller.yaml',
      `chassis: { name: late-1, tunnelIp: 172.31.0.1, tunnelTypes: [vxlan], livenessTtlMs: 3000 }
db: { driver: etcd, endpoints: ['http://127.0.0.1:${port}'] }
ovsdb: { endpoint: 'unix:${join(chassisDir, 'db.sock')}' }
openflow: { listen: 'unix:${join(chassisDir, 'controller.sock')}' }
bridge: { integration: br-int, datapathType: netdev }
appsFrom: ${join(ROOT, 'packages/cli')}
apps: ['@dragonflow/app-l2']
management: { listen: 'unix:${join(dir, 'mgmt.sock')}' }
`,
    );
    // the controller runs in the root namespace: OVS through its unix sockets, etcd on 127.0.0.1
    pid = spawnDaemon(process.execPath, [BIN, '--config', f], { logFile: join(dir, 'controller.log') });
    const waiting = await until('health while waiting', async () => {
      const h = await health();
      return h.problems.some((p) => p.startsWith('NB DB not reached yet')) && h.problems.some((p) => p.startsWith('OVSDB')) ? h : undefined;
    });
    expect(waiting.status).toBe('starting');
    // Three retries logged (250, 500, 1000 ms of backoff, each less up to half of it at random so a fleet that lost
    // its DB together spreads out): polled for, not slept for, so a slow machine only waits longer.
    const dbRetries = (): number[] =>
      log()
        .split('\n')
        .filter((l) => l.includes(`cannot connect to the NB DB (etcd at http://127.0.0.1:${port}) yet`))
        .map((l) => (JSON.parse(l) as { retryInMs: number }).retryInMs);
    const retries = await until('three NB DB retries logged', async () => (dbRetries().length >= 3 ? dbRetries() : undefined));
    expect(isAlive(pid)).toBe(true);
    [250, 500, 1000].forEach((full, i) => {
      expect(retries[i]).toBeGreaterThanOrEqual(full / 2);
      expect(retries[i]).toBeLessThanOrEqual(full);
    });
    expect(log()).toContain('cannot reach OVSDB; retrying with backoff');

    // OVS appears (the chassis, its br-int pointing at the controller), then the DB
    await sb.createChassis(1, { tunnelTypes: ['vxlan'] });
    etcd = await startEtcd({ port });
    const up = await until('healthy', async () => {
      const h = await health();
      return h.status === 'ok' ? h : undefined;
    });
    expect(up.liveness.alive).toBe(true);
    const db = await openNbDb({ driver: 'etcd', endpoints: [etcd.endpoint] });
    const nb = await NbApi.open(db.driver);
    try {
      expect(await nb.get('chassis', chassisIdFromName('late-1'))).toMatchObject({ name: 'late-1', tunnelIp: '172.31.0.1' });
      const net = await nb.create('logical_switch', { name: 'n', networkType: 'vxlan', segmentationId: 77 });
      const sub = await nb.create('subnet', { networkId: net.id, cidr: '10.60.0.0/24', ipVersion: 4 });
      const p = await nb.create('logical_port', { networkId: net.id, macAddress: 'fa:16:3e:60:00:05', fixedIps: [{ subnetId: sub.id, ipAddress: '10.60.0.5' }] });
      await sb.createVm(1, { name: 'v', ip: '10.60.0.5/24', mac: p.macAddress, portId: p.id });
      await until('ACTIVE', async () => (await nb.get('logical_port', p.id))?.status === 'ACTIVE');
    } finally {
      await nb.close();
      await db.close();
    }
  });

  test('DB gone: degraded, flows kept; DB back: whole again; SIGTERM leaves the flows', async () => {
    const chassis = sb!.chassis(1);
    const flowCount = async (): Promise<number> => (await chassis.ofctl('dump-flows', 'br-int')).split('\n').filter((l) => l.includes('cookie=')).length;
    const flows = await flowCount();
    expect(flows).toBeGreaterThan(10);
    await etcd!.stopProcess();
    const degraded = await until('degraded', async () => {
      const h = await health();
      return h.status === 'degraded' && !h.db.connected ? h : undefined;
    });
    expect(degraded.problems.join('; ')).toMatch(/NB DB connection lost: forwarding from the local cache/);
    expect(await flowCount()).toBe(flows);
    expect(isAlive(pid!)).toBe(true);
    await etcd!.restart();
    await until('healthy again', async () => ((await health()).status === 'ok' ? true : undefined), 45_000);

    process.kill(pid!, 'SIGTERM');
    await until('exit', async () => !isAlive(pid!), 10_000);
    pid = undefined;
    expect(log()).toContain('df-controller stopped; flows left in place');
    expect(await flowCount()).toBe(flows);
  });
});
