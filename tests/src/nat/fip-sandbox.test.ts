/**
 * Floating IPs for real, in both modes of the dnat app: `dfctl sandbox up --chassis 3
 * --external` (chassis-3 the gateway chassis), with the dnat app in its default,
 * distributed mode (translated on the chassis of the associated port), then again
 * with `--app-options '@dragonflow/app-dnat={mode: centralized}'` (translated on the
 * router's gateway chassis, chassis-3, behind centralized SNAT). The topology is made
 * with the stock openstack CLI as devstack makes it (external network `public`, flat,
 * 172.24.4.0/24, gateway 172.24.4.1, no DHCP; a router with its gateway there and
 * net1 behind it), vm1 on chassis-1 and vm2 on chassis-2. A floating IP on vm1: the
 * outside namespace pings it and fetches a page from a server in vm1; vm1's own
 * connection to the internet host is seen from the floating IP; its flows and its
 * conntrack entry are on the translating chassis only. Moved to vm2 (chassis-2) it
 * answers from there within a second; disassociated it answers no more. TTL-limited
 * datagrams through the floating IP get time-exceeded with the fixed IP quoted
 * (scapy in the VM). Needs root, Open vSwitch, python3 with scapy and the openstack
 * CLI. Never skips.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { netnsArgv, requireBinary, run, waitFor } from '@dragonflow/sandbox';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ok, quiet, requireOpenstackCli } from '../api/openstack.js';
import { dfOk, useDfSandbox } from '../sandbox-cli/df-cli.js';

const TOOLS = new URL('./fip-tools.py', import.meta.url).pathname;
const INTERNET = '198.51.100.10';
/** An address beyond the upstream router that nobody holds: a datagram to it is forwarded (and can expire) there. */
const BEYOND = '198.51.100.20';
const WEB_PORT = 8080;

interface FloatingIpRow {
  id: string;
  floating_ip_address: string;
  status: string;
  port_id: string | null;
  fixed_ip_address: string | null;
}

/** A fip-tools.py server left running in a namespace until the tests end. */
async function serve(netns: string, args: readonly string[], servers: ChildProcess[]): Promise<void> {
  const [bin, argv] = netnsArgv(netns, '/usr/bin/python3', ['-u', TOOLS, ...args]);
  const child = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  servers.push(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(() => out.includes('listening'), { what: `fip-tools ${args.join(' ')} to listen in ${netns} (said: ${out})`, timeoutMs: 10_000 });
}

/** Where each mode translates a floating IP: the chassis of the VM it is associated with, or the router's gateway chassis. */
const MODES = [
  { mode: 'distributed', upArgs: [], translator: (vmChassis: number) => vmChassis },
  { mode: 'centralized', upArgs: ['--app-options', '@dragonflow/app-dnat={mode: centralized}'], translator: (_vmChassis: number) => 3 },
] as const;

/** What `dfctl flows --json` says of a flow (the part used here). */
interface JsonFlow {
  tableName?: string;
  owner: { candidates: { owner: string }[] };
}

describe.each(MODES)('floating IPs in a 3-chassis sandbox with an external network ($mode)', ({ mode, upArgs, translator }) => {
  const s = useDfSandbox(['--chassis', '3', '--external', ...upArgs], {
    prepare: () => {
      requireOpenstackCli();
      for (const b of ['curl', 'ping']) requireBinary(b);
    },
    checkUp: (out) => {
      expect(out).toMatch(/chassis-3 \(gateway\): netns/);
      if (mode === 'centralized') expect(out).toContain('@dragonflow/app-dnat {"mode":"centralized"}');
    },
  });
  const servers: ChildProcess[] = [];
  let fip: FloatingIpRow;
  const ip: Record<'vm1' | 'vm2', string> = { vm1: '', vm2: '' };
  const port: Record<'vm1' | 'vm2', string> = { vm1: '', vm2: '' };

  const outside = (cmd: string, args: readonly string[], timeoutMs = 10_000) => run(cmd, args, { netns: s.sandbox().outside().netns, allowFailure: true, timeoutMs });
  const fetchFip = async (timeout = 2): Promise<string> => (await outside('curl', ['-s', '--max-time', String(timeout), `http://${fip.floating_ip_address}:${WEB_PORT}/`])).stdout.trim();
  /** The chassis whose br-int holds flows of the floating IP (owner `fip:<id>`), by `dfctl flows`. */
  const chassisWithFlows = async (): Promise<number[]> => {
    const found: number[] = [];
    for (const n of [1, 2, 3]) {
      const flows = JSON.parse(await dfOk(['flows', '--chassis', String(n), '--json'], { env: s.env() })) as JsonFlow[];
      if (flows.some((f) => f.tableName?.startsWith('dnat.') && f.owner.candidates.some((c) => c.owner === `fip:${fip.id}`))) found.push(n);
    }
    return found;
  };
  /** Chassis whose conntrack holds the outside's connection to the floating IP's web port, translated to `fixedIp`. */
  const chassisWithDnatEntry = async (fixedIp: string): Promise<number[]> => {
    const entry = new RegExp(`orig=\\(src=172\\.24\\.4\\.1,dst=${fip.floating_ip_address.replace(/\./g, '\\.')},sport=\\d+,dport=${WEB_PORT}\\),reply=\\(src=${fixedIp.replace(/\./g, '\\.')},dst=172\\.24\\.4\\.1,`);
    const found: number[] = [];
    for (const n of [1, 2, 3]) if (entry.test(await s.sandbox().chassis(n).ovs.appctl('dpctl/dump-conntrack'))) found.push(n);
    return found;
  };

  beforeAll(async () => {
    const a = s.auth();
    await ok(a, ['network', 'create', 'public', '--external', '--provider-network-type', 'flat', '--provider-physical-network', 'public']);
    await quiet(a, ['subnet', 'create', '--network', 'public', '--subnet-range', '172.24.4.0/24', '--gateway', '172.24.4.1', '--no-dhcp', 'public-subnet']);
    await ok(a, ['network', 'create', 'net1']);
    await quiet(a, ['subnet', 'create', '--network', 'net1', '--subnet-range', '10.0.1.0/24', 'subnet1']);
    await ok(a, ['router', 'create', 'r1']);
    await quiet(a, ['router', 'add', 'subnet', 'r1', 'subnet1']);
    await quiet(a, ['router', 'set', '--external-gateway', 'public', 'r1']);
    // what the outside does to the VMs: ping and the web server
    await quiet(a, ['security', 'group', 'rule', 'create', '--ingress', '--protocol', 'icmp', 'default']);
    await quiet(a, ['security', 'group', 'rule', 'create', '--ingress', '--protocol', 'tcp', '--dst-port', String(WEB_PORT), 'default']);
    for (const [vm, chassis] of [['vm1', 1], ['vm2', 2]] as const) {
      await s.vmCreate(vm, 'net1', chassis);
      const vmPort = s.vm(vm);
      ip[vm] = vmPort.address;
      port[vm] = vmPort.state.portId;
      await serve(vmPort.netns, ['whoami', '0.0.0.0', String(WEB_PORT), vm], servers);
    }
    await serve(s.sandbox().outside().netns, ['whoami', INTERNET, '80', 'internet'], servers);
    fip = await ok<FloatingIpRow>(a, ['floating', 'ip', 'create', 'public']);
    expect(fip.status).toBe('DOWN');
    await quiet(a, ['floating', 'ip', 'set', '--port', port.vm1, fip.id]);
  }, 240_000);

  afterAll(() => {
    for (const c of servers) c.kill();
  });

  test('the floating IP is ACTIVE on vm1’s fixed IP; the outside pings it and fetches a page from vm1', async () => {
    const shown = await ok<FloatingIpRow>(s.auth(), ['floating', 'ip', 'show', fip.id]);
    expect(shown).toMatchObject({ status: 'ACTIVE', port_id: port.vm1, fixed_ip_address: ip.vm1 });
    const ping = await outside('ping', ['-c', '3', '-i', '0.3', '-W', '2', fip.floating_ip_address]);
    expect(ping.stdout).toMatch(/3 packets transmitted, 3 received/);
    // vm1 sees the outside's own address: the floating IP is translated on the way in only
    expect(await fetchFip()).toBe('vm1 sees 172.24.4.1');
  });

  test(`translated on chassis-${translator(1)} only: the floating IP’s flows and the DNAT conntrack entry are there and nowhere else`, async () => {
    expect(await chassisWithFlows()).toEqual([translator(1)]);
    expect(await fetchFip()).toBe('vm1 sees 172.24.4.1');
    expect(await chassisWithDnatEntry(ip.vm1)).toEqual([translator(1)]);
  });

  test('vm1’s own connection to the internet host leaves from the floating IP', async () => {
    const r = await run('curl', ['-s', '--max-time', '5', `http://${INTERNET}/`], { netns: s.vm('vm1').netns, allowFailure: true });
    expect(r.stdout.trim()).toBe(`internet sees ${fip.floating_ip_address}`);
  });

  test('TTL-limited datagrams: time exceeded quotes vm1’s fixed IP, from the router and from beyond the floating IP', async () => {
    const tool = (hops: number) => run('/usr/bin/python3', [TOOLS, 'ttl', BEYOND, String(hops)], { netns: s.vm('vm1').netns, allowFailure: true, timeoutMs: 15_000 });
    // TTL 1: the router itself answers (its interface on net1)
    expect((await tool(1)).stdout.trim()).toBe(`icmp 11 0 from 10.0.1.1 quoting ${ip.vm1} > ${BEYOND}`);
    // TTL 2: it leaves through the floating IP and expires at the upstream router, whose error comes back un-NATed
    expect((await tool(2)).stdout.trim()).toBe(`icmp 11 0 from 172.24.4.1 quoting ${ip.vm1} > ${BEYOND}`);
  });

  test('moved to vm2 on chassis-2 it answers from there within a second; disassociated it answers no more', async () => {
    const a = s.auth();
    await quiet(a, ['floating', 'ip', 'set', '--port', port.vm2, fip.id]);
    const moved = Date.now();
    await waitFor(async () => (await fetchFip(0.3)) === 'vm2 sees 172.24.4.1', { what: 'the floating IP to reach vm2', timeoutMs: 1_000, intervalMs: 50 });
    const took = Date.now() - moved;
    expect(took).toBeLessThan(1_000);
    const r = await run('curl', ['-s', '--max-time', '5', `http://${INTERNET}/`], { netns: s.vm('vm2').netns, allowFailure: true });
    expect(r.stdout.trim()).toBe(`internet sees ${fip.floating_ip_address}`);
    expect(await chassisWithFlows()).toEqual([translator(2)]);

    await quiet(a, ['floating', 'ip', 'unset', '--port', fip.id]);
    expect((await ok<FloatingIpRow>(a, ['floating', 'ip', 'show', fip.id])).status).toBe('DOWN');
    await waitFor(async () => (await outside('ping', ['-c', '1', '-W', '1', fip.floating_ip_address])).code !== 0, { what: 'the floating IP to stop answering', timeoutMs: 3_000, intervalMs: 100 });
    expect(await fetchFip(1)).toBe('');
  });
});
