/** iperf3 runs between namespaces, for the dataplane throughput benchmarks. */
import { spawn } from 'node:child_process';
import { netnsArgv, run } from '@dragonflow/sandbox';

/** Seconds per iperf3 run (DF_BENCH_SECONDS, default 5). */
export const SECONDS = Number(process.env['DF_BENCH_SECONDS'] ?? 5);
/** Runs of each variant (DF_BENCH_RUNS, default 3). */
export const RUNS = Number(process.env['DF_BENCH_RUNS'] ?? 3);

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const gbps = (bps: number): string => `${(bps / 1e9).toFixed(2)} Gbit/s`;

/**
 * One iperf3 TCP run from `clientNs` to `server` (in `serverNs`): received bits per
 * second. The server listens on `bind` (default `server`; another address when the
 * client reaches it through NAT).
 */
export async function iperf(serverNs: string, clientNs: string, server: string, bind = server): Promise<number> {
  const [bin, argv] = netnsArgv(serverNs, 'iperf3', ['-s', '-1', '-B', bind]);
  const srv = spawn(bin, argv, { stdio: 'ignore' });
  const exited = new Promise<void>((r) => srv.once('exit', () => r()));
  try {
    await new Promise((r) => setTimeout(r, 300));
    const out = await run('iperf3', ['-c', server, '-t', String(SECONDS), '-J'], { netns: clientNs, timeoutMs: (SECONDS + 20) * 1000 });
    const j = JSON.parse(out.stdout) as { end?: { sum_received?: { bits_per_second?: number } } };
    const bps = j.end?.sum_received?.bits_per_second;
    if (!bps) throw new Error(`iperf3 gave no result: ${out.stdout.slice(0, 400)}`);
    return bps;
  } finally {
    if (srv.exitCode === null) srv.kill();
    await exited;
  }
}

