import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Harness, neutronError } from '../../test/harness.js';

let h: Harness;

beforeEach(async () => {
  h = await Harness.start();
});
afterEach(async () => {
  await h.close();
});

describe('dns-integration', () => {
  it('is listed as an extension', async () => {
    expect((await h.get('/v2.0/extensions/dns-integration')).status).toBe(200);
  });

  it('stores dns_domain on networks and dns_name on ports, and names each address in dns_assignment', async () => {
    const net = await h.network({ dns_domain: 'example.org.' });
    expect(net['dns_domain']).toBe('example.org.');
    await h.subnet(String(net['id']), '10.0.0.0/24');
    const plain = await h.port(String(net['id']), { fixed_ips: [{ ip_address: '10.0.0.5' }] });
    expect(plain).toMatchObject({ dns_name: '', dns_assignment: [{ hostname: 'host-10-0-0-5', ip_address: '10.0.0.5', fqdn: 'host-10-0-0-5.openstacklocal.' }] });
    const named = await h.port(String(net['id']), { dns_name: 'vm1', fixed_ips: [{ ip_address: '10.0.0.6' }] });
    expect(named).toMatchObject({ dns_name: 'vm1', dns_assignment: [{ hostname: 'vm1', ip_address: '10.0.0.6', fqdn: 'vm1.openstacklocal.' }] });
    const renamed = await h.put(`/v2.0/ports/${String(named['id'])}`, { port: { dns_name: 'web-1' } });
    expect(renamed.body['port']).toMatchObject({ dns_name: 'web-1' });
    expect(((await h.get('/v2.0/ports?dns_name=web-1')).body['ports'] as unknown[]).length).toBe(1);
    const moved = await h.put(`/v2.0/networks/${String(net['id'])}`, { network: { dns_domain: 'corp.example.' } });
    expect(moved.body['network']).toMatchObject({ dns_domain: 'corp.example.' });
    expect(((await h.get('/v2.0/networks?dns_domain=corp.example.')).body['networks'] as unknown[]).length).toBe(1);
  });

  it('stores dns_name and dns_domain on floating IPs', async () => {
    const ext = await h.network({ 'router:external': true });
    await h.subnet(String(ext['id']), '203.0.113.0/24');
    const fip = await h.create('floatingips', 'floatingip', { floating_network_id: ext['id'], dns_name: 'www', dns_domain: 'example.org.' });
    expect(fip).toMatchObject({ dns_name: 'www', dns_domain: 'example.org.' });
    expect(((await h.get(`/v2.0/floatingips/${String(fip['id'])}`)).body['floatingip'] as Record<string, unknown>)['dns_name']).toBe('www');
  });

  it('refuses names that are not DNS names, writing nothing', async () => {
    const net = await h.network({});
    const before = h.revision;
    for (const bad of ['-vm', 'vm_1', 'a'.repeat(64), 'host.123', 'two..dots']) {
      const r = await h.post('/v2.0/ports', { port: { network_id: net['id'], dns_name: bad } });
      expect(r.status, bad).toBe(400);
      expect(neutronError(r).message).toMatch(/dns_name/);
    }
    expect((await h.post('/v2.0/networks', { network: { dns_domain: 'nodots' } })).status).toBe(400);
    expect(h.revision).toBe(before);
  });
});
