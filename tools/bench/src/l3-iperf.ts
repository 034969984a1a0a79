/**
 * Routed throughput against one NORMAL flow on the same Open vSwitch (TARGETS.md:
 * iperf3 through our routed pipeline ≥ 90 % of a single NORMAL flow).
 *
 *   pnpm --filter @dragonflow/bench bench:l3-iperf
 *
 * One sandbox chassis (userspace datapath): vm1 (net1) → vm2 (net2) across the
 * distributed router, through the whole pipeline our controller installed (classify,
 * l2, the l3 tables, egress, dispatch), in the proactive and the reactive mode;
 * and on the same ovs-vswitchd a second bridge with `priority=0,actions=NORMAL` and
 * two namespaces on one subnet. All VMs have MTU 1400 and TX checksum offload off.
 * iperf3 TCP, DF_BENCH_SECONDS (default 5) per run, DF_BENCH_RUNS (default 3) runs
 * of each, interleaved; the medians are compared. Needs root, Open vSwitch, iperf3.
 */
import { addAddress, createNetns, createVethPair, deleteNetns, requireBinary, run, shortId, type Chassis } from '@dragonflow/sandbox';
import { RUNS, SECONDS, gbps, iperf, median } from './iperf.js';
import { startOneChassisRouted } from './l3-dataplane.js';

const COMMAND = 'pnpm --filter @dragonflow/bench bench:l3-iperf';
const TARGET = 0.9;


/** Two namespaces on a second bridge of `chassis`' ovs-vswitchd, switched by one NORMAL flow. */
async function normalBridge(chassis: Chassis): Promise<{ a: string; b: string; stop: () => Promise<void> }> {
  const tag = shortId().slice(0, 5);
  const bridge = `brn${tag}`;
  const ns = [`dfl3n-${tag}a`, `dfl3n-${tag}b`];
  const made: string[] = [];
  const stop = async (): Promise<void> => {
    for (const n of made) await deleteNetns(n).catch(() => undefined);
    await chassis.withVswitch((vs) => vs.deleteBridge(bridge)).catch(() => undefined);
  };
  try {
    await chassis.withVswitch((vs) => vs.ensureBridge(bridge, { datapathType: 'netdev', failMode: 'secure' }));
    for (const [i, n] of ns.entries()) {
      await createNetns(n);
      made.push(n);
      const tap = `n${tag}${i}`;
      await createVethPair({ name: 'eth0', netns: n, mtu: 1400 }, { name: tap, netns: chassis.netns, mtu: 1400 });
      await run('ethtool', ['-K', 'eth0', 'tx', 'off'], { netns: n });
      await addAddress('eth0', `192.168.77.${i + 1}/24`, n);
      await chassis.withVswitch((vs) => vs.addPort(bridge, tap));
      await chassis.ofport(tap);
    }
    await chassis.ofctl('add-flow', bridge, 'priority=0,actions=NORMAL');
    const ping = await run('ping', ['-n', '-c', '2', '-W', '2', '192.168.77.2'], { netns: ns[0]!, allowFailure: true });
    if (!/2 received/.test(ping.stdout)) throw new Error(`the NORMAL bridge does not pass traffic: ${ping.stdout}`);
    return { a: ns[0]!, b: ns[1]!, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function main(): Promise<void> {
  for (const b of ['ovs-vswitchd', 'iperf3', 'ethtool']) requireBinary(b);
  const lines: string[] = [];
  for (const mode of ['proactive', 'reactive'] as const) {
    const d = await startOneChassisRouted(mode);
    const norm = await normalBridge(d.chassis[0]!.chassis).catch(async (err: unknown) => {
      await d.stop();
      throw err;
    });
    try {
      const vm1 = d.vms['vm1']!.vm;
      const vm2 = d.vms['vm2']!.vm;
      const warm = await vm1.exec('ping', ['-n', '-c', '3', '-i', '0.2', '-W', '1', vm2.address], { allowFailure: true });
      if (!/3 received/.test(warm.stdout)) throw new Error(`vm1 cannot reach vm2 across the router: ${warm.stdout}`);
      const r: number[] = [];
      const n: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        r.push(await iperf(vm2.netns, vm1.netns, vm2.address));
        n.push(await iperf(norm.b, norm.a, '192.168.77.2'));
      }
      const ratio = median(r) / median(n);
      const verdict = ratio >= TARGET ? `meets ≥ ${TARGET * 100} %` : `misses ≥ ${TARGET * 100} % by ${((TARGET - ratio) * 100).toFixed(1)} points`;
      lines.push(`${mode.padEnd(9)} routed ${gbps(median(r))} [${r.map(gbps).join(', ')}] vs NORMAL ${gbps(median(n))} [${n.map(gbps).join(', ')}] = ${(ratio * 100).toFixed(1)} % (${verdict})`);
      console.log(lines.at(-1));
    } finally {
      await norm.stop();
      const problems = await d.stop();
      if (problems.length) console.error(`cleanup: ${problems.join('; ')}`);
    }
  }
  console.log(`iperf3 TCP, ${SECONDS} s × ${RUNS} runs each, interleaved, medians; one chassis, ovs-vswitchd userspace datapath, MTU 1400`);
  console.log(`reproduce: ${COMMAND}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
