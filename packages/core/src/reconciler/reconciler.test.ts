import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { act, inst, type FlowMod, type FlowStats } from '@dragonflow/openflow';
import { EMPTY } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { OWNER_KINDS } from '../pipeline/registers.js';
import { flow, type DesiredFlow } from './flow.js';
import { flowIdentity, instructionsKey } from './keys.js';
import { Reconciler, type OwnerId } from './reconciler.js';
import type { BatchOutcome, SwitchChannel, SwitchRequest } from './switch.js';
import { requestMessage } from './wire.js';

/** A switch that records what it is sent (as message objects) and reports the flows it was given. */
class RecordingChannel implements SwitchChannel {
  readonly datapathId = 1n;
  readonly messages$ = EMPTY;
  readonly sent: ReturnType<typeof requestMessage>[] = [];
  constructor(private readonly installed: readonly FlowStats[] = []) {}
  async sendBatch(requests: readonly SwitchRequest[]): Promise<BatchOutcome> {
    for (const r of requests) this.sent.push(requestMessage(r));
    return { errors: [] };
  }
  async dumpFlows(): Promise<readonly FlowStats[]> {
    return this.installed;
  }
  async dumpGroups() {
    return [];
  }
}

const owner = (n: number): OwnerId => ({ app: 'test', slot: 3, owner: `port:p${n}`, kind: OWNER_KINDS.port, tag: n });

const portFlows = (n: number, out = n): DesiredFlow[] => [
  flow(0, { priority: 100, match: { in_port: n }, actions: [act.setField('reg6', n)], writeMetadata: { value: 7n, mask: 0xffff_ffffn }, goto: 5 }),
  flow(5, { priority: 100, match: { metadata: [7n, 0xffff_ffffn], eth_dst: `fa:16:3e:00:00:${n.toString(16).padStart(2, '0')}` }, actions: [act.setField('reg7', n)], goto: 9 }),
  flow(9, { priority: 100, match: { reg7: n }, actions: [act.output(out)] }),
];

async function synced(): Promise<{ r: Reconciler; ch: RecordingChannel }> {
  const r = new Reconciler();
  const ch = new RecordingChannel();
  r.setComplete(1);
  await r.attach(ch);
  return { r, ch };
}

/** Hands over `n` owners' flows (made here, so nothing of them outlives this call but what the reconciler keeps); weak references to them. */
function handOver(r: Reconciler, n: number): WeakRef<object>[] {
  const refs: WeakRef<object>[] = [];
  for (let i = 1; i <= n; i++) {
    const flows = portFlows(i);
    for (const f of flows) refs.push(new WeakRef(f), new WeakRef(f.match), new WeakRef(f.instructions));
    r.replace(owner(i), flows);
  }
  return refs;
}

/** V8's collector, for the retention test (exposed at run time, as `node --expose-gc` would). */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

describe('the reconciler keeps flows compact', () => {
  it('does not keep the DesiredFlow objects an app hands over (their wire form and keys are enough)', async () => {
    const { r } = await synced();
    const refs = handOver(r, 50);
    await r.flush();
    const gc = collector();
    for (let i = 0; i < 3 && refs.some((w) => w.deref() !== undefined); i++) {
      await new Promise((res) => setImmediate(res));
      gc();
    }
    expect(refs.filter((w) => w.deref() !== undefined)).toHaveLength(0);
    expect(r.desiredCount).toBe(150);
  });

  it('gives the same flows back (flowsOf decodes the wire form: same identity and instructions)', async () => {
    const { r } = await synced();
    const flows = portFlows(4);
    r.replace(owner(4), flows);
    const back = r.flowsOf('test', 'port:p4');
    expect(back.map((f) => flowIdentity(f.table, f.priority, f.match))).toEqual(flows.map((f) => flowIdentity(f.table, f.priority, f.match)));
    expect(back.map((f) => instructionsKey(f.instructions))).toEqual(flows.map((f) => instructionsKey(f.instructions)));
    expect(r.hasFlows('test', 'port:p4')).toBe(true);
    expect(r.hasFlows('test', 'port:p5')).toBe(false);
  });

  it('sends ADD, MODIFY_STRICT and DELETE_STRICT made from the stored wire form', async () => {
    const { r, ch } = await synced();
    r.replace(owner(2), portFlows(2));
    await r.flush();
    expect(ch.sent.map((m) => (m.type === 'flow_mod' ? `${m.command} ${m.tableId}/${m.priority}` : m.type))).toEqual(['add 0/100', 'add 5/100', 'add 9/100']);
    const add = ch.sent[2] as Omit<FlowMod, 'xid'>;
    expect(add).toMatchObject({ cookie: 0x0301_0000_0000_0002n, idleTimeout: 0, match: { reg7: { value: 2 } } });
    expect(instructionsKey(add.instructions)).toBe(instructionsKey([inst.apply(act.output(2))]));
    ch.sent.length = 0;
    // only the dispatch flow's output changes: MODIFY_STRICT of that flow, with its match and new instructions
    r.replace(owner(2), portFlows(2, 20));
    r.markRevision(2);
    await r.flush();
    expect(ch.sent).toHaveLength(1);
    expect(ch.sent[0]).toMatchObject({ type: 'flow_mod', command: 'modify_strict', tableId: 9, priority: 100, match: { reg7: { value: 2 } } });
    expect(instructionsKey((ch.sent[0] as Omit<FlowMod, 'xid'>).instructions)).toBe(instructionsKey([inst.apply(act.output(20))]));
    ch.sent.length = 0;
    r.remove({ app: 'test', owner: 'port:p2' });
    r.markRevision(3);
    await r.flush();
    expect(ch.sent.map((m) => m.type === 'flow_mod' && [m.command, m.tableId, m.priority, m.cookie, m.instructions.length, Object.keys(m.match)])).toEqual([
      ['delete_strict', 0, 100, 0n, 0, ['in_port']],
      ['delete_strict', 5, 100, 0n, 0, ['metadata', 'eth_dst']],
      ['delete_strict', 9, 100, 0n, 0, ['reg7']],
    ]);
  });

  it('refuses (FLOW_INVALID) a flow the codec cannot encode where it is handed over, changing nothing', async () => {
    const { r } = await synced();
    r.replace(owner(1), portFlows(1));
    // ip_proto without its eth_type prerequisite: the codec's validation refuses it
    const bad: DesiredFlow = { table: 5, priority: 7, match: { ip_proto: { value: 6 } }, instructions: [] };
    expect(() => r.replace(owner(1), [...portFlows(1), bad])).toThrow(/FLOW_INVALID|codec refuses/);
    expect(r.flowsOf('test', 'port:p1')).toHaveLength(3);
  });
});

/** Lets a scheduled flush run (setImmediate) and waits for it. */
async function settle(r: Reconciler): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  await r.flush();
}

describe('Reconciler.idle', () => {
  it('is false from a change until the switch confirmed it, and true once nothing is left to send', async () => {
    const { r, ch } = await synced();
    await settle(r);
    expect(r.idle).toBe(true);
    r.replace(owner(1), portFlows(1));
    expect(r.idle).toBe(false); // a changed owner waits for the next diff
    r.markRevision(2);
    const confirmed = r.waitForRevision(2);
    expect(r.idle).toBe(false);
    await confirmed;
    await settle(r);
    expect(r.idle).toBe(true);
    expect(ch.sent.length).toBeGreaterThanOrEqual(3);
    r.markRevision(3); // a revision that changed no flow still has to be confirmed
    expect(r.idle).toBe(false);
    await r.waitForRevision(3);
    await settle(r);
    expect(r.idle).toBe(true);
  });
});
