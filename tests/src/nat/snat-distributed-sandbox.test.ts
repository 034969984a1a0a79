/**
 * Distributed source NAT end to end: `dfctl sandbox up --chassis 3 --external
 * --app-options` giving snat `mode: distributed` with a pool in every controller's
 * config (172.24.4.200/29: chassis-N takes the pool's Nth host address, by rank of
 * name). A VM on
 * chassis-1 pings the internet host and fetches a page, and the server sees
 * chassis-1's address (not the router's gateway IP, not the gateway chassis'); a
 * second tenant with the same CIDR on chassis-2 is seen from chassis-2's address and
 * a third on chassis-1 shares chassis-1's, all at once.
 *
 * Needs root, Open vSwitch, python3, curl and the openstack CLI. Never skips.
 */
import { requireBinary, waitFor } from '@dragonflow/sandbox';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { requireOpenstackCli } from '../api/openstack.js';
import { df, useDfSandbox } from '../sandbox-cli/df-cli.js';
import { INTERNET_HOST, WebServer, publicNetwork, tenant } from './nat-sandbox.js';

const POOL = '172.24.4.200/29';
const chassisAddress = (n: number): string => `172.24.4.${200 + n}`;

describe('snat on the sandbox, distributed', () => {
  // the deployer's choice, in every controller's config: snat distributed with a pool
  const s = useDfSandbox(['--chassis', '3', '--external', '--app-options', `@dragonflow/app-snat={mode: distributed, pool: "${POOL}"}`], {
    prepare: () => {
      requireOpenstackCli();
      for (const b of ['curl', 'ping', 'python3']) requireBinary(b);
    },
  });
  const web = new WebServer();

  beforeAll(async () => {
    await publicNetwork(s.auth());
    await web.start(s.sandbox().outside().netns);
  }, 300_000);
  afterAll(() => web.stop());

  const inVm = (vm: string, cmd: string[]) => df(['sandbox', 'exec', vm, '--', ...cmd], { env: s.env(), timeoutMs: 60_000 });
  const fetchFrom = (vm: string) => inVm(vm, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--retry', '2', '--max-time', '10', `http://${INTERNET_HOST}/`]);

  test('a VM on chassis-1 pings the internet and fetches a page; the server sees chassis-1’s own address', async () => {
    const t = await tenant(s.auth(), 'alpha');
    await s.vmCreate('va', 'alpha-net', 1, '10.10.0.5');
    const ping = await inVm('va', ['ping', '-c', '3', '-i', '0.3', '-W', '3', INTERNET_HOST]);
    expect(ping.stdout).toMatch(/3 packets transmitted, [23] received/);
    const again = await inVm('va', ['ping', '-c', '3', '-i', '0.3', '-W', '3', INTERNET_HOST]);
    expect(again.stdout).toMatch(/3 packets transmitted, 3 received/);
    const before = web.clients().length;
    expect((await fetchFrom('va')).stdout).toBe('200');
    await waitFor(() => web.clients().length > before, { what: 'the web server to log the request', timeoutMs: 5_000 });
    expect(web.clients().slice(before)).toEqual([chassisAddress(1)]);
    expect(t.gatewayIp).not.toBe(chassisAddress(1));
  });

  test('tenants with the same CIDR and VM address: on chassis-2 from chassis-2’s address, and a second router on chassis-1 sharing its address — all at once', async () => {
    await tenant(s.auth(), 'beta');
    await tenant(s.auth(), 'gamma');
    await s.vmCreate('vb', 'beta-net', 2, '10.10.0.5');
    await s.vmCreate('vg', 'gamma-net', 1, '10.10.0.5');
    const before = web.clients().length;
    const [a, b, g] = await Promise.all([fetchFrom('va'), fetchFrom('vb'), fetchFrom('vg')]);
    expect([a.stdout, b.stdout, g.stdout]).toEqual(['200', '200', '200']);
    await waitFor(() => web.clients().length >= before + 3, { what: 'the web server to log the three requests', timeoutMs: 5_000 });
    expect(web.clients().slice(before).sort()).toEqual([chassisAddress(1), chassisAddress(1), chassisAddress(2)]);
    // both routers on chassis-1 ping through the shared address (each in its own zone)
    const [pa, pg] = await Promise.all([inVm('va', ['ping', '-c', '3', '-i', '0.3', '-W', '3', INTERNET_HOST]), inVm('vg', ['ping', '-c', '3', '-i', '0.3', '-W', '3', INTERNET_HOST])]);
    expect([pa.stdout, pg.stdout].map((o) => /(\d) received/.exec(o)?.[1])).toEqual(['3', '3']);
  });
});
