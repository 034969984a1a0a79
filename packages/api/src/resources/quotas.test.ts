import { afterEach, describe, expect, it } from 'vitest';
import { Harness, neutronError } from '../../test/harness.js';
import { defaultSecurityGroupId } from '../services/default-sg.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const tenant = { 'x-project-id': 'demo' };
const other = { 'x-project-id': 'other' };
const NEUTRON_DEFAULTS = { network: 100, subnet: 100, port: 500, router: 10, floatingip: 50, security_group: 10, security_group_rule: 100, rbac_policy: 10, subnetpool: -1 };

function overQuota(r: { status: number; body: Record<string, unknown> }, resource: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(409);
  expect(neutronError(r as never)).toEqual({ type: 'OverQuota', message: `Quota exceeded for resources: ['${resource}'].`, detail: '' });
}

describe('quotas', () => {
  it("has Neutron's defaults and enforces them without any setting (10 routers)", async () => {
    h = await Harness.start();
    expect((await h.get('/v2.0/quotas/tenant', tenant)).body).toEqual({ tenant: { tenant_id: 'demo' } });
    expect((await h.get('/v2.0/quotas/someone')).body).toEqual({ quota: NEUTRON_DEFAULTS });
    for (let i = 0; i < 10; i++) await h.router({ name: `r${i}` }, tenant);
    const before = h.revision;
    overQuota(await h.post('/v2.0/routers', { router: { name: 'r10' } }, tenant), 'router');
    expect(h.revision).toBe(before);
    // Another project has its own ten.
    expect((await h.post('/v2.0/routers', { router: { name: 'x' } }, other)).status).toBe(201);
    const aliases = ((await h.get('/v2.0/extensions')).body['extensions'] as { alias: string }[]).map((e) => e.alias);
    expect(aliases).toEqual(expect.arrayContaining(['quotas', 'quota_details', 'quota-check-limit']));
  });

  it('refuses a bulk create past the quota as a whole, and a tenant cannot exhaust the segments others need', async () => {
    h = await Harness.start({ network: { vxlanRanges: ['1:6'] }, quotas: { network: 3 } });
    await h.network({ name: 'a' }, tenant);
    const before = h.revision;
    overQuota(await h.post('/v2.0/networks', { networks: [{ name: 'b' }, { name: 'c' }, { name: 'd' }] }, tenant), 'network');
    expect(h.revision).toBe(before);
    expect((await h.post('/v2.0/networks', { networks: [{ name: 'b' }, { name: 'c' }] }, tenant)).status).toBe(201);
    overQuota(await h.post('/v2.0/networks', { network: { name: 'e' } }, tenant), 'network');
    // Six VNIs: the tenant holds three, the other project still gets its own.
    for (const name of ['x', 'y', 'z']) expect((await h.post('/v2.0/networks', { network: { name } }, other)).status).toBe(201);
  });

  it('counts subnets, ports, floating IPs, security groups and their rules per project', async () => {
    h = await Harness.start({ quotas: { subnet: 1, port: 2, security_group: 2, security_group_rule: 7, floatingip: 1 } });
    const net = String((await h.network({}, tenant))['id']);
    await h.subnet(net, '10.0.0.0/24', {}, tenant);
    overQuota(await h.post('/v2.0/subnets', { subnet: { network_id: net, ip_version: 4, cidr: '10.0.1.0/24' } }, tenant), 'subnet');
    // The DHCP port is the tenant's too: one port left.
    await h.port(net, {}, tenant);
    overQuota(await h.post('/v2.0/ports', { port: { network_id: net } }, tenant), 'port');
    // The default group (4 rules, created with the first port) and one more group (2 rules) fill 2 groups and 6 rules.
    const sg = await h.create('security-groups', 'security_group', { name: 'web' }, tenant);
    overQuota(await h.post('/v2.0/security-groups', { security_group: { name: 'db' } }, tenant), 'security_group');
    const rule = (port: number) => ({ security_group_rule: { security_group_id: sg['id'], direction: 'ingress', protocol: 'tcp', port_range_min: port, port_range_max: port } });
    expect((await h.post('/v2.0/security-group-rules', rule(22), tenant)).status).toBe(201);
    overQuota(await h.post('/v2.0/security-group-rules', rule(80), tenant), 'security_group_rule');
    expect((await h.get(`/v2.0/security-groups/${defaultSecurityGroupId('demo')}`, tenant)).status).toBe(200);
    const ext = String((await h.network({ 'router:external': true }))['id']);
    await h.subnet(ext, '172.24.4.0/24', { enable_dhcp: false });
    expect((await h.post('/v2.0/floatingips', { floatingip: { floating_network_id: ext } }, tenant)).status).toBe(201);
    overQuota(await h.post('/v2.0/floatingips', { floatingip: { floating_network_id: ext } }, tenant), 'floatingip');
    const details = (await h.get('/v2.0/quotas/demo/details', tenant)).body['quota'] as Record<string, { limit: number; used: number; reserved: number }>;
    expect(details['network']).toEqual({ limit: 100, used: 1, reserved: 0 });
    expect(details['subnet']).toEqual({ limit: 1, used: 1, reserved: 0 });
    expect(details['port']).toEqual({ limit: 2, used: 2, reserved: 0 });
    expect(details['security_group']).toEqual({ limit: 2, used: 2, reserved: 0 });
    expect(details['security_group_rule']).toEqual({ limit: 7, used: 7, reserved: 0 });
    expect(details['floatingip']).toEqual({ limit: 1, used: 1, reserved: 0 });
  });

  it('is set, listed and reset by an admin only', async () => {
    h = await Harness.start();
    const before = h.revision;
    const denied = await h.put('/v2.0/quotas/demo', { quota: { network: 1000 } }, tenant);
    expect(denied.status).toBe(403);
    expect(neutronError(denied)).toEqual({ type: 'AdminRequired', message: 'User does not have admin privileges: Only admin can view or configure quota.', detail: '' });
    expect((await h.delete('/v2.0/quotas/demo', tenant)).status).toBe(403);
    expect((await h.get('/v2.0/quotas', tenant)).status).toBe(403);
    expect((await h.get('/v2.0/quotas/other', tenant)).status).toBe(403);
    expect((await h.get('/v2.0/quotas/demo', tenant)).status).toBe(200);
    expect(h.revision).toBe(before);

    const set = await h.put('/v2.0/quotas/demo', { quota: { network: 1, port: '7' } });
    expect(set.status).toBe(200);
    expect(set.body['quota']).toEqual({ ...NEUTRON_DEFAULTS, network: 1, port: 7 });
    // A second change keeps the first.
    expect((await h.put('/v2.0/quotas/demo', { quota: { router: 0 } })).body['quota']).toEqual({ ...NEUTRON_DEFAULTS, network: 1, port: 7, router: 0 });
    overQuota(await h.post('/v2.0/routers', { router: {} }, tenant), 'router');
    expect((await h.get('/v2.0/quotas')).body).toEqual({ quotas: [{ ...NEUTRON_DEFAULTS, network: 1, port: 7, router: 0, project_id: 'demo', tenant_id: 'demo' }] });
    expect((await h.get('/v2.0/quotas/demo/default')).body['quota']).toMatchObject(NEUTRON_DEFAULTS);

    // check_limit refuses a limit under what is used; bad values name the attribute.
    await h.network({}, tenant);
    const under = await h.put('/v2.0/quotas/demo', { quota: { network: 0, check_limit: true } });
    expect(under.status).toBe(400);
    expect(neutronError(under)).toMatchObject({ type: 'InvalidQuotaValue', message: 'Quota limit 0 for network must be greater than or equal to already used and reserved 1.' });
    expect(neutronError(await h.put('/v2.0/quotas/demo', { quota: { network: -2 } })).message).toBe("Invalid input for network. Reason: '-2' should be greater than or equal to -1.");
    expect(neutronError(await h.put('/v2.0/quotas/demo', { quota: { volumes: 2 } })).message).toBe("Unrecognized attribute(s) 'volumes'");
    expect((await h.put('/v2.0/quotas/bad%20id', { quota: { network: 2 } })).status).toBe(400);

    expect((await h.delete('/v2.0/quotas/demo')).status).toBe(204);
    expect((await h.get('/v2.0/quotas/demo', tenant)).body['quota']).toEqual(NEUTRON_DEFAULTS);
    expect((await h.get('/v2.0/quotas')).body).toEqual({ quotas: [] });
  });

  it('are shared by every df-api on one DB', async () => {
    h = await Harness.start();
    const second = await Harness.start({}, h.driver.store);
    try {
      await h.put('/v2.0/quotas/demo', { quota: { router: 1 } });
      await second.router({}, tenant);
      overQuota(await second.post('/v2.0/routers', { router: {} }, tenant), 'router');
    } finally {
      await second.close();
    }
  });
});

describe('the project lookup for clients without Keystone', () => {
  it('answers any well-formed project to an admin, only its own to a member', async () => {
    h = await Harness.start();
    await h.network({}, tenant);
    const p = await h.get('/projects/nobody');
    expect(p.status).toBe(200);
    expect(p.body['project']).toMatchObject({ id: 'nobody', name: 'nobody', domain_id: 'default', enabled: true });
    expect((await h.get('/projects/nobody', tenant)).status).toBe(404);
    expect((await h.get('/projects/demo', tenant)).status).toBe(200);
    const all = (await h.get('/projects')).body['projects'] as { id: string }[];
    expect(all.map((x) => x.id)).toEqual(['admin', 'demo']);
    expect(((await h.get('/projects?name=demo')).body['projects'] as { id: string }[]).map((x) => x.id)).toEqual(['demo']);
    expect(((await h.get('/projects', other)).body['projects'] as { id: string }[]).map((x) => x.id)).toEqual(['other']);
  });
});
