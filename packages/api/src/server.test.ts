import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DfError } from '@dragonflow/base';
import { MemoryClientDriver, NbApi, NbErrorCode } from '@dragonflow/nb';
import { afterEach, describe, expect, it } from 'vitest';
import { Harness, neutronError } from '../test/harness.js';
import { EXTENSIONS } from './resources/discovery.js';
import { startApiServer } from './server.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('discovery and documents', () => {
  it('answers version discovery at / without authentication, with the v2.0 link', async () => {
    h = await Harness.start({ auth: { mode: 'token', tokens: [{ token: 'admin-token-1', project: 'admin', roles: ['admin'] }] } });
    const r = await h.get('/');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ versions: [{ id: 'v2.0', status: 'CURRENT', links: [{ href: 'http://localhost:80/v2.0/', rel: 'self' }] }] });
  });

  it('uses publicUrl for links when configured', async () => {
    h = await Harness.start({ publicUrl: 'https://cloud.example:9696/' });
    const r = await h.get('/');
    expect((r.body['versions'] as { links: { href: string }[] }[])[0]!.links[0]!.href).toBe('https://cloud.example:9696/v2.0/');
  });

  it('lists the v2.0 resources and the implemented extensions, and finds one by alias or name', async () => {
    h = await Harness.start();
    const idx = await h.get('/v2.0/');
    expect((idx.body['resources'] as { collection: string }[]).map((r) => r.collection)).toEqual(['networks', 'subnets', 'ports', 'routers', 'floatingips', 'security-groups', 'security-group-rules']);
    const ext = await h.get('/v2.0/extensions');
    const aliases = (ext.body['extensions'] as { alias: string }[]).map((e) => e.alias);
    for (const a of ['router', 'external-net', 'provider', 'extraroute', 'security-group', 'port-security', 'allowed-address-pairs', 'binding', 'standard-attr-description']) expect(aliases).toContain(a);
    expect(aliases).toHaveLength(EXTENSIONS.length);
    expect((await h.get('/v2.0/extensions/router')).body['extension']).toMatchObject({ alias: 'router', name: 'Neutron L3 Router' });
    const missing = await h.get('/v2.0/extensions/tag-ports-during-bulk-creation');
    expect(missing.status).toBe(404);
    expect(neutronError(missing).type).toBe('HTTPNotFound');
    expect((await h.get('/v2.0/extensions?name=tag-ports-during-bulk-creation')).body['extensions']).toEqual([]);
  });

  it('serves an OpenAPI description built from the route schemas', async () => {
    h = await Harness.start();
    const doc = await h.get('/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body['openapi']).toBe('3.0.3');
    const paths = doc.body['paths'] as Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties: Record<string, unknown> } }> } }>>;
    for (const p of ['/v2.0/networks', '/v2.0/networks/{id}', '/v2.0/routers/{id}/add_router_interface', '/v2.0/floatingips', '/v2.0/security-group-rules']) expect(paths).toHaveProperty([p]);
    const body = paths['/v2.0/ports']!['post']!.requestBody!.content['application/json']!.schema;
    expect(Object.keys(body.properties)).toEqual(['port', 'ports']);
  });
});

describe('request errors', () => {
  it('answers Neutron errors naming the attribute for schema failures, writing nothing', async () => {
    h = await Harness.start();
    const before = h.revision;
    const cases: [unknown, string][] = [
      [{ network: { name: 'x', colour: 'red' } }, "Unrecognized attribute(s) 'colour'"],
      [{ network: { admin_state_up: 'yes' } }, "Invalid input for admin_state_up. Reason: 'yes' is not a valid boolean."],
      [{ network: { name: 'x'.repeat(300) } }, `Invalid input for name. Reason: '${'x'.repeat(61)}...' exceeds maximum length of 255.`],
      [{ network: { 'provider:segmentation_id': 'five' } }, "Invalid input for provider:segmentation_id. Reason: 'five' is not a valid integer or null."],
      [{ network: { mtu: 1.5 } }, 'Invalid input for mtu. Reason: 1.5 is not a valid integer.'],
      [{ netwrk: {} }, "Unrecognized attribute(s) 'netwrk'"],
      [{}, "Resource body required: expected 'network' (or 'networks' for a bulk create) in the request body."],
    ];
    for (const [body, message] of cases) {
      const r = await h.post('/v2.0/networks', body);
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(neutronError(r)).toMatchObject({ type: 'HTTPBadRequest', message });
    }
    const uuid = await h.post('/v2.0/ports', { port: { network_id: 'not-a-uuid' } });
    expect(neutronError(uuid).message).toBe("Invalid input for network_id. Reason: 'not-a-uuid' is not a valid UUID.");
    const malformed = await h.post('/v2.0/networks', '{"network": ');
    expect(malformed.status).toBe(400);
    expect(neutronError(malformed).message).toMatch(/^Malformed request body/);
    expect(h.revision).toBe(before);
  });

  it('takes an empty body with a JSON content type as no body', async () => {
    h = await Harness.start();
    const n = await h.network();
    const del = await h.app.inject({ method: 'DELETE', url: `/v2.0/networks/${String(n['id'])}`, headers: { 'content-type': 'application/json' } });
    expect(del.statusCode).toBe(204);
    const put = await h.app.inject({ method: 'PUT', url: `/v2.0/networks/${String(n['id'])}`, headers: { 'content-type': 'application/json' } });
    expect(put.statusCode).toBe(400);
    expect(JSON.parse(put.body)).toEqual({ NeutronError: { type: 'HTTPBadRequest', message: 'Resource body required: the request has no body.', detail: '' } });
  });

  it('answers 413 with a Neutron error for bodies over the limit', async () => {
    h = await Harness.start({ bodyLimit: 2048 });
    const r = await h.post('/v2.0/networks', { network: { name: 'n', description: 'd'.repeat(4000) } });
    expect(r.status).toBe(413);
    expect(neutronError(r).type).toBe('HTTPRequestEntityTooLarge');
  });

  it('answers 503 with a Neutron error when the DB is gone', async () => {
    h = await Harness.start();
    h.driver.commit = async () => {
      throw new DfError(NbErrorCode.UNAVAILABLE, 'the DB cannot be reached');
    };
    const r = await h.post('/v2.0/networks', { network: { name: 'x' } });
    expect(r.status).toBe(503);
    expect(neutronError(r).type).toBe('ServiceUnavailable');
  });

  it('answers 404 HTTPNotFound for unknown URLs', async () => {
    h = await Harness.start();
    const r = await h.get('/v2.0/qos/policies');
    expect(r.status).toBe(404);
    expect(neutronError(r).type).toBe('HTTPNotFound');
  });

  it('answers a long id or name in a URL as Neutron does: the resource is not found (not a framework 414)', async () => {
    h = await Harness.start();
    for (const len of [101, 255, 1000]) {
      const r = await h.get(`/v2.0/networks/${'n'.repeat(len)}`);
      expect(r.status, `an id of ${len} characters`).toBe(404);
      expect(neutronError(r)).toMatchObject({ type: 'NetworkNotFound', message: expect.stringContaining('could not be found') });
    }
    const r = await h.put(`/v2.0/ports/${'p'.repeat(300)}`, { port: { name: 'x' } });
    expect(r.status).toBe(404);
    expect(neutronError(r).type).toBe('PortNotFound');
  });
});

describe('auth and tenancy', () => {
  const tokens = [
    { token: 'admin-token-1', project: 'admin', roles: ['admin'] },
    { token: 'alice-token-1', project: 'alice' },
    { token: 'bob-token-123', project: 'bob' },
  ];

  it('token mode: 401 without or with a bad token; projects see only their own networks plus shared and external ones', async () => {
    h = await Harness.start({ auth: { mode: 'token', tokens } });
    const none = await h.get('/v2.0/networks');
    expect(none.status).toBe(401);
    expect(neutronError(none).type).toBe('HTTPUnauthorized');
    expect((await h.get('/v2.0/networks', { 'x-auth-token': 'wrong-token' })).status).toBe(401);
    const alice = { 'x-auth-token': 'alice-token-1' };
    const bob = { 'x-auth-token': 'bob-token-123' };
    const admin = { 'x-auth-token': 'admin-token-1' };
    const a = String((await h.network({ name: 'alice-net' }, alice))['id']);
    await h.network({ name: 'bob-net' }, bob);
    await h.network({ name: 'public', 'router:external': true }, admin);
    await h.network({ name: 'shared', shared: true }, admin);
    const names = async (hdr: Record<string, string>) => ((await h!.get('/v2.0/networks', hdr)).body['networks'] as { name: string }[]).map((n) => n.name).sort();
    expect(await names(bob)).toEqual(['bob-net', 'public', 'shared']);
    expect(await names(admin)).toEqual(['alice-net', 'bob-net', 'public', 'shared']);
    expect((await h.get(`/v2.0/networks/${a}`, bob)).status).toBe(404);
    const del = await h.delete(`/v2.0/networks/${a}`, bob);
    expect(del.status).toBe(404);
    expect(neutronError(del).type).toBe('NetworkNotFound');
    const upd = await h.put(`/v2.0/networks/${a}`, { network: { name: 'mine' } }, bob);
    expect(upd.status).toBe(404);
    expect((await h.get(`/v2.0/networks/${a}`, alice)).status).toBe(200);
    const other = await h.post('/v2.0/networks', { network: { project_id: 'alice' } }, bob);
    expect(other.status).toBe(400);
    expect(neutronError(other).message).toContain('requires admin privileges');
    const forAlice = await h.network({ project_id: 'alice' }, admin);
    expect(forAlice['project_id']).toBe('alice');
  });

  it('noauth: project from X-Project-Id, admin unless X-Roles says otherwise', async () => {
    h = await Harness.start({ auth: { defaultProject: 'ops' } });
    expect((await h.network())['project_id']).toBe('ops');
    const demo = await h.network({}, { 'x-project-id': 'demo', 'x-roles': 'member' });
    expect(demo['project_id']).toBe('demo');
    expect(demo).not.toHaveProperty('provider:segmentation_id');
    const bad = await h.get('/v2.0/networks', { 'x-project-id': 'no spaces' });
    expect(bad.status).toBe(400);
  });
});

describe('startApiServer', () => {
  it('listens on a real port, serves the memory DB on a unix socket for other processes, and closes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'df-api-'));
    const socket = join(dir, 'nb.sock');
    const token = 'api-test-controller-token-0123';
    writeFileSync(join(dir, 'ctl.token'), `${token}\n`, { mode: 0o600 });
    const server = await startApiServer({ config: { listen: { port: 0 }, db: { serve: [`unix:${socket}`], grants: [{ role: 'controller', tokenFile: join(dir, 'ctl.token') }] }, logLevel: 'silent' } });
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(server.dbEndpoints).toEqual([`unix:${socket}`]);
      const res = await fetch(`${server.url}/v2.0/networks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ network: { name: 'shared-db' } }) });
      expect(res.status).toBe(201);
      const id = ((await res.json()) as { network: { id: string } }).network.id;
      expect(statSync(socket).mode & 0o777).toBe(0o600);
      await expect(MemoryClientDriver.connect({ endpoint: `unix:${socket}`, requestTimeoutMs: 2_000 })).rejects.toThrow(/refused/);
      const client = await MemoryClientDriver.connect({ endpoint: `unix:${socket}`, token });
      const nb = await NbApi.open(client, { mirror: false });
      expect((await nb.get('logical_switch', id))?.name).toBe('shared-db');
      await nb.close();
      await client.close();
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('persists the memory DB to a file across restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'df-api-'));
    const file = join(dir, 'nb.db');
    try {
      const first = await startApiServer({ config: { listen: { port: 0 }, db: { file }, logLevel: 'silent' } });
      await fetch(`${first.url}/v2.0/networks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ network: { name: 'kept' } }) });
      await first.close();
      const second = await startApiServer({ config: { listen: { port: 0 }, db: { file }, logLevel: 'silent' } });
      const list = (await (await fetch(`${second.url}/v2.0/networks`)).json()) as { networks: { name: string }[] };
      expect(list.networks.map((n) => n.name)).toEqual(['kept']);
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
