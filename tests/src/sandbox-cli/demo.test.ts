/**
 * The README demo (`./scripts/demo` → `pnpm dfctl demo`): a two-chassis sandbox running
 * the default apps (l2, portsec, sg, dhcp, l3-proactive, dnat), two networks and a router
 * made with the openstack CLI, VMs on both chassis ACTIVE, a ping within a network
 * across the chassis (L2) and one through the distributed router across the chassis
 * (L3) that both succeed, the receiver's view of a routed packet (the router's MAC,
 * TTL 63), a security group that closes one of two web ports on vm3, a floating IP on vm1 that the
 * outside namespace pings, how to explore, and a teardown that leaves nothing behind. Needs root, Open
 * vSwitch, tcpdump and the openstack CLI; never skips.
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { requireBinary } from '@dragonflow/sandbox';
import { expect, test } from 'vitest';
import { requireOpenstackCli } from '../api/openstack.js';
import { df, ensureBuilt, leftovers, machineSnapshot, sandboxPlace } from './df-cli.js';

/** The text between two markers of the demo's output. */
function section(text: string, from: string, to: string): string {
  const a = text.indexOf(from);
  const b = text.indexOf(to, a + 1);
  expect(a).toBeGreaterThanOrEqual(0);
  expect(b).toBeGreaterThan(a);
  return text.slice(a, b);
}

test('dfctl demo: up, openstack CLI networks and router, VMs ACTIVE on two chassis, L2 and routed pings across, a security group enforced, a floating IP reached from outside, explore hints, down', async () => {
  requireOpenstackCli();
  requireBinary('tcpdump');
  ensureBuilt();
  const place = await sandboxPlace();
  const before = await machineSnapshot();
  try {
    const r = await df(['demo', '--dir', place.dir, '--api-port', String(place.apiPort)]);
    const out = r.stdout;
    expect(r.stderr).toBe('');
    expect(out).toMatch(/▶ 1\. Bring up a sandbox/);
    expect(out).toMatch(/apps: @dragonflow\/app-l2, @dragonflow\/app-portsec, @dragonflow\/app-sg, @dragonflow\/app-dhcp, @dragonflow\/app-l3-proactive, @dragonflow\/app-dnat/);
    expect(out).toMatch(/all 2 controllers connected to their switches, in sync and registered alive/);
    for (const cmd of [
      'network create demo-net1',
      'subnet create --network demo-net1 --subnet-range 10.0.1.0/24 demo-subnet1',
      'network create demo-net2',
      'subnet create --network demo-net2 --subnet-range 10.0.2.0/24 demo-subnet2',
      'router create demo-router',
      'router add subnet demo-router demo-subnet1',
      'router add subnet demo-router demo-subnet2',
    ]) {
      expect(out).toContain(`$ openstack --os-auth-type none --os-endpoint ${place.url} ${cmd}`);
    }
    const vm = (name: string, chassis: number, net: number) => new RegExp(`${name} on chassis-${chassis}: MAC (\\S+), IP (10\\.0\\.${net}\\.\\d+), port \\S+ ACTIVE`);
    expect(out).toMatch(vm('vm1', 1, 1));
    expect(out).toMatch(vm('vm2', 2, 1));
    // The VMs booted by DHCP from their own chassis' controller: dhclient in vm1 and vm2, udhcpc in vm3.
    for (const [name, client, net] of [
      ['vm1', 'dhclient', 1],
      ['vm2', 'dhclient', 1],
      ['vm3', 'udhcpc', 2],
    ] as const) {
      const ip = vm(name, name === 'vm1' ? 1 : 2, net).exec(out)![2]!;
      expect(out).toContain(`--dhcp-client ${client}`);
      expect(out).toContain(`${client} was given ${ip}/255.255.255.0, routes 0.0.0.0/0 10.0.${net}.1, MTU 1450`);
    }
    const [, vm3Mac, vm3Ip] = vm('vm3', 2, 2).exec(out)!;
    const [, , vm2Ip] = vm('vm2', 2, 1).exec(out)!;

    // L2: same network, across the chassis — every echo answered, unrouted (ttl 64)
    const l2 = section(out, '▶ 4.', '▶ 5.');
    expect(l2).toContain(`ping -c 3 ${vm2Ip}`);
    expect(l2).toMatch(/3 packets transmitted, 3 received, 0% packet loss/);
    expect(l2).toMatch(new RegExp(`from ${vm2Ip!.replace(/\./g, '\\.')}: icmp_seq=\\d+ ttl=64`));
    expect(l2).toContain('✔ vm1 reaches vm2 across the chassis');

    // L3: across the router and the chassis — every echo answered, the reply routed once (ttl 63)
    const l3 = section(out, '▶ 5.', '▶ 6.');
    expect(l3).toContain(`ping -c 3 ${vm3Ip}`);
    expect(l3).toMatch(/3 packets transmitted, 3 received, 0% packet loss/);
    expect(l3).toMatch(new RegExp(`from ${vm3Ip!.replace(/\./g, '\\.')}: icmp_seq=\\d+ ttl=63`));
    expect(l3).not.toMatch(/ttl=(?!63\b)\d+/);
    expect(l3).toContain('✔ vm1 reaches vm3 through the distributed router, across the chassis');
    // what vm3 saw: the router's MAC on demo-net2 as source, its own as destination, TTL 63
    const seen = /vm3 received \(tcpdump -e\): (\S+) > (\S+), ttl (\d+)/.exec(l3);
    expect(seen).not.toBeNull();
    expect(seen![2]).toBe(vm3Mac);
    expect(seen![3]).toBe('63');
    expect(l3).toContain(`source MAC = demo-router's interface on demo-net2, destination MAC = vm3, TTL 64 − 1`);

    // Security groups: vm3 reachable on both ports through the default group, then only on :8000
    const sg = section(out, '▶ 6.', '▶ 7.');
    const get = (port: number, answer: string) => new RegExp(`curl --max-time 3 http://${vm3Ip!.replace(/\./g, '\\.')}:${port}/ +→ ${answer}`);
    const [beforeGroup, afterGroup] = sg.split(/a group that lets in only tcp 8000 replaces vm3's groups/);
    expect(beforeGroup).toMatch(get(8000, 'hello from vm3'));
    expect(beforeGroup).toMatch(get(8001, 'hello from vm3'));
    for (const cmd of ['security group create demo-web', 'security group rule create --ingress --protocol tcp --dst-port 8000 demo-web', 'port set --no-security-group --security-group demo-web']) {
      expect(afterGroup).toContain(`$ openstack --os-auth-type none --os-endpoint ${place.url} ${cmd}`);
    }
    expect(afterGroup).toMatch(get(8000, 'hello from vm3'));
    expect(afterGroup).toMatch(get(8001, 'no answer'));
    expect(afterGroup).toContain('no answer (ICMP is not in demo-web)');
    expect(sg).toContain('✔ vm1 reaches vm3:8000 and no longer :8001 nor ping: demo-web is enforced');

    // Floating IP: the external network as devstack makes it, the router's gateway on it, a floating IP on vm1 the outside pings
    const fip = section(out, '▶ 7.', '▶ 8.');
    for (const cmd of [
      'network create public --external --provider-network-type flat --provider-physical-network public',
      'subnet create --network public --subnet-range 172.24.4.0/24 --gateway 172.24.4.1 --no-dhcp public-subnet',
      'router set --external-gateway public demo-router',
      'security group rule create --ingress --protocol icmp default',
      'floating ip create public',
    ]) {
      expect(fip).toContain(`$ openstack --os-auth-type none --os-endpoint ${place.url} ${cmd}`);
    }
    const address = /the floating IP (172\.24\.4\.\d+)/.exec(fip)![1]!;
    expect(fip).toContain(`pnpm dfctl sandbox outside --dir ${place.dir} -- ping -c 3 ${address}`);
    expect(fip).toMatch(/3 packets transmitted, 3 received, 0% packet loss/);
    expect(fip).toContain(`✔ the outside reaches vm1 at its floating IP ${address}`);

    expect(out).toMatch(/pnpm dfctl status --sandbox /);
    expect(out).toMatch(/pnpm dfctl flows --sandbox \S+ --chassis 1/);
    expect(out).toMatch(/pnpm dfctl trace --sandbox \S+ --chassis 1 'in_port=\d+,icmp,/);
    expect(out).toMatch(/▶ 9\. Tear down/);
    expect(r.code).toBe(0);
    const tag = /Starting sandbox (dfsb\w{4})/.exec(out)![1]!;
    const pids = [...out.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
    expect(await leftovers(tag, place.dir, pids, before, true)).toEqual([]);
  } finally {
    await df(['sandbox', 'down', '--dir', place.dir]);
    rmSync(dirname(place.dir), { recursive: true, force: true });
  }
}, 180_000);
