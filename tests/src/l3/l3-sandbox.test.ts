/**
 * L3 end to end, as a user drives it, in both modes: `pnpm dfctl sandbox up --chassis 2
 * --apps @dragonflow/app-l2,@dragonflow/app-l3-<mode>` (OVS per chassis in its
 * namespace, df-controller, df-api), two networks with a subnet each behind one
 * router made with the stock openstack CLI, VMs as namespaces on both chassis, real
 * packets:
 *
 * - VMs on the same chassis and on different chassis ping across the router;
 * - a network whose only VM is on the other chassis (no VM of it on the source
 *   chassis) is reached across the router both ways (routing on the source chassis
 *   needs l2's egress for networks a local router routes to);
 * - a network attached to no router stays unreachable (nothing reaches its VM,
 *   with a positive control) while it works on its own;
 * - the receiver sees TTL decremented by exactly one and the router port's MAC as
 *   source (tcpdump -e in the receiving VM);
 * - both router interfaces answer ping;
 * - removing a router interface cuts routing to its subnet, adding it back restores it;
 * - deleting the router cuts routed traffic;
 * - reactive: each controller counts exactly one packet-in per new flow starting on
 *   its chassis (`df_app_packet_ins_total{app="l3-reactive"}` in its /metrics).
 *
 * Needs root, Open vSwitch, tcpdump and the openstack CLI (./scripts/setup). Never skips.
 */
import { spawnSync } from 'node:child_process';
import { requireBinary, waitFor } from '@dragonflow/sandbox';
import { beforeAll, describe, expect, test } from 'vitest';
import { ok, quiet, requireOpenstackCli } from '../api/openstack.js';
import { capture, pingStats } from '../sandbox/traffic.js';
import { ROOT, curlUnix, dfOk, ensureBuilt, readServicesFile, useDfSandbox } from '../sandbox-cli/df-cli.js';

/** l3-reactive is not a dependency of the CLI: build both L3 apps too when not run under turbo (which builds the tests' dependencies). */
function ensureL3Built(): void {
  ensureBuilt();
  if (process.env['TURBO_HASH']) return;
  const r = spawnSync('pnpm', ['exec', 'turbo', 'run', 'build', '--filter=@dragonflow/app-l3-proactive...', '--filter=@dragonflow/app-l3-reactive...', '--output-logs=errors-only'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
    timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`building the L3 apps failed:\n${r.stdout}\n${r.stderr}`);
}

const until = (what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<boolean> => waitFor(check, { what, timeoutMs, intervalMs: 250 });

for (const mode of ['reactive', 'proactive'] as const) {
  describe(`L3 ${mode} (dfctl sandbox, 2 chassis, openstack CLI)`, () => {
    const app = `l3-${mode}`;
    const s = useDfSandbox(['--chassis', '2', '--apps', `@dragonflow/app-l2,@dragonflow/app-${app}`], {
      prepare: () => {
        requireOpenstackCli();
        for (const b of ['tcpdump', 'ovs-ofctl', 'ping']) requireBinary(b);
        ensureL3Built();
      },
      checkUp: (out) => expect(out).toContain(`apps: @dragonflow/app-l2, @dragonflow/app-${app}`),
    });
    const { auth, env, vm, vmCreate } = s;
    const routerMac: Record<string, string> = {};

    /** Packet-ins the L3 app of each chassis handled so far, from its controller's /metrics. */
    async function packetIns(): Promise<number[]> {
      const out: number[] = [];
      for (const c of readServicesFile(s.place().dir).controllers) {
        const text = await curlUnix(c.management.replace(/^unix:/, ''), '/metrics');
        const m = new RegExp(`^df_app_packet_ins_total\\{app="${app}"\\} (\\d+)$`, 'm').exec(text);
        out.push(m ? Number(m[1]) : 0);
      }
      return out;
    }

    async function interfaceMacs(): Promise<void> {
      for (const net of ['l3net1', 'l3net2']) {
        const ports = await ok<{ 'MAC Address': string }[]>(auth(), ['port', 'list', '--device-owner', 'network:router_interface', '--network', net]);
        expect(ports).toHaveLength(1);
        routerMac[net] = ports[0]!['MAC Address'];
      }
    }

    beforeAll(async () => {
      const a = auth();
      for (const [n, cidr] of [
        ['1', '10.31.1.0/24'],
        ['2', '10.31.2.0/24'],
      ] as const) {
        await ok(a, ['network', 'create', `l3net${n}`]);
        await ok(a, ['subnet', 'create', '--network', `l3net${n}`, '--subnet-range', cidr, `l3sub${n}`]);
      }
      // net3 exists only on chassis-2 (behind the router); net4 is on no router.
      for (const [n, cidr] of [
        ['3', '10.31.3.0/24'],
        ['4', '10.31.4.0/24'],
      ] as const) {
        await ok(a, ['network', 'create', `l3net${n}`]);
        await ok(a, ['subnet', 'create', '--network', `l3net${n}`, '--subnet-range', cidr, `l3sub${n}`]);
      }
      await ok(a, ['router', 'create', 'l3r']);
      await quiet(a, ['router', 'add', 'subnet', 'l3r', 'l3sub1']);
      await quiet(a, ['router', 'add', 'subnet', 'l3r', 'l3sub2']);
      await quiet(a, ['router', 'add', 'subnet', 'l3r', 'l3sub3']);
      await interfaceMacs();
      // Both networks on both chassis: a1 (net1) and a2 (net2) on chassis-1, b1 (net2) and b2 (net1) on chassis-2.
      await vmCreate('a1', 'l3net1', 1, '10.31.1.11');
      await vmCreate('a2', 'l3net2', 1, '10.31.2.12');
      await vmCreate('b1', 'l3net2', 2, '10.31.2.21');
      await vmCreate('b2', 'l3net1', 2, '10.31.1.22');
      await vmCreate('d3', 'l3net3', 2, '10.31.3.33');
      await vmCreate('d4', 'l3net4', 2, '10.31.4.44');
      await vmCreate('d5', 'l3net4', 2, '10.31.4.45');
      // The first packets to a new tunnel peer may be spent on vswitchd's underlay ARP: warm it up on net1 (switched, not routed).
      await pingStats(vm('a1'), '10.31.1.22', 2);
      await pingStats(vm('b2'), '10.31.1.11', 2);
    }, 600_000);

    if (mode === 'reactive') {
      // First, before any routed packet: every flow below is new.
      test('each controller sees exactly one packet-in per new flow starting on its chassis, and none for later packets', async () => {
        const before = await packetIns();
        // a1 → b1: the request's flow (net1 → 10.31.2.21) starts on chassis-1, the reply's (net2 → 10.31.1.11) on chassis-2
        expect((await pingStats(vm('a1'), '10.31.2.21', 5)).received).toBe(5);
        let now = await packetIns();
        expect([now[0]! - before[0]!, now[1]! - before[1]!]).toEqual([1, 1]);
        expect((await pingStats(vm('a1'), '10.31.2.21', 5)).received).toBe(5);
        now = await packetIns();
        expect([now[0]! - before[0]!, now[1]! - before[1]!]).toEqual([1, 1]);
        // a1 → a2, both on chassis-1: two new flows there, none on chassis-2
        expect((await pingStats(vm('a1'), '10.31.2.12', 3)).received).toBe(3);
        now = await packetIns();
        expect([now[0]! - before[0]!, now[1]! - before[1]!]).toEqual([3, 1]);
      }, 120_000);
    }

    test('VMs on the same chassis and on different chassis ping across the router', async () => {
      expect((await pingStats(vm('a1'), '10.31.2.12', 3)).received).toBe(3);
      expect((await pingStats(vm('a1'), '10.31.2.21', 3)).received).toBe(3);
      expect((await pingStats(vm('b2'), '10.31.2.12', 3)).received).toBe(3);
      expect((await pingStats(vm('b1'), '10.31.1.22', 3)).received).toBe(3);
    }, 120_000);

    test('the receiver sees TTL decremented by exactly one and the router port’s MAC on its network as source', async () => {
      const b1 = vm('b1');
      const seen = await capture(b1.netns, 'eth0', 'icmp and icmp[icmptype] == icmp-echo', 2, () => pingStats(vm('a1'), '10.31.2.21', 3));
      expect(seen).toContain(`${routerMac['l3net2']} > ${b1.mac}`);
      expect(seen).toMatch(/ttl 63\b/);
      expect(seen).not.toMatch(/ttl (?!63\b)\d+/);
      expect(seen).toContain('10.31.1.11 > 10.31.2.21: ICMP echo request');
      // and the reply comes back the same way: router MAC on net1, TTL 63
      const a1 = vm('a1');
      const back = await capture(a1.netns, 'eth0', 'icmp and icmp[icmptype] == icmp-echoreply', 2, () => pingStats(a1, '10.31.2.21', 3));
      expect(back).toContain(`${routerMac['l3net1']} > ${a1.mac}`);
      expect(back).toMatch(/ttl 63\b/);
    }, 120_000);

    test('both router interfaces answer ping, from either network', async () => {
      expect((await pingStats(vm('a1'), '10.31.1.1', 2)).received).toBe(2);
      expect((await pingStats(vm('a1'), '10.31.2.1', 2)).received).toBe(2);
      expect((await pingStats(vm('b1'), '10.31.1.1', 2)).received).toBe(2);
      expect((await pingStats(vm('b1'), '10.31.2.1', 2)).received).toBe(2);
    }, 60_000);

    test('a network with no VM on the source chassis is reached across the router, both ways', async () => {
      // net3's only VM is on chassis-2: chassis-1 routes a1's and a2's packets to it and must tunnel them there
      const sb = s.sandbox();
      expect(sb.state.vms.filter((v) => v.chassis === 1).map((v) => v.name).sort()).toEqual(['a1', 'a2']);
      expect((await pingStats(vm('a1'), '10.31.3.33', 3)).received).toBe(3);
      expect((await pingStats(vm('a2'), '10.31.3.33', 3)).received).toBe(3);
      expect((await pingStats(vm('d3'), '10.31.1.11', 3)).received).toBe(3);
      expect((await pingStats(vm('d3'), '10.31.2.12', 3)).received).toBe(3);
      // same chassis as d3, across the router
      expect((await pingStats(vm('b1'), '10.31.3.33', 3)).received).toBe(3);
      // routed once, on chassis-1: d3 sees TTL 63 and the router's net3 MAC
      const ports = await ok<{ 'MAC Address': string }[]>(auth(), ['port', 'list', '--device-owner', 'network:router_interface', '--network', 'l3net3']);
      const d3 = vm('d3');
      const seen = await capture(d3.netns, 'eth0', 'icmp and icmp[icmptype] == icmp-echo', 2, () => pingStats(vm('a1'), '10.31.3.33', 3));
      expect(seen).toContain(`${ports[0]!['MAC Address']} > ${d3.mac}`);
      expect(seen).toMatch(/ttl 63\b/);
      expect(seen).toContain('10.31.1.11 > 10.31.3.33: ICMP echo request');
    }, 120_000);

    test('a network attached to no router stays unreachable across the router, and works on its own', async () => {
      const d4 = vm('d4');
      let fromA1 = { received: -1 };
      let fromB1 = { received: -1 };
      const seen = await capture(
        d4.netns,
        'eth0',
        'icmp',
        1,
        async () => {
          fromA1 = await pingStats(vm('a1'), '10.31.4.44', 3);
          fromB1 = await pingStats(vm('b1'), '10.31.4.44', 3);
        },
        8000,
      );
      expect([fromA1.received, fromB1.received]).toEqual([0, 0]);
      expect(seen.trim()).toBe('');
      expect((await pingStats(d4, '10.31.1.11', 2)).received).toBe(0);
      // positive control: the same capture sees net4's own traffic
      const control = await capture(d4.netns, 'eth0', 'icmp', 1, () => pingStats(vm('d5'), '10.31.4.44', 2), 8000);
      expect(control).toMatch(/10\.31\.4\.45 > 10\.31\.4\.44: ICMP echo request/);
    }, 120_000);

    test('removing a router interface cuts routing to its subnet; adding it back restores it', async () => {
      await quiet(auth(), ['router', 'remove', 'subnet', 'l3r', 'l3sub2']);
      await until('routing to net2 stops', async () => (await pingStats(vm('a1'), '10.31.2.12', 1)).received === 0);
      expect((await pingStats(vm('a1'), '10.31.2.21', 2)).received).toBe(0);
      expect((await pingStats(vm('a1'), '10.31.2.1', 2)).received).toBe(0);
      expect((await pingStats(vm('a1'), '10.31.1.1', 2)).received).toBe(2);
      await quiet(auth(), ['router', 'add', 'subnet', 'l3r', 'l3sub2']);
      await interfaceMacs();
      // The new interface has a new MAC: forget the old one in net2's VMs (they would re-probe it within seconds anyway).
      for (const name of ['a2', 'b1']) await dfOk(['sandbox', 'exec', name, '--', 'ip', 'neigh', 'flush', 'all'], { env: env() });
      await until('routing to net2 is back', async () => (await pingStats(vm('a1'), '10.31.2.12', 1)).received === 1);
      expect((await pingStats(vm('a1'), '10.31.2.21', 3)).received).toBe(3);
      expect((await pingStats(vm('a1'), '10.31.2.1', 2)).received).toBe(2);
    }, 120_000);

    test('deleting the router cuts routed traffic (switching on each network goes on)', async () => {
      const a = auth();
      await quiet(a, ['router', 'remove', 'subnet', 'l3r', 'l3sub1']);
      await quiet(a, ['router', 'remove', 'subnet', 'l3r', 'l3sub2']);
      await quiet(a, ['router', 'remove', 'subnet', 'l3r', 'l3sub3']);
      await quiet(a, ['router', 'delete', 'l3r']);
      await until('routed traffic stops', async () => (await pingStats(vm('a1'), '10.31.2.12', 1)).received === 0);
      expect((await pingStats(vm('a1'), '10.31.2.21', 2)).received).toBe(0);
      expect((await pingStats(vm('b1'), '10.31.1.11', 2)).received).toBe(0);
      expect((await pingStats(vm('a1'), '10.31.3.33', 2)).received).toBe(0);
      expect((await pingStats(vm('a1'), '10.31.1.22', 2)).received).toBe(2);
      // nothing of the L3 app is left on either switch
      const sb = s.sandbox();
      for (const c of [1, 2]) {
        const flows = await sb.chassis(c).ofctl('--no-stats', 'dump-flows', sb.chassis(c).state.integrationBridge);
        expect(flows).not.toMatch(/reg5=/);
      }
    }, 120_000);
  });
}
