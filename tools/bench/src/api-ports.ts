/**
 * Northbound API: Neutron port creates per second with IPAM (a fixed IP from the
 * subnet's pool, a MAC, the default security group, uniqueness claims), N clients
 * at once over HTTP against df-api on a real port, on the memory DB and on a real
 * etcd.
 *   pnpm --filter @dragonflow/bench bench:api
 * DF_BENCH_PORTS (default 1000), DF_BENCH_CONCURRENCY (default 20) and
 * DF_BENCH_DRIVERS (default memory,etcd) tune the run.
 */
import { performance } from 'node:perf_hooks';
import { type ApiConfigInput, startApiServer } from '@dragonflow/api';
import { CleanupStack, shortId, startEtcd } from '@dragonflow/sandbox';

const COMMAND = 'pnpm --filter @dragonflow/bench bench:api';
const PORTS = Number(process.env['DF_BENCH_PORTS'] ?? 1_000);
const CONCURRENCY = Number(process.env['DF_BENCH_CONCURRENCY'] ?? 20);
const DRIVERS = (process.env['DF_BENCH_DRIVERS'] ?? 'memory,etcd').split(',').map((d) => d.trim());

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function run(driver: string, db: ApiConfigInput['db']): Promise<void> {
  // No port quota: the run creates more ports in one project than Neutron's default 500.
  const api = await startApiServer({ config: { listen: { port: 0 }, db, logLevel: 'error', quotas: { port: -1 } } });
  try {
    const net = await post(`${api.url}/v2.0/networks`, { network: { name: 'bench' } });
    const netId = (net.json['network'] as { id: string }).id;
    const sub = await post(`${api.url}/v2.0/subnets`, { subnet: { network_id: netId, ip_version: 4, cidr: '10.128.0.0/16' } });
    if (sub.status !== 201) throw new Error(`subnet create failed: ${JSON.stringify(sub.json)}`);
    // Warm-up: the default security group and the JIT.
    for (let i = 0; i < 20; i++) await post(`${api.url}/v2.0/ports`, { port: { network_id: netId, name: `warm-${i}` } });

    const latencies: number[] = [];
    const ips = new Set<string>();
    const macs = new Set<string>();
    let next = 0;
    let failures = 0;
    const worker = async (): Promise<void> => {
      while (next < PORTS) {
        const i = next++;
        const t0 = performance.now();
        const r = await post(`${api.url}/v2.0/ports`, { port: { network_id: netId, name: `p${i}` } });
        latencies.push(performance.now() - t0);
        if (r.status !== 201) {
          failures++;
          continue;
        }
        const p = r.json['port'] as { mac_address: string; fixed_ips: { ip_address: string }[] };
        ips.add(p.fixed_ips[0]!.ip_address);
        macs.add(p.mac_address);
      }
    };
    const start = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const secs = (performance.now() - start) / 1000;
    latencies.sort((a, b) => a - b);
    const created = PORTS - failures;
    console.log(
      `${driver.padEnd(7)} ${Math.round(created / secs)
        .toLocaleString('en')
        .padStart(6)} ports/s  (${created} ports in ${secs.toFixed(2)} s; latency p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms; ` +
        `${ips.size} distinct IPs, ${macs.size} distinct MACs, ${failures} failed)`,
    );
    if (failures > 0 || ips.size !== created || macs.size !== created) throw new Error(`${driver}: ${failures} creates failed or addresses were handed out twice`);
  } finally {
    await api.close();
  }
}

async function main(): Promise<void> {
  const cleanup = new CleanupStack();
  try {
    console.log(`df-api port creates with IPAM: ${PORTS} ports, ${CONCURRENCY} concurrent HTTP clients, one /16 subnet, default security group`);
    for (const driver of DRIVERS) {
      if (driver === 'memory') {
        await run('memory', { driver: 'memory' });
      } else if (driver === 'etcd') {
        const etcd = await startEtcd();
        cleanup.defer('stop etcd', () => etcd.stop());
        await run('etcd', { driver: 'etcd', endpoints: [etcd.endpoint], prefix: `/df-bench-${shortId()}/` });
      } else {
        throw new Error(`DF_BENCH_DRIVERS: unknown driver '${driver}' (memory, etcd)`);
      }
    }
    console.log(`reproduce: ${COMMAND}`);
  } finally {
    await cleanup.run();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
