/**
 * L2 end to end, as a user drives it: `pnpm dfctl sandbox up --chassis 2 --tunnel
 * vxlan,geneve,gre` (OVS per chassis in its namespace with a tunnel port of each
 * type, df-controller with the default apps, df-api), the topology made with the
 * stock openstack CLI, VMs as namespaces, real packets. One sandbox for all of it.
 *
 * - For each of VXLAN, Geneve and GRE (a network of that provider:network_type,
 *   all three with the same segment and CIDR): VMs on the same and on different
 *   chassis ping each other, and the underlay carries the network's segmentation
 *   id in that encapsulation. The same segment on two tunnel types is two
 *   networks: nothing crosses (tcpdump, with a positive control).
 * - Networks of the default type (VXLAN): two networks with the same CIDR stay isolated (a ping
 *   across fails, tcpdump on the other network sees nothing, while each network
 *   works); an ARP request for a known IP is answered without reaching any VM;
 *   iperf3 TCP across chassis; a VLAN provider network between the two chassis
 *   through the physical bridge (tagged on the wire); a chassis whose controller
 *   died leaves the replication lists once its liveness lease expires; unplugging a
 *   VM and deleting a port remove their flows on both chassis.
 *
 * Needs root, Open vSwitch, tcpdump, iperf3, busybox and the openstack CLI
 * (./scripts/setup). Never skips.
 */
import { requireBinary, run, waitFor, type Sandbox } from '@dragonflow/sandbox';
import { describe, expect, test } from 'vitest';
import { ok, requireOpenstackCli } from '../api/openstack.js';
import { capture, iperfTcp, pingStats } from '../sandbox/traffic.js';
import { curlUnix, dfOk, readServicesFile, useDfSandbox } from '../sandbox-cli/df-cli.js';

type TunnelType = 'vxlan' | 'geneve' | 'gre';

/** How tcpdump shows each encapsulation, given the network's segmentation id. */
const ENCAP: Record<TunnelType, { filter: string; shows: (segment: number) => RegExp }> = {
  vxlan: { filter: 'udp port 4789', shows: (s) => new RegExp(`VXLAN.*vni ${s}\\b`) },
  geneve: { filter: 'udp port 6081', shows: (s) => new RegExp(`Geneve.*vni 0x${s.toString(16)}\\b`) },
  gre: { filter: 'proto gre', shows: (s) => new RegExp(`GREv0.*key=0x${s.toString(16)}\\b`) },
};

const TUNNELS: readonly TunnelType[] = ['vxlan', 'geneve', 'gre'];
/** The segment the three tunnel networks share (each type has its own pool). */
const SEGMENT = 4242;

/** The flows on a chassis' br-int that mention `needle` (a MAC), as ovs-ofctl prints them. */
async function flowsMentioning(sb: Sandbox, chassis: number, needle: string): Promise<string[]> {
  const text = await sb.chassis(chassis).ofctl('--no-stats', 'dump-flows', sb.chassis(chassis).state.integrationBridge);
  return text.split('\n').filter((l) => l.includes(needle));
}

const until = (what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<boolean> => waitFor(check, { what, timeoutMs, intervalMs: 200 });

describe('L2 over VXLAN, Geneve and GRE (one dfctl sandbox, 2 chassis, openstack CLI)', () => {
  const s = useDfSandbox(['--chassis', '2', '--tunnel', TUNNELS.join(',')], {
    prepare: () => {
      requireOpenstackCli();
      for (const b of ['tcpdump', 'iperf3', 'busybox', 'ovs-ofctl']) requireBinary(b);
    },
    checkUp: (out) => expect(out).toContain(`${TUNNELS.join(' + ')} tunnels`),
  });

  test('every chassis has a tunnel port of each type, and its controller uses them', async () => {
    const sb = s.sandbox();
    for (const c of [1, 2]) {
      const ofports: Record<string, number> = {};
      for (const t of TUNNELS) ofports[t] = await sb.chassis(c).ofport(`tun-${t}`);
      const health = JSON.parse(await curlUnix(readServicesFile(s.place().dir).controllers[c - 1]!.management.replace(/^unix:/, ''), '/healthz')) as { chassis: { tunnelTypes: string[] }; infraPorts: { tunnels: Record<string, number> } };
      expect(health.chassis.tunnelTypes).toEqual([...TUNNELS]);
      expect(health.infraPorts.tunnels).toEqual(ofports);
    }
  }, 60_000);

  for (const tunnel of TUNNELS) {
    const t = tunnel.slice(0, 2);
    test(`${tunnel}: VMs on the same and on different chassis ping each other; the underlay carries ${tunnel} with the network's segment`, async () => {
      const auth = s.auth();
      const net = await ok<{ 'provider:segmentation_id': number; 'provider:network_type': string }>(auth, ['network', 'create', '--provider-network-type', tunnel, '--provider-segment', String(SEGMENT), `net-${tunnel}`]);
      expect([net['provider:network_type'], net['provider:segmentation_id']]).toEqual([tunnel, SEGMENT]);
      await ok(auth, ['subnet', 'create', '--network', `net-${tunnel}`, '--subnet-range', '10.20.0.0/24', `subnet-${tunnel}`]);
      await s.vmCreate(`${t}a1`, `net-${tunnel}`, 1, '10.20.0.11');
      await s.vmCreate(`${t}a2`, `net-${tunnel}`, 1, '10.20.0.12');
      await s.vmCreate(`${t}b1`, `net-${tunnel}`, 2, '10.20.0.21');
      const a1 = s.vm(`${t}a1`);
      expect((await pingStats(a1, '10.20.0.12', 3)).received).toBe(3);
      // the first packet to a new tunnel peer may be spent on vswitchd's underlay ARP
      await pingStats(a1, '10.20.0.21', 1);
      const sb = s.sandbox();
      const seen = await capture(`${sb.tag}-fabric`, 'c1-ul', ENCAP[tunnel].filter, 2, () => pingStats(a1, '10.20.0.21', 3));
      expect(seen).toMatch(ENCAP[tunnel].shows(SEGMENT));
      expect(seen).toMatch(/10\.20\.0\.11 > 10\.20\.0\.21: ICMP echo request/);
      expect((await pingStats(s.vm(`${t}b1`), '10.20.0.12', 3)).received).toBe(3);
    }, 240_000);
  }

  test('the same segment and CIDR on two tunnel types are two networks: nothing crosses', async () => {
    // .22 exists only on the Geneve network (on chassis-2)
    await s.vmCreate('geb2', 'net-geneve', 2, '10.20.0.22');
    const geb2 = s.vm('geb2');
    // at once: the VXLAN and GRE networks' VMs ping .22 (their ARP floods their own network), and a VXLAN VM broadcasts
    const results: number[] = [];
    const [atGeb2, atGeb1] = await Promise.all([
      capture(geb2.netns, 'eth0', 'arp or icmp', 1, async () => results.push(...(await Promise.all(['vxa1', 'gra1'].map(async (from) => (await pingStats(s.vm(from), '10.20.0.22', 3)).received)))), 4000),
      capture(s.vm('geb1').netns, 'eth0', 'icmp', 1, () => run('ping', ['-b', '-c', '2', '-i', '0.2', '-W', '1', '10.20.0.255'], { netns: s.vm('vxa1').netns, allowFailure: true }), 4000),
    ]);
    expect(results).toEqual([0, 0]);
    expect(atGeb2.trim()).toBe('');
    expect(atGeb1.trim()).toBe('');
    // positive control: the Geneve network's own VM reaches it, and the capture sees that
    const control = await capture(geb2.netns, 'eth0', 'icmp', 1, () => pingStats(s.vm('gea1'), '10.20.0.22', 2), 6000);
    expect(control).toMatch(/10\.20\.0\.11 > 10\.20\.0\.22: ICMP echo request/);
    expect((await pingStats(s.vm('gea1'), '10.20.0.22', 2)).received).toBe(2);
  }, 120_000);

  test('two networks with the same CIDR stay isolated: a ping across fails and the other network sees nothing', async () => {
    const auth = s.auth();
    for (const n of ['red', 'blue']) {
      await ok(auth, ['network', 'create', n]);
      await ok(auth, ['subnet', 'create', '--network', n, '--subnet-range', '10.60.0.0/24', `${n}-subnet`]);
    }
    await s.vmCreate('red1', 'red', 1, '10.60.0.10');
    await s.vmCreate('red2', 'red', 2, '10.60.0.11');
    // blue reuses red1's address, and holds the only .12
    await s.vmCreate('blue1', 'blue', 1, '10.60.0.10');
    await s.vmCreate('blue2', 'blue', 2, '10.60.0.12');
    // each network works
    await pingStats(s.vm('red1'), '10.60.0.11', 1);
    expect((await pingStats(s.vm('red1'), '10.60.0.11', 3)).received).toBe(3);
    expect((await pingStats(s.vm('blue1'), '10.60.0.12', 3)).received).toBe(3);
    // red1 → .12 (only on blue): no answer, and blue2 sees neither the ARP nor the ping
    const blue2 = s.vm('blue2');
    let result = { received: -1 };
    const seen = await capture(blue2.netns, 'eth0', 'arp or icmp', 1, async () => (result = await pingStats(s.vm('red1'), '10.60.0.12', 3)), 6000);
    expect(result.received).toBe(0);
    expect(seen.trim()).toBe('');
    // positive control: the same capture on blue2 does see blue1's traffic
    const control = await capture(blue2.netns, 'eth0', 'icmp', 1, () => pingStats(s.vm('blue1'), '10.60.0.12', 2), 6000);
    expect(control).toMatch(/10\.60\.0\.10 > 10\.60\.0\.12: ICMP echo request/);
  }, 240_000);

  test('an ARP request for a known IP is answered by the switch and reaches no VM', async () => {
    const red1 = s.vm('red1');
    const red2 = s.vm('red2');
    const blue1 = s.vm('blue1');
    let reply = '';
    const arp = async (target: string) => (reply = (await run('busybox', ['arping', '-c', '2', '-w', '3', '-I', 'eth0', target], { netns: red1.netns, allowFailure: true, timeoutMs: 10_000 })).stdout);
    // red2 (the owner, on the other chassis) and blue1 (same chassis as the asker) see nothing
    const atOwner = await capture(red2.netns, 'eth0', 'arp', 1, () => arp('10.60.0.11'), 6000);
    expect(reply).toMatch(new RegExp(`Unicast reply from 10\\.60\\.0\\.11 \\[${red2.mac.toUpperCase()}\\]|Unicast reply from 10\\.60\\.0\\.11 \\[${red2.mac}\\]`, 'i'));
    expect(reply).toMatch(/Received 2 response/);
    expect(atOwner.trim()).toBe('');
    const elsewhere = await capture(blue1.netns, 'eth0', 'arp', 1, () => arp('10.60.0.11'), 6000);
    expect(elsewhere.trim()).toBe('');
    // positive control: a request for an unknown IP is flooded, and red2 does see it
    const unknown = await capture(red2.netns, 'eth0', 'arp', 1, () => arp('10.60.0.99'), 6000);
    expect(unknown).toMatch(/Request who-has 10\.60\.0\.99 .*tell 10\.60\.0\.10/);
    expect(reply).toMatch(/Received 0 response/);
  }, 120_000);

  test('iperf3 TCP across chassis (checksums right end to end)', async () => {
    const r = await iperfTcp(s.vm('red2'), s.vm('red1'), 2);
    expect(r.bytesReceived).toBeGreaterThan(1_000_000);
  }, 120_000);

  test('a VLAN provider network between the two chassis through the physical bridge, tagged on the wire', async () => {
    const auth = s.auth();
    const net = await ok<{ 'provider:network_type': string; 'provider:segmentation_id': number }>(auth, [
      'network',
      'create',
      '--provider-network-type',
      'vlan',
      '--provider-physical-network',
      'physnet1',
      '--provider-segment',
      '321',
      'prov',
    ]);
    expect([net['provider:network_type'], net['provider:segmentation_id']]).toEqual(['vlan', 321]);
    await ok(auth, ['subnet', 'create', '--network', 'prov', '--subnet-range', '172.20.0.0/24', 'prov-subnet']);
    await s.vmCreate('p1', 'prov', 1, '172.20.0.11');
    await s.vmCreate('p2', 'prov', 2, '172.20.0.12');
    const sb = s.sandbox();
    const wire = await capture(`${sb.tag}-fabric`, 'c1-px', 'vlan 321', 2, () => pingStats(s.vm('p1'), '172.20.0.12', 3));
    expect(wire).toMatch(/ethertype 802\.1Q \(0x8100\), length \d+: vlan 321/);
    expect((await pingStats(s.vm('p1'), '172.20.0.12', 3)).received).toBe(3);
    expect((await pingStats(s.vm('p2'), '172.20.0.11', 3)).received).toBe(3);
    // and nothing of it goes through the tunnels (other networks' VMs may be talking there)
    const tunnels = await capture(`${sb.tag}-fabric`, 'c1-ul', `${TUNNELS.map((x) => ENCAP[x].filter).join(' or ')}`, 50, () => pingStats(s.vm('p1'), '172.20.0.12', 3), 4000);
    expect(tunnels).not.toContain('172.20.0.');
  }, 240_000);

  test('a chassis whose controller died leaves the replication lists when its liveness expires, and comes back', async () => {
    const sb = s.sandbox();
    const peer = sb.chassis(2).state.tunnelIp.split('/')[0]!;
    // chassis 1's flood flows (they resubmit to the chunk table) with a tunnel copy to chassis 2
    const floodCopies = async (): Promise<number> => (await flowsMentioning(sb, 1, `${peer}->tun_dst`)).filter((l) => l.includes('resubmit')).length;
    expect(await floodCopies()).toBeGreaterThan(0);
    await dfOk(['sandbox', 'controller', 'stop', '2', '--kill'], { env: s.env() });
    // the lease (10 s) runs out; unicast to its ports stays, replication to it goes
    await until('chassis-2 out of chassis-1 replication', async () => (await floodCopies()) === 0, 30_000);
    expect((await flowsMentioning(sb, 1, `${peer}->tun_dst`)).length).toBeGreaterThan(0);
    expect((await pingStats(s.vm('blue1'), '10.60.0.12', 2)).received).toBe(2);
    await dfOk(['sandbox', 'controller', 'start', '2'], { env: s.env(), timeoutMs: 120_000 });
    await until('chassis-2 back in chassis-1 replication', async () => (await floodCopies()) > 0, 30_000);
  }, 120_000);

  test('deleting a port removes its flows on both chassis; so does unplugging a VM', async () => {
    const sb = s.sandbox();
    await s.vmCreate('red3', 'red', 1, '10.60.0.13');
    const red3 = s.vm('red3').mac;
    const red2 = s.vm('red2').mac;
    // red3's MAC is known on its chassis (local) and on chassis 2 (remote: red2 is there)
    await until('red3 flows on both chassis', async () => (await flowsMentioning(sb, 1, red3)).length > 0 && (await flowsMentioning(sb, 2, red3)).length > 0);
    expect(await dfOk(['sandbox', 'vm', 'delete', 'red3'], { env: s.env() })).toMatch(/deleted/);
    await until('red3 flows gone on both chassis', async () => (await flowsMentioning(sb, 1, red3)).length === 0 && (await flowsMentioning(sb, 2, red3)).length === 0);
    // unplug only (the VM goes, its port stays): chassis 2 unbinds it, both chassis drop its flows
    expect((await flowsMentioning(sb, 1, red2)).length).toBeGreaterThan(0);
    expect((await flowsMentioning(sb, 2, red2)).length).toBeGreaterThan(0);
    await sb.deleteVm('red2');
    await until('red2 flows gone on both chassis', async () => (await flowsMentioning(sb, 1, red2)).length === 0 && (await flowsMentioning(sb, 2, red2)).length === 0);
    const port = await ok<{ status: string; binding_host_id: string }>(s.auth(), ['port', 'show', 'red2']);
    expect(port.status).toBe('DOWN');
    // the rest is untouched
    expect((await pingStats(s.vm('blue1'), '10.60.0.12', 2)).received).toBe(2);
  }, 120_000);
});
