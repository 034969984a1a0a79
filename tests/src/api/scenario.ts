import type { ApiConfigInput } from '@dragonflow/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliAuth, fails, ok, openstack, quiet, requireOpenstackCli } from './openstack.js';

/** A running df-api for the scenario: started with the DB of the driver under test. */
export interface RunningApi {
  url: string;
  close(): Promise<void>;
}

export type StartApi = (config: ApiConfigInput) => Promise<RunningApi>;

type Json = Record<string, unknown>;
type FixedIp = { subnet_id: string; ip_address: string };

const TOKENS = [
  { token: 'admin-secret-1', project: 'admin', roles: ['admin'] },
  { token: 'alice-secret-1', project: 'alice', roles: ['member'] },
  { token: 'bob-secret-123', project: 'bob', roles: ['member'] },
];

/**
 * The openstack CLI end-to-end scenario (run on the memory DB; the other drivers get
 * `openstackCliShortPass`): a tenant topology created, inspected, modified and torn
 * down with the stock CLI; the errors users hit shown by the CLI as Neutron's;
 * token-mode tenancy; 50 concurrent port creates.
 */
export function openstackCliScenario(driver: string, start: StartApi): void {
  describe(`openstack CLI against df-api (${driver} DB)`, () => {
    let api: RunningApi;
    let cli: CliAuth;
    const ids: Record<string, string> = {};

    beforeAll(async () => {
      requireOpenstackCli();
      api = await start({ auth: { mode: 'noauth' } });
      cli = { endpoint: api.url };
    });
    afterAll(async () => {
      await api?.close();
    });

    it('creates a network, a subnet and ports, and finds them by name', async () => {
      const net = await ok(cli, ['network', 'create', 'e2e-net']);
      expect(net).toMatchObject({ name: 'e2e-net', status: 'ACTIVE', mtu: 1450, 'router:external': false, 'provider:network_type': 'vxlan', port_security_enabled: true, project_id: 'admin' });
      ids['net'] = String(net['id']);
      const sub = await ok(cli, ['subnet', 'create', '--network', 'e2e-net', '--subnet-range', '10.20.0.0/24', 'e2e-sub']);
      expect(sub).toMatchObject({ cidr: '10.20.0.0/24', gateway_ip: '10.20.0.1', allocation_pools: [{ start: '10.20.0.2', end: '10.20.0.254' }], enable_dhcp: true, network_id: ids['net'] });
      ids['sub'] = String(sub['id']);
      const shown = await ok(cli, ['network', 'show', 'e2e-net']);
      expect(shown['subnets']).toEqual([ids['sub']]);
      const port = await ok(cli, ['port', 'create', '--network', 'e2e-net', 'e2e-port']);
      const fixed = port['fixed_ips'] as FixedIp[];
      expect(fixed).toHaveLength(1);
      expect(fixed[0]!.subnet_id).toBe(ids['sub']);
      expect(fixed[0]!.ip_address).toMatch(/^10\.20\.0\.\d+$/);
      expect(port['mac_address']).toMatch(/^fa:16:3e(:[0-9a-f]{2}){3}$/);
      expect(port).toMatchObject({ status: 'DOWN', port_security_enabled: true });
      expect(port['security_group_ids']).toHaveLength(1);
      ids['port'] = String(port['id']);
      const fixedPort = await ok(cli, ['port', 'create', '--network', 'e2e-net', '--fixed-ip', 'subnet=e2e-sub,ip-address=10.20.0.50', 'e2e-port2']);
      expect(fixedPort['fixed_ips']).toEqual([{ subnet_id: ids['sub'], ip_address: '10.20.0.50' }]);
      ids['port2'] = String(fixedPort['id']);
      const ports = await ok<Json[]>(cli, ['port', 'list', '--network', 'e2e-net']);
      expect(ports.map((p) => p['ID']).sort()).toEqual(expect.arrayContaining([ids['port'], ids['port2']]));
      const dhcp = await ok<Json[]>(cli, ['port', 'list', '--network', 'e2e-net', '--device-owner', 'network:dhcp']);
      expect(dhcp).toHaveLength(1);
      expect((await ok(cli, ['port', 'show', 'e2e-port']))['id']).toBe(ids['port']);
      expect((await ok(cli, ['subnet', 'show', 'e2e-sub']))['id']).toBe(ids['sub']);
    });

    it('shows Neutron errors for bad input through the CLI', async () => {
      expect(await fails(cli, ['subnet', 'create', '--network', 'e2e-net', '--subnet-range', '10.20.1.300/24', 'bad'])).toContain(
        "BadRequestException: 400: Client Error for url: " + `${api.url}/v2.0/subnets, Invalid input for cidr. Reason: '10.20.1.300/24' is not a valid IP subnet.`,
      );
      expect(await fails(cli, ['port', 'create', '--network', 'e2e-net', '--fixed-ip', 'subnet=e2e-sub,ip-address=10.99.0.5', 'bad'])).toContain(
        'BadRequestException: 400: Client Error for url: ' + `${api.url}/v2.0/ports, IP address 10.99.0.5 is not a valid IP for the specified subnet.`,
      );
      expect(await fails(cli, ['port', 'create', '--network', 'e2e-net', '--fixed-ip', 'ip-address=10.20.0.50', 'dup'])).toContain(
        `ConflictException: 409: Client Error for url: ${api.url}/v2.0/ports, Unable to complete operation for network ${ids['net']}. The IP address 10.20.0.50 is in use.`,
      );
      expect(await fails(cli, ['port', 'create', '--network', 'no-such-net', 'orphan'])).toContain('No Network found for no-such-net');
      expect(await fails(cli, ['subnet', 'create', '--network', 'e2e-net', '--subnet-range', '10.20.0.128/25', 'overlap'])).toContain(
        `Invalid input for operation: Requested subnet with cidr: 10.20.0.128/25 for network: ${ids['net']} overlaps with another subnet.`,
      );
      const ports = await ok<Json[]>(cli, ['port', 'list', '--network', 'e2e-net']);
      expect(ports).toHaveLength(3); // two ports and the DHCP port: nothing was written by the failures
    });

    it('routes: creates a router, adds the subnet, sets the external gateway, refuses an overlapping subnet', async () => {
      const router = await ok(cli, ['router', 'create', 'e2e-router']);
      ids['router'] = String(router['id']);
      await quiet(cli, ['router', 'add', 'subnet', 'e2e-router', 'e2e-sub']);
      const shown = await ok(cli, ['router', 'show', 'e2e-router']);
      const ifaces = shown['interfaces_info'] as { port_id: string; ip_address: string; subnet_id: string }[];
      expect(ifaces).toEqual([{ port_id: expect.any(String), ip_address: '10.20.0.1', subnet_id: ids['sub'] }]);
      ids['rport'] = ifaces[0]!.port_id;

      const ext = await ok(cli, ['network', 'create', '--external', 'e2e-public']);
      expect(ext['router:external']).toBe(true);
      ids['ext'] = String(ext['id']);
      ids['extsub'] = String((await ok(cli, ['subnet', 'create', '--network', 'e2e-public', '--subnet-range', '172.24.8.0/24', '--no-dhcp', 'e2e-public-sub']))['id']);
      await quiet(cli, ['router', 'set', '--external-gateway', 'e2e-public', 'e2e-router']);
      const gw = (await ok(cli, ['router', 'show', 'e2e-router']))['external_gateway_info'] as { network_id: string; enable_snat: boolean; external_fixed_ips: FixedIp[] };
      expect(gw).toMatchObject({ network_id: ids['ext'], enable_snat: true, external_fixed_ips: [{ subnet_id: ids['extsub'], ip_address: '172.24.8.2' }] });

      const other = await ok(cli, ['network', 'create', 'e2e-net2']);
      ids['net2'] = String(other['id']);
      const sub2 = await ok(cli, ['subnet', 'create', '--network', 'e2e-net2', '--subnet-range', '10.20.0.0/24', 'e2e-sub2']);
      ids['sub2'] = String(sub2['id']);
      expect(await fails(cli, ['router', 'add', 'subnet', 'e2e-router', 'e2e-sub2'])).toContain(
        `BadRequestException: 400: Client Error for url: ${api.url}/v2.0/routers/${ids['router']}/add_router_interface, Bad router request: Cidr 10.20.0.0/24 of subnet ${ids['sub2']} overlaps with cidr 10.20.0.0/24 of subnet ${ids['sub']}`,
      );
      expect(await fails(cli, ['port', 'delete', ids['rport']!])).toContain(`Port ${ids['rport']} cannot be deleted directly via the port API: has device owner network:router_interface.`);
      expect(await fails(cli, ['network', 'delete', 'e2e-net'])).toContain(`Unable to complete operation on network ${ids['net']}. There are one or more ports still in use on the network.`);
      const routers = await ok<Json[]>(cli, ['router', 'list']);
      expect(routers.map((r) => r['Name'])).toContain('e2e-router');
    });

    it('floating IPs: create, set to a port, unset', async () => {
      const fip = await ok(cli, ['floating', 'ip', 'create', 'e2e-public']);
      const address = String(fip['floating_ip_address']);
      expect(address).toMatch(/^172\.24\.8\.\d+$/);
      expect(fip).toMatchObject({ floating_network_id: ids['ext'], port_id: null, router_id: null });
      ids['fip'] = String(fip['id']);
      await quiet(cli, ['floating', 'ip', 'set', '--port', 'e2e-port', address]);
      const set = await ok(cli, ['floating', 'ip', 'show', address]);
      expect(set).toMatchObject({ port_id: ids['port'], router_id: ids['router'], floating_ip_address: address });
      expect(String(set['fixed_ip_address'])).toMatch(/^10\.20\.0\.\d+$/);
      const listed = await ok<Json[]>(cli, ['floating', 'ip', 'list']);
      expect(listed.map((f) => f['Floating IP Address'])).toEqual([address]);
      await quiet(cli, ['floating', 'ip', 'unset', '--port', address]);
      expect(await ok(cli, ['floating', 'ip', 'show', ids['fip']!])).toMatchObject({ port_id: null, fixed_ip_address: null, router_id: null });
    });

    it('security groups: create a group and a rule, list and show them', async () => {
      const g = await ok(cli, ['security', 'group', 'create', 'e2e-web']);
      ids['sg'] = String(g['id']);
      const rule = await ok(cli, ['security', 'group', 'rule', 'create', '--protocol', 'tcp', '--dst-port', '22', 'e2e-web']);
      expect(rule).toMatchObject({ direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22, security_group_id: ids['sg'] });
      ids['rule'] = String(rule['id']);
      const rules = await ok<Json[]>(cli, ['security', 'group', 'rule', 'list', 'e2e-web']);
      expect(rules.find((r) => r['ID'] === ids['rule'])).toMatchObject({ 'IP Protocol': 'tcp', 'Port Range': '22:22', Direction: 'ingress' });
      expect(rules.filter((r) => r['Direction'] === 'egress')).toHaveLength(2);
      const groups = await ok<Json[]>(cli, ['security', 'group', 'list']);
      expect(groups.map((x) => x['Name']).sort()).toEqual(['default', 'e2e-web']);
      expect((await ok(cli, ['security', 'group', 'show', 'e2e-web']))['id']).toBe(ids['sg']);
      expect(await fails(cli, ['security', 'group', 'rule', 'create', '--protocol', 'tcp', '--dst-port', '22', 'e2e-web'])).toContain(
        `ConflictException: 409, Security group rule already exists. Rule id is ${ids['rule']}.`,
      );
    });

    it('creates provider networks (admin) with the segment given on the command line', async () => {
      const vlan = await ok(cli, ['network', 'create', '--provider-network-type', 'vlan', '--provider-physical-network', 'physnet1', '--provider-segment', '100', 'e2e-vlan']);
      expect(vlan).toMatchObject({ 'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1', 'provider:segmentation_id': 100, mtu: 1500 });
      expect(await fails(cli, ['network', 'create', '--provider-network-type', 'vlan', '--provider-physical-network', 'physnet1', '--provider-segment', '100', 'e2e-vlan2'])).toContain(
        'Unable to create the network. The VLAN 100 on physical network physnet1 is in use.',
      );
      await quiet(cli, ['network', 'delete', 'e2e-vlan']);
    });

    it('gives 50 concurrent CLI port creates distinct IPs and MACs', async () => {
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => ok(cli, ['port', 'create', '--network', 'e2e-net2', `burst-${i}`])));
      const ips = results.map((p) => (p['fixed_ips'] as FixedIp[])[0]!.ip_address);
      const macs = results.map((p) => String(p['mac_address']));
      expect(new Set(ips).size).toBe(50);
      expect(new Set(macs).size).toBe(50);
      for (const ip of ips) expect(ip).toMatch(/^10\.20\.0\.\d+$/);
      const all = await ok<Json[]>(cli, ['port', 'list', '--network', 'e2e-net2']);
      expect(all).toHaveLength(51); // and the DHCP port
      await quiet(cli, ['port', 'delete', ...results.map((p) => String(p['id']))]);
    }, 180_000);

    it('deletes everything again, in the order Neutron allows', async () => {
      await quiet(cli, ['floating', 'ip', 'delete', ids['fip']!]);
      await quiet(cli, ['router', 'unset', '--external-gateway', 'e2e-router']);
      await quiet(cli, ['router', 'remove', 'subnet', 'e2e-router', 'e2e-sub']);
      await quiet(cli, ['router', 'delete', 'e2e-router']);
      await quiet(cli, ['port', 'delete', 'e2e-port', 'e2e-port2']);
      await quiet(cli, ['security', 'group', 'rule', 'delete', ids['rule']!]);
      await quiet(cli, ['security', 'group', 'delete', 'e2e-web']);
      await quiet(cli, ['subnet', 'delete', 'e2e-sub']);
      await quiet(cli, ['network', 'delete', 'e2e-net', 'e2e-net2', 'e2e-public']);
      expect(await ok<Json[]>(cli, ['network', 'list'])).toEqual([]);
      expect(await ok<Json[]>(cli, ['subnet', 'list'])).toEqual([]);
      expect(await ok<Json[]>(cli, ['port', 'list'])).toEqual([]);
      expect(await ok<Json[]>(cli, ['router', 'list'])).toEqual([]);
      expect(await ok<Json[]>(cli, ['floating', 'ip', 'list'])).toEqual([]);
      expect((await ok<Json[]>(cli, ['security', 'group', 'list'])).map((g) => g['Name'])).toEqual(['default']);
    });
  });

  describe(`openstack CLI with static tokens (${driver} DB)`, () => {
    let api: RunningApi;
    const as = (token: string): CliAuth => ({ endpoint: api.url, token });

    beforeAll(async () => {
      requireOpenstackCli();
      api = await start({ auth: { mode: 'token', tokens: TOKENS } });
    });
    afterAll(async () => {
      await api?.close();
    });

    it('keeps one project from seeing or deleting another project’s network', async () => {
      const alice = as('alice-secret-1');
      const bob = as('bob-secret-123');
      const admin = as('admin-secret-1');
      const net = await ok(alice, ['network', 'create', 'alice-net']);
      expect(net).toMatchObject({ project_id: 'alice' });
      expect(net).not.toHaveProperty(['provider:segmentation_id'], expect.anything());
      const id = String(net['id']);
      await ok(bob, ['network', 'create', 'bob-net']);
      expect((await ok<Json[]>(bob, ['network', 'list'])).map((n) => n['Name'])).toEqual(['bob-net']);
      expect(await fails(bob, ['network', 'show', 'alice-net'])).toContain('No Network found for alice-net');
      expect(await fails(bob, ['network', 'delete', id])).toContain(`Failed to delete network with name or ID '${id}'`);
      expect((await ok(alice, ['network', 'show', 'alice-net']))['id']).toBe(id);
      expect((await ok<Json[]>(admin, ['network', 'list'])).map((n) => n['Name']).sort()).toEqual(['alice-net', 'bob-net']);
      const denied = await openstack({ endpoint: api.url, token: 'not-a-valid-token' }, ['network', 'list']);
      expect(denied.code).not.toBe(0);
      expect(denied.stderr).toContain('401');
      await quiet(alice, ['network', 'delete', 'alice-net']);
      await quiet(bob, ['network', 'delete', 'bob-net']);
    });
  });
}

/**
 * The short pass for the other DB drivers: df-api's logic is the same on every
 * driver (the full scenario runs on the memory DB, each driver passes the NB driver
 * contract), so this checks what depends on the driver — loading it by package name,
 * commits and reads through it, and concurrent creates contending for the same
 * subnet's addresses (transaction conflicts and retries), with distinct results.
 */
export function openstackCliShortPass(driver: string, start: StartApi, concurrentPorts: number): void {
  describe(`openstack CLI against df-api (${driver} DB)`, () => {
    let api: RunningApi | undefined;

    beforeAll(async () => {
      requireOpenstackCli();
      api = await start({ auth: { mode: 'noauth' } });
    });
    afterAll(async () => {
      await api?.close();
    });

    it(`creates, lists and deletes a network, a subnet and ${concurrentPorts} concurrent ports`, async () => {
      const cli = { endpoint: api!.url };
      const name = `${driver}-net`;
      const net = await ok(cli, ['network', 'create', name]);
      const sub = await ok(cli, ['subnet', 'create', '--network', name, '--subnet-range', '10.30.0.0/24', `${driver}-sub`]);
      expect(sub).toMatchObject({ network_id: net['id'], gateway_ip: '10.30.0.1' });
      const ports = await Promise.all(Array.from({ length: concurrentPorts }, (_, i) => ok(cli, ['port', 'create', '--network', name, `${driver}-p${i}`])));
      expect(new Set(ports.map((p) => (p['fixed_ips'] as FixedIp[])[0]!.ip_address)).size).toBe(concurrentPorts);
      expect(new Set(ports.map((p) => String(p['mac_address']))).size).toBe(concurrentPorts);
      expect(await ok<unknown[]>(cli, ['port', 'list', '--network', name])).toHaveLength(concurrentPorts + 1); // and the DHCP port
      await quiet(cli, ['port', 'delete', ...ports.map((p) => String(p['id']))]);
      await quiet(cli, ['network', 'delete', name]);
      expect(await ok<unknown[]>(cli, ['network', 'list'])).toEqual([]);
    }, 180_000);
  });
}
