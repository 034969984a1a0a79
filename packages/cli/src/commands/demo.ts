import { execFile, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { describeError } from '@dragonflow/base';
import { type Logger } from '@dragonflow/core';
import { OfListener, silentLogger, switchChannel } from '@dragonflow/core/host';
import { EthType, OfPort, act, describeOfError, flowMod, formatFlow, inst } from '@dragonflow/openflow';
import { CleanupStack, Sandbox, netnsArgv, run, shortId, startOvs } from '@dragonflow/sandbox';
import { CommanderError, Option, type Command } from 'commander';
import { requireRoot, sandboxDown, sandboxUp, vmCreate, type VmCreated } from '../sandbox/lifecycle.js';
import { NeutronClient } from '../sandbox/neutron.js';
import { choice, choices, intOption } from '../sandbox/options.js';
import { DEFAULT_SANDBOX_APPS, TUNNEL_KINDS, type DbKind, type TunnelKind } from '../sandbox/services.js';
import { DNAT_APP, floatingIpStep, type FloatingIpDemoResult } from './demo-floating-ip.js';
import { SG_APP, securityDemoOk, securityGroupStep, type SecurityDemoResult } from './demo-security.js';

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
  readonly tunnel?: TunnelKind | readonly TunnelKind[];
  readonly db?: DbKind;
  /** App packages (default: the sandbox's, DEFAULT_SANDBOX_APPS: l2, dhcp and l3-proactive). */
  readonly apps?: readonly string[];
}

export interface SandboxDemoResult {
  readonly dir: string;
  /** vm1 → vm2: same network, across the chassis. */
  readonly l2PingOk: boolean;
  /** vm1 → vm3: across the router and the chassis. */
  readonly l3PingOk: boolean;
  /** The L2 app ran, so the L2 ping had to succeed. */
  readonly l2: boolean;
  /** An L3 app ran too, so the routed ping had to succeed. */
  readonly l3: boolean;
  /** What vm3 saw of a routed echo request (tcpdump -e), when tcpdump is installed. */
  readonly evidence: RoutedEvidence | undefined;
  /** The security-group step, when the sg app ran (and L3 worked: the step goes through the router). */
  readonly security: SecurityDemoResult | undefined;
  /** The floating IP step, when the dnat app ran (and L3 worked: the floating IP is vm1's). */
  readonly floating: FloatingIpDemoResult | undefined;
  readonly kept: boolean;
}

/** A routed packet as its receiver saw it. */
export interface RoutedEvidence {
  readonly srcMac: string;
  readonly dstMac: string;
  readonly ttl: number;
  /** The router's interface MAC on the receiver's network. */
  readonly routerMac: string | undefined;
}

const OPENSTACK = '/usr/bin/openstack';
const L3_APPS = ['@dragonflow/app-l3-proactive', '@dragonflow/app-l3-reactive'];

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
 * Runs tcpdump in a VM for one echo request while `action` runs; returns what it
 * printed (-e: with MACs; -v: with the TTL), or undefined when tcpdump is missing
 * or saw nothing within a few seconds.
 */
async function captureOneEcho(netns: string, action: () => Promise<unknown>): Promise<string | undefined> {
  let argv: [string, string[]];
  try {
    argv = netnsArgv(netns, 'tcpdump', ['-n', '-e', '-v', '-l', '-i', 'eth0', '-c', '1', 'icmp and icmp[icmptype] == icmp-echo']);
  } catch {
    return undefined;
  }
  const child = spawn(argv[0], argv[1], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const listening = new Promise<boolean>((resolve) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) resolve(true);
    });
    child.once('exit', () => resolve(false));
  });
  const stop = setTimeout(() => child.kill('SIGINT'), 5_000);
  try {
    if (await listening) {
      await action();
      await exited;
    }
  } finally {
    clearTimeout(stop);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  }
  return out.trim() || undefined;
}

/** The MACs and TTL of the first packet tcpdump -e -v printed. */
export function parseEcho(text: string): { srcMac: string; dstMac: string; ttl: number } | undefined {
  const m = /([0-9a-f]{2}(?::[0-9a-f]{2}){5}) > ([0-9a-f]{2}(?::[0-9a-f]{2}){5}),.*?\bttl (\d+)/s.exec(text);
  return m ? { srcMac: m[1]!, dstMac: m[2]!, ttl: Number(m[3]) } : undefined;
}

async function ping(netns: string, target: string, out: (l: string) => void): Promise<boolean> {
  const r = await run('ping', ['-c', '3', '-i', '0.3', '-W', '2', target], { netns, allowFailure: true });
  for (const l of r.stdout.trimEnd().split('\n')) out(`  ${l}`);
  return r.code === 0;
}

/**
 * The README demo: a two-chassis sandbox running the L2 app and the distributed
 * router (l3-proactive); two networks with a subnet each behind one router, made
 * with the stock openstack CLI against df-api; vm1 (net1) on chassis-1, vm2 (net1)
 * and vm3 (net2) on chassis-2, ACTIVE; vm1 pings vm2 (switched across the chassis)
 * and vm3 (routed on chassis-1 — TTL−1, the router's MAC — then tunnelled on net2's
 * VNI); then how to explore, and teardown unless `keep`.
 */
export async function runSandboxDemo(options: SandboxDemoOptions = {}): Promise<SandboxDemoResult> {
  const out = options.out ?? ((line: string) => console.log(line));
  const step = (s: string): void => out(`\n▶ ${s}`);
  step('1. Bring up a sandbox: 2 chassis (each a network namespace with ovsdb-server, ovs-vswitchd and df-controller), the NB DB and df-api');
  const up = await sandboxUp({
    chassis: 2,
    ...(options.dir ? { dir: options.dir } : {}),
    ...(options.apiPort ? { apiPort: options.apiPort } : {}),
    ...(options.apps ? { apps: options.apps } : {}),
    tunnel: options.tunnel ?? 'vxlan',
    db: options.db ?? 'memory',
    // the floating IP step reaches vm1 from the outside namespace over the external network
    external: true,
    out: (l) => out(`  ${l}`),
  });
  const dir = up.dir;
  const url = up.services.api.url;
  const l2 = up.services.apps.includes('@dragonflow/app-l2');
  const l3 = l2 && up.services.apps.some((a) => L3_APPS.includes(a));
  const dirArg = options.dir || options.apiPort ? ` --dir ${dir}` : '';
  const sbArg = options.dir || options.apiPort ? ` --sandbox ${dir}` : '';
  let l2PingOk: boolean;
  let l3PingOk: boolean;
  let evidence: RoutedEvidence | undefined;
  let security: SecurityDemoResult | undefined;
  let floating: FloatingIpDemoResult | undefined;
  try {
    step(`2. Two networks with a subnet each, and a router between them, through df-api (Neutron v2.0 on ${url})`);
    const api = new NeutronClient(url);
    if (hasOpenstackCli()) {
      for (const args of [
        ['network', 'create', 'demo-net1'],
        ['subnet', 'create', '--network', 'demo-net1', '--subnet-range', '10.0.1.0/24', 'demo-subnet1'],
        ['network', 'create', 'demo-net2'],
        ['subnet', 'create', '--network', 'demo-net2', '--subnet-range', '10.0.2.0/24', 'demo-subnet2'],
        ['router', 'create', 'demo-router'],
        ['router', 'add', 'subnet', 'demo-router', 'demo-subnet1'],
        ['router', 'add', 'subnet', 'demo-router', 'demo-subnet2'],
      ]) {
        out(`  $ openstack --os-auth-type none --os-endpoint ${url} ${args.join(' ')}`);
        await openstack(url, args[1] === 'create' ? [...args, '-f', 'value', '-c', 'id'] : args);
      }
    } else {
      out(`  (the openstack CLI is not installed — ./scripts/setup installs it; using the same REST calls directly)`);
      const router = await api.createRouter({ name: 'demo-router' });
      for (const n of [1, 2]) {
        const net = await api.createNetwork({ name: `demo-net${n}` });
        const sub = await api.createSubnet({ network_id: net.id, name: `demo-subnet${n}`, cidr: `10.0.${n}.0/24`, ip_version: 4 });
        await api.addRouterInterface(router.id, sub.id);
      }
    }

    const dhcp = up.services.apps.includes('@dragonflow/app-dhcp');
    step(
      `3. Three VMs: vm1 on demo-net1 (chassis-1), vm2 on demo-net1 and vm3 on demo-net2 (chassis-2): a port through df-api, a namespace plugged into br-int with its iface-id; each waits for ACTIVE${dhcp ? ', then its DHCP client (dhclient in vm1 and vm2, busybox udhcpc in vm3) gets its address, route and MTU from its own chassis\' controller' : ''}`,
    );
    const vms = [];
    for (const [name, network, chassis, client] of [
      ['vm1', 'demo-net1', 1, 'dhclient'],
      ['vm2', 'demo-net1', 2, 'dhclient'],
      ['vm3', 'demo-net2', 2, 'udhcpc'],
    ] as const) {
      out(`  $ pnpm dfctl sandbox vm create ${name} --network ${network} --chassis ${chassis}${dhcp ? ` --dhcp-client ${client}` : ''}${dirArg}`);
      const vm = await vmCreate(dir, { name, network, chassis, ...(dhcp ? { dhcpClient: client } : {}) });
      vms.push(vm);
      out(`  ${name} on chassis-${vm.chassis}: MAC ${vm.mac}, IP ${vm.ip}, port ${vm.portId} ${vm.status}${vm.activeAfterMs !== undefined ? ` (${vm.activeAfterMs} ms after plug: the controller confirmed its flows first)` : ''}`);
      if (vm.lease) out(`    ${vm.addressing} was given ${vm.lease.ip}/${vm.lease.mask}, routes ${vm.lease.routes || `via ${vm.lease.routers}`}, MTU ${vm.lease.mtu}`);
    }
    const [vm1, vm2, vm3] = vms as [VmCreated, VmCreated, VmCreated];
    const sb = Sandbox.load(dir);
    const vm1Netns = sb.vm('vm1').netns;
    const tunnels = up.services.tunnels.join('/');

    step(`4. L2: vm1 pings vm2 (${vm2.ip}): same network, across the chassis (${tunnels} tunnel), switched by flows from the controllers`);
    if (!l2) out('  The L2 app (@dragonflow/app-l2) is not running: the controllers run the core pipeline only, so this ping is expected to fail.');
    out(`  $ pnpm dfctl sandbox exec vm1${dirArg} -- ping -c 3 ${vm2.ip}`);
    // The first packet to a new tunnel peer may be spent on resolving the underlay (see docs/sandbox-dataplane.md).
    await run('ping', ['-c', '1', '-W', '2', vm2.ip], { netns: vm1Netns, allowFailure: true });
    l2PingOk = await ping(vm1Netns, vm2.ip, out);
    out(l2PingOk ? '  ✔ vm1 reaches vm2 across the chassis' : l2 ? '  ✘ the ping FAILED although the L2 app runs' : '  ✘ no answer (as expected without the L2 app)');

    step(`5. L3: vm1 pings vm3 (${vm3.ip}) on demo-net2 through demo-router: routed on chassis-1 by flows (TTL−1, the router's MAC), then tunnelled to chassis-2 on demo-net2's segment`);
    if (!l3) out('  No L3 app runs (--apps without @dragonflow/app-l3-proactive or -reactive): there is no router in the switches, so this ping is expected to fail.');
    out(`  $ pnpm dfctl sandbox exec vm1${dirArg} -- ping -c 3 ${vm3.ip}`);
    l3PingOk = await ping(vm1Netns, vm3.ip, out);
    out(l3PingOk ? '  ✔ vm1 reaches vm3 through the distributed router, across the chassis (ttl=63: the reply was routed once, on chassis-2)' : l3 ? '  ✘ the ping FAILED although an L3 app runs' : '  ✘ no answer (as expected without an L3 app)');
    if (l3PingOk) {
      const seen = await captureOneEcho(sb.vm('vm3').netns, () => run('ping', ['-c', '1', '-W', '2', vm3.ip], { netns: vm1Netns, allowFailure: true }));
      const echo = seen ? parseEcho(seen) : undefined;
      if (echo) {
        const net2 = await api.find('networks', 'demo-net2');
        const routerMac = (await api.routerInterfaces(net2.id))[0]?.mac_address;
        evidence = { ...echo, routerMac };
        out(`  vm3 received (tcpdump -e): ${echo.srcMac} > ${echo.dstMac}, ttl ${echo.ttl}`);
        out(`    source MAC ${echo.srcMac === routerMac ? "= demo-router's interface on demo-net2" : `(demo-router's interface on demo-net2 is ${routerMac ?? '?'})`}, destination MAC ${echo.dstMac === vm3.mac ? '= vm3' : `(vm3 is ${vm3.mac})`}, TTL 64 − 1`);
      } else out('  (tcpdump is not installed or saw nothing: ./scripts/setup installs it)');
    }

    step(`6. Security groups: vm3 serves HTTP on :8000 and :8001; a group that lets in only tcp 8000 replaces vm3's default group — enforced in the switches by conntrack`);
    if (!up.services.apps.includes(SG_APP)) out(`  ${SG_APP} is not running (--apps without it): security groups are stored, not enforced — skipped.`);
    else if (!l3PingOk) out('  skipped: vm1 does not reach vm3 (step 5)');
    else {
      security = await securityGroupStep({ out, dir, url, api, openstack: hasOpenstackCli() ? (args) => openstack(url, args) : undefined, clientNetns: vm1Netns, serverNetns: sb.vm('vm3').netns, server: vm3 });
      out(securityDemoOk(security) ? '  ✔ vm1 reaches vm3:8000 and no longer :8001 nor ping: demo-web is enforced' : '  ✘ the security group did not behave as written (see above)');
    }

    step(`7. Floating IP: the external network 'public' (flat, as devstack makes it), demo-router's gateway on it, a floating IP on vm1 that the outside namespace pings — translated by conntrack in chassis-1's switch`);
    if (!up.services.apps.includes(DNAT_APP)) out(`  ${DNAT_APP} is not running (--apps without it): floating IPs are stored, not translated — skipped.`);
    else if (!l3PingOk) out('  skipped: the router does not route (step 5)');
    else {
      floating = await floatingIpStep({ out, url, api, openstack: hasOpenstackCli() ? (args) => openstack(url, args) : undefined, outsideNetns: sb.outside().netns, router: 'demo-router', vm: vm1, dirArg });
      out(floating.reached ? `  ✔ the outside reaches vm1 at its floating IP ${floating.address}` : `  ✘ the outside does not reach the floating IP ${floating.address}`);
    }

    step('8. Explore');
    const c1 = up.services.controllers[0]!;
    const ofport = await sb.vm('vm1').ofport();
    const gatewayMac = (await api.routerInterfaces((await api.find('networks', 'demo-net1')).id))[0]?.mac_address ?? '<the router MAC on demo-net1>';
    out(`  pnpm dfctl status${sbArg}              # DB, df-api, each controller: OVSDB, OpenFlow, apps, ports, flows`);
    out(`  pnpm dfctl flows${sbArg} --chassis 1   # chassis-1's flows: table names, owning app and object`);
    out(`  pnpm dfctl trace${sbArg} --chassis 1 'in_port=${ofport},icmp,dl_src=${vm1.mac},dl_dst=${gatewayMac},nw_src=${vm1.ip},nw_dst=${vm3.ip},nw_ttl=64'`);
    out(`  pnpm dfctl sandbox exec vm1${dirArg} -- ip neigh   # vm1's gateway is the router's MAC on demo-net1`);
    out(`  openstack --os-auth-type none --os-endpoint ${url} port list --device-owner network:router_interface`);
    out(`  curl -s --unix-socket ${c1.management.replace(/^unix:/, '')} http://localhost/metrics`);
    if (floating) out(`  pnpm dfctl sandbox outside${dirArg} -- ping -c 3 ${floating.address}   # the floating IP from outside`);
    out(`  Tear down with: pnpm dfctl sandbox down${dirArg}`);
  } catch (err) {
    out(`\n✘ the demo failed: ${describeError(err)}`);
    if (!options.keep) {
      out('  tearing down');
      await sandboxDown(dir, { out: (l) => out(`  ${l}`) }).catch((e: unknown) => out(`  teardown problem: ${describeError(e)}`));
    }
    throw err;
  }
  if (options.keep) {
    step(`The sandbox keeps running (--keep). Tear it down with: pnpm dfctl sandbox down${dirArg}`);
  } else {
    step('9. Tear down (run with --keep to keep the sandbox and explore)');
    await sandboxDown(dir, { out: (l) => out(`  ${l}`) });
  }
  return { dir, l2PingOk, l3PingOk, l2, l3, evidence, security, floating, kept: options.keep ?? false };
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'bring up a 2-chassis sandbox, make two networks and a router with the openstack CLI, start VMs on both chassis, ping within a network (L2) and through the distributed router (L3), close a port with a security group, reach a VM from outside at a floating IP, show how to explore, tear down',
    )
    .option('--keep', 'keep the sandbox running afterwards (pnpm dfctl sandbox down removes it)')
    .option('--openflow-only', 'the minimal demo instead: one Open vSwitch, our OpenFlow controller, one flow confirmed by a barrier')
    .option('--apps <list>', `comma-separated app packages (default: ${DEFAULT_SANDBOX_APPS.join(', ')}; e.g. @dragonflow/app-l2,@dragonflow/app-l3-reactive)`, (v: string) => v.split(',').map((x) => x.trim()).filter(Boolean))
    .addOption(
      new Option('--tunnel <types>', 'tunnel type(s) between the chassis: vxlan, geneve, gre (comma-separated; the first is the networks\' type)')
        .argParser(choices<TunnelKind>('--tunnel', TUNNEL_KINDS))
        .default(['vxlan'] as TunnelKind[], 'vxlan'),
    )
    .option('--db <kind>', 'NB DB: memory, etcd or redis', choice<DbKind>('--db', ['memory', 'etcd', 'redis']), 'memory')
    .option('--dir <dir>', 'sandbox directory (default: a new temporary directory)')
    .option('--api-port <port>', 'df-api port on 127.0.0.1 (default 9696)', intOption('--api-port', 1, 65535))
    .action(async (o: { keep?: boolean; openflowOnly?: boolean; apps?: string[]; tunnel: TunnelKind[]; db: DbKind; dir?: string; apiPort?: number }) => {
      requireRoot('the demo');
      if (o.openflowOnly) {
        await runOpenflowDemo();
        return;
      }
      const r = await runSandboxDemo({ keep: o.keep ?? false, tunnel: o.tunnel, db: o.db, ...(o.apps ? { apps: o.apps } : {}), ...(o.dir ? { dir: o.dir } : {}), ...(o.apiPort ? { apiPort: o.apiPort } : {}) });
      if ((r.l2 && !r.l2PingOk) || (r.l3 && !r.l3PingOk) || (r.security && !securityDemoOk(r.security)) || (r.floating && !r.floating.reached)) throw new CommanderError(1, 'df.demo.ping', '');
    });
}
