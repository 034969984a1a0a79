import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDfError } from '@dragonflow/base';
import { afterEach, describe, expect, it } from 'vitest';
import { policyAction } from '../auth.js';
import { parseApiConfig } from '../config.js';
import { KeystoneAuth, contextFromToken } from './auth.js';

/**
 * A stand-in for Keystone's two token calls (the e2e test in tests/src/api/keystone.test.ts
 * runs the real one): issues service tokens, validates the tokens in `known`, counts calls.
 */
class FakeKeystone {
  readonly known = new Map<string, { project: string | null; roles: string[]; expiresAt?: number }>();
  issued = 0;
  validations = 0;
  serviceLifetimeMs = 3_600_000;
  rejectService = false;
  serviceTokens: string[] = [];
  #server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.#server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const answer = (status: number, json?: unknown, headers: Record<string, string> = {}): void => {
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(json === undefined ? '' : JSON.stringify(json));
        };
        if (req.method === 'POST' && req.url === '/v3/auth/tokens') {
          const password = (JSON.parse(body) as { auth: { identity: { password: { user: { password: string } } } } }).auth.identity.password.user.password;
          if (this.rejectService || password !== 'svc-pw') return answer(401, { error: { code: 401 } });
          const token = `svc-${++this.issued}`;
          this.serviceTokens.push(token);
          const expires = new Date(Date.now() + this.serviceLifetimeMs).toISOString();
          return answer(201, { token: { expires_at: expires, user: { id: 'svc' }, project: { id: 'service' }, roles: [{ name: 'admin' }], catalog: [{ type: 'compute', endpoints: [{ interface: 'public', region_id: 'R', url: 'http://nova:8774/v2.1' }] }] } }, { 'x-subject-token': token });
        }
        if (req.method === 'GET' && req.url?.startsWith('/v3/auth/tokens')) {
          this.validations++;
          if (!this.serviceTokens.includes(String(req.headers['x-auth-token']))) return answer(401, { error: { code: 401 } });
          const t = this.known.get(String(req.headers['x-subject-token']));
          if (!t) return answer(404, { error: { code: 404 } });
          const expires = new Date(t.expiresAt ?? Date.now() + 3_600_000).toISOString();
          return answer(200, { token: { expires_at: expires, user: { id: 'u' }, ...(t.project ? { project: { id: t.project } } : {}), roles: t.roles.map((name) => ({ name })) } });
        }
        return answer(404);
      });
    });
    await new Promise<void>((r) => this.#server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/v3`;
    return this;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise((r) => this.#server?.close(r));
  }
}

/** A port nothing listens on (fetch refuses some low ports, such as 9, before connecting). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

const settings = (url: string, cacheSeconds = 30) => ({ url, username: 'neutron', password: 'svc-pw', userDomainId: 'default', projectName: 'service', projectDomainId: 'default', timeoutMs: 2000, cacheSeconds, cacheSize: 100 });

let ks: FakeKeystone | undefined;
let auth: KeystoneAuth | undefined;
afterEach(async () => {
  await auth?.close();
  await ks?.stop();
  auth = ks = undefined;
});

describe('KeystoneAuth', () => {
  it('maps roles to policy: admin anything, member writes its project, reader (or any other role) only reads', () => {
    const at = (roles: string[]) => contextFromToken({ userId: 'u', projectId: 'p', roles, expiresAt: 0 });
    expect(at(['admin', 'member', 'reader'])).toMatchObject({ isAdmin: true, readOnly: false, projectId: 'p' });
    expect(at(['member', 'reader'])).toMatchObject({ isAdmin: false, readOnly: false });
    expect(at(['reader'])).toMatchObject({ isAdmin: false, readOnly: true });
    expect(at(['heat_stack_user'])).toMatchObject({ isAdmin: false, readOnly: true });
  });

  it('validates a token once and answers from the cache until cacheSeconds have passed', async () => {
    ks = await new FakeKeystone().start();
    ks.known.set('tok-a', { project: 'pa', roles: ['member', 'reader'] });
    auth = await KeystoneAuth.start(settings(ks.url, 1));
    const ctxs = await Promise.all([1, 2, 3].map(() => auth!.authenticate({ 'x-auth-token': 'tok-a' })));
    expect(ctxs.map((c) => c.projectId)).toEqual(['pa', 'pa', 'pa']);
    expect(ks.validations).toBe(1);
    await auth.authenticate({ 'x-auth-token': 'tok-a' });
    expect(ks.validations).toBe(1);
    // Revoked at Keystone: still trusted from the cache, refused once the cache time is over.
    ks.known.delete('tok-a');
    await new Promise((r) => setTimeout(r, 1100));
    await expect(auth.authenticate({ 'x-auth-token': 'tok-a' })).rejects.toMatchObject({ status: 401, type: 'HTTPUnauthorized' });
    expect(ks.validations).toBe(2);
  });

  it('never trusts a cached token past its own expiry', async () => {
    ks = await new FakeKeystone().start();
    ks.known.set('short', { project: 'pa', roles: ['member'], expiresAt: Date.now() + 400 });
    auth = await KeystoneAuth.start(settings(ks.url, 60));
    await auth.authenticate({ 'x-auth-token': 'short' });
    await new Promise((r) => setTimeout(r, 500));
    await expect(auth.authenticate({ 'x-auth-token': 'short' })).rejects.toMatchObject({ status: 401 });
    expect(ks.validations).toBe(2);
  });

  it('401 for a missing, unknown or unscoped token; 503 when Keystone stops answering', async () => {
    ks = await new FakeKeystone().start();
    ks.known.set('unscoped', { project: null, roles: [] });
    auth = await KeystoneAuth.start(settings(ks.url));
    await expect(auth.authenticate({})).rejects.toMatchObject({ status: 401, message: expect.stringContaining('Authentication required') });
    await expect(auth.authenticate({ 'x-auth-token': 'nope' })).rejects.toMatchObject({ status: 401, message: expect.stringContaining('unknown to Keystone, expired or revoked') });
    await expect(auth.authenticate({ 'x-auth-token': 'unscoped' })).rejects.toMatchObject({ status: 401, message: expect.stringContaining('not scoped to a project') });
    await ks.stop();
    await expect(auth.authenticate({ 'x-auth-token': 'other' })).rejects.toMatchObject({ status: 503, type: 'HTTPServiceUnavailable' });
  });

  it('re-issues its service token before it expires, and at once when Keystone refuses it', async () => {
    ks = await new FakeKeystone().start();
    ks.known.set('t1', { project: 'pa', roles: ['member'] });
    ks.known.set('t2', { project: 'pa', roles: ['member'] });
    ks.serviceLifetimeMs = 2000; // re-issued in its last quarter: after 1.5 s
    auth = await KeystoneAuth.start(settings(ks.url, 0));
    expect(ks.issued).toBe(1);
    await auth.authenticate({ 'x-auth-token': 't1' });
    expect(ks.issued).toBe(1);
    await new Promise((r) => setTimeout(r, 1600));
    await auth.authenticate({ 'x-auth-token': 't1' });
    expect(ks.issued).toBe(2);
    // Keystone forgot our token (restarted with new keys): one 401, a new token, the answer.
    ks.serviceTokens = [];
    await auth.authenticate({ 'x-auth-token': 't2' });
    expect(ks.issued).toBe(3);
    expect(auth.client.catalog).toEqual([{ type: 'compute', interface: 'public', region: 'R', url: 'http://nova:8774/v2.1' }]);
  });

  it('refuses to start, saying why, when the credentials are wrong or Keystone is unreachable', async () => {
    ks = await new FakeKeystone().start();
    const wrong = await KeystoneAuth.start({ ...settings(ks.url), password: 'bad' }).catch((e: unknown) => e);
    expect(isDfError(wrong, 'KEYSTONE_AUTH_FAILED')).toBe(true);
    expect((wrong as Error).message).toMatch(/as 'neutron' in project 'service': the service credentials are wrong/);
    const port = await closedPort();
    const gone = await KeystoneAuth.start(settings(`http://127.0.0.1:${port}/v3`)).catch((e: unknown) => e);
    expect(isDfError(gone, 'KEYSTONE_UNREACHABLE')).toBe(true);
    expect((gone as Error).message).toBe(`Keystone at http://127.0.0.1:${port}/v3 is unreachable while issuing the service token: connect ECONNREFUSED 127.0.0.1:${port}`);
  });
});

describe('policy names and the keystone config', () => {
  it('names a write on a route as Neutron policy does', () => {
    expect(policyAction('POST', '/v2.0/networks')).toBe('create_network');
    expect(policyAction('PUT', '/v2.0/security-groups/:id')).toBe('update_security_group');
    expect(policyAction('DELETE', '/v2.0/floatingips/:id')).toBe('delete_floatingip');
    expect(policyAction('PUT', '/v2.0/routers/:id/add_router_interface')).toBe('add_router_interface');
    expect(policyAction('PUT', '/v2.0/quotas/:project')).toBe('update_quota');
  });

  it('needs keystone settings in keystone mode, exactly one of password and passwordFile, and none in other modes', () => {
    expect(() => parseApiConfig({ auth: { mode: 'keystone' } })).toThrow(/auth.keystone: keystone mode needs/);
    expect(() => parseApiConfig({ auth: { mode: 'keystone', keystone: { url: 'http://k/v3', username: 'n' } } })).toThrow(/give exactly one of password and passwordFile/);
    expect(() => parseApiConfig({ auth: { mode: 'noauth', keystone: { url: 'http://k/v3', username: 'n', password: 'p' } } })).toThrow(/only applies when mode is keystone/);
    const c = parseApiConfig({ auth: { mode: 'keystone', keystone: { url: 'http://k/v3', username: 'n', password: 'p' } } });
    expect(c.auth.keystone).toMatchObject({ cacheSeconds: 30, projectName: 'service', userDomainId: 'default' });
  });
});
