/**
 * Groups on the FakeSwitch against Open vSwitch: all, indirect, select and
 * fast-failover groups with the same flows on both, packets traced through both
 * (`ofproto/trace`; select groups through packet-outs, their hash is the datapath's), ports taken down and up on both (`ovs-ofctl mod-port` on the
 * real one) with the port-status messages compared; group-mod errors compared.
 * Needs root and Open vSwitch (./scripts/setup); never skips.
 */
import type { SwitchRequest } from '@dragonflow/core/host';
import { OfPort, act, type Action, type Bucket, type GroupType } from '@dragonflow/openflow';
import { ethernet, ipv4, udp } from '@dragonflow/packet';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { fm, puntBoth, resetBoth, sendBoth, setPortBoth, startPair, tracePorts, type SwitchPair } from './pair.js';

let p: SwitchPair;

beforeAll(async () => {
  p = await startPair('gr', 0x6e0e0n, 4);
}, 120_000);

afterAll(async () => {
  const problems = await p?.b.cleanup.run();
  expect(problems ?? []).toEqual([]);
});

beforeEach(async () => {
  await resetBoth(p);
});

afterEach(async () => {
  for (const port of [2, 3, 4]) if (!p.fake.portUp(port)) await setPortBoth(p, port, true);
});

/** A bucket with weight 0: Open vSwitch refuses a weight in any group but select. */
const bucket = (watchPort: number, ...actions: Action[]): Bucket => ({ weight: 0, watchPort, watchGroup: 0xffffffff, actions });
const weighted = (b: Bucket): Bucket => ({ ...b, weight: 1 });
const group = (groupId: number, groupType: GroupType, buckets: Bucket[], command: 'add' | 'modify' | 'delete' = 'add'): SwitchRequest => ({ type: 'group_mod', command, groupType, groupId, buckets });
const toGroup = (groupId: number) => fm({ tableId: 0, priority: 10, match: { eth_type: 0x0800 }, actions: [act.group(groupId)] });
const packet = (srcPort = 1000) => ethernet({ src: 'fa:16:3e:00:00:01', dst: 'fa:16:3e:00:00:02', payload: ipv4({ src: '10.0.0.1', dst: '10.0.0.2', payload: udp({ srcPort, dstPort: 7 }) }) });

async function ports(): Promise<number[]> {
  const { real, fake, text } = await tracePorts(p, packet(), 1);
  expect(fake, text).toEqual(real);
  return real;
}

describe('groups: FakeSwitch against Open vSwitch', () => {
  test('all: a copy out of every bucket', async () => {
    expect(await sendBoth(p, [group(1, 'all', [bucket(OfPort.ANY, act.output(2)), bucket(OfPort.ANY, act.output(3)), bucket(OfPort.ANY, act.output(4))]), toGroup(1)])).toEqual({ real: [], fake: [] });
    expect(await sendBoth(p, [group(10, 'all', [weighted(bucket(OfPort.ANY, act.output(2)))])])).toEqual({ real: ['0 OFPGMFC_INVALID_GROUP'], fake: ['0 OFPGMFC_INVALID_GROUP'] });
    expect(await ports()).toEqual([2, 3, 4]);
  });

  test('indirect: its one bucket', async () => {
    expect(await sendBoth(p, [group(2, 'indirect', [bucket(OfPort.ANY, act.output(3))]), toGroup(2)])).toEqual({ real: [], fake: [] });
    expect(await ports()).toEqual([3]);
  });

  test('fast failover follows port liveness: the first live bucket, the next when its port goes down, back when it comes up', async () => {
    expect(await sendBoth(p, [group(3, 'ff', [bucket(2, act.output(2)), bucket(3, act.output(3))]), toGroup(3)])).toEqual({ real: [], fake: [] });
    expect(await ports()).toEqual([2]);
    const down = await setPortBoth(p, 2, false);
    expect(down.real).toEqual(['modify 1/0', 'modify 1/1']);
    expect(down.fake).toEqual(down.real);
    expect(await ports()).toEqual([3]);
    await setPortBoth(p, 3, false);
    expect(await ports()).toEqual([]);
    const up = await setPortBoth(p, 2, true);
    expect(up.real).toEqual(['modify 0/1', 'modify 0/4']);
    expect(up.fake).toEqual(up.real);
    expect(await ports()).toEqual([2]);
  });

  test('select: one live bucket; a bucket whose watched port is down is skipped', async () => {
    // Open vSwitch picks a select bucket by a datapath hash ofproto/trace cannot see, so
    // the packets really go through (packet-outs) and each bucket marks them for the controller
    const marked = (port: number, mac: string) => weighted(bucket(port, act.setField('eth_dst', mac), act.toController()));
    expect(await sendBoth(p, [group(4, 'select', [marked(2, '02:00:00:00:00:02'), marked(3, '02:00:00:00:00:03')]), toGroup(4)])).toEqual({ real: [], fake: [] });
    const bucketOf = (frameHex: string) => frameHex.slice(0, 12);
    for (const srcPort of [1000, 1001, 1002, 1003]) {
      const { real, fake } = await puntBoth(p, packet(srcPort), 1);
      // which bucket each hash picks may differ; that exactly one is picked may not
      expect(real.length).toBe(1);
      expect(fake.length).toBe(1);
      expect(['020000000002', '020000000003']).toContain(bucketOf(real[0]!.frame));
      expect(['020000000002', '020000000003']).toContain(bucketOf(fake[0]!.frame));
    }
    await setPortBoth(p, 2, false);
    for (const srcPort of [1000, 1001, 1002, 1003]) {
      const { real, fake } = await puntBoth(p, packet(srcPort), 1);
      expect(real.map((x) => bucketOf(x.frame))).toEqual(['020000000003']);
      expect(fake).toEqual(real);
    }
  });

  test('group-mod errors are the same: exists, unknown, a flow to a missing group; deleting a group deletes its flows', async () => {
    const errors = await sendBoth(p, [
      group(5, 'all', [bucket(OfPort.ANY, act.output(2))]),
      group(5, 'all', [bucket(OfPort.ANY, act.output(2))]),
      group(6, 'all', [bucket(OfPort.ANY, act.output(2))], 'modify'),
      toGroup(7),
      toGroup(5),
      group(5, 'all', [], 'delete'),
    ]);
    expect(errors.real).toEqual(['1 OFPGMFC_GROUP_EXISTS', '2 OFPGMFC_UNKNOWN_GROUP', '3 OFPBAC_BAD_OUT_GROUP']);
    expect(errors.fake).toEqual(errors.real);
    expect((await p.b.channel.dumpFlows()).length).toBe(0);
    expect(p.fake.flowCount()).toBe(0);
  });

  test('group-desc reads back the same groups from both', async () => {
    expect(await sendBoth(p, [group(8, 'ff', [bucket(2, act.output(2)), bucket(3, act.output(3))]), group(9, 'select', [weighted(bucket(OfPort.ANY, act.output(4)))])])).toEqual({ real: [], fake: [] });
    const real = [...(await p.b.channel.dumpGroups())].sort((a, b) => a.groupId - b.groupId);
    expect(real.map((g) => g.groupId)).toEqual([8, 9]);
    expect(p.fake.groupStats().sort((a, b) => a.groupId - b.groupId)).toEqual(real);
  });
});
