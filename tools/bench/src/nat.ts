/**
 * NAT throughput and floating IP association latency on a real sandbox (issue goals:
 * ≥ 80 % of the routed throughput; association → reachable ≤ 50 ms p50).
 *
 *   pnpm --filter @dragonflow/bench bench:nat
 *
 * `dfctl sandbox up --chassis 1 --external` (the default apps: l2, portsec, sg, dhcp,
 * l3-proactive, dnat distributed, snat centralized on the only chassis), topology
 * through df-api's REST: net1 and net2 behind one router with its gateway on
 * `public`, vm1 (net1), vm2 (net2), vm3 (net1) with a floating IP, security groups
 * open. iperf3 TCP, DF_BENCH_SECONDS (default 5) per run, DF_BENCH_RUNS (default 3)
 * runs of each path, interleaved; medians compared with the routed east-west path
 * (vm1 → vm2): vm1 → the internet host through SNAT, the outside → vm3 through its
 * floating IP. Then DF_BENCH_ASSOC (default 20) times: the floating IP is
 * disassociated, and from the association request to the first echo reply the
 * outside gets from it (ping asks every 2 ms, but iputils sends at most one echo per
 * 10 ms while none is answered: a sample is late by up to ~10 ms) is one sample.
 * The sandbox is taken down at the end, after a failure and on SIGINT/SIGTERM; its
 * directory is kept (and named) when that fails. Needs root, Open vSwitch, iperf3.
 */
import { spawn } from 'node:child_process';
import { Sandbox, netnsArgv, requireBinary, run, waitFor } from '@dragonflow/sandbox';
import { api, dfctl, loadNow, percentile, withBenchSandbox } from './bench-sandbox.js';
import { RUNS, SECONDS, gbps, iperf, median } from './iperf.js';

const COMMAND = 'pnpm --filter @dragonflow/bench bench:nat';
const TARGET = 0.8;
const ASSOC_TARGET_MS = 50;
const ASSOCIATIONS = Number(process.env['DF_BENCH_ASSOC'] ?? 20);
const INTERNET = '198.51.100.10';


/** One Neutron call against df-api; a non-2xx answer throws with its body. */


/**
 * From now to the first echo reply the outside gets from `ip`, pinging while `act`
 * runs (ms); `api`: until `act` returned (df-api's answer: the NB commit is done).
 */
async function timeToReachable(outsideNs: string, ip: string, act: () => Promise<unknown>): Promise<{ total: number; api: number }> {
  const [bin, argv] = netnsArgv(outsideNs, 'ping', ['-n', '-D', '-i', '0.002', '-W', '1', '-w', '5', ip]);
  const child = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    await new Promise((r) => setTimeout(r, 50));
    const start = Date.now();
    await act();
    const api = Date.now() - start;
    await waitFor(() => /\[(\d+\.\d+)\] \d+ bytes from/.test(out), { what: `an echo reply from ${ip}`, timeoutMs: 5_000, intervalMs: 5 });
    const first = Number(/\[(\d+\.\d+)\] \d+ bytes from/.exec(out)![1]) * 1000;
    return { total: first - start, api };
  } finally {
    child.kill('SIGINT');
    await exited;
  }
}

async function main(): Promise<void> {
  for (const b of ['ovs-vswitchd', 'iperf3', 'ping']) requireBinary(b);
  const load0 = loadNow();
  await withBenchSandbox('df-bench-nat-', ['--chassis', '1', '--external'], async ({ dir, url }) => {
    const pub = (await api<{ network: { id: string } }>(url, 'POST', '/networks', { network: { name: 'public', 'router:external': true, 'provider:network_type': 'flat', 'provider:physical_network': 'public' } })).network;
    await api(url, 'POST', '/subnets', { subnet: { network_id: pub.id, cidr: '172.24.4.0/24', gateway_ip: '172.24.4.1', enable_dhcp: false, ip_version: 4 } });
    const router = (await api<{ router: { id: string } }>(url, 'POST', '/routers', { router: { name: 'r1' } })).router;
    for (const n of [1, 2]) {
      const net = (await api<{ network: { id: string } }>(url, 'POST', '/networks', { network: { name: `net${n}` } })).network;
      const sub = (await api<{ subnet: { id: string } }>(url, 'POST', '/subnets', { subnet: { network_id: net.id, name: `sub${n}`, cidr: `10.0.${n}.0/24`, ip_version: 4 } })).subnet;
      await api(url, 'PUT', `/routers/${router.id}/add_router_interface`, { subnet_id: sub.id });
    }
    await api(url, 'PUT', `/routers/${router.id}`, { router: { external_gateway_info: { network_id: pub.id } } });
    const [group] = (await api<{ security_groups: { id: string }[] }>(url, 'GET', '/security-groups?name=default')).security_groups;
    if (!group) throw new Error("GET /security-groups?name=default: df-api lists no group 'default' to open to the outside");
    for (const protocol of ['tcp', 'icmp']) await api(url, 'POST', '/security-group-rules', { security_group_rule: { security_group_id: group.id, direction: 'ingress', ethertype: 'IPv4', protocol } });
    for (const [vm, net] of [['vm1', 'net1'], ['vm2', 'net2'], ['vm3', 'net1']] as const) await dfctl(['sandbox', 'vm', 'create', vm, '--network', net, '--chassis', '1', '--dir', dir]);
    const sb = Sandbox.load(dir);
    const [vm1, vm2, vm3] = [sb.vm('vm1'), sb.vm('vm2'), sb.vm('vm3')];
    const outsideNs = sb.outside().netns;
    const fip = (await api<{ floatingip: { id: string; floating_ip_address: string } }>(url, 'POST', '/floatingips', { floatingip: { floating_network_id: pub.id, port_id: vm3.state.portId } })).floatingip;
    const warm = async (ns: string, ip: string): Promise<void> => {
      await waitFor(async () => (await run('ping', ['-n', '-c', '1', '-W', '1', ip], { netns: ns, allowFailure: true })).code === 0, { what: `${ip} to answer`, timeoutMs: 10_000 });
    };
    await warm(vm1.netns, vm2.address);
    await warm(vm1.netns, INTERNET);
    await warm(outsideNs, fip.floating_ip_address);

    // iperf3's server may not listen yet when the client starts on this loaded machine: try again, then name the path
    const measure = async (what: string, serverNs: string, clientNs: string, server: string, bind = server): Promise<number> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await iperf(serverNs, clientNs, server, bind);
        } catch (err) {
          if (attempt === 3) throw new Error(`${what}: ${(err as Error).message}`, { cause: err });
          await new Promise((r) => setTimeout(r, 1_000));
        }
      }
    };
    const routed: number[] = [];
    const snat: number[] = [];
    const dnat: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      routed.push(await measure('routed', vm2.netns, vm1.netns, vm2.address));
      snat.push(await measure('SNAT', outsideNs, vm1.netns, INTERNET));
      dnat.push(await measure('floating IP', vm3.netns, outsideNs, fip.floating_ip_address, vm3.address));
    }

    const samples: number[] = [];
    const apiTimes: number[] = [];
    for (let i = 0; i < ASSOCIATIONS; i++) {
      await api(url, 'PUT', `/floatingips/${fip.id}`, { floatingip: { port_id: null } });
      await waitFor(async () => (await run('ping', ['-n', '-c', '1', '-W', '0.2', fip.floating_ip_address], { netns: outsideNs, allowFailure: true })).code !== 0, { what: 'the floating IP to stop answering', timeoutMs: 5_000 });
      const t = await timeToReachable(outsideNs, fip.floating_ip_address, () => api(url, 'PUT', `/floatingips/${fip.id}`, { floatingip: { port_id: vm3.state.portId } }));
      samples.push(t.total);
      apiTimes.push(t.api);
    }

    const base = median(routed);
    const verdict = (ratio: number): string => (ratio >= TARGET ? 'met' : 'missed');
    const line = (name: string, xs: number[]) =>
      `${name.padEnd(34)} ${gbps(median(xs)).padStart(14)}  (${xs.map(gbps).join(', ')})${xs === routed ? '' : `  ${((median(xs) / base) * 100).toFixed(0)} % of routed (goal ≥ ${TARGET * 100} %: ${verdict(median(xs) / base)})`}`;
    console.log(`${COMMAND}  (iperf3 TCP, ${RUNS} runs of ${SECONDS} s each, interleaved, medians; load average ${load0} at the start, ${loadNow()} at the end)`);
    console.log(line('routed east-west vm1 → vm2', routed));
    console.log(line('vm1 → internet host through SNAT', snat));
    console.log(line('outside → vm3 through its FIP', dnat));
    console.log(`floating IP association → reachable (${samples.length} samples): p50 ${percentile(samples, 50).toFixed(1)} ms, p99 ${percentile(samples, 99).toFixed(1)} ms, max ${Math.max(...samples).toFixed(1)} ms (goal p50 ≤ ${ASSOC_TARGET_MS} ms: ${percentile(samples, 50) <= ASSOC_TARGET_MS ? 'met' : 'missed'}); of which the PUT to df-api's answer p50 ${percentile(apiTimes, 50).toFixed(1)} ms, p99 ${percentile(apiTimes, 99).toFixed(1)} ms`);
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
