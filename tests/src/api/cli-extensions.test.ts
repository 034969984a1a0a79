import { type ApiServerHandle, startApiServer } from '@dragonflow/api';
import { ChassisRegistry, type ChassisRegistration } from '@dragonflow/nb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliAuth, fails, ok, openstack, quiet, requireOpenstackCli } from './openstack.js';

/*
 * The Neutron extensions df-api advertises, driven with the stock openstack CLI as
 * operators and tenants use them: tags, network RBAC, IP availability, availability
 * zones, DVR/HA router attributes and DNS names.
 */

const TOKENS = [
  { token: 'ext-admin-secret-1', project: 'admin', roles: ['admin'] },
  { token: 'ext-alice-secret-1', project: 'alice', roles: ['member'] },
  { token: 'ext-bob-secret-123', project: 'bob', roles: ['member'] },
];

describe('openstack CLI: Neutron extensions', () => {
  let api: ApiServerHandle;
  let chassis: ChassisRegistration;
  let admin: CliAuth;
  let alice: CliAuth;
  let bob: CliAuth;

  beforeAll(async () => {
    requireOpenstackCli();
    api = await startApiServer({ config: { listen: { port: 0 }, logLevel: 'warn', auth: { mode: 'token', tokens: TOKENS } } });
    chassis = await new ChassisRegistry(api.nb, { ttlMs: 60_000 }).register({ name: 'compute-1', tunnelIp: '192.0.2.11', tunnelTypes: ['vxlan'], availabilityZone: 'az-east' });
    admin = { endpoint: api.url, token: TOKENS[0]!.token };
    alice = { endpoint: api.url, token: TOKENS[1]!.token };
    bob = { endpoint: api.url, token: TOKENS[2]!.token };
  });
  afterAll(async () => {
    await chassis?.stop();
    await api?.close();
  });

  it('tags networks and filters on tags (standard-attr-tag)', async () => {
    const net = await ok(alice, ['network', 'create', '--tag', 'red', '--tag', 'blue', 'alice-net']);
    expect(net['tags']).toEqual(expect.arrayContaining(['red', 'blue']));
    await ok(alice, ['network', 'create', '--tag', 'blue', 'alice-net2']);
    const names = async (args: string[]) => (await ok<{ Name: string }[]>(alice, ['network', 'list', ...args])).map((n) => n.Name).sort();
    expect(await names(['--tags', 'red'])).toEqual(['alice-net']);
    expect(await names(['--any-tags', 'red,blue'])).toEqual(['alice-net', 'alice-net2']);
    expect(await names(['--not-tags', 'red'])).toEqual(['alice-net2']);
    await quiet(alice, ['network', 'unset', '--tag', 'red', 'alice-net']);
    await quiet(alice, ['network', 'set', '--tag', 'green', 'alice-net2']);
    expect((await ok(alice, ['network', 'show', 'alice-net']))['tags']).toEqual(['blue']);
    expect(await names(['--tags', 'green'])).toEqual(['alice-net2']);
  });

  it("shares a network with one project, which attaches a port to it (rbac-policies)", async () => {
    await ok(alice, ['subnet', 'create', '--network', 'alice-net', '--subnet-range', '10.30.0.0/24', 'alice-sub']);
    // bob owns something: the CLI resolves --target-project through the identity API, where a project is one that owns something.
    await ok(bob, ['network', 'create', 'bob-net']);
    expect(await fails(bob, ['port', 'create', '--network', 'alice-net', 'bob-port'])).toMatch(/not found|No Network/i);
    const rbac = await ok(admin, ['network', 'rbac', 'create', '--target-project', 'bob', '--action', 'access_as_shared', '--type', 'network', 'alice-net']);
    expect(rbac).toMatchObject({ action: 'access_as_shared', object_type: 'network', target_project_id: 'bob' });
    const port = await ok(bob, ['port', 'create', '--network', 'alice-net', 'bob-port']);
    expect(port['project_id']).toBe('bob');
    expect((await ok<{ ID: string }[]>(admin, ['network', 'rbac', 'list'])).map((r) => r.ID)).toContain(rbac['id']);
    expect(await fails(admin, ['network', 'rbac', 'delete', String(rbac['id'])])).toMatch(/depend on it|in use/i);
    await quiet(bob, ['port', 'delete', 'bob-port']);
    await quiet(admin, ['network', 'rbac', 'delete', String(rbac['id'])]);
    expect(await fails(bob, ['network', 'show', 'alice-net'])).toMatch(/No Network found|not found/i);
  });

  it('shows IP availability to the admin (network-ip-availability)', async () => {
    await ok(alice, ['port', 'create', '--network', 'alice-net', 'p1']);
    const a = await ok(admin, ['ip', 'availability', 'show', 'alice-net']);
    expect(a).toMatchObject({ network_name: 'alice-net', total_ips: 253 });
    // the DHCP port and p1
    expect(a['used_ips']).toBe(2);
    expect(await fails(alice, ['ip', 'availability', 'show', 'alice-net'])).toMatch(/disallowed by policy|403/);
  });

  it('lists the chassis zones and takes zone hints (availability_zone)', async () => {
    const zones = await ok<{ 'Zone Name': string; 'Zone Status': string; 'Zone Resource': string }[]>(admin, ['availability', 'zone', 'list', '--network', '--long']);
    expect(zones.map((z) => `${z['Zone Name']} ${z['Zone Status']} ${z['Zone Resource']}`).sort()).toEqual(['az-east available network', 'az-east available router']);
    const net = await ok(admin, ['network', 'create', '--availability-zone-hint', 'az-east', 'zoned']);
    expect(net).toMatchObject({ availability_zone_hints: ['az-east'], availability_zones: ['az-east'] });
    expect(await fails(admin, ['router', 'create', '--availability-zone-hint', 'az-west', 'nowhere'])).toMatch(/az-west could not be found/);
  });

  it('answers routers as distributed and not HA, and refuses HA (dvr, l3-ha)', async () => {
    const r = await ok(admin, ['router', 'create', '--distributed', 'dvr-router']);
    expect(r).toMatchObject({ distributed: true, ha: false });
    expect(await fails(admin, ['router', 'create', '--ha', 'ha-router'])).toMatch(/not supported/);
    expect(await fails(admin, ['router', 'create', '--centralized', 'central-router'])).toMatch(/always distributed/);
  });

  it('stores DNS names on ports and networks (dns-integration)', async () => {
    const net = await ok(admin, ['network', 'create', '--dns-domain', 'example.org.', 'dns-net']);
    expect(net['dns_domain']).toBe('example.org.');
    await ok(admin, ['subnet', 'create', '--network', 'dns-net', '--subnet-range', '10.40.0.0/24', 'dns-sub']);
    const port = await ok(admin, ['port', 'create', '--network', 'dns-net', '--dns-name', 'vm1', 'dns-port']);
    expect(port['dns_name']).toBe('vm1');
    expect(port['dns_assignment']).toEqual([expect.objectContaining({ hostname: 'vm1', fqdn: 'vm1.openstacklocal.' })]);
    const r = await openstack(admin, ['port', 'set', '--dns-name', 'bad_name', 'dns-port']);
    expect(r.code).not.toBe(0);
  });
});
