import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DfError } from '@dragonflow/base';
import { requireBinary, run } from './exec.js';
import { isAlive, spawnDaemon, stopPid, waitFor } from './process.js';
import { freePort, makeTempDir, removeDir } from './tmp.js';

/** A Keystone user with a password, scoped to one project of the default domain. */
export interface KeystoneUser {
  readonly name: string;
  readonly password: string;
  readonly project: string;
}

export interface KeystoneOptions {
  /** Lifetime of every token Keystone issues ([token] expiration), in seconds. */
  tokenExpirationSeconds?: number;
  /** Milliseconds to wait for Keystone to answer once started (python start-up is slow on a loaded machine). */
  startTimeoutMs?: number;
}

/** Everything keystone-manage and keystone-wsgi-public need comes from Debian's keystone package. */
export function requireKeystone(): { manage: string; wsgi: string } {
  return { manage: requireBinary('keystone-manage'), wsgi: requireBinary('keystone-wsgi-public') };
}

const ADMIN_PASSWORD = 'keystone-admin-pw';

/**
 * A real Keystone (Debian's keystone, v3) in a temporary directory: sqlite, fernet
 * tokens, bootstrapped with user `admin` (admin of project `admin`, RegionOne, the
 * identity endpoint in the catalog). What else a test needs (projects, users, role
 * assignments, services and endpoints) it adds through Keystone's own API as admin.
 */
export class KeystoneServer {
  readonly admin: KeystoneUser = { name: 'admin', password: ADMIN_PASSWORD, project: 'admin' };
  /** Project ids by name, of the projects made here and `admin`. */
  readonly projectIds = new Map<string, string>();
  readonly #roleIds = new Map<string, string>();
  #adminToken: { token: string; until: number } | undefined;

  private constructor(
    /** Keystone's v3 endpoint, e.g. http://127.0.0.1:PORT/v3. */
    readonly url: string,
    readonly dir: string,
    readonly pid: number,
  ) {}

  static async start(options: KeystoneOptions = {}): Promise<KeystoneServer> {
    const bins = requireKeystone();
    const dir = makeTempDir('df-keystone-');
    let pid: number | undefined;
    try {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}/v3`;
      const conf = join(dir, 'keystone.conf');
      writeFileSync(conf, keystoneConf(dir, options.tokenExpirationSeconds ?? 3600));
      // keystone-manage prints an eventlet traceback at exit even when it worked: the exit code decides.
      for (const args of [
        ['db_sync'],
        ['fernet_setup', '--keystone-user', 'root', '--keystone-group', 'root'],
        ['credential_setup', '--keystone-user', 'root', '--keystone-group', 'root'],
        ['bootstrap', '--bootstrap-password', ADMIN_PASSWORD, '--bootstrap-public-url', `${url}/`, '--bootstrap-internal-url', `${url}/`, '--bootstrap-region-id', 'RegionOne'],
      ]) {
        const r = await run(bins.manage, ['--config-file', conf, ...args], { env: { OS_KEYSTONE_CONFIG_FILES: conf }, timeoutMs: 180_000, allowFailure: true });
        if (r.code !== 0) throw new DfError('KEYSTONE_SETUP_FAILED', `keystone-manage ${args[0]} failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-5).join('\n')} (log: ${join(dir, 'keystone.log')})`, { context: { dir } });
      }
      // Write-ahead logging: with sqlite's default journal, a read still open on one of
      // Keystone's pooled connections makes a write on another fail ("database is locked", a 500).
      const db = join(dir, 'keystone.db');
      const wal = await run('/usr/bin/python3', ['-c', 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("pragma journal_mode=wal").fetchone()[0])', db], { allowFailure: true });
      if (wal.code !== 0 || wal.stdout.trim() !== 'wal') throw new DfError('KEYSTONE_SETUP_FAILED', `could not switch ${db} to WAL: ${wal.stderr.trim() || wal.stdout.trim()}`, { context: { dir } });
      const log = join(dir, 'keystone-wsgi.log');
      pid = spawnDaemon(bins.wsgi, ['--host', '127.0.0.1', '--port', String(port)], { logFile: log, env: { OS_KEYSTONE_CONFIG_FILES: conf } });
      const started = pid;
      await waitFor(async () => (await fetch(url).catch(() => undefined))?.ok === true, { what: `Keystone to answer on ${url}`, timeoutMs: options.startTimeoutMs ?? 60_000, logFile: log, pid: started });
      const ks = new KeystoneServer(url, dir, started);
      ks.projectIds.set('admin', await ks.#idOf('projects', 'admin'));
      return ks;
    } catch (e) {
      if (pid !== undefined) await stopPid(pid);
      removeDir(dir);
      throw e;
    }
  }

  /** A token for `user`, scoped to its project (POST /v3/auth/tokens with its password). */
  async issueToken(user: KeystoneUser): Promise<string> {
    const body = {
      auth: {
        identity: { methods: ['password'], password: { user: { name: user.name, domain: { id: 'default' }, password: user.password } } },
        scope: { project: { name: user.project, domain: { id: 'default' } } },
      },
    };
    const r = await fetch(`${this.url}/auth/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const token = r.headers.get('x-subject-token');
    if (r.status !== 201 || token === null) throw this.#error(`issuing a token for ${user.name} in project ${user.project}`, r.status, await r.text());
    return token;
  }

  /** Creates project `name` in the default domain; its id is then in `projectIds`. */
  async createProject(name: string): Promise<string> {
    const { project } = await this.#admin<{ project: { id: string } }>('POST', 'projects', { project: { name, domain_id: 'default' } });
    this.projectIds.set(name, project.id);
    return project.id;
  }

  /** Creates `user` (its project must exist) with `role` on its project, as `openstack user create --project` and `role add` do. */
  async createUser(user: KeystoneUser, role: string): Promise<string> {
    const projectId = this.projectIds.get(user.project) ?? (await this.#idOf('projects', user.project));
    const created = await this.#admin<{ user: { id: string } }>('POST', 'users', { user: { name: user.name, password: user.password, domain_id: 'default', default_project_id: projectId } });
    let roleId = this.#roleIds.get(role);
    if (roleId === undefined) {
      roleId = await this.#idOf('roles', role);
      this.#roleIds.set(role, roleId);
    }
    await this.#admin('PUT', `projects/${projectId}/users/${created.user.id}/roles/${roleId}`);
    return created.user.id;
  }

  /** A service of `type` in the catalog, reachable at `endpoint` on every interface in RegionOne. */
  async registerService(type: string, name: string, endpoint: string): Promise<void> {
    const { service } = await this.#admin<{ service: { id: string } }>('POST', 'services', { service: { type, name, enabled: true } });
    for (const iface of ['public', 'internal', 'admin']) {
      await this.#admin('POST', 'endpoints', { endpoint: { service_id: service.id, interface: iface, url: endpoint, region_id: 'RegionOne', enabled: true } });
    }
  }

  /** Stops Keystone at once, synchronously (for a process 'exit' handler); stop() is the orderly way. */
  kill(): void {
    if (isAlive(this.pid)) process.kill(this.pid, 'SIGKILL');
  }

  async stop(): Promise<void> {
    await stopPid(this.pid);
    removeDir(this.dir);
  }

  async #idOf(collection: 'projects' | 'roles', name: string): Promise<string> {
    const list = await this.#admin<Record<string, { id: string; name: string }[]>>('GET', `${collection}?name=${encodeURIComponent(name)}`);
    const hit = list[collection]?.find((x) => x.name === name);
    if (!hit) throw new DfError('KEYSTONE_SETUP_FAILED', `Keystone has no ${collection.slice(0, -1)} named ${name}`, { context: { url: this.url } });
    return hit.id;
  }

  /** One admin call to Keystone's API; anything but 2xx is an error with Keystone's message and its log's last errors. */
  async #admin<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    if (this.#adminToken === undefined || this.#adminToken.until < Date.now()) {
      // Re-issued well before it expires: tokens may be made short-lived for a test.
      this.#adminToken = { token: await this.issueToken(this.admin), until: Date.now() + 10_000 };
    }
    const r = await fetch(`${this.url}/${path}`, {
      method,
      headers: { 'x-auth-token': this.#adminToken.token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    if (!r.ok) throw this.#error(`${method} /v3/${path}`, r.status, text);
    return (text === '' ? {} : JSON.parse(text)) as T;
  }

  #error(what: string, status: number, body: string): DfError {
    return new DfError('KEYSTONE_REQUEST_FAILED', `Keystone at ${this.url}: ${what} answered ${status} ${body.trim().slice(0, 300)}${this.logTail()}`, { context: { url: this.url, status } });
  }

  /** Keystone's last errors from its log, for a failure message (the directory is gone after stop()). */
  logTail(): string {
    try {
      const errors = readFileSync(join(this.dir, 'keystone.log'), 'utf8')
        .split('\n')
        .filter((l) => / (ERROR|CRITICAL) [\w.]+ (\[|[\w.]+(Error|Exception|NotFound|Conflict)\b)/.test(l));
      return errors.length === 0 ? '' : `\nkeystone.log:\n${errors.slice(-12).join('\n')}`;
    } catch {
      return '';
    }
  }
}

function keystoneConf(dir: string, tokenExpirationSeconds: number): string {
  return [
    '[DEFAULT]',
    `log_file = ${join(dir, 'keystone.log')}`,
    '[database]',
    `connection = sqlite:///${join(dir, 'keystone.db')}`,
    '[identity]',
    // bcrypt's fewest rounds: every password check costs milliseconds instead of a second.
    'password_hash_rounds = 4',
    '[token]',
    'provider = fernet',
    `expiration = ${tokenExpirationSeconds}`,
    '[fernet_tokens]',
    `key_repository = ${join(dir, 'fernet-keys')}`,
    '[fernet_receipts]',
    `key_repository = ${join(dir, 'fernet-keys')}`,
    '[credential]',
    `key_repository = ${join(dir, 'credential-keys')}`,
    '',
  ].join('\n');
}
