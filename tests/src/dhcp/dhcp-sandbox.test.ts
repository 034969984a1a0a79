/**
 * DHCP end to end, as a user drives it: `pnpm dfctl sandbox up --chassis 2` (l2, dhcp and
 * the proactive router by default), networks made with the stock openstack CLI
 * (`--dns-nameserver`, `--host-route`, `--mtu`), VMs booting with real DHCP clients:
 *
 * - dhclient on chassis-1 and busybox udhcpc on chassis-2 get exactly their port's
 *   address, the default route and the host route (option 121), the DNS server (the
 *   VM's own resolv.conf) and the network's MTU — read back from the VM's kernel;
 * - they ping each other and, through the router, a VM on another network;
 * - a third VM on the same network sees none of their DHCP packets (tcpdump), and
 *   does see a client's broadcast when the subnet's DHCP is off (the positive control);
 * - `openstack subnet set --no-dhcp`: a fresh client gets no lease; `--dhcp`: it does;
 * - renewals are answered (udhcpc's RENEW, dhclient's INIT-REBOOT);
 * - a controller restart between DISCOVER and REQUEST does not lose the lease;
 * - a port's extra_dhcp_opts set with `openstack port set --extra-dhcp-option` are offered.
 *
 * Needs root, Open vSwitch, dhclient, busybox, tcpdump, scapy and the openstack CLI
 * (./scripts/setup). Never skips.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireBinary, run, type Vm } from '@dragonflow/sandbox';
import { beforeAll, describe, expect, test } from 'vitest';
import { ok, quiet, requireOpenstackCli } from '../api/openstack.js';
import { capture, pingStats } from '../sandbox/traffic.js';
import { dfOk, useDfSandbox } from '../sandbox-cli/df-cli.js';

const EXCHANGE = new URL('./dhcp-exchange.py', import.meta.url).pathname;

/** What the VM's kernel holds: IPv4 address with prefix, routes, MTU. */
async function kernelView(vm: Vm): Promise<{ addr: string; routes: string; mtu: number }> {
  const addr = (await run('ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0'], { netns: vm.netns })).stdout;
  const routes = (await run('ip', ['-4', 'route'], { netns: vm.netns })).stdout;
  const link = (await run('ip', ['-o', 'link', 'show', 'dev', 'eth0'], { netns: vm.netns })).stdout;
  return { addr: /inet (\S+)/.exec(addr)?.[1] ?? '', routes, mtu: Number(/mtu (\d+)/.exec(link)?.[1]) };
}

describe('DHCP (dfctl sandbox, 2 chassis, openstack CLI, dhclient and udhcpc)', () => {
  const s = useDfSandbox(['--chassis', '2'], {
    prepare: () => {
      requireOpenstackCli();
      for (const b of ['dhclient', 'busybox', 'tcpdump', 'ping']) requireBinary(b);
    },
    checkUp: (out) => expect(out).toContain('@dragonflow/app-dhcp'),
  });
  const { auth, env, vm } = s;
  const create = (name: string, network: string, chassis: number, extra: string[]) =>
    dfOk(['sandbox', 'vm', 'create', name, '--network', network, '--chassis', String(chassis), ...extra], { env: env(), timeoutMs: 120_000 });

  beforeAll(async () => {
    const a = auth();
    await ok(a, ['network', 'create', '--mtu', '1400', 'dnet1']);
    await ok(a, ['subnet', 'create', '--network', 'dnet1', '--subnet-range', '10.41.1.0/24', '--dns-nameserver', '10.41.1.53', '--host-route', 'destination=192.168.50.0/24,gateway=10.41.1.9', 'dsub1']);
    await ok(a, ['network', 'create', 'dnet2']);
    await ok(a, ['subnet', 'create', '--network', 'dnet2', '--subnet-range', '10.41.2.0/24', 'dsub2']);
    await ok(a, ['router', 'create', 'dr']);
    await quiet(a, ['router', 'add', 'subnet', 'dr', 'dsub1']);
    await quiet(a, ['router', 'add', 'subnet', 'dr', 'dsub2']);
    // The watcher is configured statically: it only listens — with port security off, so no
    // security group hides from it what the switch sends its way.
    await create('watch', 'dnet1', 1, ['--static', '--ip', '10.41.1.99']);
    await quiet(a, ['port', 'set', '--no-security-group', '--disable-port-security', vm('watch').state.portId]);
  }, 300_000);

  test('dhclient (chassis-1) and udhcpc (chassis-2) get exactly their NB configuration, and nothing of it reaches a third VM', async () => {
    const seen = await capture(vm('watch').netns, 'eth0', 'udp port 67 or udp port 68', 1, async () => {
      await create('c1', 'dnet1', 1, ['--dhcp-client', 'dhclient', '--ip', '10.41.1.11']);
      await create('c2', 'dnet1', 2, ['--dhcp-client', 'udhcpc', '--ip', '10.41.1.22']);
    }, 30_000);
    expect(seen.trim()).toBe('');
    for (const [name, ip] of [
      ['c1', '10.41.1.11'],
      ['c2', '10.41.1.22'],
    ] as const) {
      const k = await kernelView(vm(name));
      expect(k.addr).toBe(`${ip}/24`);
      expect(k.mtu).toBe(1400);
      expect(k.routes).toMatch(/^default via 10\.41\.1\.1 dev eth0/m);
      expect(k.routes).toMatch(/^192\.168\.50\.0\/24 via 10\.41\.1\.9 dev eth0/m);
      const resolv = readFileSync(join(s.place().dir, 'vms', name, 'resolv.conf'), 'utf8');
      expect(resolv).toContain('nameserver 10.41.1.53');
    }
    // The host's resolv.conf was never the clients' to write.
    expect(readFileSync('/etc/resolv.conf', 'utf8')).not.toContain('10.41.1.53');
  }, 240_000);

  test('the DHCP-configured VMs ping each other across the chassis and, through the router, a VM on another network', async () => {
    await create('c3', 'dnet2', 2, ['--dhcp-client', 'udhcpc', '--ip', '10.41.2.33']);
    expect((await pingStats(vm('c1'), '10.41.1.22', 3)).received).toBe(3);
    const routed = await pingStats(vm('c1'), '10.41.2.33', 3);
    expect(routed.received).toBe(3);
    expect(routed.output).toMatch(/ttl=63/);
    // The DHCP server address answers ping too.
    const server = (await ok<{ 'Fixed IP Addresses': unknown }[]>(auth(), ['port', 'list', '--device-owner', 'network:dhcp', '--network', 'dnet1', '-c', 'Fixed IP Addresses']))[0]!;
    const serverIp = /10\.41\.1\.\d+/.exec(JSON.stringify(server['Fixed IP Addresses']))![0];
    expect((await pingStats(vm('c2'), serverIp, 2)).received).toBe(2);
  }, 180_000);

  test('renewals are answered: udhcpc renews, dhclient reboots on its lease', async () => {
    const c2 = vm('c2');
    const renewed = await c2.renewDhcp();
    expect(renewed.ip).toBe('10.41.1.22');
    expect(c2.dhcpEvents().at(-1)).toMatch(/ renew 10\.41\.1\.22$/);
    const c1 = vm('c1');
    const rebooted = await c1.renewDhcp();
    expect(rebooted.ip).toBe('10.41.1.11');
    expect(c1.dhcpEvents().at(-1)).toMatch(/ (REBOOT|BOUND) 10\.41\.1\.11$/);
  }, 120_000);

  test('subnet set --no-dhcp: a fresh client gets no lease and its broadcast is switched as any; --dhcp: it gets one again', async () => {
    await create('f1', 'dnet1', 1, ['--dhcp-client', 'udhcpc', '--ip', '10.41.1.44']);
    const f1 = vm('f1');
    await f1.stopDhcp();
    await run('ip', ['-4', 'addr', 'flush', 'dev', 'eth0'], { netns: f1.netns });
    await quiet(auth(), ['subnet', 'set', '--no-dhcp', 'dsub1']);
    let failed: unknown;
    const seen = await capture(vm('watch').netns, 'eth0', 'udp port 67 or udp port 68', 1, async () => {
      failed = await f1.startDhcp().then(
        () => undefined,
        (e: unknown) => e,
      );
    }, 40_000);
    expect(String(failed)).toMatch(/got no lease/);
    // Without the server's punt the DISCOVER is an ordinary broadcast: the watcher sees it (the control for the test above).
    expect(seen).toMatch(/BOOTP\/DHCP, Request/);
    await quiet(auth(), ['subnet', 'set', '--dhcp', 'dsub1']);
    const lease = await f1.startDhcp();
    expect(lease.ip).toBe('10.41.1.44');
    expect((await kernelView(f1)).addr).toBe('10.41.1.44/24');
  }, 180_000);

  test('a controller restart between DISCOVER and REQUEST does not lose the lease; extra_dhcp_opts set with the CLI are offered', async () => {
    const c1 = vm('c1');
    await quiet(auth(), ['port', 'set', '--extra-dhcp-option', 'name=ntp-server,value=10.41.1.123,ip-version=4', c1.state.portId]);
    const shown = await ok<{ extra_dhcp_opts: unknown }>(auth(), ['port', 'show', c1.state.portId]);
    expect(JSON.stringify(shown.extra_dhcp_opts)).toContain('10.41.1.123');
    const py = (step: string[]) => run('/usr/bin/python3', [EXCHANGE, 'eth0', c1.mac, '4242', ...step], { netns: c1.netns, timeoutMs: 30_000 });
    const offer = JSON.parse((await py(['discover'])).stdout) as { type: string; yiaddr: string; server: string; ntp: string };
    expect(offer).toMatchObject({ type: 'OFFER', yiaddr: '10.41.1.11', ntp: '10.41.1.123' });
    await dfOk(['sandbox', 'controller', 'restart', '1'], { env: env(), timeoutMs: 120_000 });
    const ack = JSON.parse((await py(['request', offer.yiaddr, offer.server])).stdout) as { type: string; yiaddr: string };
    expect(ack).toMatchObject({ type: 'ACK', yiaddr: '10.41.1.11' });
  }, 180_000);
});
