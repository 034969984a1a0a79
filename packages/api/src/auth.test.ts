import { afterEach, describe, expect, it } from 'vitest';
import { Harness, neutronError } from '../test/harness.js';
import { parseApiConfig } from './config.js';
import { defaultSecurityGroupId } from './services/default-sg.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('noauth callers', () => {
  it('no project header is the admin of the default project; a project header is a member of that project unless X-Roles says otherwise', async () => {
    h = await Harness.start({ auth: { defaultProject: 'ops' } });
    const ext = await h.network({ 'router:external': true });
    expect(ext['project_id']).toBe('ops');
    // A project header without X-Roles: a member, not an admin of every project.
    const asDemo = await h.post('/v2.0/networks', { network: { name: 'x', shared: true } }, { 'x-project-id': 'demo' });
    expect(asDemo.status).toBe(403);
    expect(neutronError(asDemo)).toMatchObject({ type: 'PolicyNotAuthorized', message: '(rule:create_network:shared) is disallowed by policy' });
    const own = await h.network({}, { 'x-project-id': 'demo' });
    expect(own['project_id']).toBe('demo');
    expect(own).not.toHaveProperty('provider:segmentation_id');
    const seen = (await h.get('/v2.0/networks', { 'x-tenant-id': 'demo' })).body['networks'] as { id: string }[];
    expect(seen.map((n) => n.id).sort()).toEqual([ext['id'], own['id']].sort());
    // X-Roles still decides when it is sent.
    const admin = await h.post('/v2.0/networks', { network: { name: 'y', shared: true } }, { 'x-project-id': 'demo', 'x-roles': 'reader,admin' });
    expect(admin.status).toBe(201);
  });

  it('a reader (X-Roles: reader, neither member nor admin) reads its project and gets the policy 403 for every write', async () => {
    h = await Harness.start();
    const net = await h.network({ name: 'n' }, { 'x-project-id': 'demo' });
    const reader = { 'x-project-id': 'demo', 'x-roles': 'reader' };
    expect(((await h.get('/v2.0/networks', reader)).body['networks'] as unknown[]).length).toBe(1);
    const before = h.revision;
    const writes = [
      [await h.post('/v2.0/networks', { network: { name: 'x' } }, reader), 'create_network'],
      [await h.put(`/v2.0/networks/${String(net['id'])}`, { network: { name: 'y' } }, reader), 'update_network'],
      [await h.delete(`/v2.0/networks/${String(net['id'])}`, reader), 'delete_network'],
    ] as const;
    for (const [r, action] of writes) {
      expect(r.status).toBe(403);
      expect(neutronError(r)).toMatchObject({ type: 'PolicyNotAuthorized', message: `(rule:${action}) is disallowed by policy` });
    }
    expect(h.revision).toBe(before);
    expect((await h.post('/v2.0/networks', { network: { name: 'z' } }, { ...reader, 'x-roles': 'reader,member' })).status).toBe(201);
  });

  it('adminByDefault: false makes header-less requests members of the default project', async () => {
    h = await Harness.start({ auth: { defaultProject: 'ops', adminByDefault: false } });
    const r = await h.post('/v2.0/networks', { network: { shared: true } });
    expect(r.status).toBe(403);
  });

  it('a GET of security groups writes nothing: the default group is shown until a write needs it', async () => {
    h = await Harness.start();
    const before = h.revision;
    const list = await h.get('/v2.0/security-groups', { 'x-project-id': 'nobody-1' });
    expect(list.status).toBe(200);
    const groups = list.body['security_groups'] as { id: string; name: string; security_group_rules: unknown[] }[];
    expect(groups.map((g) => [g.id, g.name])).toEqual([[defaultSecurityGroupId('nobody-1'), 'default']]);
    expect(groups[0]!.security_group_rules).toHaveLength(4);
    const rules = await h.get('/v2.0/security-group-rules', { 'x-project-id': 'nobody-1' });
    expect(rules.body['security_group_rules']).toHaveLength(4);
    const shown = await h.get(`/v2.0/security-groups/${defaultSecurityGroupId('nobody-1')}`, { 'x-project-id': 'nobody-1' });
    expect(shown.status).toBe(200);
    expect(h.revision).toBe(before);
    expect(await h.nb.get('security_group', defaultSecurityGroupId('nobody-1'))).toBeUndefined();
    // A write on it creates it (once), with the rules the list showed.
    const listedRuleIds = (rules.body['security_group_rules'] as { id: string }[]).map((r) => r.id).sort();
    const rule = await h.post('/v2.0/security-group-rules', { security_group_rule: { security_group_id: defaultSecurityGroupId('nobody-1'), direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22 } }, { 'x-project-id': 'nobody-1' });
    expect(rule.status).toBe(201);
    const stored = await h.nb.get('security_group', defaultSecurityGroupId('nobody-1'));
    expect(stored?.rules.map((r) => r.id).filter((id) => listedRuleIds.includes(id))).toHaveLength(4);
  });
});

describe('the listen address in noauth mode', () => {
  it('refuses a non-loopback address unless auth.allowInsecureNoauth is set', () => {
    expect(() => parseApiConfig({ listen: { host: '0.0.0.0' } }, 'df-api.yaml')).toThrow(
      'df-api.yaml: listen.host: noauth (auth.mode) on 0.0.0.0 lets anyone who reaches it act as admin: listen on a loopback address, use auth.mode: token, or set auth.allowInsecureNoauth: true',
    );
    expect(() => parseApiConfig({ listen: { host: '192.0.2.10' } })).toThrow(/auth\.allowInsecureNoauth/);
    expect(() => parseApiConfig({ listen: { host: 'api.example.org' } })).toThrow(/auth\.allowInsecureNoauth/);
    for (const host of ['127.0.0.1', '127.8.0.1', '::1', 'localhost']) expect(parseApiConfig({ listen: { host } }).listen.host).toBe(host);
    expect(parseApiConfig({ listen: { host: '0.0.0.0' }, auth: { allowInsecureNoauth: true } }).auth.allowInsecureNoauth).toBe(true);
    expect(parseApiConfig({ listen: { host: '0.0.0.0' }, auth: { mode: 'token', tokens: [{ token: 'abcdefgh1', project: 'p' }] } }).listen.host).toBe('0.0.0.0');
  });
});

describe('the auth hook', () => {
  const token = { auth: { mode: 'token' as const, tokens: [{ token: 'admin-token-1', project: 'admin', roles: ['admin'] }, { token: 'demo-token-12', project: 'demo', roles: [] }] } };

  it('decides on the decoded path: an encoded /v2.0 does not reach a handler without a token', async () => {
    h = await Harness.start(token);
    await h.network({ name: 'secret' }, { 'x-auth-token': 'admin-token-1' });
    for (const url of ['/%762.0/networks', '/v2%2E0/networks', '/%76%32%2e%30/networks', '/v2.0/networks', '/V2.0/networks', '//v2.0/networks']) {
      const r = await h.get(url);
      expect([401, 404], url).toContain(r.status);
      expect(JSON.stringify(r.body), url).not.toContain('secret');
    }
    expect((await h.get('/%762.0/networks')).status).toBe(401);
    const ok = await h.get('/%762.0/networks', { 'x-auth-token': 'admin-token-1' });
    expect(ok.status).toBe(200);
    // The public routes stay public.
    expect((await h.get('/')).status).toBe(200);
    expect((await h.get('/healthz')).status).toBe(200);
  });

  it('compares tokens in constant time and still finds each one', async () => {
    h = await Harness.start(token);
    expect((await h.get('/v2.0/networks', { 'x-auth-token': 'demo-token-12' })).status).toBe(200);
    expect((await h.get('/v2.0/networks', { 'x-auth-token': 'demo-token-1' })).status).toBe(401);
    expect((await h.get('/v2.0/networks', { 'x-auth-token': 'demo-token-123' })).status).toBe(401);
    expect((await h.get('/v2.0/networks', { 'x-auth-token': '' })).status).toBe(401);
  });
});

describe('request bodies', () => {
  it('answers 415 to a body that is not JSON', async () => {
    h = await Harness.start();
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const r = await h.app.inject({ method: 'POST', url: '/v2.0/networks', headers: { 'content-type': type }, payload: '{"network":{}}' });
      expect(r.statusCode, type).toBe(415);
      expect(JSON.parse(r.body)).toMatchObject({ NeutronError: { type: 'HTTPUnsupportedMediaType' } });
    }
    const json = await h.app.inject({ method: 'POST', url: '/v2.0/networks', headers: { 'content-type': 'application/json; charset=utf-8' }, payload: '{"network":{}}' });
    expect(json.statusCode).toBe(201);
  });
});
