import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Harness, neutronError } from '../../test/harness.js';

let h: Harness;
const demo = { 'x-project-id': 'demo', 'x-roles': 'member' };
const other = { 'x-project-id': 'other', 'x-roles': 'member' };

beforeEach(async () => {
  h = await Harness.start();
});
afterEach(async () => {
  await h.close();
});

describe('standard-attr-tag', () => {
  it('is listed as an extension', async () => {
    const r = await h.get('/v2.0/extensions/standard-attr-tag');
    expect(r.status).toBe(200);
  });

  it('replaces, adds, checks and removes tags on every taggable resource', async () => {
    const net = await h.network({}, demo);
    const ext = await h.network({ 'router:external': true });
    await h.subnet(String(ext['id']), '203.0.113.0/24');
    const subnet = await h.subnet(String(net['id']), '10.0.0.0/24', {}, demo);
    const port = await h.port(String(net['id']), {}, demo);
    const router = await h.router({}, demo);
    const sg = await h.create('security-groups', 'security_group', { name: 'web' }, demo);
    const fip = await h.create('floatingips', 'floatingip', { floating_network_id: ext['id'] }, demo);
    const all: [string, string, Record<string, unknown>][] = [
      ['networks', 'network', net],
      ['subnets', 'subnet', subnet],
      ['ports', 'port', port],
      ['routers', 'router', router],
      ['security-groups', 'security_group', sg],
      ['floatingips', 'floatingip', fip],
    ];
    for (const [collection, member, obj] of all) {
      const url = `/v2.0/${collection}/${String(obj['id'])}`;
      const set = await h.put(`${url}/tags`, { tags: ['red', 'blue', 'red'] }, demo);
      expect(set.status, collection).toBe(200);
      expect(set.body['tags']).toEqual(['red', 'blue']);
      expect((await h.put(`${url}/tags/green`, undefined, demo)).status).toBe(201);
      const shown = await h.get(url, demo);
      expect(shown.body[member], collection).toMatchObject({ tags: ['red', 'blue', 'green'] });
      expect((shown.body[member] as { revision_number: number }).revision_number).toBeGreaterThan(obj['revision_number'] as number);
      expect((await h.get(`${url}/tags`, demo)).body).toEqual({ tags: ['red', 'blue', 'green'] });
      expect((await h.get(`${url}/tags/blue`, demo)).status).toBe(204);
      const missing = await h.get(`${url}/tags/nope`, demo);
      expect(missing.status).toBe(404);
      expect(neutronError(missing).type).toBe('TagNotFound');
      expect((await h.delete(`${url}/tags/blue`, demo)).status).toBe(204);
      expect(neutronError(await h.delete(`${url}/tags/blue`, demo)).type).toBe('TagNotFound');
      expect((await h.get(`${url}/tags`, demo)).body).toEqual({ tags: ['red', 'green'] });
      expect((await h.delete(`${url}/tags`, demo)).status).toBe(204);
      expect(((await h.get(url, demo)).body[member] as { tags: string[] }).tags).toEqual([]);
    }
  });

  it('tags the default security group before it is saved', async () => {
    const list = await h.get('/v2.0/security-groups?name=default', demo);
    const id = String((list.body['security_groups'] as { id: string }[])[0]!.id);
    expect((await h.put(`/v2.0/security-groups/${id}/tags`, { tags: ['base'] }, demo)).status).toBe(200);
    expect(((await h.get(`/v2.0/security-groups/${id}`, demo)).body['security_group'] as { tags: string[] }).tags).toEqual(['base']);
  });

  it('filters lists with tags, tags-any, not-tags and not-tags-any', async () => {
    const a = await h.network({ name: 'a' });
    const b = await h.network({ name: 'b' });
    const c = await h.network({ name: 'c' });
    await h.put(`/v2.0/networks/${String(a['id'])}/tags`, { tags: ['x', 'y'] });
    await h.put(`/v2.0/networks/${String(b['id'])}/tags`, { tags: ['x'] });
    void c;
    const names = async (q: string) => ((await h.get(`/v2.0/networks?${q}`)).body['networks'] as { name: string }[]).map((n) => n.name).sort();
    expect(await names('tags=x,y')).toEqual(['a']);
    expect(await names('tags=x&tags=y')).toEqual(['a']);
    expect(await names('tags-any=y,z')).toEqual(['a']);
    expect(await names('tags-any=x')).toEqual(['a', 'b']);
    expect(await names('not-tags=x,y')).toEqual(['b', 'c']);
    expect(await names('not-tags-any=y')).toEqual(['b', 'c']);
    expect(await names('not-tags-any=x')).toEqual(['c']);
    expect(await names('tags=x&not-tags-any=y')).toEqual(['b']);
  });

  it('refuses bad tags, other projects and resources the caller cannot see', async () => {
    const net = await h.network({ shared: true });
    const url = `/v2.0/networks/${String(net['id'])}/tags`;
    const long = await h.put(url, { tags: ['t'.repeat(256)] });
    expect(long.status).toBe(400);
    const notList = await h.put(url, { tags: 'x' });
    expect(notList.status).toBe(400);
    const before = h.revision;
    // A shared network is visible to other projects but only its own project tags it.
    const foreign = await h.put(url, { tags: ['mine'] }, other);
    expect(foreign.status).toBe(403);
    expect(neutronError(foreign).type).toBe('PolicyNotAuthorized');
    const router = await h.router({});
    const hidden = await h.put(`/v2.0/routers/${String(router['id'])}/tags/x`, undefined, other);
    expect(hidden.status).toBe(404);
    expect(neutronError(hidden).type).toBe('RouterNotFound');
    expect(h.revision).toBe(before + 1); // the router only
    expect(neutronError(await h.get('/v2.0/ports/4b7e1c52-0d7e-4f55-9f0e-4c2d8a3b9e10/tags')).type).toBe('PortNotFound');
  });
});
