// Starts a private ovsdb-server (and, when asked, an ovs-vswitchd in its own network
// namespace) for this package's tests. Self-contained on purpose: @dragonflow/sandbox
// depends on this package, so the tests cannot use its process kit.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DfError } from '@dragonflow/base';

const SBIN = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Absolute path of an OVS binary; a missing one fails the test loudly. */
export function binary(name: string): string {
  for (const dir of [...(process.env['PATH'] ?? '').split(':'), ...SBIN]) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // keep looking
    }
  }
  throw new DfError('MISSING_BINARY', `'${name}' is not installed: run ./scripts/setup (Open vSwitch is required for these tests)`, { context: { binary: name } });
}

export function sh(cmd: string, args: readonly string[], env: Record<string, string> = {}): Promise<string> {
  const bin = cmd.includes('/') ? cmd : binary(cmd);
  return new Promise((resolve, reject) => {
    execFile(bin, args, { env: { ...process.env, ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) reject(new DfError('COMMAND_FAILED', `${cmd} ${args.join(' ')}: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new DfError('TIMEOUT', `timed out waiting for ${what}`);
    await sleep(20);
  }
}

function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export const SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';

export interface OvsdbServerOptions {
  /** Also listen on 127.0.0.1:PORT (ptcp). */
  tcpPort?: number;
}

/** One ovsdb-server on a fresh Open_vSwitch database in a temp dir. */
export class TestOvsdbServer {
  private server: ChildProcess | undefined;
  private vswitchd: ChildProcess | undefined;
  netns: string | undefined;

  private constructor(
    readonly dir: string,
    private readonly options: OvsdbServerOptions,
  ) {}

  static async start(options: OvsdbServerOptions = {}): Promise<TestOvsdbServer> {
    binary('ovsdb-server');
    if (!existsSync(SCHEMA)) throw new DfError('MISSING_BINARY', `${SCHEMA} not found: run ./scripts/setup`);
    const dir = mkdtempSync(join(tmpdir(), 'df-ovsdb-test-'));
    const s = new TestOvsdbServer(dir, options);
    try {
      await sh('ovsdb-tool', ['create', s.dbFile, SCHEMA]);
      await s.startServer();
    } catch (err) {
      await s.stop();
      throw err;
    }
    return s;
  }

  get dbFile(): string {
    return join(this.dir, 'conf.db');
  }

  get socket(): string {
    return join(this.dir, 'db.sock');
  }

  get remote(): string {
    return `unix:${this.socket}`;
  }

  get env(): Record<string, string> {
    return { OVS_RUNDIR: this.dir, OVS_LOGDIR: this.dir, OVS_DBDIR: this.dir };
  }

  get serverPid(): number | undefined {
    return this.server?.pid;
  }

  async startServer(): Promise<void> {
    rmSync(this.socket, { force: true });
    const args = [this.dbFile, `--remote=punix:${this.socket}`, `--unixctl=${join(this.dir, 'ovsdb-server.ctl')}`, `--log-file=${join(this.dir, 'ovsdb-server.log')}`, '-vconsole:off'];
    if (this.options.tcpPort) args.push(`--remote=ptcp:${this.options.tcpPort}:127.0.0.1`);
    this.server = spawn(binary('ovsdb-server'), args, { stdio: 'ignore', env: { ...process.env, ...this.env } });
    const server = this.server;
    await until(() => {
      if (server.exitCode !== null) throw new DfError('OVS_START', `ovsdb-server exited: ${this.log('ovsdb-server.log')}`);
      return existsSync(this.socket);
    }, 'the ovsdb-server socket');
  }

  async stopServer(): Promise<void> {
    await stopChild(this.server);
    this.server = undefined;
  }

  /** Runs `ovsdb-tool transact` on the database file (only while the server is stopped). */
  async offlineTransact(ops: unknown[]): Promise<string> {
    return sh('ovsdb-tool', ['transact', this.dbFile, JSON.stringify(['Open_vSwitch', ...ops])]);
  }

  vsctl(...args: string[]): Promise<string> {
    return sh('ovs-vsctl', [`--db=${this.remote}`, '--timeout=10', ...args], this.env);
  }

  /** ovs-ofctl/ovs-appctl against the vswitchd of this server (in its namespace). */
  inNetns(cmd: string, args: readonly string[]): Promise<string> {
    if (!this.netns) throw new DfError('NO_VSWITCHD', 'vswitchd is not running');
    return sh('ip', ['netns', 'exec', this.netns, binary(cmd), ...args], this.env);
  }

  /** Starts ovs-vswitchd (userspace datapath) in a new network namespace of its own. */
  async startVswitchd(): Promise<void> {
    const ns = `dfovsdb${Math.random().toString(36).slice(2, 8)}`;
    await sh('ip', ['netns', 'add', ns]);
    this.netns = ns;
    await sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    const ctl = join(this.dir, 'ovs-vswitchd.ctl');
    this.vswitchd = spawn(
      binary('ip'),
      ['netns', 'exec', ns, binary('ovs-vswitchd'), this.remote, '--disable-system', `--unixctl=${ctl}`, `--log-file=${join(this.dir, 'ovs-vswitchd.log')}`, '-vconsole:off'],
      { stdio: 'ignore', env: { ...process.env, ...this.env } },
    );
    const child = this.vswitchd;
    await until(async () => {
      if (child.exitCode !== null) throw new DfError('OVS_START', `ovs-vswitchd exited: ${this.log('ovs-vswitchd.log')}`);
      try {
        await sh('ovs-appctl', ['-t', ctl, 'version'], this.env);
        return true;
      } catch {
        return false;
      }
    }, 'ovs-vswitchd');
  }

  log(name: string): string {
    try {
      return readFileSync(join(this.dir, name), 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    await stopChild(this.vswitchd);
    this.vswitchd = undefined;
    await this.stopServer();
    if (this.netns) {
      await sh('ip', ['netns', 'delete', this.netns]).catch(() => undefined);
      this.netns = undefined;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
