import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Harness, neutronError } from '../../test/harness.js';

let h: Harness;
const demo = { 'x-project-id': 'demo', 'x-roles': 'member' };
const alt = { 'x-project-id': 'alt', 'x-roles': 'member' };
const third = { 'x-project-id': 'third', 'x-roles': 'member' };

beforeEach(async () => {
  h = await Harness.start();
});
afterEach(async () => {
  await h.close();
});

type Policy = { id: string; action: string; target_tenant: string; object_id: string; project_id: string };

async function grant(networkId: unknown, action: string, targetTenant: string, headers?: Record<string, string>): Promise<Policy> {
  return (await h.create('rbac-policies', 'rbac_policy', { object_type: 'network', object_id: networkId, action, target_tenant: targetTenant }, headers)) as unknown as Policy;
}

const networkNames = async (headers: Record<string, string>) => ((await h.get('/v2.0/networks', headers)).body['networks'] as { name: string }[]).map((n) => n.name).sort();

describe('rbac-policies', () => {
  it('is listed as an extension', async () => {
    expect((await h.get('/v2.0/extensions/rbac-policies')).status).toBe(200);
  });

  it('shares a network with one project: it sees it as shared and attaches ports; others do not', async () => {
    const net = await h.network({ name: 'demo-net' }, demo);
    const subnet = await h.subnet(String(net['id']), '10.0.0.0/24', {}, demo);
    expect(await networkNames(alt)).toEqual([]);
    expect((await h.post('/v2.0/ports', { port: { network_id: net['id'] } }, alt)).status).toBe(404);

    const p = await grant(net['id'], 'access_as_shared', 'alt', demo);
    expect(p).toMatchObject({ object_type: 'network', object_id: net['id'], action: 'access_as_shared', target_tenant: 'alt', project_id: 'demo' });
    expect(await networkNames(alt)).toEqual(['demo-net']);
    expect(await networkNames(third)).toEqual([]);
    const seen = (await h.get(`/v2.0/networks/${String(net['id'])}`, alt)).body['network'] as Record<string, unknown>;
    expect(seen['shared']).toBe(true);
    // The owner's view: shared with one project is not shared with all.
    expect(((await h.get(`/v2.0/networks/${String(net['id'])}`, demo)).body['network'] as Record<string, unknown>)['shared']).toBe(false);
    expect((await h.get(`/v2.0/subnets/${String(subnet['id'])}`, alt)).status).toBe(200);

    const port = await h.port(String(net['id']), { name: 'alt-port' }, alt);
    expect(port).toMatchObject({ project_id: 'alt', network_id: net['id'] });
    expect((await h.post('/v2.0/ports', { port: { network_id: net['id'] } }, third)).status).toBe(404);

    // Revoking is refused while alt has a port there, then allowed.
    const before = h.revision;
    const busy = await h.delete(`/v2.0/rbac-policies/${p.id}`, demo);
    expect(busy.status).toBe(409);
    expect(neutronError(busy).type).toBe('RbacPolicyInUse');
    expect(h.revision).toBe(before);
    expect((await h.delete(`/v2.0/ports/${String(port['id'])}`, alt)).status).toBe(204);
    expect((await h.delete(`/v2.0/rbac-policies/${p.id}`, demo)).status).toBe(204);
    expect(await networkNames(alt)).toEqual([]);
  });

  it('mirrors shared=True as a grant to every project, and a grant to * as shared', async () => {
    const net = await h.network({ name: 'pub', shared: true });
    const list = (await h.get(`/v2.0/rbac-policies?object_id=${String(net['id'])}`)).body['rbac_policies'] as Policy[];
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ action: 'access_as_shared', target_tenant: '*' });
    expect((await h.delete(`/v2.0/rbac-policies/${list[0]!.id}`)).status).toBe(204);
    expect(((await h.get(`/v2.0/networks/${String(net['id'])}`)).body['network'] as { shared: boolean }).shared).toBe(false);
    await grant(net['id'], 'access_as_shared', '*');
    expect(((await h.get(`/v2.0/networks/${String(net['id'])}`)).body['network'] as { shared: boolean }).shared).toBe(true);
    await h.put(`/v2.0/networks/${String(net['id'])}`, { network: { shared: false } });
    expect((await h.get(`/v2.0/rbac-policies?object_id=${String(net['id'])}`)).body['rbac_policies']).toEqual([]);
  });

  it('makes a network external for one project: its routers and floating IPs use it, others cannot see it', async () => {
    const ext = await h.network({ name: 'ext' });
    await h.subnet(String(ext['id']), '203.0.113.0/24');
    const p = await grant(ext['id'], 'access_as_external', 'demo');
    expect(((await h.get(`/v2.0/networks/${String(ext['id'])}`)).body['network'] as Record<string, unknown>)['router:external']).toBe(true);
    expect(await networkNames(demo)).toEqual(['ext']);
    expect(await networkNames(alt)).toEqual([]);
    const fip = await h.create('floatingips', 'floatingip', { floating_network_id: ext['id'] }, demo);
    expect(fip['floating_network_id']).toBe(ext['id']);
    expect((await h.post('/v2.0/floatingips', { floatingip: { floating_network_id: ext['id'] } }, alt)).status).toBe(404);
    const router = await h.router({ external_gateway_info: { network_id: ext['id'] } }, demo);
    expect((router['external_gateway_info'] as { network_id: string }).network_id).toBe(ext['id']);
    expect((await h.post('/v2.0/routers', { router: { external_gateway_info: { network_id: ext['id'] } } }, alt)).status).toBe(404);
    expect(neutronError(await h.delete(`/v2.0/rbac-policies/${p.id}`)).message).toMatch(/router/);
    expect((await h.put(`/v2.0/routers/${String(router['id'])}`, { router: { external_gateway_info: {} } }, demo)).status).toBe(200);
    expect(neutronError(await h.delete(`/v2.0/rbac-policies/${p.id}`)).type).toBe('RbacPolicyInUse');
    expect((await h.delete(`/v2.0/floatingips/${String(fip['id'])}`, demo)).status).toBe(204);
    expect((await h.delete(`/v2.0/rbac-policies/${p.id}`)).status).toBe(204);
    // The last external grant gone, the network is no longer external.
    expect(((await h.get(`/v2.0/networks/${String(ext['id'])}`)).body['network'] as Record<string, unknown>)['router:external']).toBe(false);
  });

  it('lists, shows and retargets policies for their project and admins only', async () => {
    const net = await h.network({}, demo);
    const p = await grant(net['id'], 'access_as_shared', 'alt', demo);
    expect((await h.get(`/v2.0/rbac-policies/${p.id}`, demo)).status).toBe(200);
    expect((await h.get(`/v2.0/rbac-policies/${p.id}`)).status).toBe(200);
    const hidden = await h.get(`/v2.0/rbac-policies/${p.id}`, alt);
    expect(hidden.status).toBe(404);
    expect(neutronError(hidden).type).toBe('RbacPolicyNotFound');
    expect((await h.get('/v2.0/rbac-policies', alt)).body['rbac_policies']).toEqual([]);
    expect(((await h.get('/v2.0/rbac-policies?action=access_as_shared', demo)).body['rbac_policies'] as Policy[]).map((x) => x.id)).toEqual([p.id]);
    const moved = await h.put(`/v2.0/rbac-policies/${p.id}`, { rbac_policy: { target_tenant: 'third' } }, demo);
    expect(moved.status).toBe(200);
    expect(moved.body['rbac_policy']).toMatchObject({ id: p.id, target_tenant: 'third' });
    expect(await networkNames(third)).toHaveLength(1);
    expect(await networkNames(alt)).toHaveLength(0);
  });

  it('refuses wildcards from members, duplicates, unknown actions and object types, and others’ networks', async () => {
    const net = await h.network({}, demo);
    const before = h.revision;
    const body = (over: Record<string, unknown>) => ({ rbac_policy: { object_type: 'network', object_id: net['id'], action: 'access_as_shared', target_tenant: 'alt', ...over } });
    const wild = await h.post('/v2.0/rbac-policies', body({ target_tenant: '*' }), demo);
    expect(wild.status).toBe(403);
    expect((await h.post('/v2.0/rbac-policies', body({ action: 'access_as_owner' }), demo)).status).toBe(400);
    expect((await h.post('/v2.0/rbac-policies', body({ object_type: 'qos_policy' }), demo)).status).toBe(400);
    expect(neutronError(await h.post('/v2.0/rbac-policies', body({}), alt)).type).toBe('NetworkNotFound');
    expect(h.revision).toBe(before);
    await grant(net['id'], 'access_as_shared', 'alt', demo);
    const dup = await h.post('/v2.0/rbac-policies', body({}), demo);
    expect(dup.status).toBe(409);
    expect(neutronError(dup).type).toBe('DuplicateRbacPolicy');
  });
});

describe('networks written without grants (before rbac-policies, or straight into the NB DB)', () => {
  it('are shared and external for everyone as their flags say, and get the grants on their next update', async () => {
    const ls = await h.nb.transaction((tx) => tx.create('logical_switch', { projectId: 'admin', name: 'old-ext', external: true, shared: true }));
    expect(ls.rbacPolicies).toEqual([]);
    expect(await networkNames(demo)).toEqual(['old-ext']);
    const seen = (await h.get(`/v2.0/networks/${ls.id}`, demo)).body['network'] as Record<string, unknown>;
    expect(seen).toMatchObject({ shared: true, 'router:external': true });
    await h.subnet(ls.id, '198.51.100.0/24');
    expect((await h.post('/v2.0/floatingips', { floatingip: { floating_network_id: ls.id } }, demo)).status).toBe(201);
    expect((await h.put(`/v2.0/networks/${ls.id}`, { network: { name: 'renamed' } })).status).toBe(200);
    const grants = (await h.get(`/v2.0/rbac-policies?object_id=${ls.id}`)).body['rbac_policies'] as Policy[];
    expect(grants.map((g) => `${g.action} ${g.target_tenant}`).sort()).toEqual(['access_as_external *', 'access_as_shared *']);
  });
});

describe('rbac_policy quota', () => {
  it('counts the grants a project made and refuses one over its limit', async () => {
    expect((await h.put('/v2.0/quotas/demo', { quota: { rbac_policy: 1 } })).status).toBe(200);
    const net = await h.network({}, demo);
    await grant(net['id'], 'access_as_shared', 'alt', demo);
    const before = h.revision;
    const over = await h.post('/v2.0/rbac-policies', { rbac_policy: { object_type: 'network', object_id: net['id'], action: 'access_as_shared', target_tenant: 'third' } }, demo);
    expect(over.status).toBe(409);
    expect(neutronError(over).type).toBe('OverQuota');
    expect(h.revision).toBe(before);
    const details = (await h.get('/v2.0/quotas/demo/details')).body['quota'] as Record<string, { used: number }>;
    expect(details['rbac_policy']!.used).toBe(1);
  });
});
