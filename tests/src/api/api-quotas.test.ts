import { type ApiServerHandle, startApiServer } from '@dragonflow/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliAuth, fails, ok, quiet, requireOpenstackCli } from './openstack.js';

type Row = Record<string, unknown>;

/**
 * Quotas with the stock openstack CLI (Debian's 6.0.0). Its network quota commands
 * are `quota set --networks N PROJECT` and `quota list --network [--detail --project
 * P]`; both resolve PROJECT through the identity service, which df-api answers when
 * there is no Keystone. (`quota show` of this CLI also asks compute and volume, so it
 * needs a Keystone catalog that lists only the network service.)
 */
describe('quotas with the openstack CLI', () => {
  let api: ApiServerHandle;
  let admin: CliAuth;
  let demo: CliAuth;
  let noauth: CliAuth;

  beforeAll(async () => {
    requireOpenstackCli();
    api = await startApiServer({
      config: {
        listen: { port: 0 },
        logLevel: 'warn',
        auth: {
          mode: 'token',
          tokens: [
            { token: 'admin-secret-1', project: 'admin', roles: ['admin'] },
            { token: 'demo-secret-12', project: 'demo', roles: ['member'] },
          ],
        },
      },
    });
    admin = { endpoint: api.url, token: 'admin-secret-1' };
    demo = { endpoint: api.url, token: 'demo-secret-12' };
    noauth = { endpoint: api.url };
  });
  afterAll(async () => {
    await api?.close();
  });

  // Eleven CLI runs one after another: generous, a loaded CI machine takes seconds per run.
  it('an admin sets a project’s quotas, the project sees them and is held to them', { timeout: 240_000 }, async () => {
    await quiet(admin, ['quota', 'set', '--networks', '2', '--ports', '7', '--routers', '1', 'demo']);
    const listed = await ok<Row[]>(admin, ['quota', 'list', '--network']);
    expect(listed).toEqual([{ 'Project ID': 'demo', 'Floating IPs': 50, Networks: 2, Ports: 7, 'RBAC Policies': 10, Routers: 1, 'Security Groups': 10, 'Security Group Rules': 100, Subnets: 100, 'Subnet Pools': -1 }]);

    await ok(demo, ['network', 'create', 'q1']);
    await ok(demo, ['network', 'create', 'q2']);
    expect(await fails(demo, ['network', 'create', 'q3'])).toContain("Quota exceeded for resources: ['network']");
    const detail = await ok<Row[]>(demo, ['quota', 'list', '--network', '--detail', '--project', 'demo']);
    expect(detail.find((r) => r['Resource'] === 'networks')).toEqual({ Resource: 'networks', 'In Use': 2, Reserved: 0, Limit: 2 });
    expect(detail.find((r) => r['Resource'] === 'routers')).toEqual({ Resource: 'routers', 'In Use': 0, Reserved: 0, Limit: 1 });

    // Only an admin sets quotas; a token is needed to ask at all.
    expect(await fails(demo, ['quota', 'set', '--networks', '20', 'demo'])).toContain('Only admin can view or configure quota');
    expect(await fails(noauth, ['quota', 'list', '--network'])).toContain('401');

    // --check-limit refuses a limit under what is used.
    expect(await fails(admin, ['quota', 'set', '--check-limit', '--networks', '1', 'demo'])).toContain('must be greater than or equal to already used and reserved 2');
    await quiet(admin, ['quota', 'set', '--networks', '3', 'demo']);
    await ok(demo, ['network', 'create', 'q3']);
  });
});
