/**
 * The reconciler without a switch in the way: 100 000 desired flows (10 000 owners
 * × 10 flows of the shapes the L2/L3 apps install) — the time to hand them over,
 * to diff them against an empty switch and encode every flow-mod, to diff them
 * against a switch that already has them all (a restart: zero flow-mods), and to
 * change one owner; plus the memory the desired and installed state take.
 *   pnpm --filter @dragonflow/bench bench:reconciler
 * DF_BENCH_FLOWS (default 100000) sets the size.
 */
import { performance } from 'node:perf_hooks';
import { type DesiredFlow } from '@dragonflow/core';
import { OWNER_KINDS, Reconciler, makeCookie, type BatchOutcome, type SwitchChannel, type SwitchRequest } from '@dragonflow/core/host';
import { Writer, encodeInto, type FlowStats, type OfMessage } from '@dragonflow/openflow';
import { EMPTY } from 'rxjs';
import { FLOWS_PER_OWNER, asFlowStats, mb, ownerFlows, ownerId } from './reconciler-flows.js';

const COMMAND = 'pnpm --filter @dragonflow/bench bench:reconciler';
const TOTAL = Number(process.env['DF_BENCH_FLOWS'] ?? 100_000);
const OWNERS = Math.ceil(TOTAL / FLOWS_PER_OWNER);

/** A switch that only encodes what it is sent (the bytes a real connection would write). */
class EncodingChannel implements SwitchChannel {
  readonly datapathId = 1n;
  readonly messages$ = EMPTY;
  bytes = 0;
  messages = 0;
  private readonly writer = new Writer(1 << 20);
  constructor(private readonly installed: readonly FlowStats[] = []) {}
  async sendBatch(requests: readonly SwitchRequest[]): Promise<BatchOutcome> {
    this.writer.pos = 0;
    for (const r of requests) {
      ++this.messages;
      if (r.type === 'encoded') this.writer.bytes(Buffer.from(r.wire, 'latin1')); // the reconciler's flows come encoded already
      else encodeInto(this.writer, { ...r, xid: this.messages } as OfMessage);
    }
    this.bytes += this.writer.pos;
    return { errors: [] };
  }
  async dumpFlows(): Promise<readonly FlowStats[]> {
    return this.installed;
  }
  async dumpGroups() {
    return [];
  }
}

const ms = (t: number): string => `${t.toFixed(0).padStart(5)} ms`;

async function main(): Promise<void> {
  console.log(`reconciler: ${TOTAL.toLocaleString('en')} desired flows (${OWNERS.toLocaleString('en')} owners × ${FLOWS_PER_OWNER}), Node ${process.versions.node}`);
  const flows: DesiredFlow[][] = Array.from({ length: OWNERS }, (_, i) => ownerFlows(i));
  global.gc?.();
  const heap0 = process.memoryUsage().heapUsed;

  // 1. apps hand their desired flows over (canonical keys computed here)
  const r = new Reconciler({ batchSize: 1000 });
  let t = performance.now();
  for (let i = 0; i < OWNERS; i++) r.replace(ownerId(i), flows[i]!);
  const tReplace = performance.now() - t;
  global.gc?.();
  const heapDesired = process.memoryUsage().heapUsed - heap0;

  // 2. a fresh switch: diff against nothing, encode every flow-mod
  const fresh = new EncodingChannel();
  r.setComplete(1);
  t = performance.now();
  await r.attach(fresh);
  await r.flush();
  const tFresh = performance.now() - t;
  global.gc?.();
  const heapBoth = process.memoryUsage().heapUsed - heap0;

  // 3. a restart: the switch already has every flow; read back, diff, send nothing
  const stats = flows.flatMap((list, i) => list.map((f) => asFlowStats(f, makeCookie(1, i + 1, OWNER_KINDS.port))));
  const r2 = new Reconciler({ batchSize: 1000 });
  for (let i = 0; i < OWNERS; i++) r2.replace(ownerId(i), flows[i]!);
  r2.setComplete(1);
  const same = new EncodingChannel(stats);
  t = performance.now();
  await r2.attach(same);
  await r2.flush();
  const tRestart = performance.now() - t;
  const restartMessages = same.messages;

  // 4. one owner (a port) changes: its flows are replaced, only they are sent
  const changed = ownerFlows(OWNERS + 7);
  const before = { ...r2.totals };
  t = performance.now();
  r2.replace(ownerId(3), changed);
  r2.markRevision(2);
  await r2.flush();
  const tOne = performance.now() - t;
  const oneSent = r2.totals.adds + r2.totals.modifies + r2.totals.deletes - (before.adds + before.modifies + before.deletes);

  const total = tReplace + tFresh;
  console.log(`hand over the desired flows (replace × ${OWNERS})     ${ms(tReplace)}  ${Math.round(TOTAL / (tReplace / 1000)).toLocaleString('en')} flows/s`);
  console.log(`diff + encode against an empty switch           ${ms(tFresh)}  ${fresh.messages.toLocaleString('en')} flow-mods, ${mb(fresh.bytes)} on the wire`);
  console.log(`  total diff + encode of ${TOTAL.toLocaleString('en')} flows             ${ms(total)}  target: well under 1 s — ${total < 1000 ? 'met' : `missed by ${ms(total - 1000).trim()}`}`);
  console.log(`restart: read back ${TOTAL.toLocaleString('en')} flows, diff             ${ms(tRestart)}  ${restartMessages} flow-mods sent`);
  console.log(`one owner changed (${FLOWS_PER_OWNER} flows replaced)                  ${ms(tOne)}  ${oneSent} flow-mods sent`);
  console.log(`heap: desired state ${mb(heapDesired)}, desired + installed ${mb(heapBoth)} (${Math.round(heapBoth / TOTAL)} bytes/flow); process RSS ${mb(process.memoryUsage().rss)}`);
  if (!global.gc) console.log('(run with node --expose-gc for steadier heap figures)');
  console.log(`reproduce: ${COMMAND}`);
  if (restartMessages !== 0) throw new Error(`a restart with the same flows sent ${restartMessages} messages`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
