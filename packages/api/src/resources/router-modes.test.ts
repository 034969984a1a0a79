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

describe('dvr and l3-ha router attributes', () => {
  it('are listed as extensions', async () => {
    for (const alias of ['dvr', 'l3-ha']) expect((await h.get(`/v2.0/extensions/${alias}`)).status, alias).toBe(200);
  });

  it('answer distributed=true and ha=false to admins, and filter on them', async () => {
    const r = await h.router({ name: 'plain' });
    expect(r).toMatchObject({ distributed: true, ha: false });
    const asked = await h.router({ name: 'dvr', distributed: true, ha: false });
    expect(asked).toMatchObject({ distributed: true, ha: false });
    const shown = await h.get(`/v2.0/routers/${String(r['id'])}`);
    expect(shown.body['router']).toMatchObject({ distributed: true, ha: false });
    const updated = await h.put(`/v2.0/routers/${String(r['id'])}`, { router: { distributed: true } });
    expect(updated.status).toBe(200);
    expect(((await h.get('/v2.0/routers?distributed=true')).body['routers'] as unknown[]).length).toBe(2);
    expect(((await h.get('/v2.0/routers?ha=true')).body['routers'] as unknown[]).length).toBe(0);
  });

  it('hides them from members and refuses them from members, as Neutron policy does', async () => {
    const r = await h.router({}, demo);
    expect(r).not.toHaveProperty('distributed');
    expect(r).not.toHaveProperty('ha');
    const before = h.revision;
    const set = await h.post('/v2.0/routers', { router: { distributed: true } }, demo);
    expect(set.status).toBe(403);
    expect(neutronError(set).type).toBe('PolicyNotAuthorized');
    expect(h.revision).toBe(before);
  });

  it('refuses a centralized or highly available router: this deployment has neither', async () => {
    const before = h.revision;
    const central = await h.post('/v2.0/routers', { router: { distributed: false } });
    expect(central.status).toBe(400);
    expect(neutronError(central).message).toMatch(/always distributed/);
    const ha = await h.post('/v2.0/routers', { router: { ha: true } });
    expect(ha.status).toBe(400);
    expect(neutronError(ha).message).toMatch(/not supported/);
    expect(h.revision).toBe(before);
    const r = await h.router({});
    const upd = await h.put(`/v2.0/routers/${String(r['id'])}`, { router: { ha: true } });
    expect(upd.status).toBe(400);
  });
});
