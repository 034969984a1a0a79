import type { PacketOut } from '@dragonflow/openflow';
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { ImmediateLane, UNCONFIRMED_FLUSH } from './immediate.js';
import type { Op } from './ops.js';
import type { Sender } from './sender.js';
import type { BatchOutcome, SwitchChannel, SwitchRequest } from './switch.js';

/** A channel that records what was sent how; `sendBatch` resolves at once (its barrier reply). */
function channel(withSend = true, failSend = false) {
  const calls: { how: 'batch' | 'send'; data: number[] }[] = [];
  const data = (rs: readonly SwitchRequest[]) => rs.map((r) => (r as PacketOut).data[0]!);
  const ch: SwitchChannel = {
    datapathId: 1n,
    sendBatch: (rs): Promise<BatchOutcome> => {
      calls.push({ how: 'batch', data: data(rs) });
      return Promise.resolve({ errors: [] });
    },
    ...(withSend
      ? {
          send: (rs: readonly SwitchRequest[]): Promise<void> => {
            calls.push({ how: 'send', data: data(rs) });
            return failSend ? Promise.reject(new Error('connection closed')) : Promise.resolve();
          },
        }
      : {}),
    dumpFlows: () => Promise.resolve([]),
    dumpGroups: () => Promise.resolve([]),
    messages$: new Subject<never>(),
  };
  return { ch, calls };
}

const sender = { count: () => undefined, settle: () => undefined } as unknown as Sender;
const out = (n: number): Op[] => [{ kind: 'packet_out', request: { type: 'packet_out', bufferId: 0xffffffff, inPort: 0xfffffffd, actions: [], data: Uint8Array.of(n) } }];

describe('ImmediateLane: confirmation', () => {
  it('a tick is one batch with its barrier by default', async () => {
    const { ch, calls } = channel();
    const lane = new ImmediateLane(sender);
    await Promise.all([lane.join(ch, out(1)), lane.join(ch, out(2))]);
    expect(calls).toEqual([{ how: 'batch', data: [1, 2] }]);
  });

  it('a tick whose callers all said confirm: false is written with no barrier, in call order', async () => {
    const { ch, calls } = channel();
    const lane = new ImmediateLane(sender);
    await Promise.all([lane.join(ch, out(1), false), lane.join(ch, out(2), false)]);
    expect(calls).toEqual([{ how: 'send', data: [1, 2] }]);
  });

  it('one caller wanting confirmation gives the whole tick its barrier', async () => {
    const { ch, calls } = channel();
    const lane = new ImmediateLane(sender);
    await Promise.all([lane.join(ch, out(1), false), lane.join(ch, out(2)), lane.join(ch, out(3), false)]);
    expect(calls).toEqual([{ how: 'batch', data: [1, 2, 3] }]);
  });

  it('a long unconfirmed tick is written every UNCONFIRMED_FLUSH requests, in order, before the tick ends; a confirmed one stays one batch', async () => {
    const { ch, calls } = channel();
    const lane = new ImmediateLane(sender);
    const n = UNCONFIRMED_FLUSH * 2 + 3;
    const waits = Array.from({ length: n }, (_, i) => lane.join(ch, out(i), false));
    // the first two writes happened inside join, before the tick's end
    expect(calls.map((c) => c.data.length)).toEqual([UNCONFIRMED_FLUSH, UNCONFIRMED_FLUSH]);
    await Promise.all(waits);
    expect(calls.map((c) => c.how)).toEqual(['send', 'send', 'send']);
    expect(calls.flatMap((c) => c.data)).toEqual(Array.from({ length: n }, (_, i) => i));
    calls.length = 0;
    await Promise.all(Array.from({ length: n }, (_, i) => lane.join(ch, out(i), i !== 3)));
    expect(calls).toEqual([{ how: 'batch', data: Array.from({ length: n }, (_, i) => i) }]);
  });

  it('a channel that cannot send without a barrier gets a batch', async () => {
    const { ch, calls } = channel(false);
    const lane = new ImmediateLane(sender);
    await lane.join(ch, out(1), false);
    expect(calls).toEqual([{ how: 'batch', data: [1] }]);
  });

  it('an unconfirmed tick that cannot be written rejects its callers', async () => {
    const { ch } = channel(true, true);
    const lane = new ImmediateLane(sender);
    await expect(lane.join(ch, out(1), false)).rejects.toThrow('connection closed');
  });
});
