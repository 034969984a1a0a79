import { type ApiServerHandle, startApiServer } from '@dragonflow/api';
import { randomUUID } from 'node:crypto';
import { isDfError } from '@dragonflow/base';
import { freePort } from '@dragonflow/sandbox';
import { RecordingNova } from '@dragonflow/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeystoneServer, type KeystoneUser } from './keystone-server.js';

/** Tokens live this long in this Keystone: the expired-token test waits for one to lapse (a CLI call uses its token within a second or two of getting it, and df-api renews its own service token meanwhile). */
const TOKEN_SECONDS = 20;
/** df-api trusts a validated token this long: the revocation test waits for it. */
const CACHE_SECONDS = 4;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('df-api behind a real Keystone, driven by the stock openstack CLI with password authentication', () => {
  let ks: KeystoneServer;
  let api: ApiServerHandle;

  const keystoneConfig = (over: Record<string, unknown> = {}) => ({
    url: ks.url,
    username: ks.service.name,
    password: ks.service.password,
    projectName: ks.service.project,
    cacheSeconds: CACHE_SECONDS,
    ...over,
  });

  async function ok<T = Record<string, unknown>>(user: KeystoneUser, args: readonly string[]): Promise<T> {
    const r = await ks.cli(user, [...args, '-f', 'json']);
    if (r.code !== 0) throw new Error(`openstack ${args.join(' ')} as ${user.name} failed (exit ${r.code}): ${r.stderr.trim()}`);
    return JSON.parse(r.stdout) as T;
  }
  async function fails(user: KeystoneUser, args: readonly string[]): Promise<string> {
    const r = await ks.cli(user, args);
    if (r.code === 0) throw new Error(`openstack ${args.join(' ')} as ${user.name} succeeded but should have failed: ${r.stdout.trim()}`);
    return r.stderr;
  }
  const names = (rows: { Name: string }[]): string[] => rows.map((r) => r.Name).sort();
  /** Named ports only: the subnet's DHCP port (unnamed, network:dhcp) is listed too. */
  const portNames = (rows: { Name: string }[]): string[] => names(rows).filter((n) => n !== '');
  const withToken = (token: string | undefined) => fetch(`${api.url}/v2.0/networks`, { headers: token === undefined ? {} : { 'x-auth-token': token } });

  beforeAll(async () => {
    ks = await KeystoneServer.start({ tokenExpirationSeconds: TOKEN_SECONDS });
    api = await startApiServer({ config: { listen: { port: 0 }, auth: { mode: 'keystone', keystone: keystoneConfig() } }, logger: false });
    await ks.registerNetworkEndpoint(api.url);
  }, 300_000);
  afterAll(async () => {
    await api?.close();
    await ks?.stop();
  });

  it('refuses to start when Keystone is unreachable or the service credentials are wrong, saying which', async () => {
    const wrong = await startApiServer({ config: { listen: { port: 0 }, auth: { mode: 'keystone', keystone: keystoneConfig({ password: 'not-the-password' }) } }, logger: false }).then(
      () => 'started',
      (e: unknown) => e,
    );
    expect(isDfError(wrong, 'KEYSTONE_AUTH_FAILED')).toBe(true);
    expect((wrong as Error).message).toContain('the service credentials are wrong');
    const closed = await freePort();
    const gone = await startApiServer({ config: { listen: { port: 0 }, auth: { mode: 'keystone', keystone: keystoneConfig({ url: `http://127.0.0.1:${closed}/v3` }) } }, logger: false }).then(
      () => 'started',
      (e: unknown) => e,
    );
    expect(isDfError(gone, 'KEYSTONE_UNREACHABLE')).toBe(true);
    expect((gone as Error).message).toContain(`http://127.0.0.1:${closed}/v3 is unreachable while issuing the service token: connect ECONNREFUSED`);
  });

  it('each user sees only its own project; the admin sees all; a reader reads its project and cannot write', async () => {
    const a = await ok(ks.memberA, ['network', 'create', 'net-a']);
    const b = await ok(ks.memberB, ['network', 'create', 'net-b']);
    expect(a['project_id']).toBe(ks.projectIds.get('project-a'));
    expect(b['project_id']).toBe(ks.projectIds.get('project-b'));
    await ok(ks.memberA, ['subnet', 'create', '--network', 'net-a', '--subnet-range', '10.1.0.0/24', 'sub-a']);
    await ok(ks.memberA, ['port', 'create', '--network', 'net-a', 'port-a']);

    expect(names(await ok(ks.memberA, ['network', 'list']))).toEqual(['net-a']);
    expect(names(await ok(ks.memberB, ['network', 'list']))).toEqual(['net-b']);
    expect(names(await ok(ks.admin, ['network', 'list']))).toEqual(['net-a', 'net-b']);
    expect(await ok(ks.memberB, ['port', 'list'])).toEqual([]);
    expect(await fails(ks.memberB, ['network', 'show', a['id'] as string])).toMatch(/No Network found|could not be found/i);
    expect(await fails(ks.memberB, ['network', 'delete', a['id'] as string])).toMatch(/Failed to delete network/);

    expect(names(await ok(ks.readerA, ['network', 'list']))).toEqual(['net-a']);
    expect(portNames(await ok(ks.readerA, ['port', 'list']))).toEqual(['port-a']);
    expect(await fails(ks.readerA, ['network', 'create', 'net-r'])).toMatch(/create_network\) is disallowed by policy/);
    expect(await fails(ks.readerA, ['network', 'set', '--name', 'renamed', 'net-a'])).toMatch(/update_network\) is disallowed by policy/);
    expect(await fails(ks.readerA, ['port', 'delete', 'port-a'])).toMatch(/Failed to delete port/);
    expect(portNames(await ok(ks.memberA, ['port', 'list']))).toEqual(['port-a']);

    // The admin writes anywhere: a network for project-b.
    await ok(ks.admin, ['network', 'create', '--project', ks.projectIds.get('project-b')!, 'net-b2']);
    expect(names(await ok(ks.memberB, ['network', 'list']))).toEqual(['net-b', 'net-b2']);
  }, 300_000);

  it('answers 401 with Neutron\'s body to a missing or unknown token, and 403 with the policy error to a reader\'s write', async () => {
    for (const token of [undefined, 'gAAAAAB-not-a-keystone-token']) {
      const r = await withToken(token);
      expect(r.status).toBe(401);
      expect(((await r.json()) as { NeutronError: { type: string } }).NeutronError.type).toBe('HTTPUnauthorized');
    }
    const reader = await ks.issueToken(ks.readerA);
    const r = await fetch(`${api.url}/v2.0/networks`, { method: 'POST', headers: { 'x-auth-token': reader, 'content-type': 'application/json' }, body: JSON.stringify({ network: { name: 'x' } }) });
    expect(r.status).toBe(403);
    expect(await r.json()).toMatchObject({ NeutronError: { type: 'PolicyNotAuthorized', message: '(rule:create_network) is disallowed by policy' } });
  }, 120_000);

  it("notifies the compute endpoint of Keystone's catalog, with the service token", async () => {
    const nova = await new RecordingNova().start();
    let notifying: ApiServerHandle | undefined;
    try {
      await ks.registerService('compute', 'nova', nova.url);
      notifying = await startApiServer({ config: { listen: { port: 0 }, auth: { mode: 'keystone', keystone: keystoneConfig() }, nova: { batchIntervalMs: 100 } }, logger: false });
      const server = randomUUID();
      const net = await notifying.nb.create('logical_switch', { name: 'nova-net', projectId: 'p' });
      const port = await notifying.nb.create('logical_port', { networkId: net.id, projectId: 'p', macAddress: 'fa:16:3e:00:00:01', deviceOwner: 'compute:nova', deviceId: server });
      await notifying.nb.modify('logical_port', port.id, (p) => ({ ...p, status: 'ACTIVE' }));
      const deadline = Date.now() + 15_000;
      while (nova.requests.length === 0 && Date.now() < deadline) await sleep(100);
      expect(nova.events).toEqual([{ name: 'network-vif-plugged', server_uuid: server, tag: port.id, status: 'completed' }]);
      expect(nova.problems).toEqual([]);
      // The token Nova got is the service's, valid at Keystone.
      const token = String(nova.requests[0]!.headers['x-auth-token']);
      const check = await fetch(`${ks.url}/auth/tokens`, { headers: { 'x-auth-token': token, 'x-subject-token': token } });
      expect(check.status).toBe(200);
      expect(((await check.json()) as { token: { user: { name: string } } }).token.user.name).toBe(ks.service.name);
    } finally {
      await notifying?.close();
      await nova.stop();
    }
  }, 120_000);

  it(`a revoked token gets 401 once df-api's cache time (${CACHE_SECONDS} s) has passed; an expired one at once`, async () => {
    const expiring = await ks.issueToken(ks.memberB);
    const expiringSince = Date.now();
    const token = await ks.issueToken(ks.memberA);
    expect((await withToken(token)).status).toBe(200);
    const revoked = await ks.cli(ks.memberA, ['token', 'revoke', token]);
    expect(revoked.code, revoked.stderr).toBe(0);
    await sleep(CACHE_SECONDS * 1000 + 500);
    const r = await withToken(token);
    expect(r.status).toBe(401);
    expect(await r.json()).toMatchObject({ NeutronError: { type: 'HTTPUnauthorized' } });

    expect((await withToken(expiring)).status).toBe(200);
    await sleep(Math.max(0, TOKEN_SECONDS * 1000 - (Date.now() - expiringSince)) + 1500);
    const e = await withToken(expiring);
    expect(e.status).toBe(401);
    expect(await e.json()).toMatchObject({ NeutronError: { type: 'HTTPUnauthorized' } });
    // df-api's own service token expired meanwhile too: it was re-issued, valid tokens still pass.
    expect((await withToken(await ks.issueToken(ks.memberA))).status).toBe(200);
  }, 180_000);
});
