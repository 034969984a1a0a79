import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { describeError } from '@dragonflow/base';
import { OfListener, silentLogger, switchChannel, type Logger } from '@dragonflow/core';
import { EthType, OfPort, act, describeOfError, flowMod, formatFlow, inst } from '@dragonflow/openflow';
import { CleanupStack, Sandbox, run, shortId, startOvs } from '@dragonflow/sandbox';
import { CommanderError, type Command } from 'commander';
import { requireRoot, sandboxDown, sandboxUp, vmCreate } from '../sandbox/lifecycle.js';
import { NeutronClient } from '../sandbox/neutron.js';
import { choice, intOption } from '../sandbox/options.js';
import type { DbKind, TunnelKind } from '../sandbox/services.js';

export interface DemoOptions {
  /** Where progress goes (stdout by default). */
  readonly out?: (line: string) => void;
  readonly logger?: Logger;
}

/**
 * The OpenFlow-only demo: a userspace Open vSwitch in a temporary directory, our
 * OpenFlow controller listening on a unix socket, a secure-mode bridge pointed at
 * it, one flow installed and confirmed by a barrier, shown by `ovs-ofctl
 * dump-flows`, then everything torn down. Returns the dump-flows text.
 */
export async function runOpenflowDemo(options: DemoOptions = {}): Promise<string> {
  const out = options.out ?? ((line: string) => console.log(line));
  const cleanup = new CleanupStack();
  const bridge = `df-demo${shortId(4)}`.slice(0, 15);
  try {
    out('• starting Open vSwitch (ovsdb-server + ovs-vswitchd, userspace datapath) in a temporary directory');
    const ovs = await startOvs();
    cleanup.defer('stop Open vSwitch', () => ovs.stop());
    out(`  ${ovs.dir}`);

    const socket = join(ovs.dir, 'df-controller.sock');
    const listener = await OfListener.start({ logger: options.logger ?? silentLogger(), unixPath: socket });
    cleanup.defer('stop the OpenFlow listener', () => listener.close());
    out(`• controller listening for switches on unix:${socket}`);

    await ovs.vsctl('add-br', bridge, '--', 'set', 'bridge', bridge, 'datapath_type=netdev', 'fail_mode=secure', 'protocols=OpenFlow13', 'other-config:datapath-id=00000000000d0f01');
    cleanup.defer('delete the bridge', () => ovs.vsctl('--if-exists', 'del-br', bridge));
    await ovs.vsctl('set-controller', bridge, `unix:${socket}`);
    out(`• bridge ${bridge} (fail_mode=secure) pointed at the controller`);

    const conn = await listener.waitForSwitch(undefined, 20_000);
    const ports = await conn.portDescs();
    out(`• switch connected: datapath id ${conn.datapathId.toString(16).padStart(16, '0')}, OpenFlow 1.3, ${conn.featuresReply?.nTables ?? '?'} tables, ports ${ports.map((p) => p.name).join(', ')}`);

    const flow = flowMod({
      tableId: 0,
      priority: 100,
      cookie: 0xdf0001n,
      match: { eth_type: EthType.IPV4, ipv4_dst: '10.0.0.0/24' },
      instructions: [inst.apply(act.decNwTtl(), act.setField('eth_dst', '02:00:00:00:00:01'), act.output(OfPort.LOCAL))],
    });
    const { xid: _xid, ...request } = flow;
    const outcome = await switchChannel(conn).sendBatch([request]);
    if (outcome.errors.length) throw new Error(`the switch refused the demo flow: ${describeOfError(outcome.errors[0]!.error)}`);
    out(`• installed, confirmed by a barrier: ${formatFlow(flow, { stats: false })}`);

    const dump = await ovs.ofctl('-O', 'OpenFlow13', 'dump-flows', bridge);
    out(`• ovs-ofctl -O OpenFlow13 dump-flows ${bridge}`);
    for (const line of dump.trimEnd().split('\n')) out(`  ${line}`);
    return dump;
  } finally {
    out('• tearing down');
    const problems = await cleanup.run();
    for (const p of problems) out(`  cleanup problem: ${p}`);
  }
}

export interface SandboxDemoOptions {
  readonly out?: (line: string) => void;
  readonly keep?: boolean;
  readonly dir?: string;
  readonly apiPort?: number;
  readonly tunnel?: TunnelKind;
  readonly db?: DbKind;
}

export interface SandboxDemoResult {
  readonly dir: string;
  readonly pingOk: boolean;
  /** The L2 app ran, so the ping had to succeed. */
  readonly l2: boolean;
  readonly kept: boolean;
}

const OPENSTACK = '/usr/bin/openstack';

function hasOpenstackCli(): boolean {
  try {
    accessSync(OPENSTACK, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function openstack(url: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(OPENSTACK, ['--os-auth-type', 'none', '--os-endpoint', url, ...args], { encoding: 'utf8', timeout: 60_000, env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: process.env['HOME'] ?? '/root', LANG: 'C.UTF-8' } }, (error, stdout, stderr) => {
      if (error) reject(new Error(`openstack ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

/**
 * The README demo: a two-chassis sandbox, a network and a subnet made with the
 * stock openstack CLI against df-api, one VM on each chassis whose ports become
 * ACTIVE, a ping between them across the tunnel (it has to succeed when the L2 app
 * runs), then how to explore, and teardown unless `keep`.
 */
export async function runSandboxDemo(options: SandboxDemoOptions = {}): Promise<SandboxDemoResult> {
  const out = options.out ?? ((line: string) => console.log(line));
  const step = (s: string): void => out(`\n▶ ${s}`);
  step('1. Bring up a sandbox: 2 chassis (each a network namespace with ovsdb-server, ovs-vswitchd and df-controller), the NB DB and df-api');
  const up = await sandboxUp({ chassis: 2, ...(options.dir ? { dir: options.dir } : {}), ...(options.apiPort ? { apiPort: options.apiPort } : {}), tunnel: options.tunnel ?? 'vxlan', db: options.db ?? 'memory', out: (l) => out(`  ${l}`) });
  const dir = up.dir;
  const url = up.services.api.url;
  const l2 = up.services.apps.includes('@dragonflow/app-l2');
  const dirArg = options.dir || options.apiPort ? ` --dir ${dir}` : '';
  let pingOk: boolean;
  try {
    step(`2. Create a network and a subnet through df-api (Neutron v2.0 on ${url})`);
    if (hasOpenstackCli()) {
      for (const args of [
        ['network', 'create', 'demo-net'],
        ['subnet', 'create', '--network', 'demo-net', '--subnet-range', '10.0.0.0/24', 'demo-subnet'],
      ]) {
        out(`  $ openstack --os-auth-type none --os-endpoint ${url} ${args.join(' ')}`);
        await openstack(url, [...args, '-f', 'value', '-c', 'id']);
      }
    } else {
      out(`  (the openstack CLI is not installed — ./scripts/setup installs it; using the same REST calls directly)`);
      const api = new NeutronClient(url);
      const net = await api.createNetwork({ name: 'demo-net' });
      await api.createSubnet({ network_id: net.id, name: 'demo-subnet', cidr: '10.0.0.0/24', ip_version: 4 });
    }

    step('3. Start two VMs, one per chassis: a port through df-api, a namespace plugged into br-int with its iface-id; wait for the ports to become ACTIVE');
    const vms = [];
    for (const [name, chassis] of [
      ['vm1', 1],
      ['vm2', 2],
    ] as const) {
      out(`  $ pnpm df sandbox vm create ${name} --network demo-net --chassis ${chassis}${dirArg}`);
      const vm = await vmCreate(dir, { name, network: 'demo-net', chassis });
      vms.push(vm);
      out(`  ${name} on chassis-${vm.chassis}: MAC ${vm.mac}, IP ${vm.ip}, port ${vm.portId} ${vm.status}${vm.activeAfterMs !== undefined ? ` (${vm.activeAfterMs} ms after plug: the controller confirmed its flows first)` : ''}`);
    }

    const [vm1, vm2] = vms as [(typeof vms)[0], (typeof vms)[0]];
    step(`4. Ping vm2 (${vm2.ip}, chassis-2) from vm1 (${vm1.ip}, chassis-1): ${options.tunnel ?? 'vxlan'} between the chassis, flows from the controllers`);
    if (!l2) out('  The L2 app (@dragonflow/app-l2) is not installed: the controllers run the core pipeline only, so this ping is expected to fail.');
    out(`  $ pnpm df sandbox exec vm1${dirArg} -- ping -c 3 ${vm2.ip}`);
    const vmNetns = Sandbox.load(dir).vm('vm1').netns;
    // The first packet to a new tunnel peer may be spent on resolving the underlay (see docs/sandbox-dataplane.md).
    await run('ping', ['-c', '1', '-W', '2', vm2.ip], { netns: vmNetns, allowFailure: true });
    const ping = await run('ping', ['-c', '3', '-i', '0.3', '-W', '2', vm2.ip], { netns: vmNetns, allowFailure: true });
    for (const l of ping.stdout.trimEnd().split('\n')) out(`  ${l}`);
    pingOk = ping.code === 0;
    out(pingOk ? '  ✔ vm1 reaches vm2 across the chassis' : l2 ? '  ✘ the ping FAILED although the L2 app runs' : '  ✘ no answer (as expected without the L2 app)');

    step('5. Explore');
    out(`  pnpm df sandbox status${dirArg}                 # chassis, controllers, VMs, ports ACTIVE`);
    out(`  openstack --os-auth-type none --os-endpoint ${url} port list`);
    const c1 = up.services.controllers[0]!;
    const c1dir = c1.config.slice(0, c1.config.lastIndexOf('/'));
    out(`  ovs-ofctl -O OpenFlow13 dump-flows unix:${join(c1dir, 'br-int.mgmt')}   # chassis-1's flows`);
    out(`  curl -s --unix-socket ${c1.management.replace(/^unix:/, '')} http://localhost/healthz`);
    out(`  pnpm df sandbox exec vm1${dirArg} -- ip addr`);
    out(`  Tear down with: pnpm df sandbox down${dirArg}`);
  } catch (err) {
    out(`\n✘ the demo failed: ${describeError(err)}`);
    if (!options.keep) {
      out('  tearing down');
      await sandboxDown(dir, { out: (l) => out(`  ${l}`) }).catch((e: unknown) => out(`  teardown problem: ${describeError(e)}`));
    }
    throw err;
  }
  if (options.keep) {
    step(`The sandbox keeps running (--keep). Tear it down with: pnpm df sandbox down${dirArg}`);
  } else {
    step('6. Tear down (run with --keep to keep the sandbox and explore)');
    await sandboxDown(dir, { out: (l) => out(`  ${l}`) });
  }
  return { dir, pingOk, l2, kept: options.keep ?? false };
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('bring up a 2-chassis sandbox, make a network with the openstack CLI, start a VM on each chassis, ping between them, show how to explore, tear down')
    .option('--keep', 'keep the sandbox running afterwards (pnpm df sandbox down removes it)')
    .option('--openflow-only', 'the minimal demo instead: one Open vSwitch, our OpenFlow controller, one flow confirmed by a barrier')
    .option('--tunnel <type>', 'tunnel type between the chassis: vxlan, geneve or gre', choice<TunnelKind>('--tunnel', ['vxlan', 'geneve', 'gre']), 'vxlan')
    .option('--db <kind>', 'NB DB: memory, etcd or redis', choice<DbKind>('--db', ['memory', 'etcd', 'redis']), 'memory')
    .option('--dir <dir>', 'sandbox directory (default: a new temporary directory)')
    .option('--api-port <port>', 'df-api port on 127.0.0.1 (default 9696)', intOption('--api-port', 1, 65535))
    .action(async (o: { keep?: boolean; openflowOnly?: boolean; tunnel: TunnelKind; db: DbKind; dir?: string; apiPort?: number }) => {
      requireRoot('the demo');
      if (o.openflowOnly) {
        await runOpenflowDemo();
        return;
      }
      const r = await runSandboxDemo({ keep: o.keep ?? false, tunnel: o.tunnel, db: o.db, ...(o.dir ? { dir: o.dir } : {}), ...(o.apiPort ? { apiPort: o.apiPort } : {}) });
      if (r.l2 && !r.pingOk) throw new CommanderError(1, 'df.demo.ping', '');
    });
}
