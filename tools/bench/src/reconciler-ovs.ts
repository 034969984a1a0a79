/**
 * The reconciler driving a real Open vSwitch (userspace datapath, in its own
 * network namespace) through the core's OpenFlow connection: install N desired
 * flows from scratch (diff, encode, send in barrier-confirmed batches), then a
 * controller restart with the same desired state (read back N flows, diff: zero
 * flow-mods), then one owner changing. Repeated for a few batch sizes.
 *   pnpm --filter @dragonflow/bench bench:reconciler-ovs
 * DF_BENCH_FLOWS (default 50000) sets N; DF_BENCH_BATCHES (default "200,1000,5000") the batch sizes.
 */
import { performance } from 'node:perf_hooks';
import { type DesiredFlow } from '@dragonflow/core';
import { Reconciler, switchChannel } from '@dragonflow/core/host';
import { CleanupStack } from '@dragonflow/sandbox';
import { FLOWS_PER_OWNER, mb, ownerFlows, ownerId } from './reconciler-flows.js';
import { startBenchSwitch } from './ovs-switch.js';

const COMMAND = 'pnpm --filter @dragonflow/bench bench:reconciler-ovs';
const TOTAL = Number(process.env['DF_BENCH_FLOWS'] ?? 50_000);
const BATCHES = (process.env['DF_BENCH_BATCHES'] ?? '200,1000,5000').split(',').map(Number);
const OWNERS = Math.ceil(TOTAL / FLOWS_PER_OWNER);

async function main(): Promise<void> {
  const cleanup = new CleanupStack();
  try {
    const { ovs, conn } = await startBenchSwitch(cleanup, { bridge: 'br-bench', nsPrefix: 'dfrbench' });
    const channel = switchChannel(conn);
    const flows: DesiredFlow[][] = Array.from({ length: OWNERS }, (_, i) => ownerFlows(i));
    const version = (await ovs.tool('ovs-vswitchd', ['--version'])).split('\n')[0]!.split(' ').pop();
    console.log(`reconciler → ovs-vswitchd ${version} (userspace datapath): ${TOTAL.toLocaleString('en')} desired flows (${OWNERS.toLocaleString('en')} owners × ${FLOWS_PER_OWNER}), Node ${process.versions.node}`);
    console.log('batch   install from scratch (diff+encode+send+barriers)   restart: read back + diff   one owner changed → confirmed');
    for (const batchSize of BATCHES) {
      // a clean switch for each run
      await channel.sendBatch([{ type: 'flow_mod', command: 'delete', cookie: 0n, cookieMask: 0n, tableId: 0xff, idleTimeout: 0, hardTimeout: 0, priority: 0, bufferId: 0xffffffff, outPort: 0xffffffff, outGroup: 0xffffffff, flags: 0, match: {}, instructions: [] }]);

      const r = new Reconciler({ batchSize });
      let t = performance.now();
      for (let i = 0; i < OWNERS; i++) r.replace(ownerId(i), flows[i]!);
      r.setComplete(1);
      await r.attach(channel);
      await r.flush();
      await r.waitForRevision(1);
      const tInstall = performance.now() - t;
      const installed = (await conn.flowStats()).length;
      if (installed !== flows.flat().length) throw new Error(`${installed} flows on the switch, expected ${flows.flat().length}`);

      const r2 = new Reconciler({ batchSize });
      t = performance.now();
      for (let i = 0; i < OWNERS; i++) r2.replace(ownerId(i), flows[i]!);
      r2.setComplete(1);
      await r2.attach(channel);
      await r2.flush();
      await r2.waitForRevision(1);
      const tRestart = performance.now() - t;
      const restartMods = r2.totals.adds + r2.totals.modifies + r2.totals.deletes;

      t = performance.now();
      r2.replace(ownerId(5), ownerFlows(OWNERS + 5));
      r2.markRevision(2);
      await r2.waitForRevision(2);
      const tOne = performance.now() - t;

      const rate = Math.round(TOTAL / (tInstall / 1000));
      console.log(
        `${String(batchSize).padStart(5)}   ${(tInstall / 1000).toFixed(2).padStart(6)} s  ${rate.toLocaleString('en').padStart(7)} flows/s  (${r.totals.batches} barriers)        ${(tRestart / 1000).toFixed(2).padStart(5)} s, ${restartMods} flow-mods        ${tOne.toFixed(1).padStart(6)} ms`,
      );
      if (restartMods !== 0) throw new Error(`a restart with the same desired flows sent ${restartMods} flow-mods`);
    }
    console.log(`controller RSS ${mb(process.memoryUsage().rss)}`);
    console.log(`reproduce: ${COMMAND}`);
  } finally {
    const problems = await cleanup.run();
    if (problems.length) console.error(`cleanup: ${problems.join('; ')}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
