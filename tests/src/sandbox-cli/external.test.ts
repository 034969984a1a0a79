/**
 * `dfctl sandbox up --external --gateway-chassis 1`: the flat provider network `public`
 * on every chassis, the outside namespace (upstream router 172.24.4.1, internet host
 * 198.51.100.10), chassis-1 registered as gateway. With the stock openstack CLI the
 * external network is made as devstack makes it; a VM plugged into it on chassis-2
 * reaches the router and, through it, fetches a page from a real HTTP server on the
 * internet host; `dfctl sandbox outside` runs commands out there.
 * Needs root, Open vSwitch, busybox, curl and the openstack CLI.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { netnsArgv, requireBinary, run, waitFor } from '@dragonflow/sandbox';
import { describe, expect, test } from 'vitest';
import { ok, quiet, requireOpenstackCli } from '../api/openstack.js';
import { curlUnix, df, dfOk, readServicesFile, useDfSandbox } from './df-cli.js';

interface Health {
  chassis: { name: string; gateway: boolean };
  infraPorts: { providers: Record<string, number> };
}

describe('dfctl sandbox up --external', () => {
  const s = useDfSandbox(['--chassis', '2', '--external', '--gateway-chassis', '1'], {
    prepare: () => {
      requireOpenstackCli();
      for (const b of ['busybox', 'curl', 'ping']) requireBinary(b);
    },
    checkUp: (out) => {
      expect(out).toMatch(/external network: flat 'public' on every chassis, the outside namespace dfsb\w{4}-outside \(router 172\.24\.4\.1, internet host 198\.51\.100\.10\); gateway chassis 1/);
      expect(out).toMatch(/chassis-1 \(gateway\): netns/);
      expect(out).not.toMatch(/chassis-2 \(gateway\)/);
      expect(out).toContain('pnpm dfctl sandbox outside -- ping -c 3 <a floating IP>');
    },
  });

  test('every controller maps physnet1 and public; only chassis-1 registers as gateway', async () => {
    const services = readServicesFile(s.place().dir);
    for (const c of services.controllers) {
      const h = JSON.parse(await curlUnix(c.management.replace(/^unix:/, ''), '/healthz')) as Health;
      expect(Object.keys(h.infraPorts.providers).sort()).toEqual(['physnet1', 'public']);
      expect(h.chassis.gateway).toBe(c.chassis === 1);
    }
    const status = await dfOk(['status'], { env: s.env() });
    expect(status.match(/role {6}gateway/g)).toHaveLength(1);
  });

  test('a VM on the external network reaches the upstream router and a real web server on the internet host', async () => {
    const a = s.auth();
    await ok(a, ['network', 'create', 'public', '--external', '--provider-network-type', 'flat', '--provider-physical-network', 'public']);
    await quiet(a, ['subnet', 'create', '--network', 'public', '--subnet-range', '172.24.4.0/24', '--gateway', '172.24.4.1', '--no-dhcp', 'public-subnet']);
    // the outside pings the VM below: its default group must let ICMP in from anywhere
    await quiet(a, ['security', 'group', 'rule', 'create', '--ingress', '--protocol', 'icmp', 'default']);
    await s.vmCreate('ext', 'public', 2, '172.24.4.20');

    const www = join(s.place().dir, 'outside-www');
    mkdirSync(www, { recursive: true });
    writeFileSync(join(www, 'index.html'), 'hello from the internet\n');
    const outsideNs = s.sandbox().outside().netns;
    const [bin, argv] = netnsArgv(outsideNs, 'busybox', ['httpd', '-f', '-p', '198.51.100.10:80', '-h', www]);
    const httpd = spawn(bin, argv, { stdio: 'ignore' });
    try {
      await waitFor(async () => (await run('ss', ['-ltn'], { netns: outsideNs })).stdout.includes('198.51.100.10:80'), { what: 'the internet web server to listen', timeoutMs: 10_000 });
      const ping = await df(['sandbox', 'exec', 'ext', '--', 'ping', '-c', '3', '-i', '0.2', '-W', '2', '172.24.4.1'], { env: s.env() });
      expect(ping.stdout).toMatch(/3 packets transmitted, 3 received/);
      const page = await df(['sandbox', 'exec', 'ext', '--', 'curl', '-s', '--max-time', '5', 'http://198.51.100.10/'], { env: s.env() });
      expect(page.stdout).toBe('hello from the internet\n');
      // and from out there, `dfctl sandbox outside` sees the VM on the public segment
      const back = await df(['sandbox', 'outside', '--', 'ping', '-c', '2', '-W', '2', '172.24.4.20'], { env: s.env() });
      expect(back.stdout).toMatch(/2 packets transmitted, 2 received/);
    } finally {
      httpd.kill();
    }
  });

  test('dfctl sandbox outside passes the exit code through, and says what is missing without --external', async () => {
    const r = await df(['sandbox', 'outside', '--', 'false'], { env: s.env() });
    expect(r.code).toBe(1);
    const none = await df(['sandbox', 'outside'], { env: s.env() });
    expect(none.stderr).toMatch(/give the command after --/);
  });
});
