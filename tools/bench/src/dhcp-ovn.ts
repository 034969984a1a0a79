import { type CleanupStack, type OvsInstance } from '@dragonflow/sandbox';
import { ovnStep, startOvnChassis } from './ovn.js';

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

/**
 * OVN answering DHCP on one chassis (ovn.ts: every daemon private). One logical
 * switch, one logical port per `ports` entry with its address and the subnet's
 * DHCP_Options, each bound by an internal interface of br-int (external_ids:iface-id).
 * Returns once every port is up (bound and its flows installed on the chassis).
 */
export async function startOvnDhcp(cleanup: CleanupStack, netns: string, subnet: DhcpSubnet, ports: readonly BenchPort[]): Promise<{ ovs: OvsInstance; controllerPid: number }> {
  const ovn = await startOvnChassis(cleanup, netns, 'bench-ovn');
  const { ovs, nbctl } = ovn;
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
  await ovnStep(ovn, 'bringing the ports up', () => nbctl(...waits.slice(1)));
  await nbctl('--wait=hv', 'sync');
  return { ovs, controllerPid: ovn.controllerPid };
}
