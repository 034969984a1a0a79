import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Harness, neutronError } from '../../test/harness.js';

let h: Harness;
const member = { 'x-project-id': 'demo', 'x-roles': 'member' };

beforeEach(async () => {
  h = await Harness.start({ network: { vxlanRanges: ['100:102'], vlanRanges: ['physnet1:10:11'], flatNetworks: ['physnet2'] } });
});
afterEach(async () => {
  await h.close();
});

describe('networks', () => {
  it('creates a tenant network with a segment from the configured range, MTU from the physical MTU and Neutron attributes', async () => {
    const n = await h.network({ name: 'blue', description: 'd' });
    expect(n).toMatchObject({
      name: 'blue',
      description: 'd',
      status: 'ACTIVE',
      admin_state_up: true,
      shared: false,
      'router:external': false,
      mtu: 1450,
      port_security_enabled: true,
      subnets: [],
      tags: [],
      project_id: 'admin',
      tenant_id: 'admin',
      revision_number: 1,
      'provider:network_type': 'vxlan',
      'provider:physical_network': null,
      'provider:segmentation_id': 100,
    });
    expect(n['created_at']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const again = await h.get(`/v2.0/networks/${String(n['id'])}`);
    expect(again.status).toBe(200);
    expect(again.body['network']).toEqual(n);
    expect(again.headers['x-openstack-request-id']).toMatch(/^req-/);
  });

  it('allocates the lowest free segmentation id and answers 503 NoNetworkAvailable when the range is used up', async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await h.network())['provider:segmentation_id']);
    expect(ids).toEqual([100, 101, 102]);
    const before = h.revision;
    const r = await h.post('/v2.0/networks', { network: { name: 'x' } });
    expect(r.status).toBe(503);
    expect(neutronError(r).type).toBe('NoNetworkAvailable');
    expect(h.revision).toBe(before);
  });

  it('takes provider attributes from an admin and checks them as ML2 does', async () => {
    const vlan = await h.network({ 'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1' });
    expect(vlan).toMatchObject({ 'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1', 'provider:segmentation_id': 10, mtu: 1500 });
    const taken = await h.post('/v2.0/networks', { network: { 'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1', 'provider:segmentation_id': 10 } });
    expect(taken.status).toBe(409);
    expect(neutronError(taken).type).toBe('VlanIdInUse');
    const unknown = await h.post('/v2.0/networks', { network: { 'provider:network_type': 'vlan', 'provider:physical_network': 'nope' } });
    expect(unknown.status).toBe(400);
    expect(neutronError(unknown).message).toContain("physical_network 'nope' unknown");
    const flat = await h.network({ 'provider:network_type': 'flat', 'provider:physical_network': 'physnet2' });
    expect(flat['provider:segmentation_id']).toBeNull();
    const flat2 = await h.post('/v2.0/networks', { network: { 'provider:network_type': 'flat', 'provider:physical_network': 'physnet2' } });
    expect(neutronError(flat2).type).toBe('FlatNetworkInUse');
    const outOfRange = await h.post('/v2.0/networks', { network: { 'provider:network_type': 'vxlan', 'provider:segmentation_id': 99999999 } });
    expect(outOfRange.status).toBe(400);
    expect(neutronError(outOfRange).message).toContain('segmentation_id out of range');
    // the top sixteenth of the VNI space carries the HA fallback's punts (0xf00000 + port
    // key) and centralized NAT's redirect (0xffffff): an admin who asks for one of those
    // keys would have the network's traffic taken for a stranded port's punt or a routed packet
    for (const type of ['vxlan', 'geneve', 'gre']) {
      for (const seg of [0xf00000, 0xf00000 + 7, 0xffffff]) {
        const reserved = await h.post('/v2.0/networks', { network: { 'provider:network_type': type, 'provider:segmentation_id': seg } });
        expect(reserved.status).toBe(400);
        expect(neutronError(reserved).message).toMatch(type === 'gre' ? new RegExp(`${seg} is reserved`) : /out of range \(1 through 15728639\)/);
      }
    }
    const greAbove = await h.network({ 'provider:network_type': 'gre', 'provider:segmentation_id': 0x1000000 });
    expect(greAbove['provider:segmentation_id']).toBe(0x1000000);
    const vxlanBelow = await h.network({ 'provider:network_type': 'vxlan', 'provider:segmentation_id': 0xefffff });
    expect(vxlanBelow['provider:segmentation_id']).toBe(0xefffff);
    const explicit = await h.network({ 'provider:network_type': 'gre', 'provider:segmentation_id': '7' });
    expect(explicit).toMatchObject({ 'provider:network_type': 'gre', 'provider:segmentation_id': 7, mtu: 1458 });
    const badType = await h.post('/v2.0/networks', { network: { 'provider:network_type': 'local' } });
    expect(neutronError(badType).message).toContain("network_type value 'local' not supported");
  });

  it('accepts provider VLANs on physical networks listed without a range, or on any with *', async () => {
    const listed = await Harness.start({ network: { vlanRanges: ['physnet1:10:11', 'physnet3'] } });
    try {
      const ok = await listed.network({ 'provider:network_type': 'vlan', 'provider:physical_network': 'physnet3', 'provider:segmentation_id': 300 });
      expect(ok).toMatchObject({ 'provider:physical_network': 'physnet3', 'provider:segmentation_id': 300 });
      const noRange = await listed.post('/v2.0/networks', { network: { 'provider:network_type': 'vlan', 'provider:physical_network': 'physnet3' } });
      expect(neutronError(noRange).type).toBe('NoNetworkAvailable');
      const unknown = await listed.post('/v2.0/networks', { network: { 'provider:network_type': 'vlan', 'provider:physical_network': 'physnet9', 'provider:segmentation_id': 5 } });
      expect(unknown.status).toBe(400);
    } finally {
      await listed.close();
    }
    const any = await Harness.start();
    try {
      const ok = await any.network({ 'provider:network_type': 'vlan', 'provider:physical_network': 'anything', 'provider:segmentation_id': 42 });
      expect(ok).toMatchObject({ 'provider:physical_network': 'anything', 'provider:segmentation_id': 42, mtu: 1500 });
    } finally {
      await any.close();
    }
  });

  it('refuses provider, shared and router:external from non-admins (403) and hides provider attributes from them', async () => {
    for (const attr of [{ 'provider:network_type': 'vxlan' }, { shared: true }, { 'router:external': true }]) {
      const r = await h.post('/v2.0/networks', { network: attr }, member);
      expect(r.status).toBe(403);
      expect(neutronError(r).type).toBe('PolicyNotAuthorized');
    }
    const n = await h.network({}, member);
    expect(n['project_id']).toBe('demo');
    expect(n).not.toHaveProperty('provider:network_type');
  });

  it('checks the MTU against the network type', async () => {
    const big = await h.post('/v2.0/networks', { network: { mtu: 1500 } });
    expect(big.status).toBe(400);
    expect(neutronError(big).message).toBe('Invalid input for operation: Requested MTU is too big, maximum is 1450');
    const n = await h.network({ mtu: 1400 });
    const up = await h.put(`/v2.0/networks/${String(n['id'])}`, { network: { mtu: 1300, name: 'renamed' } });
    expect(up.body['network']).toMatchObject({ mtu: 1300, name: 'renamed', revision_number: 2 });
  });

  it('refuses to change provider attributes', async () => {
    const n = await h.network();
    const r = await h.put(`/v2.0/networks/${String(n['id'])}`, { network: { 'provider:segmentation_id': 5 } });
    expect(r.status).toBe(400);
    expect(neutronError(r).message).toContain('does not support updating the following provider network attributes: provider:segmentation_id');
    const same = await h.put(`/v2.0/networks/${String(n['id'])}`, { network: { 'provider:segmentation_id': n['provider:segmentation_id'] } });
    expect(same.status).toBe(200);
  });

  it('filters, trims fields, sorts and pages lists', async () => {
    for (const name of ['c', 'a', 'b']) await h.network({ name });
    const byName = await h.get('/v2.0/networks?name=a&name=b&fields=name&fields=id');
    expect((byName.body['networks'] as { name: string }[]).map((n) => n.name).sort()).toEqual(['a', 'b']);
    expect(Object.keys((byName.body['networks'] as object[])[0]!).sort()).toEqual(['id', 'name']);
    const sorted = await h.get('/v2.0/networks?sort_key=name&sort_dir=desc');
    expect((sorted.body['networks'] as { name: string }[]).map((n) => n.name)).toEqual(['c', 'b', 'a']);
    const page1 = await h.get('/v2.0/networks?sort_key=name&sort_dir=asc&limit=2');
    expect((page1.body['networks'] as { name: string }[]).map((n) => n.name)).toEqual(['a', 'b']);
    const links = page1.body['networks_links'] as { rel: string; href: string }[];
    expect(links.map((l) => l.rel)).toEqual(['next']);
    const next = new URL(links[0]!.href);
    expect(next.pathname).toBe('/v2.0/networks');
    const page2 = await h.get(next.pathname + next.search);
    expect((page2.body['networks'] as { name: string }[]).map((n) => n.name)).toEqual(['c']);
    expect((page2.body['networks_links'] as { rel: string }[]).map((l) => l.rel)).toEqual(['previous']);
    const prev = new URL((page2.body['networks_links'] as { href: string }[])[0]!.href);
    const back = await h.get(prev.pathname + prev.search);
    expect((back.body['networks'] as { name: string }[]).map((n) => n.name)).toEqual(['a', 'b']);
    const ext = await h.get('/v2.0/networks?router:external=False');
    expect((ext.body['networks'] as object[]).length).toBe(3);
    const extTrue = await h.get('/v2.0/networks?router%3Aexternal=True');
    expect((extTrue.body['networks'] as object[]).length).toBe(0);
  });

  it('refuses unknown filters, bad limits and bad sort keys, naming them', async () => {
    const bad = await h.get('/v2.0/networks?colour=red');
    expect(bad.status).toBe(400);
    expect(neutronError(bad).message).toBe('[colour] is invalid attribute for filtering');
    const limit = await h.get('/v2.0/networks?limit=-1');
    expect(neutronError(limit).message).toContain('Invalid input for limit');
    const sort = await h.get('/v2.0/networks?sort_key=subnets');
    expect(neutronError(sort).message).toContain('subnets is invalid attribute for sort_key');
    const bool = await h.get('/v2.0/networks?shared=maybe');
    expect(neutronError(bool).message).toContain('Invalid input for shared');
    const marker = await h.get('/v2.0/networks?limit=1&marker=8f1d5c50-68a4-4c5d-9a3c-93b9ca1d0c3f');
    expect(marker.status).toBe(404);
  });

  it('creates networks in bulk atomically: one bad item writes none', async () => {
    const ok = await h.post('/v2.0/networks', { networks: [{ name: 'one' }, { name: 'two' }] });
    expect(ok.status).toBe(201);
    expect((ok.body['networks'] as { name: string }[]).map((n) => n.name)).toEqual(['one', 'two']);
    const before = h.revision;
    const bad = await h.post('/v2.0/networks', { networks: [{ name: 'three' }, { name: 'four', 'provider:network_type': 'gre', mtu: 9000 }] });
    expect(bad.status).toBe(400);
    expect(h.revision).toBe(before);
    expect(((await h.get('/v2.0/networks?name=three')).body['networks'] as object[]).length).toBe(0);
  });

  it('deletes a network with its subnets and DHCP port, but not one with ports in use', async () => {
    const n = await h.network();
    const id = String(n['id']);
    const s = await h.subnet(id, '10.1.0.0/24');
    const dhcp = await h.get(`/v2.0/ports?network_id=${id}&device_owner=network:dhcp`);
    expect((dhcp.body['ports'] as object[]).length).toBe(1);
    const p = await h.port(id, { device_owner: 'compute:nova' });
    const before = h.revision;
    const refused = await h.delete(`/v2.0/networks/${id}`);
    expect(refused.status).toBe(409);
    expect(neutronError(refused)).toEqual({ type: 'NetworkInUse', message: `Unable to complete operation on network ${id}. There are one or more ports still in use on the network.`, detail: '' });
    expect(h.revision).toBe(before);
    expect((await h.delete(`/v2.0/ports/${String(p['id'])}`)).status).toBe(204);
    expect((await h.delete(`/v2.0/networks/${id}`)).status).toBe(204);
    expect((await h.get(`/v2.0/subnets/${String(s['id'])}`)).status).toBe(404);
    expect(((await h.get('/v2.0/ports')).body['ports'] as object[]).length).toBe(0);
    const gone = await h.get(`/v2.0/networks/${id}`);
    expect(gone.status).toBe(404);
    expect(neutronError(gone)).toMatchObject({ type: 'NetworkNotFound', message: `Network ${id} could not be found.` });
  });

  it('lists a network\'s subnets in creation order in every answer, also after a subnet was updated', async () => {
    const id = String((await h.network())['id']);
    const first = String((await h.subnet(id, '10.3.0.0/24'))['id']);
    await new Promise((r) => setTimeout(r, 5)); // distinct creation times
    const second = String((await h.subnet(id, '10.4.0.0/24'))['id']);
    expect((await h.put(`/v2.0/subnets/${first}`, { subnet: { name: 'renamed' } })).status).toBe(200);
    const shown = (await h.get(`/v2.0/networks/${id}`)).body['network'] as { subnets: string[] };
    const listed = ((await h.get(`/v2.0/networks?id=${id}`)).body['networks'] as { subnets: string[] }[])[0]!;
    const updated = (await h.put(`/v2.0/networks/${id}`, { network: { name: 'x' } })).body['network'] as { subnets: string[] };
    expect(shown.subnets).toEqual([first, second]);
    expect(listed.subnets).toEqual([first, second]);
    expect(updated.subnets).toEqual([first, second]);
  });

  it('supports If-Match revision_number constraints', async () => {
    const n = await h.network();
    const stale = await h.put(`/v2.0/networks/${String(n['id'])}`, { network: { name: 'x' } }, { 'if-match': 'revision_number=7' });
    expect(stale.status).toBe(412);
    const ok = await h.put(`/v2.0/networks/${String(n['id'])}`, { network: { name: 'x' } }, { 'if-match': 'revision_number=1' });
    expect(ok.status).toBe(200);
  });
});
