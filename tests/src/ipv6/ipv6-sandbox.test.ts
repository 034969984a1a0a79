/**
 * IPv6 end to end, as a user drives it: `pnpm dfctl sandbox up --chassis 2`, networks
 * made with the stock openstack CLI, VMs whose own kernels and DHCPv6 client do the
 * configuring:
 *
 * - a SLAAC subnet behind a router: the VM's kernel configures, from the router
 *   advertisement its chassis sends, exactly the EUI-64 address df-api allocated to
 *   its port (`ip -6 addr`, DAD finished) and the router's link-local address as its
 *   default route (`ip -6 route`); it pings the router interface;
 * - a dhcpv6-stateful subnet: `dhclient -6` in the VM (its own script and lease
 *   file) is given exactly the port's fixed IPv6 address;
 * - a dhcpv6-stateless subnet: the kernel configures its EUI-64 address from the RA,
 *   `dhclient -6 -S` is given the subnet's DNS server;
 * - `ping -6` across the router to a VM on another IPv6 network on the other
 *   chassis arrives with hop limit 63; the same dual-stack VMs reach each other
 *   over IPv4 too;
 * - a VM sending a router advertisement (scapy) is dropped by port security: the
 *   other VMs never see it and configure nothing from it.
 *
 * The VMs are dual stack: their IPv4 address is configured statically (the sandbox
 * addresses eth0 from an IPv4 subnet), IPv6 only by RA and DHCPv6.
 *
 * Needs root, Open vSwitch, dhclient and the openstack CLI (./scripts/setup). Never skips.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packet } from '@dragonflow/core';
import { requireBinary, run, waitFor, type Vm } from '@dragonflow/sandbox';
import { beforeAll, describe, expect, test } from 'vitest';
import { ok, quiet, requireOpenstackCli } from '../api/openstack.js';
import { capture, pingStats } from '../sandbox/traffic.js';
import { dfOk, useDfSandbox } from '../sandbox-cli/df-cli.js';

interface Port {
  id: string;
  mac_address: string;
  fixed_ips: { subnet_id: string; ip_address: string }[];
}

/** The VM's global IPv6 addresses on eth0 once DAD is over (no "tentative" flag), with their prefix lengths. */
async function globalAddresses(vm: Vm): Promise<{ settled: string[]; all: string }> {
  const all = (await run('ip', ['-6', '-o', 'addr', 'show', 'dev', 'eth0', 'scope', 'global'], { netns: vm.netns })).stdout;
  const settled = all
    .split('\n')
    .filter((l) => l.includes('inet6') && !l.includes('tentative'))
    .map((l) => /inet6 (\S+)/.exec(l)![1]!);
  return { settled, all };
}

describe('IPv6 (dfctl sandbox, 2 chassis, openstack CLI, the VM kernel and dhclient -6)', () => {
  const s = useDfSandbox(['--chassis', '2'], {
    prepare: () => {
      requireOpenstackCli();
      for (const b of ['dhclient', 'ping', 'tcpdump']) requireBinary(b);
    },
    checkUp: (out) => expect(out).toContain('@dragonflow/app-dhcp'),
  });
  const { auth, env, vm } = s;
  const create = (name: string, network: string, chassis: number) =>
    dfOk(['sandbox', 'vm', 'create', name, '--network', network, '--chassis', String(chassis), '--static'], { env: env(), timeoutMs: 120_000 });
  const port = async (vmName: string): Promise<Port> => ok<Port>(auth(), ['port', 'show', vm(vmName).state.portId]);
  const routerPort = async (router: string, subnet: string): Promise<Port> => {
    const list = await ok<{ ID: string }[]>(auth(), ['port', 'list', '--router', router, '-c', 'ID']);
    const sub = await ok<{ id: string }>(auth(), ['subnet', 'show', subnet]);
    for (const p of list) {
      const shown = await ok<Port>(auth(), ['port', 'show', p.ID]);
      if (shown.fixed_ips.some((f) => f.subnet_id === sub.id)) return shown;
    }
    throw new Error(`router ${router} has no interface on ${subnet}`);
  };

  beforeAll(async () => {
    const a = auth();
    await ok(a, ['router', 'create', 'r6']);
    // SLAAC, dual stack
    await ok(a, ['network', 'create', 'slaacnet']);
    await ok(a, ['subnet', 'create', '--network', 'slaacnet', '--subnet-range', '10.61.1.0/24', 'slaac4']);
    await ok(a, ['subnet', 'create', '--network', 'slaacnet', '--ip-version', '6', '--ipv6-ra-mode', 'slaac', '--ipv6-address-mode', 'slaac', '--subnet-range', 'fd00:61:1::/64', 'slaac6']);
    await quiet(a, ['router', 'add', 'subnet', 'r6', 'slaac6']);
    await quiet(a, ['router', 'add', 'subnet', 'r6', 'slaac4']);
    // A second SLAAC network behind the same router (for a VM on the other chassis)
    await ok(a, ['network', 'create', 'slaacnet2']);
    await ok(a, ['subnet', 'create', '--network', 'slaacnet2', '--subnet-range', '10.61.3.0/24', 'slaac4b']);
    await ok(a, ['subnet', 'create', '--network', 'slaacnet2', '--ip-version', '6', '--ipv6-ra-mode', 'slaac', '--ipv6-address-mode', 'slaac', '--subnet-range', 'fd00:61:3::/64', 'slaac6b']);
    await quiet(a, ['router', 'add', 'subnet', 'r6', 'slaac6b']);
    await quiet(a, ['router', 'add', 'subnet', 'r6', 'slaac4b']);
    // DHCPv6-stateful, dual stack
    await ok(a, ['network', 'create', 'statenet']);
    await ok(a, ['subnet', 'create', '--network', 'statenet', '--subnet-range', '10.61.2.0/24', 'state4']);
    await ok(a, ['subnet', 'create', '--network', 'statenet', '--ip-version', '6', '--ipv6-ra-mode', 'dhcpv6-stateful', '--ipv6-address-mode', 'dhcpv6-stateful', '--subnet-range', 'fd00:61:2::/64', 'state6']);
    await quiet(a, ['router', 'add', 'subnet', 'r6', 'state6']);
    // DHCPv6-stateless, dual stack, with a DNS server for DHCPv6 to hand out
    await ok(a, ['network', 'create', 'lessnet']);
    await ok(a, ['subnet', 'create', '--network', 'lessnet', '--subnet-range', '10.61.4.0/24', 'less4']);
    await ok(a, ['subnet', 'create', '--network', 'lessnet', '--ip-version', '6', '--ipv6-ra-mode', 'dhcpv6-stateless', '--ipv6-address-mode', 'dhcpv6-stateless', '--subnet-range', 'fd00:61:4::/64', '--dns-nameserver', 'fd00:61:4::53', 'less6']);
    await quiet(a, ['router', 'add', 'subnet', 'r6', 'less6']);
  }, 300_000);

  /** Waits until the VM's kernel holds its port's EUI-64 address on `subnet` (DAD over); returns it. */
  const slaacAddress = async (vmName: string, subnet: string): Promise<string> => {
    const p = await port(vmName);
    const sub = await ok<{ id: string }>(auth(), ['subnet', 'show', subnet]);
    const eui64 = p.fixed_ips.find((f) => f.subnet_id === sub.id)!.ip_address;
    let seen = '';
    await waitFor(
      async () => {
        const got = await globalAddresses(vm(vmName));
        seen = got.all;
        return got.settled.includes(`${eui64}/64`);
      },
      { what: `VM ${vmName} to configure ${eui64}/64 by SLAAC (ip -6 addr: ${seen})`, timeoutMs: 40_000, intervalMs: 250 },
    );
    return eui64;
  };

  /**
   * Runs `dhclient -6` (with `extra` flags: -S for stateless) in the VM once, with its
   * own script, lease, pid and config files (never the host's); the script records
   * each event with the address and DNS servers it was given, and configures the
   * address. Returns the events and the client's output; the daemon is stopped after.
   */
  const dhclient6 = async (target: Vm, extra: string[]): Promise<{ events: string; output: string }> => {
    // dhclient -6 waits for a link-local address that finished DAD.
    await waitFor(async () => /inet6 fe80::\S+ scope link\s*$/m.test((await run('ip', ['-6', 'addr', 'show', 'dev', 'eth0'], { netns: target.netns })).stdout), {
      what: `VM ${target.state.name} link-local address`,
      timeoutMs: 20_000,
      intervalMs: 200,
    });
    const dir = mkdtempSync(join(s.place().dir, 'dhclient6-'));
    const script = join(dir, 'dhclient6-script');
    const log = join(dir, 'dhclient6.events');
    writeFileSync(
      script,
      `#!/bin/sh\necho "$reason $new_ip6_address $new_ip6_prefixlen dns=$new_dhcp6_name_servers" >> ${log}\ncase "$reason" in BOUND6|RENEW6|REBIND6|REBOOT6) [ -n "$new_ip6_address" ] && ip -6 addr replace "$new_ip6_address/$new_ip6_prefixlen" dev "$interface" nodad ;; esac\nexit 0\n`,
    );
    chmodSync(script, 0o755);
    const conf = join(dir, 'dhclient6.conf');
    writeFileSync(conf, 'timeout 30;\ninitial-interval 1;\n');
    const files = ['-cf', conf, '-sf', script, '-lf', join(dir, 'dhclient6.leases'), '-pf', join(dir, 'dhclient6.pid')];
    // The client forks a daemon once bound: its output goes to a file, so the daemon holds no pipe of ours open.
    await run('sh', ['-c', `dhclient -6 ${extra.join(' ')} -1 -v ${files.join(' ')} eth0 > ${join(dir, 'dhclient6.out')} 2>&1`], { netns: target.netns, allowFailure: true, timeoutMs: 60_000 });
    const result = { events: existsSync(log) ? readFileSync(log, 'utf8') : '', output: readFileSync(join(dir, 'dhclient6.out'), 'utf8') };
    // Stop the daemon (by its pid file): it must not outlive the sandbox.
    await run('sh', ['-c', `dhclient -6 -x ${files.join(' ')} eth0 > /dev/null 2>&1`], { netns: target.netns, allowFailure: true, timeoutMs: 20_000 });
    return result;
  };

  test('SLAAC: the VM kernel configures the EUI-64 address df-api allocated, and the router as its default route', async () => {
    await create('s1', 'slaacnet', 1);
    const p = await port('s1');
    const sub = await ok<{ id: string }>(auth(), ['subnet', 'show', 'slaac6']);
    const eui64 = p.fixed_ips.find((f) => f.subnet_id === sub.id)?.ip_address;
    // The modified EUI-64 of the port's MAC in the subnet's /64: what the kernel derives too.
    expect(eui64).toBe(packet.ip6(`fd00:61:1:0:${packet.linkLocalAddress(p.mac_address).toString().slice('fe80::'.length)}`).toString());
    const s1 = vm('s1');
    let seen = '';
    await waitFor(
      async () => {
        const got = await globalAddresses(s1);
        seen = got.all;
        return got.settled.includes(`${eui64}/64`);
      },
      { what: `VM s1 to configure ${eui64}/64 by SLAAC (ip -6 addr: ${seen})`, timeoutMs: 40_000, intervalMs: 250 },
    );
    const itf = await routerPort('r6', 'slaac6');
    const routerLinkLocal = packet.linkLocalAddress(itf.mac_address).toString();
    const routes = (await run('ip', ['-6', 'route'], { netns: s1.netns })).stdout;
    expect(routes).toMatch(new RegExp(`^default via ${routerLinkLocal} dev eth0 proto ra`, 'm'));
    expect(routes).toMatch(/^fd00:61:1::\/64 dev eth0 proto (ra|kernel)/m);
    // The router interface answers ND for its link-local address and is reachable by its global one.
    const ping = await run('ping', ['-6', '-n', '-c', '3', '-i', '0.2', '-W', '2', 'fd00:61:1::1'], { netns: s1.netns, allowFailure: true, timeoutMs: 20_000 });
    expect(ping.stdout).toMatch(/3 packets transmitted, 3 received/);
  }, 180_000);

  test('DHCPv6-stateful: dhclient -6 in the VM gets exactly the port fixed IPv6 address', async () => {
    await create('d1', 'statenet', 2);
    const d1 = vm('d1');
    const sub = await ok<{ id: string }>(auth(), ['subnet', 'show', 'state6']);
    // The sandbox named only the IPv4 subnet: give the port its stateful IPv6 address, as an operator would.
    await quiet(auth(), ['port', 'set', '--fixed-ip', `subnet=${sub.id}`, d1.state.portId]);
    const fixed = (await port('d1')).fixed_ips.find((f) => f.subnet_id === sub.id)?.ip_address;
    expect(fixed).toMatch(/^fd00:61:2::/);
    const { events, output } = await dhclient6(d1, []);
    expect(events, output).toMatch(new RegExp(`^BOUND6 ${fixed!} 128 `, 'm'));
    const addr = (await run('ip', ['-6', '-o', 'addr', 'show', 'dev', 'eth0', 'scope', 'global'], { netns: d1.netns })).stdout;
    expect(addr).toContain(`inet6 ${fixed}/128`);
  }, 180_000);
  test('DHCPv6-stateless: the kernel configures its EUI-64 address from the RA (A flag), dhclient -6 -S gets the DNS server', async () => {
    await create('l1', 'lessnet', 1);
    const l1 = vm('l1');
    await slaacAddress('l1', 'less6');
    const { events, output } = await dhclient6(l1, ['-S']);
    expect(events, output).toMatch(/dns=fd00:61:4::53/);
    // Stateless: no address from DHCPv6.
    expect(events).not.toMatch(/^BOUND6 fd00/m);
  }, 180_000);

  test('routed: ping -6 across the router reaches a VM on another IPv6 network on the other chassis with hop limit 63; dual stack over IPv4 too', async () => {
    await create('s2', 'slaacnet2', 2);
    const from = await slaacAddress('s1', 'slaac6');
    const to = await slaacAddress('s2', 'slaac6b');
    const s1 = vm('s1');
    const s2 = vm('s2');
    let replies = '';
    const seen = await capture(s2.netns, 'eth0', `icmp6 and ip6[40] == 128 and src ${from}`, 3, async () => {
      const r = await run('ping', ['-6', '-n', '-c', '3', '-i', '0.2', '-W', '2', to], { netns: s1.netns, allowFailure: true, timeoutMs: 20_000 });
      replies = r.stdout;
    }, 20_000);
    expect(replies).toMatch(/3 packets transmitted, 3 received/);
    // The reply was routed once too.
    expect(replies).toMatch(/ttl=63/);
    // What s2 received: routed once (64 → 63), from the router's MAC on slaacnet2.
    const itf = await routerPort('r6', 'slaac6b');
    expect(seen).toMatch(/hlim 63/);
    expect(seen).toContain(itf.mac_address);
    // The same two VMs over IPv4, through the same router.
    const v4 = await pingStats(s1, s2.state.ip.split('/')[0]!, 3);
    expect(v4.received).toBe(3);
    expect(v4.output).toMatch(/ttl=63/);
  }, 180_000);

  test('a VM sending a router advertisement is dropped by port security: the other VMs never see it', async () => {
    await create('rogue', 'slaacnet', 2);
    const rogue = vm('rogue');
    const s1 = vm('s1');
    await slaacAddress('rogue', 'slaac6');
    const ll = packet.linkLocalAddress(rogue.mac).toString();
    const script = [
      'from scapy.all import Ether, IPv6, ICMPv6ND_RA, ICMPv6NDOptPrefixInfo, ICMPv6NDOptSrcLLAddr, ICMPv6EchoRequest, sendp',
      `ra = Ether(src='${rogue.mac}', dst='33:33:00:00:00:01')/IPv6(src='${ll}', dst='ff02::1', hlim=255)/ICMPv6ND_RA(routerlifetime=1800, prf=1)/ICMPv6NDOptSrcLLAddr(lladdr='${rogue.mac}')/ICMPv6NDOptPrefixInfo(prefix='fd00:bad::', prefixlen=64, L=1, A=1)`,
      "sendp(ra, iface='eth0', count=3, inter=0.2, verbose=False)",
    ].join('\n');
    const rogueRas = () =>
      capture(s1.netns, 'eth0', `icmp6 and ip6[40] == 134 and ether src ${rogue.mac}`, 1, async () => {
        await run('/usr/bin/python3', ['-c', script], { netns: rogue.netns, timeoutMs: 30_000 });
        await new Promise((r) => setTimeout(r, 2000));
      }, 6_000);
    expect((await rogueRas()).trim()).toBe('');
    const addrs = (await run('ip', ['-6', 'addr', 'show', 'dev', 'eth0'], { netns: s1.netns })).stdout;
    expect(addrs).not.toContain('fd00:bad');
    const routes = (await run('ip', ['-6', 'route'], { netns: s1.netns })).stdout;
    expect(routes).not.toContain(ll);
    // The positive control: the rogue's ordinary IPv6 traffic does reach s1.
    const s1Address = await slaacAddress('s1', 'slaac6');
    expect((await run('ping', ['-6', '-n', '-c', '2', '-i', '0.2', '-W', '2', s1Address], { netns: rogue.netns, allowFailure: true, timeoutMs: 20_000 })).stdout).toMatch(/2 received/);
    // And port security is what stopped the RA: with it off on the rogue's port, s1 sees it.
    await quiet(auth(), ['port', 'set', '--no-security-group', '--disable-port-security', rogue.state.portId]);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await rogueRas()).toContain(rogue.mac);
  }, 180_000);
});
