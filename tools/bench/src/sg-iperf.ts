/**
 * TCP throughput through stateful security groups against the same path without them
 * (issue goal: ≥ 80 % of the stateless path).
 *
 *   pnpm --filter @dragonflow/bench bench:sg-iperf
 *
 * One sandbox chassis (userspace datapath), vm1 (net1) → vm2 (net2) across the
 * distributed router, the controller running `@dragonflow/app-l2`,
 * `@dragonflow/app-portsec`, `@dragonflow/app-sg` and `@dragonflow/app-l3-proactive`.
 * Alternately: both ports in a stateful group with Neutron's default rules (every
 * packet through conntrack in both ports' zones, anti-spoofing on), and both ports
 * with port security off (no security flows: the same pipeline without them). iperf3
 * TCP, DF_BENCH_SECONDS (default 5) per run, DF_BENCH_RUNS (default 3) runs of each,
 * interleaved; the medians are compared. Needs root, Open vSwitch, iperf3.
 */
import l2 from '@dragonflow/app-l2';
import proactive from '@dragonflow/app-l3-proactive';
import portsec from '@dragonflow/app-portsec';
import sg from '@dragonflow/app-sg';
import { requireBinary } from '@dragonflow/sandbox';
import { RUNS, SECONDS, gbps, iperf, median } from './iperf.js';
import { startOneChassisRouted } from './l3-dataplane.js';

const COMMAND = 'pnpm --filter @dragonflow/bench bench:sg-iperf';
const TARGET = 0.8;

async function main(): Promise<void> {
  for (const b of ['ovs-vswitchd', 'iperf3', 'ethtool']) requireBinary(b);
  const d = await startOneChassisRouted([
    { package: '@dragonflow/app-l2', descriptor: l2 },
    { package: '@dragonflow/app-portsec', descriptor: portsec },
    { package: '@dragonflow/app-sg', descriptor: sg },
    { package: '@dragonflow/app-l3-proactive', descriptor: proactive },
  ]);
  try {
    const group = await d.nb.create('security_group', {
      name: 'default',
      rules: [
        { id: '2b9a4c1e-5d3f-4e6a-8b7c-0d1e2f3a4b01', direction: 'egress', ethertype: 'IPv4' },
        { id: '2b9a4c1e-5d3f-4e6a-8b7c-0d1e2f3a4b02', direction: 'ingress', ethertype: 'IPv4' },
      ],
    });
    const vm1 = d.vms['vm1']!;
    const vm2 = d.vms['vm2']!;
    const set = async (secured: boolean): Promise<void> => {
      for (const v of [vm1, vm2]) {
        const port = await d.nb.get('logical_port', v.port.id);
        await d.nb.update('logical_port', { ...port!, portSecurityEnabled: secured, securityGroupIds: secured ? [group.id] : [] });
      }
      await d.settle();
      const warm = await vm1.vm.exec('ping', ['-n', '-c', '3', '-i', '0.2', '-W', '1', vm2.vm.address], { allowFailure: true });
      if (!/3 received/.test(warm.stdout)) throw new Error(`vm1 cannot reach vm2 (${secured ? 'with' : 'without'} security groups): ${warm.stdout}`);
    };
    const withSg: number[] = [];
    const without: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await set(true);
      withSg.push(await iperf(vm2.vm.netns, vm1.vm.netns, vm2.vm.address));
      await set(false);
      without.push(await iperf(vm2.vm.netns, vm1.vm.netns, vm2.vm.address));
    }
    const ratio = median(withSg) / median(without);
    const verdict = ratio >= TARGET ? `meets ≥ ${TARGET * 100} %` : `misses ≥ ${TARGET * 100} % by ${((TARGET - ratio) * 100).toFixed(1)} points`;
    console.log(`stateful security group ${gbps(median(withSg))} [${withSg.map(gbps).join(', ')}] vs port security off ${gbps(median(without))} [${without.map(gbps).join(', ')}] = ${(ratio * 100).toFixed(1)} % (${verdict})`);
    console.log(`iperf3 TCP, ${SECONDS} s × ${RUNS} runs each, interleaved, medians; vm1 → vm2 routed on one chassis, ovs-vswitchd userspace datapath, MTU 1400`);
    console.log(`reproduce: ${COMMAND}`);
  } finally {
    const problems = await d.stop();
    if (problems.length) console.error(`cleanup: ${problems.join('; ')}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
