import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Harness, neutronError } from '../../test/harness.js';

let h: Harness;
const demo = { 'x-project-id': 'demo', 'x-roles': 'member' };

beforeEach(async () => {
  h = await Harness.start();
});
afterEach(async () => {
  await h.close();
});

describe('network-ip-availability', () => {
  it('is listed as an extension', async () => {
    expect((await h.get('/v2.0/extensions/network-ip-availability')).status).toBe(200);
  });

  it('counts the pool addresses and the ones ports use, per subnet and per network', async () => {
    const net = await h.network({ name: 'n1' }, demo);
    const id = String(net['id']);
    // 10.0.0.0/29: pool .2-.6 (5 addresses; .1 is the gateway).
    const v4 = await h.subnet(id, '10.0.0.0/29', { enable_dhcp: false }, demo);
    // a second subnet with an explicit pool of 3 addresses
    const v4b = await h.subnet(id, '10.0.1.0/24', { enable_dhcp: false, allocation_pools: [{ start: '10.0.1.10', end: '10.0.1.12' }] }, demo);
    await h.port(id, { fixed_ips: [{ subnet_id: v4['id'] }] }, demo);
    await h.port(id, { fixed_ips: [{ subnet_id: v4['id'] }, { subnet_id: v4b['id'] }] }, demo);
    // an address outside the pool does not use the pool up
    await h.port(id, { fixed_ips: [{ subnet_id: v4b['id'], ip_address: '10.0.1.50' }] }, demo);
    const r = await h.get(`/v2.0/network-ip-availabilities/${id}`);
    expect(r.status).toBe(200);
    const a = r.body['network_ip_availability'] as Record<string, unknown>;
    expect(a).toMatchObject({ network_id: id, network_name: 'n1', project_id: 'demo', tenant_id: 'demo', total_ips: 8, used_ips: 3 });
    const per = a['subnet_ip_availability'] as Record<string, unknown>[];
    expect(per).toEqual(
      expect.arrayContaining([
        { subnet_id: v4['id'], subnet_name: '', cidr: '10.0.0.0/29', ip_version: 4, total_ips: 5, used_ips: 2 },
        { subnet_id: v4b['id'], subnet_name: '', cidr: '10.0.1.0/24', ip_version: 4, total_ips: 3, used_ips: 1 },
      ]),
    );
    expect(per).toHaveLength(2);
  });

  it('lists every network, filtered by network_id, project_id and ip_version', async () => {
    const a = await h.network({ name: 'a' });
    const b = await h.network({ name: 'b' }, demo);
    await h.subnet(String(a['id']), '10.1.0.0/24');
    await h.subnet(String(b['id']), 'fd00::/64', {}, demo);
    const list = async (q: string) => ((await h.get(`/v2.0/network-ip-availabilities${q}`)).body['network_ip_availabilities'] as { network_name: string }[]).map((n) => n.network_name).sort();
    expect(await list('')).toEqual(['a', 'b']);
    expect(await list(`?network_id=${String(a['id'])}`)).toEqual(['a']);
    expect(await list('?project_id=demo')).toEqual(['b']);
    expect(await list('?ip_version=6')).toEqual(['b']);
    expect(await list('?ip_version=4')).toEqual(['a']);
    const v6 = (await h.get(`/v2.0/network-ip-availabilities/${String(b['id'])}`)).body['network_ip_availability'] as { total_ips: number };
    expect(v6.total_ips).toBeGreaterThan(2 ** 60);
  });

  it('is for admins only, and 404s for a network that does not exist', async () => {
    const net = await h.network({}, demo);
    const own = await h.get(`/v2.0/network-ip-availabilities/${String(net['id'])}`, demo);
    expect(own.status).toBe(403);
    expect(neutronError(own).type).toBe('PolicyNotAuthorized');
    expect((await h.get('/v2.0/network-ip-availabilities', demo)).status).toBe(403);
    const missing = await h.get('/v2.0/network-ip-availabilities/4b7e1c52-0d7e-4f55-9f0e-4c2d8a3b9e10');
    expect(missing.status).toBe(404);
    expect(neutronError(missing).type).toBe('NetworkNotFound');
  });
});
