/**
 * Extra latency of the first packet of a new flow in reactive L3 (TARGETS.md: ≤ 1 ms
 * median, ≤ 5 ms p99), on a real dataplane: Open vSwitch (userspace datapath) in a
 * sandbox chassis namespace, VMs as namespaces, the controller runtime (NB local
 * cache, `@dragonflow/app-l2` + the L3 app) in this process on the chassis' unix
 * controller socket, as df-controller runs it.
 *
 *   pnpm --filter @dragonflow/bench bench:l3-first-packet
 *
 * vm1 (net1) pings N addresses of vm2 (net2, one port with N fixed IPs, all on its
 * eth0): each address is a new (source network, destination) flow. Per address,
 * `ping -c 3 -i 0.05`: the extra latency is the first echo's RTT minus the mean of
 * the two that follow (which never leave the switch). The same run with the
 * proactive app is the control (no controller on the path). DF_BENCH_FLOWS (default
 * 200) addresses per mode. Needs root and Open vSwitch.
 */
import { performance } from 'node:perf_hooks';
import { requireBinary } from '@dragonflow/sandbox';
import { startOneChassisRouted, type L3Mode } from './l3-dataplane.js';

const COMMAND = 'pnpm --filter @dragonflow/bench bench:l3-first-packet';
const FLOWS = Number(process.env['DF_BENCH_FLOWS'] ?? 200);
const TARGET = { median: 1, p99: 5 };

const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const median = (xs: number[]): number => quantile(xs, 0.5);
const address = (i: number): string => `10.0.2.${100 + (i % 150)}`;

interface ModeResult {
  readonly mode: string;
  readonly first: number[];
  readonly rest: number[];
  readonly extra: number[];
  readonly lost: number;
  readonly packetIns: number;
}

async function measure(mode: L3Mode): Promise<ModeResult> {
  const d = await startOneChassisRouted(mode);
  try {
    const vm1 = d.vms['vm1']!.vm;
    const vm2 = d.vms['vm2']!;
    const n = Math.min(FLOWS, 150);
    const extra = Array.from({ length: n }, (_, i) => ({ subnetId: d.sub.sub2.id, ipAddress: address(i) }));
    await d.nb.modify('logical_port', vm2.port.id, (p) => ({ ...p, fixedIps: [...p.fixedIps, ...extra] }));
    for (const f of extra) await vm2.vm.exec('ip', ['addr', 'add', `${f.ipAddress}/24`, 'dev', 'eth0']);
    await d.settle();
    // Warm-up: ARP for the gateway on both sides, and the reply flow (net2 → vm1) in reactive mode.
    await vm1.exec('ping', ['-n', '-c', '3', '-i', '0.05', '-W', '1', '10.0.2.12'], { allowFailure: true });
    const metrics = d.chassis[0]!.metrics;
    const punts0 = (await metrics.packetIns.get()).values.reduce((s, v) => s + v.value, 0);
    const first: number[] = [];
    const rest: number[] = [];
    const diffs: number[] = [];
    let lost = 0;
    for (let i = 0; i < FLOWS; i++) {
      if (i === n) break; // one run per address: a second would find the flow installed
      const r = await vm1.exec('ping', ['-n', '-c', '3', '-i', '0.05', '-W', '1', address(i)], { allowFailure: true, timeoutMs: 10_000 });
      const rtt = new Map<number, number>();
      for (const m of r.stdout.matchAll(/icmp_seq=(\d+) ttl=\d+ time=([\d.]+) ms/g)) rtt.set(Number(m[1]), Number(m[2]));
      const a = rtt.get(1);
      const b = rtt.get(2);
      const c = rtt.get(3);
      if (a === undefined || b === undefined || c === undefined) {
        lost++;
        continue;
      }
      first.push(a);
      rest.push((b + c) / 2);
      diffs.push(a - (b + c) / 2);
    }
    const punts = (await metrics.packetIns.get()).values.reduce((s, v) => s + v.value, 0) - punts0;
    return { mode, first, rest, extra: diffs, lost, packetIns: punts };
  } finally {
    const problems = await d.stop();
    if (problems.length) console.error(`cleanup: ${problems.join('; ')}`);
  }
}

async function main(): Promise<void> {
  requireBinary('ovs-vswitchd');
  requireBinary('ping');
  const start = performance.now();
  const results = [await measure('reactive'), await measure('proactive')];
  console.log(`first packet of a new flow vs the following ones, ${Math.min(FLOWS, 150)} new flows per mode (ping RTT, ms), one chassis, userspace datapath`);
  for (const r of results) {
    console.log(
      `${r.mode.padEnd(9)} first: median ${median(r.first).toFixed(3)} p99 ${quantile(r.first, 0.99).toFixed(3)} | following: median ${median(r.rest).toFixed(3)} | extra: median ${median(r.extra).toFixed(3)} p99 ${quantile(r.extra, 0.99).toFixed(3)} max ${Math.max(...r.extra).toFixed(3)} | lost first pings ${r.lost} | packet-ins ${r.packetIns}`,
    );
  }
  const rx = results[0]!;
  const m = median(rx.extra);
  const p = quantile(rx.extra, 0.99);
  const verdict = (what: string, got: number, target: number) => (got <= target ? `${what} ${got.toFixed(3)} ms meets ≤ ${target} ms` : `${what} ${got.toFixed(3)} ms misses ≤ ${target} ms by ${(got - target).toFixed(3)} ms`);
  console.log(`reactive extra latency: ${verdict('median', m, TARGET.median)}; ${verdict('p99', p, TARGET.p99)}`);
  console.log(`(${((performance.now() - start) / 1000).toFixed(0)} s) reproduce: ${COMMAND}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
