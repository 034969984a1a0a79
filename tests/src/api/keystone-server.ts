import { execFile } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, makeTempDir, removeDir, spawnDaemon, stopPid, waitFor } from '@dragonflow/sandbox';
import { OPENSTACK, type CliResult } from './openstack.js';

const KEYSTONE_MANAGE = '/usr/bin/keystone-manage';
const KEYSTONE_WSGI = '/usr/bin/keystone-wsgi-public';

/** Fails loudly when Debian's keystone package is missing (scripts/setup installs it). */
export function requireKeystone(): void {
  for (const bin of [KEYSTONE_MANAGE, KEYSTONE_WSGI, OPENSTACK]) {
    try {
      accessSync(bin, constants.X_OK);
    } catch {
      throw new Error(`${bin} was not found: run ./scripts/setup (it installs Debian's keystone and python3-openstackclient)`);
    }
  }
}

/** A user the test logs in as with the openstack CLI (password authentication). */
export interface KeystoneUser {
  readonly name: string;
  readonly password: string;
  readonly project: string;
}

export interface KeystoneOptions {
  /** Lifetime of every token Keystone issues ([token] expiration), in seconds. */
  tokenExpirationSeconds?: number;
}

function run(cmd: string, args: readonly string[], env: Record<string, string>, input?: string, timeoutMs = 180_000): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { env: { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', ...env }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end(input ?? '');
  });
}

/**
 * A real Keystone (Debian's keystone, v3) in a temporary directory: sqlite, fernet
 * tokens, bootstrapped with an admin, then, made with the openstack CLI: projects
 * `project-a`, `project-b` and `service`; users `member-a` (member of project-a),
 * `member-b` (member of project-b), `reader-a` (reader of project-a) and the service
 * user `neutron` (admin of `service`, as deployment tools make it).
 */
export class KeystoneServer {
  readonly url: string;
  readonly dir: string;
  readonly admin: KeystoneUser;
  readonly memberA: KeystoneUser = { name: 'member-a', password: 'member-a-pw', project: 'project-a' };
  readonly memberB: KeystoneUser = { name: 'member-b', password: 'member-b-pw', project: 'project-b' };
  readonly readerA: KeystoneUser = { name: 'reader-a', password: 'reader-a-pw', project: 'project-a' };
  readonly service: KeystoneUser = { name: 'neutron', password: 'neutron-service-pw', project: 'service' };
  /** Project ids by name. */
  readonly projectIds = new Map<string, string>();
  readonly #pid: number;
  readonly #home: string;

  private constructor(dir: string, url: string, pid: number, adminPassword: string) {
    this.dir = dir;
    this.url = url;
    this.#pid = pid;
    this.#home = join(dir, 'home');
    this.admin = { name: 'admin', password: adminPassword, project: 'admin' };
  }

  static async start(options: KeystoneOptions = {}): Promise<KeystoneServer> {
    requireKeystone();
    const dir = makeTempDir('df-keystone-');
    try {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}/v3`;
      const conf = join(dir, 'keystone.conf');
      mkdirSync(join(dir, 'home'));
      writeFileSync(
        conf,
        [
          '[DEFAULT]',
          `log_file = ${join(dir, 'keystone.log')}`,
          '[database]',
          `connection = sqlite:///${join(dir, 'keystone.db')}`,
          '[identity]',
          // bcrypt's fewest rounds: every password check costs milliseconds instead of a second.
          'password_hash_rounds = 4',
          '[token]',
          'provider = fernet',
          `expiration = ${options.tokenExpirationSeconds ?? 3600}`,
          '[fernet_tokens]',
          `key_repository = ${join(dir, 'fernet-keys')}`,
          '[fernet_receipts]',
          `key_repository = ${join(dir, 'fernet-keys')}`,
          '[credential]',
          `key_repository = ${join(dir, 'credential-keys')}`,
          '',
        ].join('\n'),
      );
      const adminPassword = 'keystone-admin-pw';
      // keystone-manage prints an eventlet traceback at exit even when it worked: the exit code decides.
      for (const args of [
        ['db_sync'],
        ['fernet_setup', '--keystone-user', 'root', '--keystone-group', 'root'],
        ['credential_setup', '--keystone-user', 'root', '--keystone-group', 'root'],
        ['bootstrap', '--bootstrap-password', adminPassword, '--bootstrap-public-url', `${url}/`, '--bootstrap-internal-url', `${url}/`, '--bootstrap-region-id', 'RegionOne'],
      ]) {
        const r = await run(KEYSTONE_MANAGE, ['--config-file', conf, ...args], {});
        if (r.code !== 0) throw new Error(`keystone-manage ${args[0]} failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-5).join('\n')} (log: ${join(dir, 'keystone.log')})`);
      }
      // Write-ahead logging: with sqlite's default journal, a read still open on one of
      // Keystone's pooled connections makes a write on another fail ("database is locked", a 500).
      const db = join(dir, 'keystone.db');
      const wal = await run('/usr/bin/python3', ['-c', 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("pragma journal_mode=wal").fetchone()[0])', db], {});
      if (wal.code !== 0 || wal.stdout.trim() !== 'wal') throw new Error(`could not switch ${db} to WAL: ${wal.stderr.trim() || wal.stdout.trim()}`);
      const log = join(dir, 'keystone-wsgi.log');
      const pid = spawnDaemon(KEYSTONE_WSGI, ['--host', '127.0.0.1', '--port', String(port)], { logFile: log, env: { OS_KEYSTONE_CONFIG_FILES: conf } });
      await waitFor(async () => (await fetch(url).catch(() => undefined))?.ok === true, { what: `Keystone to answer on ${url}`, timeoutMs: 60_000, logFile: log, pid });
      const ks = new KeystoneServer(dir, url, pid, adminPassword);
      await ks.#populate();
      return ks;
    } catch (e) {
      removeDir(dir);
      throw e;
    }
  }

  /** The projects, users and roles the tests log in with: one CLI process reads them all from stdin. */
  async #populate(): Promise<void> {
    const lines = ['project create --domain default project-a', 'project create --domain default project-b', 'project create --domain default service'];
    for (const [u, role] of [
      [this.memberA, 'member'],
      [this.memberB, 'member'],
      [this.readerA, 'reader'],
      [this.service, 'admin'],
    ] as const) {
      lines.push(`user create --domain default --password ${u.password} --project ${u.project} ${u.name}`);
      lines.push(`role add --user ${u.name} --project ${u.project} ${role}`);
    }
    lines.push('project list -f json');
    const r = await this.cliBatch(this.admin, lines);
    if (r.code !== 0 || r.stderr.trim() !== '') throw new Error(`populating Keystone with the openstack CLI failed (exit ${r.code}): ${r.stderr.trim()}${this.#logTail()}`);
    const json = r.stdout.slice(r.stdout.lastIndexOf('['));
    for (const p of JSON.parse(json) as { ID: string; Name: string }[]) this.projectIds.set(p.Name, p.ID);
    for (const name of ['admin', 'project-a', 'project-b', 'service']) if (!this.projectIds.has(name)) throw new Error(`Keystone has no project ${name} after populating it: ${json}`);
  }

  /** The environment that logs the openstack CLI in as `user` (password authentication). */
  env(user: KeystoneUser): Record<string, string> {
    return {
      HOME: this.#home,
      OS_AUTH_URL: this.url,
      OS_AUTH_TYPE: 'password',
      OS_IDENTITY_API_VERSION: '3',
      OS_USERNAME: user.name,
      OS_PASSWORD: user.password,
      OS_PROJECT_NAME: user.project,
      OS_USER_DOMAIN_ID: 'default',
      OS_PROJECT_DOMAIN_ID: 'default',
      OS_INTERFACE: 'public',
      OS_REGION_NAME: 'RegionOne',
    };
  }

  /** `openstack ARGS` logged in as `user`. */
  cli(user: KeystoneUser, args: readonly string[]): Promise<CliResult> {
    return run(OPENSTACK, args, this.env(user));
  }

  /** Several CLI commands in one process (its interactive mode reading stdin): one start-up instead of many. */
  cliBatch(user: KeystoneUser, lines: readonly string[]): Promise<CliResult> {
    return run(OPENSTACK, [], this.env(user), `${lines.join('\n')}\n`);
  }

  /** A token for `user` from `openstack token issue`. */
  async issueToken(user: KeystoneUser): Promise<string> {
    const r = await this.cli(user, ['token', 'issue', '-f', 'value', '-c', 'id']);
    if (r.code !== 0) throw new Error(`openstack token issue as ${user.name} failed (exit ${r.code}): ${r.stderr.trim()}`);
    return r.stdout.trim();
  }

  /** Registers df-api at `endpoint` as the catalog's `network` service, as a deployment does for neutron-server. */
  registerNetworkEndpoint(endpoint: string): Promise<void> {
    return this.registerService('network', 'neutron', endpoint);
  }

  /** A service of `type` in the catalog, reachable at `endpoint` on every interface. */
  async registerService(type: string, name: string, endpoint: string): Promise<void> {
    const r = await this.cliBatch(this.admin, [`service create --name ${name} ${type}`, ...['public', 'internal', 'admin'].map((i) => `endpoint create --region RegionOne ${type} ${i} ${endpoint}`)]);
    if (r.code !== 0 || r.stderr.trim() !== '') throw new Error(`registering the ${type} endpoint failed (exit ${r.code}): ${r.stderr.trim()}${this.#logTail()}`);
  }

  /** Keystone's last errors, for a failure message (the directory is gone after stop()). */
  #logTail(): string {
    try {
      const errors = readFileSync(join(this.dir, 'keystone.log'), 'utf8').split('\n').filter((l) => / (ERROR|CRITICAL) [\w.]+ (\[|[\w.]+(Error|Exception|NotFound|Conflict)\b)/.test(l));
      return errors.length === 0 ? '' : `\nkeystone.log:\n${errors.slice(-12).join('\n')}`;
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    await stopPid(this.#pid);
    removeDir(this.dir);
  }
}
