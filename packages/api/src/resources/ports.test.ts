import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chassisIdFromName } from '@dragonflow/nb';
import { defaultSecurityGroupId } from '../services/default-sg.js';
import { Harness, neutronError } from '../../test/harness.js';

let h: Harness;
let net: string;
let sub: string;

beforeEach(async () => {
  h = await Harness.start({ network: { macPrefix: 'fa:16:3e' } });
  net = String((await h.network())['id']);
  sub = String((await h.subnet(net, '10.0.0.0/24'))['id']);
});
afterEach(async () => {
  await h.close();
});

type Port = { id: string; mac_address: string; fixed_ips: { subnet_id: string; ip_address: string }[]; security_groups: string[]; status: string };

describe('ports', () => {
  it('allocates an address from the pool, a fa:16:3e MAC and the project default security group', async () => {
    const p = (await h.port(net, { name: 'vm1', device_owner: 'compute:nova', device_id: 'vm-1' })) as unknown as Port & Record<string, unknown>;
    expect(p.fixed_ips).toEqual([{ subnet_id: sub, ip_address: '10.0.0.3' }]); // .2 is the DHCP port
    expect(p.mac_address).toMatch(/^fa:16:3e(:[0-9a-f]{2}){3}$/);
    expect(p.security_groups).toEqual([defaultSecurityGroupId('admin')]);
    expect(p).toMatchObject({
      status: 'DOWN',
      admin_state_up: true,
      port_security_enabled: true,
      allowed_address_pairs: [],
      device_owner: 'compute:nova',
      device_id: 'vm-1',
      'binding:host_id': '',
      'binding:vif_type': 'unbound',
      'binding:vnic_type': 'normal',
    });
    const sg = await h.get(`/v2.0/security-groups/${defaultSecurityGroupId('admin')}`);
    expect((sg.body['security_group'] as { name: string }).name).toBe('default');
  });

  it('refuses a port in both a stateful and a stateless group, as Neutron, on create and update, writing nothing', async () => {
    const stateless = String(((await h.post('/v2.0/security-groups', { security_group: { name: 'plain', stateful: false } })).body['security_group'] as { id: string }).id);
    const stateful = defaultSecurityGroupId('admin');
    const p = (await h.port(net, { security_groups: [stateless] })) as unknown as Port;
    expect(p.security_groups).toEqual([stateless]);
    const before = h.revision;
    const created = await h.post('/v2.0/ports', { port: { network_id: net, security_groups: [stateful, stateless] } });
    expect(created.status).toBe(409);
    expect(neutronError(created)).toMatchObject({ type: 'SecurityGroupConflict', message: expect.stringContaining('both stateful and stateless security groups on the same port') });
    const updated = await h.put(`/v2.0/ports/${p.id}`, { port: { security_groups: [stateless, stateful] } });
    expect(updated.status).toBe(409);
    expect(neutronError(updated)).toMatchObject({ type: 'SecurityGroupConflict' });
    expect(h.revision).toBe(before);
  });

  it('takes explicit addresses and subnet-only requests, and refuses bad ones with the right Neutron error', async () => {
    const exact = (await h.port(net, { fixed_ips: [{ ip_address: '10.0.0.50' }] })) as unknown as Port;
    expect(exact.fixed_ips).toEqual([{ subnet_id: sub, ip_address: '10.0.0.50' }]);
    const bySubnet = (await h.port(net, { fixed_ips: [{ subnet_id: sub }] })) as unknown as Port;
    expect(bySubnet.fixed_ips[0]!.subnet_id).toBe(sub);
    const before = h.revision;
    const cases: [unknown, number, string, string][] = [
      [[{ ip_address: '10.0.0.50' }], 409, 'IpAddressInUse', `Unable to complete operation for network ${net}. The IP address 10.0.0.50 is in use.`],
      [[{ ip_address: '192.168.1.1' }], 400, 'InvalidIpForNetwork', 'IP address 192.168.1.1 is not a valid IP for any of the subnets on the specified network.'],
      [[{ subnet_id: sub, ip_address: '10.0.1.1' }], 400, 'InvalidIpForSubnet', 'IP address 10.0.1.1 is not a valid IP for the specified subnet.'],
      [[{ ip_address: '10.0.0.255' }], 400, 'InvalidIpForSubnet', 'IP address 10.0.0.255 is the network or broadcast address of 10.0.0.0/24.'],
      [[{ ip_address: 'ten' }], 400, 'HTTPBadRequest', "Invalid input for fixed_ips[0].ip_address. Reason: 'ten' is not a valid IP address."],
      [[{ ip_address: '10.0.0.60' }, { ip_address: '10.0.0.60' }], 409, 'IpAddressInUse', `Unable to complete operation for network ${net}. The IP address 10.0.0.60 is in use.`],
      [[{}], 400, 'HTTPBadRequest', 'Invalid input for fixed_ips[0]. Reason: each fixed IP needs a subnet_id or an ip_address.'],
    ];
    for (const [fixed, status, type, message] of cases) {
      const r = await h.post('/v2.0/ports', { port: { network_id: net, fixed_ips: fixed } });
      expect(r.status, JSON.stringify(fixed)).toBe(status);
      expect(neutronError(r)).toMatchObject({ type, message });
    }
    const mac = await h.post('/v2.0/ports', { port: { network_id: net, mac_address: exact.mac_address } });
    expect(neutronError(mac).type).toBe('MacAddressInUse');
    const unknown = await h.post('/v2.0/ports', { port: { network_id: 'a2b4c6d8-0000-4000-8000-000000000001' } });
    expect(unknown.status).toBe(404);
    expect(neutronError(unknown).type).toBe('NetworkNotFound');
    expect(h.revision).toBe(before);
  });

  it('gives 50 concurrent creates distinct addresses and MACs', async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => h.post('/v2.0/ports', { port: { network_id: net, name: `p${i}` } })));
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(201));
    const ports = answers.map((a) => a.body['port'] as Port);
    expect(new Set(ports.map((p) => p.fixed_ips[0]!.ip_address)).size).toBe(50);
    expect(new Set(ports.map((p) => p.mac_address)).size).toBe(50);
    const listed = (await h.get(`/v2.0/ports?network_id=${net}`)).body['ports'] as Port[];
    expect(listed).toHaveLength(51);
    expect(new Set(listed.map((p) => p.fixed_ips[0]!.ip_address)).size).toBe(51);
  });

  it('keeps addresses unique between two df-api instances on one DB (claims, then retries spread apart)', async () => {
    const other = await Harness.start({}, h.driver.store);
    // A DB round trip of a few ms, as over a network: both instances decide on the same view and race.
    let claimReads = 0;
    for (const d of [h.driver, other.driver]) {
      const commit = d.commit.bind(d);
      d.commit = async (ops) => {
        await new Promise((r) => setTimeout(r, 3));
        return commit(ops);
      };
      const getMany = d.getMany.bind(d);
      d.getMany = (table, ids) => {
        if (table === '_claim') claimReads++;
        return getMany(table, ids);
      };
    }
    try {
      const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? h : other).post('/v2.0/ports', { port: { network_id: net } })));
      expect(answers.map((a) => a.status)).toEqual(Array(40).fill(201));
      const ips = answers.map((a) => (a.body['port'] as Port).fixed_ips[0]!.ip_address);
      expect(new Set(ips).size).toBe(40);
      expect(claimReads).toBeGreaterThan(40); // some creates lost a race and ran again
    } finally {
      await other.close();
    }
  });

  it('answers IpAddressGenerationFailure when the pool is used up', async () => {
    const small = String((await h.network())['id']);
    await h.subnet(small, '10.9.0.0/29', { enable_dhcp: false });
    for (let i = 0; i < 5; i++) await h.port(small);
    const r = await h.post('/v2.0/ports', { port: { network_id: small } });
    expect(r.status).toBe(409);
    expect(neutronError(r)).toMatchObject({ type: 'IpAddressGenerationFailure', message: `No more IP addresses available on network ${small}.` });
  });

  it('gives SLAAC subnets EUI-64 addresses', async () => {
    const v6 = String((await h.subnet(net, 'fd00:1::/64', { ipv6_address_mode: 'slaac', ipv6_ra_mode: 'slaac' }))['id']);
    const p = (await h.port(net, { mac_address: 'fa:16:3e:11:22:33' })) as unknown as Port;
    expect(p.fixed_ips).toContainEqual({ subnet_id: v6, ip_address: 'fd00:1::f816:3eff:fe11:2233' });
    expect(p.fixed_ips.some((f) => f.subnet_id === sub)).toBe(true);
  });

  it('checks port security against security groups and address pairs', async () => {
    const noSec = (await h.port(net, { port_security_enabled: false })) as unknown as Port;
    expect(noSec.security_groups).toEqual([]);
    const both = await h.post('/v2.0/ports', { port: { network_id: net, port_security_enabled: false, allowed_address_pairs: [{ ip_address: '10.0.0.200' }] } });
    expect(neutronError(both).type).toBe('AddressPairAndPortSecurityRequired');
    const p = (await h.port(net, { allowed_address_pairs: [{ ip_address: '10.0.0.0/28' }, { ip_address: '10.0.0.99', mac_address: 'fa:16:3e:00:00:01' }] })) as unknown as Port & {
      allowed_address_pairs: unknown[];
    };
    expect(p.allowed_address_pairs).toEqual([
      { ip_address: '10.0.0.0/28', mac_address: p.mac_address },
      { ip_address: '10.0.0.99', mac_address: 'fa:16:3e:00:00:01' },
    ]);
    const disable = await h.put(`/v2.0/ports/${p.id}`, { port: { port_security_enabled: false } });
    expect(disable.status).toBe(409);
    expect(neutronError(disable).type).toBe('PortSecurityPortHasSecurityGroup');
    const ok = await h.put(`/v2.0/ports/${p.id}`, { port: { port_security_enabled: false, security_groups: [], allowed_address_pairs: [] } });
    expect(ok.body['port']).toMatchObject({ port_security_enabled: false, security_groups: [], allowed_address_pairs: [] });
    const badSg = await h.post('/v2.0/ports', { port: { network_id: net, security_groups: ['0d9a4d8e-1111-4222-8333-444455556666'] } });
    expect(badSg.status).toBe(404);
    expect(neutronError(badSg).type).toBe('SecurityGroupNotFound');
  });

  it('updates fixed IPs: keeps, moves and adds addresses', async () => {
    const p = (await h.port(net)) as unknown as Port;
    const keep = p.fixed_ips[0]!.ip_address;
    const add = await h.put(`/v2.0/ports/${p.id}`, { port: { fixed_ips: [...p.fixed_ips, { subnet_id: sub }] } });
    const ips = (add.body['port'] as Port).fixed_ips.map((f) => f.ip_address);
    expect(ips[0]).toBe(keep);
    expect(ips).toHaveLength(2);
    const move = await h.put(`/v2.0/ports/${p.id}`, { port: { fixed_ips: [{ ip_address: '10.0.0.77' }] } });
    expect((move.body['port'] as Port).fixed_ips).toEqual([{ subnet_id: sub, ip_address: '10.0.0.77' }]);
    // The old address is free again.
    const reuse = (await h.port(net, { fixed_ips: [{ ip_address: keep }] })) as unknown as Port;
    expect(reuse.fixed_ips[0]!.ip_address).toBe(keep);
  });

  it('filters by fixed_ips, device_owner and id, and trims fields', async () => {
    const a = (await h.port(net, { device_owner: 'compute:az1', fixed_ips: [{ ip_address: '10.0.0.10' }] })) as unknown as Port;
    const b = (await h.port(net, { device_owner: 'compute:az2', fixed_ips: [{ ip_address: '10.0.0.110' }] })) as unknown as Port;
    const ids = async (q: string) => ((await h.get(`/v2.0/ports?${q}`)).body['ports'] as Port[]).map((p) => p.id).sort();
    expect(await ids('fixed_ips=ip_address%3D10.0.0.10')).toEqual([a.id]);
    expect(await ids(`fixed_ips=subnet_id%3D${sub}&fixed_ips=ip_address%3D10.0.0.110`)).toEqual([b.id]);
    expect(await ids('fixed_ips=ip_address_substr%3D10.0.0.1')).toEqual([a.id, b.id].sort());
    expect(await ids('device_owner=compute:az2')).toEqual([b.id]);
    expect(await ids(`id=${a.id}&id=${b.id}`)).toEqual([a.id, b.id].sort());
    const one = await h.get(`/v2.0/ports/${a.id}?fields=mac_address`);
    expect(one.body['port']).toEqual({ mac_address: a.mac_address });
  });

  it('refuses service-port deletes through the port API and lets admins bind to a host', async () => {
    const r = String((await h.router())['id']);
    const info = await h.put(`/v2.0/routers/${r}/add_router_interface`, { subnet_id: sub });
    const portId = String(info.body['port_id']);
    const del = await h.delete(`/v2.0/ports/${portId}`);
    expect(del.status).toBe(409);
    expect(neutronError(del)).toEqual({ type: 'ServicePortInUse', message: `Port ${portId} cannot be deleted directly via the port API: has device owner network:router_interface.`, detail: '' });
    const p = (await h.port(net)) as unknown as Port;
    const bind = await h.put(`/v2.0/ports/${p.id}`, { port: { 'binding:host_id': 'compute-1' } });
    expect(bind.body['port']).toMatchObject({ 'binding:host_id': 'compute-1', 'binding:vif_type': 'binding_failed' });
    const profile = await h.put(`/v2.0/ports/${p.id}`, { port: { 'binding:profile': { foo: 'bar' } } });
    expect(neutronError(profile).message).toBe('Invalid input for binding:profile. Reason: only an empty profile is supported, got keys foo.');
    expect((await h.put(`/v2.0/ports/${p.id}`, { port: { 'binding:profile': {} } })).status).toBe(200);
    const member = await h.put(`/v2.0/ports/${p.id}`, { port: { 'binding:host_id': 'x' } }, { 'x-roles': 'member' });
    expect(member.status).toBe(403);
  });

  it('binds as Nova expects: binding:host_id names a chassis or its host, the vif details name its switch; binding_failed otherwise', async () => {
    await h.nb.create('chassis', { id: chassisIdFromName('chassis-1'), name: 'chassis-1', tunnelIp: '192.0.2.1', externalIds: { hostname: 'compute-7', 'integration-bridge': 'br-int', 'datapath-type': 'netdev' } });
    const details = { port_filter: true, connectivity: 'l2', bridge_name: 'br-int', datapath_type: 'netdev', ovs_hybrid_plug: false };
    for (const host of ['chassis-1', 'compute-7']) {
      const p = await h.port(net, { 'binding:host_id': host, device_owner: 'compute:nova', device_id: 'vm-1' });
      expect(p).toMatchObject({ 'binding:host_id': host, 'binding:vif_type': 'ovs', 'binding:vnic_type': 'normal', 'binding:vif_details': details });
    }
    const lost = await h.port(net, { 'binding:host_id': 'compute-9' });
    expect(lost).toMatchObject({ 'binding:vif_type': 'binding_failed', 'binding:vif_details': {} });
    // The controller binds a plugged port to its chassis: the details are that chassis' switch.
    await h.nb.modify('logical_port', String(lost['id']), (cur) => ({ ...cur, chassisId: chassisIdFromName('chassis-1'), bindingHost: 'chassis-1' }));
    expect((await h.get(`/v2.0/ports/${String(lost['id'])}`)).body['port']).toMatchObject({ 'binding:vif_type': 'ovs', 'binding:vif_details': details });
    for (const vnic of ['direct', 'macvtap', 'baremetal']) {
      const r = await h.post('/v2.0/ports', { port: { network_id: net, 'binding:vnic_type': vnic } });
      expect(r.status).toBe(400);
      expect(neutronError(r)).toMatchObject({ type: 'HTTPBadRequest', message: `Invalid input for binding:vnic_type. Reason: '${vnic}' is not in ["normal"].` });
    }
  });

  it('reports the status the controller writes', async () => {
    const p = (await h.port(net)) as unknown as Port;
    await h.nb.modify('logical_port', p.id, (cur) => ({ ...cur, status: 'ACTIVE' }));
    expect(((await h.get(`/v2.0/ports/${p.id}`)).body['port'] as Port).status).toBe('ACTIVE');
  });
});
