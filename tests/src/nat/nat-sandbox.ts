/**
 * What the NAT e2e tests on the sandbox share: the internet host's web server (which
 * logs each client's address), the external network made as devstack makes it, and
 * a tenant (network, subnet, router with its gateway on `public`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { netnsArgv, run, waitFor } from '@dragonflow/sandbox';
import { ok, quiet, type CliAuth } from '../api/openstack.js';

export const INTERNET_HOST = '198.51.100.10';

/** The HTTP server on the internet host: python's, which logs each request with the client's address. */
export class WebServer {
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

export interface Port {
  ID: string;
  device_owner?: string;
}

/** The external network `public` (flat, physnet public) with subnet 172.24.4.0/24, gateway 172.24.4.1, no DHCP. */
export async function publicNetwork(a: CliAuth): Promise<void> {
  await ok(a, ['network', 'create', 'public', '--external', '--provider-network-type', 'flat', '--provider-physical-network', 'public']);
  await quiet(a, ['subnet', 'create', '--network', 'public', '--subnet-range', '172.24.4.0/24', '--gateway', '172.24.4.1', '--no-dhcp', 'public-subnet']);
}

/** A tenant: network, subnet 10.10.0.0/24, router with the gateway on public; returns the router's id and gateway IP. */
export async function tenant(a: CliAuth, name: string): Promise<{ routerId: string; gatewayIp: string }> {
  await ok(a, ['network', 'create', `${name}-net`]);
  await ok(a, ['subnet', 'create', '--network', `${name}-net`, '--subnet-range', '10.10.0.0/24', `${name}-subnet`]);
  const router = await ok<{ id: string }>(a, ['router', 'create', `${name}-router`]);
  await quiet(a, ['router', 'add', 'subnet', `${name}-router`, `${name}-subnet`]);
  await quiet(a, ['router', 'set', '--external-gateway', 'public', `${name}-router`]);
  const shown = await ok<{ external_gateway_info: { external_fixed_ips: { ip_address: string }[] } }>(a, ['router', 'show', `${name}-router`]);
  return { routerId: router.id, gatewayIp: shown.external_gateway_info.external_fixed_ips[0]!.ip_address };
}
