/**
 * The dead-man switch of the fallback path (docs/ha.md "Fallback path") rests on two
 * switch behaviours, checked here on the FakeSwitch (on the system clock) against
 * Open vSwitch's userspace datapath:
 *
 * - an OFPFC_ADD of a flow identical to an installed one replaces it and restarts its
 *   hard timeout: re-sent in time, a hard-timeout flow never expires, and no
 *   FLOW_REMOVED is sent for the replaced flow;
 * - when the re-adds stop, it expires after its hard timeout with FLOW_REMOVED
 *   (reason HARD_TIMEOUT).
 *
 * Needs root and Open vSwitch; never skips.
 */
import { systemClock } from '@dragonflow/base';
import type { SwitchAsyncMessage, SwitchChannel, SwitchRequest } from '@dragonflow/core/host';
import { FlowModFlags, FlowRemovedReason, act, inst } from '@dragonflow/openflow';
import { FakeSwitch } from '@dragonflow/testing';
import { waitFor } from '@dragonflow/sandbox';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startOvsBridge, type OvsBridge } from './ovs-bridge.js';
import { fm } from './pair.js';

let b: OvsBridge;
let fake: FakeSwitch;
let fakeChannel: SwitchChannel;

beforeAll(async () => {
  b = await startOvsBridge({ ports: 1, dpid: 0x4a7e1n, prefix: 'ht' });
  fake = new FakeSwitch({ ports: [1], clock: systemClock });
  fakeChannel = fake.connect();
}, 120_000);

afterAll(async () => {
  const problems = await b?.cleanup.run();
  expect(problems ?? []).toEqual([]);
});

const HARD = 2;
const liveness: SwitchRequest = fm({
  tableId: 3,
  priority: 100,
  cookie: 0x55n,
  hardTimeout: HARD,
  flags: FlowModFlags.SEND_FLOW_REM,
  match: { reg15: [0x8000_0000, 0x8000_0000] },
  instructions: [inst.apply(act.toController())],
});

/** The flow-removed messages a channel sends from now on. */
function removals(channel: SwitchChannel): { readonly seen: { reason: number; tableId: number }[]; stop(): void } {
  const seen: { reason: number; tableId: number }[] = [];
  const sub = channel.messages$.subscribe((m: SwitchAsyncMessage) => {
    if (m.type === 'flow_removed') seen.push({ reason: m.reason, tableId: m.tableId });
  });
  return { seen, stop: () => sub.unsubscribe() };
}

const installed = async (channel: SwitchChannel): Promise<number> => (await channel.dumpFlows()).filter((f) => f.tableId === 3 && f.priority === 100).length;

describe('hard timeouts: FakeSwitch against Open vSwitch', () => {
  test('an identical OFPFC_ADD restarts the hard timeout without FLOW_REMOVED; without it the flow expires with reason HARD_TIMEOUT', async () => {
    for (const [name, channel] of [
      ['ovs', b.channel],
      ['fake', fakeChannel],
    ] as const) {
      const removed = removals(channel);
      const started = Date.now();
      expect((await channel.sendBatch([liveness])).errors, name).toEqual([]);
      // re-added every 400 ms for 2.5 × the hard timeout
      while (Date.now() - started < HARD * 2500) {
        await new Promise((r) => setTimeout(r, 400));
        expect((await channel.sendBatch([liveness])).errors, name).toEqual([]);
      }
      expect(await installed(channel), name).toBe(1);
      expect(removed.seen, name).toEqual([]);
      // the age restarted with the last add
      const age = (await channel.dumpFlows()).find((f) => f.tableId === 3)!.durationSec;
      expect(age, name).toBeLessThan(HARD);
      // no more re-adds: it expires, reported as a hard timeout
      await waitFor(() => removed.seen.length > 0, { what: `${name}: the flow's FLOW_REMOVED`, timeoutMs: (HARD + 3) * 1000, intervalMs: 50 });
      expect(removed.seen, name).toEqual([{ reason: FlowRemovedReason.HARD_TIMEOUT, tableId: 3 }]);
      expect(await installed(channel), name).toBe(0);
      removed.stop();
    }
  }, 60_000);
});
