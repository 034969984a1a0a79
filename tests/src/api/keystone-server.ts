import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { KeystoneServer as Keystone, requireKeystone, type KeystoneOptions, type KeystoneUser } from '@dragonflow/sandbox';
import { OPENSTACK, requireOpenstackCli, type CliResult } from './openstack.js';

export type { KeystoneUser } from '@dragonflow/sandbox';

function run(cmd: string, args: readonly string[], env: Record<string, string>, timeoutMs = 180_000): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { env: { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', ...env }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end();
  });
}

/**
 * A real Keystone (@dragonflow/sandbox's, shared with scripts/sdk-oracle.mjs) with
 * projects `project-a`, `project-b` and `service`; users `member-a` (member of
 * project-a), `member-b` (member of project-b), `reader-a` (reader of project-a) and
 * the service user `neutron` (admin of `service`, as deployment tools make it); the
 * tests log in as them with the stock openstack CLI.
 */
export class KeystoneServer {
  readonly memberA: KeystoneUser = { name: 'member-a', password: 'member-a-pw', project: 'project-a' };
  readonly memberB: KeystoneUser = { name: 'member-b', password: 'member-b-pw', project: 'project-b' };
  readonly readerA: KeystoneUser = { name: 'reader-a', password: 'reader-a-pw', project: 'project-a' };
  readonly service: KeystoneUser = { name: 'neutron', password: 'neutron-service-pw', project: 'service' };
  readonly #ks: Keystone;
  readonly #home: string;

  private constructor(ks: Keystone) {
    this.#ks = ks;
    this.#home = join(ks.dir, 'home');
    mkdirSync(this.#home);
  }

  get url(): string {
    return this.#ks.url;
  }
  get dir(): string {
    return this.#ks.dir;
  }
  get admin(): KeystoneUser {
    return this.#ks.admin;
  }
  /** Project ids by name. */
  get projectIds(): ReadonlyMap<string, string> {
    return this.#ks.projectIds;
  }

  static async start(options: KeystoneOptions = {}): Promise<KeystoneServer> {
    // Loudly, before anything starts: Debian's keystone and the openstack CLI (scripts/setup installs both).
    requireKeystone();
    requireOpenstackCli();
    const ks = await Keystone.start(options);
    try {
      for (const project of ['project-a', 'project-b', 'service']) await ks.createProject(project);
      const s = new KeystoneServer(ks);
      for (const [user, role] of [
        [s.memberA, 'member'],
        [s.memberB, 'member'],
        [s.readerA, 'reader'],
        [s.service, 'admin'],
      ] as const) {
        await ks.createUser(user, role);
      }
      return s;
    } catch (e) {
      await ks.stop();
      throw e;
    }
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

  /** A token for `user`, scoped to its project. */
  issueToken(user: KeystoneUser): Promise<string> {
    return this.#ks.issueToken(user);
  }

  /** Registers df-api at `endpoint` as the catalog's `network` service, as a deployment does for neutron-server. */
  registerNetworkEndpoint(endpoint: string): Promise<void> {
    return this.registerService('network', 'neutron', endpoint);
  }

  /** A service of `type` in the catalog, reachable at `endpoint` on every interface. */
  registerService(type: string, name: string, endpoint: string): Promise<void> {
    return this.#ks.registerService(type, name, endpoint);
  }

  stop(): Promise<void> {
    return this.#ks.stop();
  }
}
