/**
 * The L3 apps on real Open vSwitch (userspace datapath), two chassis on a VXLAN
 * underlay, VMs as namespaces, each chassis' controller runtime in this process as
 * df-controller builds it (selective local cache, bindings, tunnel ports): real
 * pings across the router on one chassis and between chassis in both modes, the
 * receiver sees TTL−1 and the router port's MAC as source (tcpdump -e), router
 * addresses answer, and in reactive mode each new flow costs exactly one packet-in
 * on the chassis it starts on. Needs root and Open vSwitch (./scripts/setup); never skips.
 */
import l2 from '@dragonflow/app-l2';
import proactive from '@dragonflow/app-l3-proactive';
import reactive from '@dragonflow/app-l3-reactive';
import { startRoutedDataplane, type RoutedDataplane } from '@dragonflow/l3/dataplane';
import { requireBinary } from '@dragonflow/sandbox';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { capture, pingStats } from '../sandbox/traffic.js';

const VMS = [
  { name: 'vm1', network: 'net1', host: 11, chassis: 1 },
  { name: 'vm2', network: 'net2', host: 12, chassis: 1 },
  { name: 'vm3', network: 'net2', host: 13, chassis: 2 },
  { name: 'vm4', network: 'net1', host: 14, chassis: 2 },
] as const;

async function packetIns(d: RoutedDataplane, chassis: number, app: string): Promise<number> {
  return (await d.chassis[chassis - 1]!.metrics.packetIns.get()).values.find((v) => v.labels['app'] === app)?.value ?? 0;
}

async function switchErrors(d: RoutedDataplane): Promise<number> {
  let n = 0;
  for (const c of d.chassis) n += (await c.metrics.switchErrors.get()).values.reduce((s, v) => s + v.value, 0);
  return n;
}

for (const mode of ['proactive', 'reactive'] as const) {
  describe(`l3-${mode} on real Open vSwitch, two chassis`, () => {
    let d: RoutedDataplane;
    const app = `l3-${mode}`;
    const vm = (name: string) => d.vms[name]!.vm;

    beforeAll(async () => {
      requireBinary('ovs-vswitchd');
      requireBinary('tcpdump');
      d = await startRoutedDataplane({
        chassis: 2,
        vms: VMS,
        apps: [
          { package: '@dragonflow/app-l2', descriptor: l2 },
          mode === 'proactive' ? { package: '@dragonflow/app-l3-proactive', descriptor: proactive } : { package: '@dragonflow/app-l3-reactive', descriptor: reactive },
        ],
      });
    }, 180_000);

    afterAll(async () => {
      const problems = await d?.stop();
      expect(problems ?? []).toEqual([]);
    });

    test('every flow is accepted by the switch', async () => {
      expect(await switchErrors(d)).toBe(0);
      for (const c of d.chassis) expect(c.runtime.reconciler.ownersOf(app).length).toBeGreaterThan(0);
    });

    if (mode === 'reactive') {
      // First, so that no earlier ping has made these flows yet.
      test('exactly one packet-in per new flow, on the chassis where the flow starts', async () => {
        // vm2 → vm4: a flow (net2 → 10.0.1.14) starts on chassis-1; the reply (net1 → 10.0.2.12) on chassis-2
        const before1 = await packetIns(d, 1, app);
        const before2 = await packetIns(d, 2, app);
        expect((await pingStats(vm('vm2'), '10.0.1.14', 5)).received).toBe(5);
        expect((await packetIns(d, 1, app)) - before1).toBe(1);
        expect((await packetIns(d, 2, app)) - before2).toBe(1);
        // and more traffic on the same flows costs none
        expect((await pingStats(vm('vm2'), '10.0.1.14', 5)).received).toBe(5);
        expect((await packetIns(d, 1, app)) - before1).toBe(1);
        expect((await packetIns(d, 2, app)) - before2).toBe(1);
      });
    }

    test('ping across the router on one chassis (vm1 → vm2) and between chassis (vm1 → vm3, vm4 → vm2)', async () => {
      expect((await pingStats(vm('vm1'), '10.0.2.12', 3)).received).toBe(3);
      expect((await pingStats(vm('vm1'), '10.0.2.13', 3)).received).toBe(3);
      expect((await pingStats(vm('vm4'), '10.0.2.12', 3)).received).toBe(3);
    });

    test('the receiver sees TTL decremented by exactly one and the router port’s MAC as source', async () => {
      const v3 = vm('vm3');
      const out = await capture(v3.netns, 'eth0', 'icmp and icmp[icmptype] == icmp-echo', 1, () => pingStats(vm('vm1'), '10.0.2.13', 2));
      expect(out).toContain(`${d.routerMacs.net2} > ${v3.mac}`);
      expect(out).toMatch(/ttl 63\b/);
      expect(out).toContain('10.0.1.11 > 10.0.2.13');
    });

    test('both router interfaces answer ping', async () => {
      expect((await pingStats(vm('vm1'), '10.0.1.1', 2)).received).toBe(2);
      expect((await pingStats(vm('vm1'), '10.0.2.1', 2)).received).toBe(2);
      expect((await pingStats(vm('vm3'), '10.0.1.1', 2)).received).toBe(2);
    });

    test('traceroute-style TTL 1 gets time exceeded from the gateway', async () => {
      const r = await vm('vm1').exec('ping', ['-n', '-c', '1', '-W', '2', '-t', '1', '10.0.2.12'], { allowFailure: true });
      expect(r.stdout).toMatch(/From 10\.0\.1\.1 .*Time to live exceeded/i);
    });

  });
}
