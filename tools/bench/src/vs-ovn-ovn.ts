/**
 * bench:vs-ovn, OVN's side (23.03, ovn.ts): the same topology through the NB
 * database as Neutron's OVN driver writes it — logical switches with DHCP_Options,
 * a logical router, logical switch ports with addresses and port security, the
 * project's default security group as port group `pg_default` with Neutron's ACLs
 * and every port in `neutron_pg_drop` (Neutron's default drop). Rows are created
 * directly (`create` / `add`, as ovsdbapp does), so a commit is one NB transaction;
 * `--wait=hv` returns once ovn-controller has caught up with it (hv_cfg).
 */
import { performance } from 'node:perf_hooks';
import { type CleanupStack } from '@dragonflow/sandbox';
import { NETWORKS } from './convergence-topology.js';
import { cpuSeconds } from './nb-process.js';
import { ovnStep, startOvnChassis, type OvnChassis } from './ovn.js';
import { benchNetns } from './vs-ovn-df.js';
import { REPEATS, VM_IFACE_TYPE, addVmInterfaces, countFlows, portAddress, routerMac, rssOf, type SideResult } from './vs-ovn-scenario.js';

/** Neutron's ACLs for a default group (any egress; ingress from members) and its drop group. */
const ACLS: readonly (readonly [group: string, direction: string, priority: string, match: string, verdict: string])[] = [
  ['pg_default', 'from-lport', '1002', 'inport == @pg_default && ip4', 'allow-related'],
  ['pg_default', 'from-lport', '1002', 'inport == @pg_default && ip6', 'allow-related'],
  ['pg_default', 'to-lport', '1002', 'outport == @pg_default && ip4 && ip4.src == $pg_default_ip4', 'allow-related'],
  ['pg_default', 'to-lport', '1002', 'outport == @pg_default && ip6 && ip6.src == $pg_default_ip6', 'allow-related'],
  ['neutron_pg_drop', 'from-lport', '1001', 'inport == @neutron_pg_drop && ip', 'drop'],
  ['neutron_pg_drop', 'to-lport', '1001', 'outport == @neutron_pg_drop && ip', 'drop'],
];

/** nbctl arguments creating port i (`@p<i>`) on its switch with addresses, port security and DHCP; the caller adds it to the groups. */
function portArgs(i: number, dhcp: readonly string[]): string[] {
  const { network, mac, ip } = portAddress(i);
  return [
    '--', `--id=@p${i}`, 'create', 'Logical_Switch_Port', `name=lp${i}`, `addresses="${mac} ${ip}"`, `port_security="${mac} ${ip}"`, `dhcpv4_options=${dhcp[network]}`,
    '--', 'add', 'Logical_Switch', `net${network}`, 'ports', `@p${i}`,
  ];
}

function portsCommit(from: number, to: number, dhcp: readonly string[]): string[] {
  const args: string[] = [];
  const refs: string[] = [];
  for (let i = from; i < to; i++) {
    args.push(...portArgs(i, dhcp));
    refs.push(`@p${i}`);
  }
  args.push('--', 'add', 'Port_Group', 'pg_default', 'ports', ...refs, '--', 'add', 'Port_Group', 'neutron_pg_drop', 'ports', ...refs);
  return ['--wait=hv', ...args.slice(1)];
}

function addInterfaces(ovn: OvnChassis, from: number, to: number): Promise<void> {
  return addVmInterfaces(ovn.ovs, Array.from({ length: to - from }, (_, k) => from + k), (i) => `lp${i}`);
}

export async function runOvn(cleanup: CleanupStack, n: number): Promise<SideResult> {
  // OVN's chassis runs a vswitchd without dummy netdevs, and a comparison needs the same interfaces on both sides.
  if (VM_IFACE_TYPE !== 'internal') throw new Error(`DF_BENCH_VM_IFACE=${VM_IFACE_TYPE} is for our side alone (DF_BENCH_SIDES=ours)`);
  const netns = await benchNetns(cleanup, 'dfvsovnovn');
  const ovn = await startOvnChassis(cleanup, netns, 'bench-vs-ovn');
  const { nbctl } = ovn;
  const base = ['lr-add', 'r0'];
  for (let k = 0; k < NETWORKS; k++) {
    base.push('--', 'ls-add', `net${k}`, '--', 'lrp-add', 'r0', `rp${k}`, routerMac(k), `10.${k}.0.1/16`);
    base.push('--', 'lsp-add', `net${k}`, `rif${k}`, '--', 'lsp-set-type', `rif${k}`, 'router', '--', 'lsp-set-addresses', `rif${k}`, 'router', '--', 'lsp-set-options', `rif${k}`, `router-port=rp${k}`);
  }
  base.push('--', 'pg-add', 'pg_default', '--', 'pg-add', 'neutron_pg_drop');
  for (const [group, direction, priority, match, verdict] of ACLS) base.push('--', '--type=port-group', 'acl-add', group, direction, priority, match, verdict);
  await ovnStep(ovn, 'the base topology', () => nbctl(...base));
  const dhcp: string[] = [];
  for (let k = 0; k < NETWORKS; k++) {
    const options = `options="server_id"="10.${k}.0.1" "server_mac"="${routerMac(k)}" "lease_time"="43200" "router"="10.${k}.0.1" "mtu"="1442"`;
    dhcp.push((await nbctl('create', 'DHCP_Options', `cidr=10.${k}.0.0/16`, options)).stdout.trim());
  }
  await addInterfaces(ovn, 0, n + REPEATS);
  await nbctl('--wait=hv', 'sync');

  const pids = { controller: ovn.controllerPid, vswitchd: ovn.ovs.pids.vswitchd, central: [ovn.northdPid, ...ovn.dbPids] };
  const centralCpu = (): number => pids.central.reduce((s, p) => s + cpuSeconds(p), 0);
  const cpu0 = { controller: cpuSeconds(pids.controller), vswitchd: cpuSeconds(pids.vswitchd), central: centralCpu() };
  const t0 = performance.now();
  await ovnStep(ovn, `committing ${n} ports`, () => nbctl(...portsCommit(0, n, dhcp)));
  const bulkMs = performance.now() - t0;
  const cpu = { controller: cpuSeconds(pids.controller) - cpu0.controller, vswitchd: cpuSeconds(pids.vswitchd) - cpu0.vswitchd, central: centralCpu() - cpu0.central };
  // Every bulk port up (as on our side, where each port's status is its own write), in one ovn-nbctl.
  await ovnStep(ovn, 'the bulk ports up', () => nbctl(...Array.from({ length: n }, (_, i) => ['--', 'wait-until', 'Logical_Switch_Port', `lp${i}`, 'up=true']).flat().slice(1)));
  const flows = countFlows(await ovn.ovs.ofctl('-O', 'OpenFlow13', 'dump-flows', 'br-int'));
  const controllerRss = rssOf(pids.controller);
  const centralRss = pids.central.reduce((s, p) => s + rssOf(p), 0);

  const timed = async (args: string[]): Promise<number> => {
    const t = performance.now();
    await nbctl(...args);
    return performance.now() - t;
  };
  const onePort: number[] = [];
  for (let k = 0; k < REPEATS; k++) onePort.push(await timed(portsCommit(n + k, n + k + 1, dhcp)));
  const plug: number[] = [];
  for (let k = 0; k < REPEATS; k++) {
    const i = n + REPEATS + k;
    await nbctl(...portsCommit(i, i + 1, dhcp));
    const t = performance.now();
    await addInterfaces(ovn, i, i + 1);
    await nbctl('wait-until', 'Logical_Switch_Port', `lp${i}`, 'up=true');
    plug.push(performance.now() - t);
  }
  const oneRule: number[] = [];
  for (let k = 1; k <= REPEATS; k++) {
    oneRule.push(await timed(['--wait=hv', '--type=port-group', 'acl-add', 'pg_default', 'to-lport', '1002', `outport == @pg_default && ip4 && tcp && tcp.dst == ${10000 + k}`, 'allow-related']));
  }
  return { side: 'ovn', ports: n, bulkMs, flows, controllerRss, cpu, centralRss, onePort, plug, oneRule };
}
