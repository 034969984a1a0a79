import { existsSync, readFileSync } from 'node:fs';
import { DfError } from '@dragonflow/base';
import { join } from 'node:path';
import { makeTempDir, removeDir, requireBinary, run, spawnDaemon, startOvs, stopPid, waitFor, type CleanupStack, type OvsInstance } from '@dragonflow/sandbox';

/** One DHCP client port as both benchmarks build it: the OVS interface name, the MAC, the address it must be given. */
export interface BenchPort {
  readonly iface: string;
  readonly mac: string;
  readonly ip: string;
}

export interface DhcpSubnet {
  readonly cidr: string;
  readonly gateway: string;
  readonly serverIp: string;
  readonly serverMac: string;
  readonly mtu: number;
}

const SCHEMAS = '/usr/share/ovn';

/** An ovsdb-server for one OVN database (NB or SB) in `dir`, stopped by `cleanup`. */
async function startOvnDb(cleanup: CleanupStack, dir: string, netns: string, name: 'nb' | 'sb'): Promise<string> {
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
  return `unix:${sock}`;
}

/**
 * OVN answering DHCP on one chassis, everything private: NB and SB ovsdb-servers,
 * ovn-northd, a userspace-datapath ovs-vswitchd with br-int in `netns`, and
 * ovn-controller on it (geneve on 127.0.0.1, alone: no tunnel comes up). One logical
 * switch, one logical port per `ports` entry with its address and the subnet's
 * DHCP_Options, each bound by an internal interface of br-int (external_ids:iface-id).
 * Returns once every port is up (bound and its flows installed on the chassis).
 */
export async function startOvnDhcp(cleanup: CleanupStack, netns: string, subnet: DhcpSubnet, ports: readonly BenchPort[]): Promise<{ ovs: OvsInstance; controllerPid: number }> {
  for (const b of ['ovn-northd', 'ovn-controller', 'ovn-nbctl']) requireBinary(b);
  const dir = makeTempDir('df-bench-ovn-');
  cleanup.defer('remove the OVN directory', () => removeDir(dir));
  const env = { OVN_RUNDIR: dir, OVN_LOGDIR: dir, OVN_DBDIR: dir, OVN_SYSCONFDIR: dir };
  const nbDb = await startOvnDb(cleanup, dir, netns, 'nb');
  const sbDb = await startOvnDb(cleanup, dir, netns, 'sb');
  const northdLog = join(dir, 'ovn-northd.log');
  const northd = spawnDaemon(requireBinary('ovn-northd'), [`--ovnnb-db=${nbDb}`, `--ovnsb-db=${sbDb}`, `--pidfile=${join(dir, 'ovn-northd.pid')}`, `--log-file=${northdLog}`, `--unixctl=${join(dir, 'ovn-northd.ctl')}`, '-vconsole:off'], {
    netns,
    env,
    logFile: join(dir, 'ovn-northd.out'),
  });
  cleanup.defer('stop ovn-northd', () => stopPid(northd));

  const ovs = await startOvs({ netns });
  cleanup.defer('stop the OVN chassis OVS', () => ovs.stop());
  await ovs.vsctl('add-br', 'br-int', '--', 'set', 'bridge', 'br-int', 'datapath_type=netdev', 'fail_mode=secure', 'other_config:disable-in-band=true');
  await ovs.vsctl(
    'set',
    'open_vswitch',
    '.',
    'external_ids:system-id=bench-ovn',
    `external_ids:ovn-remote=${sbDb}`,
    'external_ids:ovn-encap-type=geneve',
    'external_ids:ovn-encap-ip=127.0.0.1',
    'external_ids:ovn-bridge-datapath-type=netdev',
  );
  const controllerLog = join(dir, 'ovn-controller.log');
  // OVS_RUNDIR: ovn-controller reaches br-int through <OVS rundir>/br-int.mgmt (it takes no --unixctl: its socket goes in OVN_RUNDIR).
  const controller = spawnDaemon(requireBinary('ovn-controller'), [ovs.dbRemote, `--pidfile=${join(dir, 'ovn-controller.pid')}`, `--log-file=${controllerLog}`, '-vconsole:off'], {
    netns,
    env: { ...env, OVS_RUNDIR: ovs.dir },
    logFile: join(dir, 'ovn-controller.out'),
  });
  cleanup.defer('stop ovn-controller', () => stopPid(controller));

  const nbctl = (...args: string[]) => run('ovn-nbctl', [`--db=${nbDb}`, '--timeout=60', ...args], { env, netns, timeoutMs: 70_000 });
  const uuid = (
    await nbctl('create', 'DHCP_Options', `cidr=${subnet.cidr}`, `options="server_id"="${subnet.serverIp}" "server_mac"="${subnet.serverMac}" "lease_time"="86400" "router"="${subnet.gateway}" "mtu"="${subnet.mtu}"`)
  ).stdout.trim();
  const nbArgs = ['ls-add', 'sw0'];
  for (const [i, p] of ports.entries()) nbArgs.push('--', 'lsp-add', 'sw0', `lp${i}`, '--', 'lsp-set-addresses', `lp${i}`, `${p.mac} ${p.ip}`, '--', 'lsp-set-dhcpv4-options', `lp${i}`, uuid);
  await nbctl(...nbArgs);
  const vsArgs: string[] = [];
  for (const [i, p] of ports.entries()) vsArgs.push('--', 'add-port', 'br-int', p.iface, '--', 'set', 'interface', p.iface, 'type=internal', `mac="${p.mac}"`, `external_ids:iface-id=lp${i}`);
  await ovs.vsctl(...vsArgs.slice(1));
  // A port is up once ovn-controller has bound it and installed its flows.
  const waits: string[] = [];
  for (const [i] of ports.entries()) waits.push('--', 'wait-until', 'logical_switch_port', `lp${i}`, 'up=true');
  try {
    await nbctl(...waits.slice(1));
  } catch (err) {
    const tail = (f: string): string => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').slice(-15).join('\n') : '(no log)');
    throw new DfError('OVN_NOT_READY', `OVN's ports did not come up: ovn-controller.log:\n${tail(controllerLog)}\novn-northd.log:\n${tail(northdLog)}`, { context: { dir }, cause: err });
  }
  await nbctl('--wait=hv', 'sync');
  return { ovs, controllerPid: controller };
}
