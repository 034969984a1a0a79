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
import { spawn, type ChildProcess } from 'node:child_process';
import { netnsArgv, requireBinary, run, waitFor } from '@dragonflow/sandbox';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ok, quiet, requireOpenstackCli } from '../api/openstack.js';
import { df, useDfSandbox } from '../sandbox-cli/df-cli.js';

const INTERNET_HOST = '198.51.100.10';

/** The HTTP server on the internet host: python's, which logs each request with the client's address. */
class WebServer {
  readonly log: string[] = [];
  private child: ChildProcess | undefined;

  async start(netns: string): Promise<void> {
    const [bin, argv] = netnsArgv(netns, '/usr/bin/python3', ['-u', '-m', 'http.server', '80', '--bind', INTERNET_HOST, '--directory', '/usr/share/doc']);
    const child = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const take = (d: Buffer) => this.log.push(...d.toString().split('\n').filter(Boolean));
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    await waitFor(async () => (await run('ss', ['-ltn'], { netns })).stdout.includes(`${INTERNET_HOST}:80`), { what: 'the internet web server to listen', timeoutMs: 10_000 });
  }

  /** The client addresses of the requests it served. */
  clients(): string[] {
    return this.log.map((l) => /^(\d+\.\d+\.\d+\.\d+) - - .*"GET /.exec(l)?.[1]).filter((a): a is string => a !== undefined);
  }

  stop(): void {
    this.child?.kill();
  }
}

interface Port {
  ID: string;
  device_owner?: string;
}

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
    const a = s.auth();
    await ok(a, ['network', 'create', 'public', '--external', '--provider-network-type', 'flat', '--provider-physical-network', 'public']);
    await quiet(a, ['subnet', 'create', '--network', 'public', '--subnet-range', '172.24.4.0/24', '--gateway', '172.24.4.1', '--no-dhcp', 'public-subnet']);
    await web.start(s.sandbox().outside().netns);
  }, 120_000);
  afterAll(() => web.stop());

  /** A tenant: network, subnet 10.10.0.0/24, router with the gateway on public; returns the router's gateway IP. */
  async function tenant(name: string): Promise<{ routerId: string; gatewayIp: string }> {
    const a = s.auth();
    await ok(a, ['network', 'create', `${name}-net`]);
    await ok(a, ['subnet', 'create', '--network', `${name}-net`, '--subnet-range', '10.10.0.0/24', `${name}-subnet`]);
    const router = await ok<{ id: string }>(a, ['router', 'create', `${name}-router`]);
    await quiet(a, ['router', 'add', 'subnet', `${name}-router`, `${name}-subnet`]);
    await quiet(a, ['router', 'set', '--external-gateway', 'public', `${name}-router`]);
    const shown = await ok<{ external_gateway_info: { external_fixed_ips: { ip_address: string }[] } }>(a, ['router', 'show', `${name}-router`]);
    return { routerId: router.id, gatewayIp: shown.external_gateway_info.external_fixed_ips[0]!.ip_address };
  }

  const inVm = (vm: string, cmd: string[]) => df(['sandbox', 'exec', vm, '--', ...cmd], { env: s.env(), timeoutMs: 60_000 });

  test('a VM on chassis-1 pings the internet and fetches a page; the server sees the router’s gateway IP; the gateway is on chassis-3', async () => {
    const a = s.auth();
    const t = await tenant('alpha');
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
    const beta = await tenant('beta');
    const gamma = await tenant('gamma');
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
