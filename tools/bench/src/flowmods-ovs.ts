/**
 * Flow-mods per second into a real Open vSwitch (userspace datapath, in its own
 * network namespace), each batch confirmed by a barrier, through the core's
 * OpenFlow connection and the reconciler's channel.
 *   pnpm --filter @dragonflow/bench bench:flowmods
 * DF_BENCH_FLOWS (default 20000) and DF_BENCH_BATCH (default 1000) tune the run.
 */
import { performance } from 'node:perf_hooks';
import { switchChannel, type SwitchRequest } from '@dragonflow/core/host';
import { act, flowMod, inst } from '@dragonflow/openflow';
import { CleanupStack } from '@dragonflow/sandbox';
import { startBenchSwitch } from './ovs-switch.js';

const COMMAND = 'pnpm --filter @dragonflow/bench bench:flowmods';
const TOTAL = Number(process.env['DF_BENCH_FLOWS'] ?? 20_000);
const BATCH = Number(process.env['DF_BENCH_BATCH'] ?? 1_000);

function request(i: number, command: 'add' | 'delete_strict' = 'add'): SwitchRequest {
  const { xid: _xid, ...fm } = flowMod({
    command,
    tableId: 40,
    priority: 200,
    cookie: 0x0300_0000_0000_0000n | BigInt(i),
    match: { metadata: [BigInt(i >> 16), 0xffffn], eth_type: 0x0800, ipv4_dst: `10.${(i >> 8) & 255}.${i & 255}.0/24` },
    instructions: [inst.apply(act.decNwTtl(), act.setField('eth_dst', 'fa:16:3e:00:12:34'), act.setField('reg7', i)), inst.gotoTable(50)],
  });
  return fm;
}

async function main(): Promise<void> {
  const cleanup = new CleanupStack();
  try {
    const { ovs, conn } = await startBenchSwitch(cleanup, { bridge: 'br-bench', nsPrefix: 'dfbench' });
    const channel = switchChannel(conn);
    console.log(`flow-mods into ovs-vswitchd ${(await ovs.tool('ovs-vswitchd', ['--version'])).split('\n')[0]!.split(' ').pop()} (userspace datapath), ${TOTAL.toLocaleString('en')} flows, batches of ${BATCH} each confirmed by a barrier`);

    for (const [label, cmd] of [
      ['add', 'add'],
      ['delete_strict', 'delete_strict'],
    ] as const) {
      const start = performance.now();
      let errors = 0;
      for (let base = 0; base < TOTAL; base += BATCH) {
        const batch = Array.from({ length: Math.min(BATCH, TOTAL - base) }, (_, k) => request(base + k, cmd));
        errors += (await channel.sendBatch(batch)).errors.length;
      }
      const secs = (performance.now() - start) / 1000;
      const installed = (await conn.flowStats({ tableId: 40 })).length;
      console.log(`${label.padEnd(14)} ${Math.round(TOTAL / secs).toLocaleString('en').padStart(9)} flow-mods/s  (${secs.toFixed(2)} s, ${errors} errors, ${installed} flows in the table afterwards)`);
      if (errors) throw new Error(`${errors} flow-mods were refused`);
    }
    // single-flow latency: one flow-mod + barrier round trip
    const lat: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t = performance.now();
      await channel.sendBatch([request(1_000_000 + i)]);
      lat.push(performance.now() - t);
    }
    lat.sort((a, b) => a - b);
    console.log(`one flow-mod + barrier round trip: median ${lat[100]!.toFixed(2)} ms, p99 ${lat[197]!.toFixed(2)} ms`);
  } finally {
    const problems = await cleanup.run();
    for (const p of problems) console.error(`cleanup: ${p}`);
  }
  console.log(`reproduce: ${COMMAND}`);
}

await main();
