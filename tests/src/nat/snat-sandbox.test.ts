/**
 * Source NAT end to end, as a user drives it: `dfctl sandbox up --chassis 3
 * --external` (chassis-3 the gateway chassis) with the default apps (snat among
 * them), the topology made with the stock openstack CLI as devstack makes it:
 *
 * - a router with `--external-gateway public` gets its gateway placed on chassis-3
 *   (the gateway port's binding:host_id);
 * - a VM on chassis-1 behind it pings the internet host 198.51.100.10 and fetches a
 *   page from a real HTTP server there (python3 -m http.server in the outside
 *   namespace), which sees the router's gateway IP as the client;
 * - two tenants with the same CIDR and the same VM address behind two routers reach
 *   the outside at once, each seen from its own router's gateway IP.
 *
 * Needs root, Open vSwitch, python3, curl and the openstack CLI. Never skips.
 */
import { requireBinary, waitFor } from '@dragonflow/sandbox';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ok, requireOpenstackCli } from '../api/openstack.js';
import { df, useDfSandbox } from '../sandbox-cli/df-cli.js';
import { INTERNET_HOST, WebServer, publicNetwork, tenant, type Port } from './nat-sandbox.js';

describe('snat on the sandbox (centralized, gateway chassis-3)', () => {
  const s = useDfSandbox(['--chassis', '3', '--external'], {
    prepare: () => {
      requireOpenstackCli();
      for (const b of ['curl', 'ping', 'python3']) requireBinary(b);
    },
    checkUp: (out) => {
      expect(out).toMatch(/chassis-3 \(gateway\): netns/);
      expect(out).toContain('@dragonflow/app-snat');
    },
  });
  const web = new WebServer();

  beforeAll(async () => {
    await publicNetwork(s.auth());
    await web.start(s.sandbox().outside().netns);
  }, 120_000);
  afterAll(() => web.stop());

  const inVm = (vm: string, cmd: string[]) => df(['sandbox', 'exec', vm, '--', ...cmd], { env: s.env(), timeoutMs: 60_000 });

  test('a VM on chassis-1 pings the internet and fetches a page; the server sees the router’s gateway IP; the gateway is on chassis-3', async () => {
    const a = s.auth();
    const t = await tenant(a, 'alpha');
    const ports = await ok<Port[]>(a, ['port', 'list', '--device-owner', 'network:router_gateway', '--router', t.routerId]);
    expect(ports).toHaveLength(1);
    const gwPort = await ok<{ binding_host_id: string }>(a, ['port', 'show', ports[0]!.ID]);
    expect(gwPort.binding_host_id).toBe('chassis-3');

    await s.vmCreate('va', 'alpha-net', 1, '10.10.0.5');
    const ping = await inVm('va', ['ping', '-c', '3', '-i', '0.3', '-W', '3', INTERNET_HOST]);
    // the first packet may wait for the gateway chassis' ARP for the upstream router
    expect(ping.stdout).toMatch(/3 packets transmitted, [23] received/);
    const again = await inVm('va', ['ping', '-c', '3', '-i', '0.3', '-W', '3', INTERNET_HOST]);
    expect(again.stdout).toMatch(/3 packets transmitted, 3 received/);

    const before = web.clients().length;
    const page = await inVm('va', ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', `http://${INTERNET_HOST}/`]);
    expect(page.stdout).toBe('200');
    await waitFor(() => web.clients().length > before, { what: 'the web server to log the request', timeoutMs: 5_000 });
    expect(web.clients().slice(before)).toEqual([t.gatewayIp]);
  });

  test('two tenants with the same CIDR and VM address behind two routers reach the outside at once, each from its own gateway IP', async () => {
    const beta = await tenant(s.auth(), 'beta');
    const gamma = await tenant(s.auth(), 'gamma');
    expect(beta.gatewayIp).not.toBe(gamma.gatewayIp);
    await s.vmCreate('vb', 'beta-net', 2, '10.10.0.7');
    await s.vmCreate('vg', 'gamma-net', 1, '10.10.0.7');
    const before = web.clients().length;
    const fetch = (vm: string) => inVm(vm, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--retry', '2', '--max-time', '10', `http://${INTERNET_HOST}/`]);
    const [b, g] = await Promise.all([fetch('vb'), fetch('vg')]);
    expect([b.stdout, g.stdout]).toEqual(['200', '200']);
    await waitFor(() => web.clients().length >= before + 2, { what: 'the web server to log both requests', timeoutMs: 5_000 });
    expect(new Set(web.clients().slice(before))).toEqual(new Set([beta.gatewayIp, gamma.gatewayIp]));
  });
});
