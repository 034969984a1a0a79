import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DfError } from '@dragonflow/base';
import { requireBinary, run, type RunResult } from './exec.js';
import { createNetns, deleteLinks, deleteNetns, linkNames } from './netns.js';
import { isAlive, spawnDaemon, stopPid, waitFor } from './process.js';
import { makeTempDir, removeDir, shortId } from './tmp.js';

export interface OvsOptions {
  /** Directory for the database, sockets, pid and log files (a new temp dir when absent). */
  dir?: string;
  /**
   * Run both daemons inside this (existing) network namespace. When absent, the
   * instance makes a namespace of its own and deletes it on stop: every userspace
   * datapath in one namespace opens the same `ovs-netdev` tap, so a second instance
   * there (another test running in parallel, a host's OVS) cannot create its bridges.
   */
  netns?: string;
  /** Remove the directory on stop (default: only when the directory was created here). */
  removeDirOnStop?: boolean;
  /** Extra ovsdb-server remotes, e.g. 'ptcp:6640:127.0.0.1' (listening inside the namespace). */
  extraRemotes?: string[];
  /**
   * Start ovs-vswitchd with `--enable-dummy`: interfaces of type `dummy` (Open vSwitch's
   * own test netdev: no kernel device, nothing to poll) can then be added, e.g. for
   * thousands of ports where taps would have vswitchd's main loop poll each one.
   */
  enableDummy?: boolean;
}

export interface OvsPids {
  ovsdbServer: number;
  vswitchd: number;
}

/**
 * A private Open vSwitch (ovsdb-server + ovs-vswitchd with the userspace datapath)
 * living in one directory. Every tool call gets OVS_RUNDIR/OVS_LOGDIR/OVS_DBDIR set
 * to that directory so it finds this instance's sockets and nothing else.
 */
export class OvsInstance {
  constructor(
    readonly dir: string,
    /** The namespace both daemons (and the bridges' tap devices) live in. */
    readonly netns: string,
    public pids: OvsPids,
    private readonly removeDirOnStop: boolean,
    /** The namespace was made for this instance: stop deletes it. */
    private readonly ownsNetns = false,
    /** ovs-vswitchd runs with `--enable-dummy` (kept across a restart). */
    private readonly enableDummy = false,
  ) {}

  /** The ovsdb-server socket, as an OVSDB remote ('unix:…'). */
  get dbRemote(): string {
    return `unix:${this.dbSocket}`;
  }

  get dbSocket(): string {
    return join(this.dir, 'db.sock');
  }

  get env(): Record<string, string> {
    return { OVS_RUNDIR: this.dir, OVS_LOGDIR: this.dir, OVS_DBDIR: this.dir, OVS_SYSCONFDIR: this.dir };
  }

  /** The management socket OVS opens for each bridge (an OpenFlow target for ovs-ofctl). */
  mgmtSocket(bridge: string): string {
    return join(this.dir, `${bridge}.mgmt`);
  }

  vsctl(...args: string[]): Promise<string> {
    return this.tool('ovs-vsctl', [`--db=${this.dbRemote}`, '--timeout=10', ...args]);
  }

  ofctl(...args: string[]): Promise<string> {
    return this.tool('ovs-ofctl', args);
  }

  /** ovs-vswitchd's control socket (named with --unixctl, so ovs-appctl's default pid-named lookup does not find it). */
  get vswitchdCtl(): string {
    return vswitchdCtl(this.dir);
  }

  /** `ovs-appctl ARGS` against this instance's ovs-vswitchd. */
  appctl(...args: string[]): Promise<string> {
    return this.tool('ovs-appctl', ['-t', this.vswitchdCtl, ...args]);
  }

  /** Runs an OVS tool against this instance (in its namespace) and returns stdout. */
  async tool(cmd: string, args: string[], options: { allowFailure?: boolean } = {}): Promise<string> {
    const r: RunResult = await run(cmd, args, { netns: this.netns, env: this.env, allowFailure: options.allowFailure });
    return r.stdout;
  }

  /** Stops ovs-vswitchd only (flows are lost, the database stays). */
  async stopVswitchd(): Promise<void> {
    await stopPid(this.pids.vswitchd);
  }

  /** Starts ovs-vswitchd again after stopVswitchd(). */
  async startVswitchd(): Promise<void> {
    this.pids = { ...this.pids, vswitchd: await startVswitchd(this.dir, this.netns, this.env, this.enableDummy) };
  }

  async stop(): Promise<void> {
    // `exit --cleanup` removes the datapaths and their devices: a netdev bridge's tap
    // device (and an internal port's) would otherwise outlive vswitchd in its namespace.
    // The removal is asynchronous in the kernel, and `exit --cleanup` itself may not
    // get through on a loaded machine (vswitchd is then killed, leaving the taps): stop
    // gives the kernel a moment, deletes what is left itself, and returns once nothing
    // of this instance's is left, so a caller (or the next run) never finds it there.
    // In a namespace of its own, deleting the namespace takes the taps with it.
    const taps = !this.ownsNetns && isAlive(this.pids.ovsdbServer) ? await this.tapNames() : [];
    if (isAlive(this.pids.vswitchd)) await this.appctl('exit', '--cleanup').catch(() => undefined);
    await stopPid(this.pids.vswitchd);
    await stopPid(this.pids.ovsdbServer);
    if (taps.length > 0) {
      // One listing of the namespace's links, not one `ip` per tap: a bench leaves thousands.
      const left = async (): Promise<string[]> => {
        const present = await linkNames(this.netns);
        return taps.filter((t) => present.has(t));
      };
      const gone = async () => (await left()).length === 0;
      await waitFor(gone, { what: 'the tap devices to go', timeoutMs: 2_000, intervalMs: 20 }).catch(async () => {
        await deleteLinks(await left(), this.netns).catch(() => undefined);
      });
      await waitFor(gone, {
        what: `the tap devices ${taps.length > 10 ? `${taps.slice(0, 10).join(', ')} … (${taps.length})` : taps.join(', ')} to be removed in ${this.netns}`,
        timeoutMs: 10_000,
        intervalMs: 20,
      });
    }
    if (this.ownsNetns) await deleteNetns(this.netns);
    if (this.removeDirOnStop) removeDir(this.dir);
  }

  /** The kernel devices this instance's datapath made: its bridges' and internal ports' taps. */
  private async tapNames(): Promise<string[]> {
    const out = await this.tool('ovs-vsctl', [`--db=${this.dbRemote}`, '--timeout=5', '--format=csv', '--no-headings', '--columns=name', 'find', 'interface', 'type=internal']).catch(() => '');
    return out.split('\n').map((l) => l.trim().replace(/^"|"$/g, '')).filter(Boolean);
  }

  get alive(): boolean {
    return isAlive(this.pids.ovsdbServer) && isAlive(this.pids.vswitchd);
  }
}

function vswitchdCtl(dir: string): string {
  return join(dir, 'ovs-vswitchd.ctl');
}

async function startVswitchd(dir: string, netns: string, env: Record<string, string>, enableDummy: boolean): Promise<number> {
  const ctl = vswitchdCtl(dir);
  const log = join(dir, 'ovs-vswitchd.log');
  const pid = spawnDaemon(
    requireBinary('ovs-vswitchd'),
    [`unix:${join(dir, 'db.sock')}`, '--disable-system', ...(enableDummy ? ['--enable-dummy'] : []), `--pidfile=${join(dir, 'ovs-vswitchd.pid')}`, `--log-file=${log}`, `--unixctl=${ctl}`, '-vconsole:off'],
    { netns, env, logFile: join(dir, 'ovs-vswitchd.out') },
  );
  try {
    await waitFor(async () => (await run('ovs-appctl', ['-t', ctl, 'version'], { netns, env, allowFailure: true })).code === 0, {
      what: 'ovs-vswitchd to answer on its control socket',
      timeoutMs: 15_000,
      logFile: log,
      pid,
    });
  } catch (err) {
    await stopPid(pid);
    throw err;
  }
  return pid;
}

/** Starts ovsdb-server and ovs-vswitchd (userspace datapath) in `dir`, optionally inside a namespace. */
export async function startOvs(options: OvsOptions = {}): Promise<OvsInstance> {
  requireBinary('ovs-vswitchd');
  const created = !options.dir;
  const dir = options.dir ?? makeTempDir('df-ovs-');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ownsNetns = options.netns === undefined;
  const netns = options.netns ?? `dfovs-${shortId(8)}`;
  const env = { OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir, OVS_SYSCONFDIR: dir };
  const db = join(dir, 'conf.db');
  if (!existsSync(db)) {
    const schema = ['/usr/share/openvswitch/vswitch.ovsschema', '/usr/local/share/openvswitch/vswitch.ovsschema'].find((p) => existsSync(p));
    if (!schema) throw new DfError('MISSING_BINARY', 'the Open vSwitch schema (vswitch.ovsschema) was not found: run ./scripts/setup');
    await run('ovsdb-tool', ['create', db, schema]);
  }
  if (ownsNetns) await createNetns(netns);
  const serverLog = join(dir, 'ovsdb-server.log');
  const remotes = [`--remote=punix:${join(dir, 'db.sock')}`, ...(options.extraRemotes ?? []).map((r) => `--remote=${r}`)];
  const ovsdbServer = spawnDaemon(
    requireBinary('ovsdb-server'),
    [db, ...remotes, `--pidfile=${join(dir, 'ovsdb-server.pid')}`, `--log-file=${serverLog}`, `--unixctl=${join(dir, 'ovsdb-server.ctl')}`, '-vconsole:off'],
    { netns, env, logFile: join(dir, 'ovsdb-server.out') },
  );
  try {
    await waitFor(() => existsSync(join(dir, 'db.sock')), { what: 'the ovsdb-server socket', timeoutMs: 10_000, logFile: serverLog, pid: ovsdbServer });
    await run('ovs-vsctl', [`--db=unix:${join(dir, 'db.sock')}`, '--no-wait', 'init'], { netns, env });
    // startVswitchd stops the daemon it started when that does not come up.
    const vswitchd = await startVswitchd(dir, netns, env, options.enableDummy ?? false);
    return new OvsInstance(dir, netns, { ovsdbServer, vswitchd }, options.removeDirOnStop ?? created, ownsNetns, options.enableDummy ?? false);
  } catch (err) {
    await stopPid(ovsdbServer);
    if (ownsNetns) await deleteNetns(netns);
    if (created) removeDir(dir);
    throw err;
  }
}
