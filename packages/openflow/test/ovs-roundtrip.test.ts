/**
 * The reconciler's contract, proven against a real Open vSwitch: a flow we encode
 * and the same flow read back from the switch (flow-stats) have the same identity
 * (table, priority, canonical match) and the same canonical instructions, for every
 * match field and action kind Open vSwitch implements. Also: our printer renders the
 * read-back flow as ovs-ofctl dump-flows does. Needs Open vSwitch (./scripts/setup).
 */
import { createNetns, deleteNetns, shortId, startOvs, type OvsInstance } from '@dragonflow/sandbox';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  ErrorType,
  OfPort,
  act,
  canonicalInstructions,
  canonicalMatch,
  describeOfError,
  flowIdentity,
  flowMod,
  formatFlow,
  instructionsKey,
  type FlowStats,
  type OfMessage,
} from '../src/index.js';
import { TestController } from './support/of-peer.js';
import { ROUNDTRIP_FLOWS } from './support/roundtrip-flows.js';

let ovs: OvsInstance;
/** vswitchd runs in its own namespace so its tap devices never meet anyone else's. */
const netns = `dfofrt-${shortId()}`.slice(0, 15);
let c: TestController;
let readBack: Map<bigint, FlowStats>;
const rejected = new Map<string, string>();

beforeAll(async () => {
  await createNetns(netns);
  ovs = await startOvs({ netns });
  await ovs.vsctl('add-br', 'br0', '--', 'set', 'bridge', 'br0', 'datapath_type=netdev', 'fail_mode=secure', 'protocols=OpenFlow13');
  for (const p of [1, 2, 3]) await ovs.vsctl('add-port', 'br0', `p${p}`, '--', 'set', 'interface', `p${p}`, 'type=internal', `ofport_request=${p}`);
  c = await TestController.connect(ovs.mgmtSocket('br0'));
  const pre: OfMessage[] = [
    { type: 'meter_mod', xid: 0, command: 'add', flags: 1, meterId: 1, bands: [{ type: 'drop', rate: 1000, burstSize: 0 }] },
    { type: 'group_mod', xid: 0, command: 'add', groupType: 'all', groupId: 1, buckets: [{ weight: 0, watchPort: OfPort.ANY, watchGroup: 0xffffffff, actions: [act.output(1)] }] },
  ];
  for (const m of pre) {
    const err = await c.sendAndBarrier(m);
    if (err) throw new Error(`setup ${m.type} failed: ${describeOfError(err.msg as never)}`);
  }
  for (const { label, flow } of ROUNDTRIP_FLOWS) {
    const err = await c.sendAndBarrier(flow);
    if (err && err.msg.type === 'error') rejected.set(label, describeOfError(err.msg));
  }
  const parts = await c.multipart({ type: 'multipart_request', xid: 0, more: false, body: { kind: 'flow', tableId: 1, outPort: OfPort.ANY, outGroup: 0xffffffff, cookie: 0n, cookieMask: 0n, match: {} } });
  readBack = new Map(parts.flatMap((p) => (p.msg.type === 'multipart_reply' && p.msg.body.kind === 'flow' ? p.msg.body.flows : [])).map((f) => [f.cookie, f]));
}, 60_000);

afterAll(async () => {
  c?.close();
  await ovs?.stop();
  await deleteNetns(netns);
});

describe('flows read back from Open vSwitch equal what we sent, canonically', () => {
  for (const { label, flow } of ROUNDTRIP_FLOWS) {
    test(label, () => {
      expect(rejected.get(label), `OVS rejected the flow`).toBeUndefined();
      const got = readBack.get(flow.cookie);
      expect(got, 'flow missing from the flow-stats reply').toBeDefined();
      expect({ identity: flowIdentity(got!.tableId, got!.priority, got!.match), match: canonicalMatch(got!.match) }).toEqual({
        identity: flowIdentity(flow.tableId, flow.priority, flow.match),
        match: canonicalMatch(flow.match),
      });
      expect(canonicalInstructions(got!.instructions)).toEqual(canonicalInstructions(flow.instructions));
      expect(instructionsKey(got!.instructions)).toBe(instructionsKey(flow.instructions));
    });
  }

  test('different flows do not collide: identities are unique per (table, priority, match)', () => {
    const ids = new Set(ROUNDTRIP_FLOWS.map(({ flow }) => flowIdentity(flow.tableId, flow.priority, flow.match)));
    expect(ids.size).toBe(ROUNDTRIP_FLOWS.length);
    const a = ROUNDTRIP_FLOWS[0]!.flow;
    expect(flowIdentity(a.tableId, a.priority + 1, a.match)).not.toBe(flowIdentity(a.tableId, a.priority, a.match));
  });
});

describe('the printer matches ovs-ofctl dump-flows', () => {
  test('every read-back flow prints as ovs-ofctl prints it', async () => {
    const text = await ovs.ofctl('-O', 'OpenFlow13', '--no-stats', '--no-names', 'dump-flows', 'br0', 'table=1');
    const ovsLines = new Map(
      text
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.startsWith('cookie='))
        .map((l) => [BigInt(l.slice('cookie='.length, l.indexOf(','))), l] as const),
    );
    const mismatches: string[] = [];
    for (const { label, flow } of ROUNDTRIP_FLOWS) {
      const got = readBack.get(flow.cookie);
      if (!got) continue;
      const ours = formatFlow(got, { stats: false });
      const theirs = ovsLines.get(flow.cookie);
      if (ours !== theirs) mismatches.push(`${label}\n  ours:      ${ours}\n  ovs-ofctl: ${theirs}`);
    }
    expect(mismatches.join('\n')).toBe('');
  });
});

describe('fields Open vSwitch does not implement', () => {
  test('are refused by the switch with OFPBMC_BAD_FIELD, matched to the request', async () => {
    for (const match of [{ in_port: 1, in_phy_port: 1 }, { eth_type: 0x88e7, pbb_isid: 5 }, { eth_type: 0x86dd, ipv6_exthdr: 1 }]) {
      const err = await c.sendAndBarrier(flowMod({ tableId: 2, priority: 1, match }));
      expect(err?.msg).toMatchObject({ type: 'error', errorType: ErrorType.BAD_MATCH, code: 6 });
    }
  });
});
