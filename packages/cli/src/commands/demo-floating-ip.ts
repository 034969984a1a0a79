import { EXTERNAL, run } from '@dragonflow/sandbox';
import { type VmCreated } from '../sandbox/lifecycle.js';
import { type NeutronClient } from '../sandbox/neutron.js';

export const DNAT_APP = '@dragonflow/app-dnat';

export interface FloatingIpDemoContext {
  readonly out: (line: string) => void;
  readonly url: string;
  readonly api: NeutronClient;
  /** Runs the openstack CLI against df-api, or undefined when it is not installed (the REST calls are made directly). */
  readonly openstack: ((args: readonly string[]) => Promise<string>) | undefined;
  /** The outside namespace (upstream router and internet host). */
  readonly outsideNetns: string;
  readonly router: string;
  readonly vm: VmCreated;
  /** ` --dir DIR` when the sandbox is not the default one (for the commands shown). */
  readonly dirArg: string;
}

export interface FloatingIpDemoResult {
  readonly address: string;
  /** The outside namespace's ping of the floating IP was answered. */
  readonly reached: boolean;
}

/**
 * The demo's floating IP step: the external network `public` as devstack makes it
 * (flat on the sandbox's physical network `public`, 172.24.4.0/24, the outside
 * namespace's upstream router as gateway, no DHCP), the router's gateway on it, ICMP
 * let into the default group, a floating IP on `vm`'s port — then the outside
 * namespace pings the floating IP: answered by the VM, translated by conntrack in
 * its own chassis' switch.
 */
export async function floatingIpStep(c: FloatingIpDemoContext): Promise<FloatingIpDemoResult> {
  const { out } = c;
  let address: string;
  if (c.openstack) {
    const os = async (args: readonly string[], quiet: readonly string[] = []): Promise<string> => {
      out(`  $ openstack --os-auth-type none --os-endpoint ${c.url} ${args.join(' ')}`);
      return (await c.openstack!([...args, ...quiet])).trim();
    };
    await os(['network', 'create', 'public', '--external', '--provider-network-type', 'flat', '--provider-physical-network', EXTERNAL.physnet], ['-f', 'value', '-c', 'id']);
    await os(['subnet', 'create', '--network', 'public', '--subnet-range', '172.24.4.0/24', '--gateway', EXTERNAL.routerIp, '--no-dhcp', 'public-subnet'], ['-f', 'value', '-c', 'id']);
    await os(['router', 'set', '--external-gateway', 'public', c.router]);
    await os(['security', 'group', 'rule', 'create', '--ingress', '--protocol', 'icmp', 'default'], ['-f', 'value', '-c', 'id']);
    address = await os(['floating', 'ip', 'create', 'public'], ['-f', 'value', '-c', 'floating_ip_address']);
    await os(['floating', 'ip', 'set', '--port', c.vm.portId, address]);
  } else {
    const net = await c.api.createNetwork({ name: 'public', 'router:external': true, 'provider:network_type': 'flat', 'provider:physical_network': EXTERNAL.physnet });
    await c.api.createSubnet({ network_id: net.id, name: 'public-subnet', cidr: '172.24.4.0/24', gateway_ip: EXTERNAL.routerIp, enable_dhcp: false, ip_version: 4 });
    const router = await c.api.named('routers', c.router);
    await c.api.updateRouter(router.id, { external_gateway_info: { network_id: net.id } });
    const group = await c.api.named('security-groups', 'default');
    await c.api.createSecurityGroupRule({ security_group_id: group.id, direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp' });
    address = (await c.api.createFloatingIp({ floating_network_id: net.id, port_id: c.vm.portId })).floating_ip_address;
  }
  out(`  ${c.vm.name} (${c.vm.ip}) is reachable from outside at the floating IP ${address}:`);
  out(`  $ pnpm dfctl sandbox outside${c.dirArg} -- ping -c 3 ${address}`);
  const r = await run('ping', ['-c', '3', '-i', '0.3', '-W', '2', address], { netns: c.outsideNetns, allowFailure: true });
  for (const l of r.stdout.trimEnd().split('\n')) out(`  ${l}`);
  return { address, reached: r.code === 0 };
}
