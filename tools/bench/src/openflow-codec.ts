/**
 * OpenFlow codec throughput for a typical flow-mod (what an app's desired flow becomes
 * on the wire): encode, decode, and the canonical key the reconciler computes.
 *   pnpm --filter @dragonflow/bench bench:codec
 * Target: ≥ 500 000 flow-mods/s encode and decode on one core.
 */
import { performance } from 'node:perf_hooks';
import { act, decodeMessage, encodeMessage, flowIdentity, flowMod, inst, instructionsKey, type FlowMod } from '@dragonflow/openflow';

const TARGET = 500_000;
const COMMAND = 'pnpm --filter @dragonflow/bench bench:codec';

/** An L3 routing flow: match network + destination prefix, rewrite MACs, TTL-1, set destination port key, continue. */
function typicalFlowMod(i: number): FlowMod {
  return flowMod({
    tableId: 40,
    priority: 200 + (i % 32),
    cookie: 0x0300_0000_0000_0000n | BigInt(i),
    match: { metadata: [BigInt(i % 4096), 0xffffn], eth_type: 0x0800, ipv4_dst: `10.${(i >> 8) & 255}.${i & 255}.0/24`, reg6: 17 },
    instructions: [
      inst.apply(act.decNwTtl(), act.setField('eth_src', 'fa:16:3e:00:00:01'), act.setField('eth_dst', 'fa:16:3e:00:12:34'), act.setField('reg7', i), act.setField('metadata', BigInt((i + 1) % 4096))),
      inst.gotoTable(50),
    ],
  });
}

function measure(label: string, ops: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(ops, 20_000); i++) fn(i); // warm up the JIT
  const start = performance.now();
  for (let i = 0; i < ops; i++) fn(i);
  const secs = (performance.now() - start) / 1000;
  const rate = ops / secs;
  const verdict = label.startsWith('encode') || label.startsWith('decode') ? (rate >= TARGET ? `meets ${TARGET.toLocaleString('en')}/s` : `MISSES ${TARGET.toLocaleString('en')}/s by ${(((TARGET - rate) / TARGET) * 100).toFixed(0)}%`) : '';
  console.log(`${label.padEnd(44)} ${Math.round(rate).toLocaleString('en').padStart(12)} /s  ${verdict}`);
  return rate;
}

const N = Number(process.env['DF_BENCH_OPS'] ?? 300_000);
const flows = Array.from({ length: 1024 }, (_, i) => typicalFlowMod(i));
const bytes = flows.map((f) => encodeMessage(f));
console.log(`OpenFlow codec, typical flow-mod (${bytes[0]!.length} bytes: 4 match fields, 5 actions + goto), ${N.toLocaleString('en')} ops each, node ${process.version}`);
measure('encode (validating the match)', N, (i) => encodeMessage(flows[i & 1023]!));
measure('encode (no validation)', N, (i) => encodeMessage(flows[i & 1023]!, { validate: false }));
measure('decode', N, (i) => decodeMessage(bytes[i & 1023]!));
measure('canonical key (flowIdentity + instructionsKey)', N, (i) => {
  const f = flows[i & 1023]!;
  flowIdentity(f.tableId, f.priority, f.match);
  instructionsKey(f.instructions);
});
console.log(`reproduce: ${COMMAND}`);
