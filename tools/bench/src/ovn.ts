/**
 * OVN on one chassis, everything private, for the side-by-side benchmarks: NB and SB
 * ovsdb-servers, ovn-northd, a userspace-datapath ovs-vswitchd with br-int in
 * `netns`, and ovn-controller on it (geneve on 127.0.0.1, alone: no tunnel comes up).
 * Debian's `ovn-central` and `ovn-host` (23.03) provide the binaries (scripts/setup
 * installs them); the packages start no daemon here, this does.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DfError } from '@dragonflow/base';
import { makeTempDir, removeDir, requireBinary, run, spawnDaemon, startOvs, stopPid, waitFor, type CleanupStack, type OvsInstance, type RunResult } from '@dragonflow/sandbox';

const SCHEMAS = '/usr/share/ovn';

export interface OvnChassis {
  readonly ovs: OvsInstance;
  readonly dir: string;
  readonly controllerPid: number;
  readonly northdPid: number;
  /** The NB and SB ovsdb-servers' pids. */
  readonly dbPids: readonly number[];
  /** `ovn-nbctl --db=<NB> ARGS…` in the chassis' namespace. */
  nbctl(...args: string[]): Promise<RunResult>;
  /** The last lines of ovn-controller's and ovn-northd's logs (for an error message). */
  logTails(): string;
}

/** An ovsdb-server for one OVN database (NB or SB) in `dir`, stopped by `cleanup`. */
async function startOvnDb(cleanup: CleanupStack, dir: string, netns: string, name: 'nb' | 'sb'): Promise<{ remote: string; pid: number }> {
  const db = join(dir, `${name}.db`);
  await run('ovsdb-tool', ['create', db, join(SCHEMAS, `ovn-${name}.ovsschema`)]);
  const sock = join(dir, `${name}.sock`);
  const log = join(dir, `${name}.log`);
  const pid = spawnDaemon(requireBinary('ovsdb-server'), [db, `--remote=punix:${sock}`, `--pidfile=${join(dir, `${name}.pid`)}`, `--log-file=${log}`, `--unixctl=${join(dir, `${name}.ctl`)}`, '-vconsole:off'], {
    netns,
    logFile: join(dir, `${name}.out`),
  });
  cleanup.defer(`stop the OVN ${name.toUpperCase()} ovsdb-server`, () => stopPid(pid));
  await waitFor(() => existsSync(sock), { what: `the OVN ${name.toUpperCase()} database socket`, timeoutMs: 15_000, logFile: log, pid });
  return { remote: `unix:${sock}`, pid };
}

/** Starts OVN's daemons and a br-int for ovn-controller in `netns`; everything is stopped and removed by `cleanup`. */
export async function startOvnChassis(cleanup: CleanupStack, netns: string, systemId: string): Promise<OvnChassis> {
  for (const b of ['ovn-northd', 'ovn-controller', 'ovn-nbctl']) requireBinary(b);
  const dir = makeTempDir('df-bench-ovn-');
  cleanup.defer('remove the OVN directory', () => removeDir(dir));
  const env = { OVN_RUNDIR: dir, OVN_LOGDIR: dir, OVN_DBDIR: dir, OVN_SYSCONFDIR: dir };
  const nb = await startOvnDb(cleanup, dir, netns, 'nb');
  const sb = await startOvnDb(cleanup, dir, netns, 'sb');
  const northdLog = join(dir, 'ovn-northd.log');
  const northdPid = spawnDaemon(requireBinary('ovn-northd'), [`--ovnnb-db=${nb.remote}`, `--ovnsb-db=${sb.remote}`, `--pidfile=${join(dir, 'ovn-northd.pid')}`, `--log-file=${northdLog}`, `--unixctl=${join(dir, 'ovn-northd.ctl')}`, '-vconsole:off'], {
    netns,
    env,
    logFile: join(dir, 'ovn-northd.out'),
  });
  cleanup.defer('stop ovn-northd', () => stopPid(northdPid));

  const ovs = await startOvs({ netns });
  cleanup.defer('stop the OVN chassis OVS', () => ovs.stop());
  await ovs.vsctl('add-br', 'br-int', '--', 'set', 'bridge', 'br-int', 'datapath_type=netdev', 'fail_mode=secure', 'other_config:disable-in-band=true');
  await ovs.vsctl(
    'set',
    'open_vswitch',
    '.',
    `external_ids:system-id=${systemId}`,
    `external_ids:ovn-remote=${sb.remote}`,
    'external_ids:ovn-encap-type=geneve',
    'external_ids:ovn-encap-ip=127.0.0.1',
    'external_ids:ovn-bridge-datapath-type=netdev',
  );
  const controllerLog = join(dir, 'ovn-controller.log');
  // OVS_RUNDIR: ovn-controller reaches br-int through <OVS rundir>/br-int.mgmt (it takes no --unixctl: its socket goes in OVN_RUNDIR).
  const controllerPid = spawnDaemon(requireBinary('ovn-controller'), [ovs.dbRemote, `--pidfile=${join(dir, 'ovn-controller.pid')}`, `--log-file=${controllerLog}`, '-vconsole:off'], {
    netns,
    env: { ...env, OVS_RUNDIR: ovs.dir },
    logFile: join(dir, 'ovn-controller.out'),
  });
  cleanup.defer('stop ovn-controller', () => stopPid(controllerPid));
  const tail = (f: string): string => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').slice(-15).join('\n') : '(no log)');
  return {
    ovs,
    dir,
    controllerPid,
    northdPid,
    dbPids: [nb.pid, sb.pid],
    nbctl: (...args) => run('ovn-nbctl', [`--db=${nb.remote}`, '--timeout=300', ...args], { env, netns, timeoutMs: 310_000 }),
    logTails: () => `ovn-controller.log:\n${tail(controllerLog)}\novn-northd.log:\n${tail(northdLog)}`,
  };
}

/** Throws OVN_NOT_READY with the daemons' log tails when `step` fails. */
export async function ovnStep<T>(ovn: OvnChassis, what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    throw new DfError('OVN_NOT_READY', `OVN: ${what} failed:\n${ovn.logTails()}`, { context: { dir: ovn.dir }, cause: err });
  }
}
