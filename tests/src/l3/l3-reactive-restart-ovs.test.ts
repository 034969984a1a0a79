/**
 * Reactive L3 and a controller restart on real Open vSwitch (userspace datapath):
 * the exact flows a controller installed for real pings are adopted by the
 * restarted controller — zero flow-mods, the flows keep counting their age on the
 * switch, and the same traffic afterwards costs no packet-in. Needs root and Open
 * vSwitch (./scripts/setup); never skips.
 */
import l2 from '@dragonflow/app-l2';
import reactive from '@dragonflow/app-l3-reactive';
import type { ReactiveRouter } from '@dragonflow/app-l3-reactive';
import { startRoutedDataplane, type RoutedDataplane } from '@dragonflow/l3/dataplane';
import { requireBinary, sleep } from '@dragonflow/sandbox';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { pingStats } from '../sandbox/traffic.js';

let d: RoutedDataplane;

/** The exact flows (idle timeout) on chassis-1's br-int, as Open vSwitch reports them: destination → age in seconds. */
async function exactFlows(): Promise<Map<string, number>> {
  const text = await d.chassis[0]!.chassis.ofctl('dump-flows', 'br-int');
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.includes('idle_timeout=')) continue;
    const dst = /nw_dst=([\d.]+)/.exec(line)?.[1];
    const age = /duration=([\d.]+)s/.exec(line)?.[1];
    if (dst && age) out.set(dst, Number(age));
  }
  return out;
}

const packetIns = async (): Promise<number> => (await d.chassis[0]!.metrics.packetIns.get()).values.find((v) => v.labels['app'] === 'l3-reactive')?.value ?? 0;

beforeAll(async () => {
  requireBinary('ovs-vswitchd');
  d = await startRoutedDataplane({
    chassis: 1,
    vms: [
      { name: 'vm1', network: 'net1', host: 11, chassis: 1 },
      { name: 'vm2', network: 'net2', host: 12, chassis: 1 },
    ],
    apps: [
      { package: '@dragonflow/app-l2', descriptor: l2 },
      { package: '@dragonflow/app-l3-reactive', descriptor: reactive },
    ],
  });
}, 180_000);

afterAll(async () => {
  const problems = await d?.stop();
  expect(problems ?? []).toEqual([]);
});

describe('l3-reactive on real Open vSwitch: a controller restart', () => {
  test('the exact flows are adopted: zero flow-mods, their age keeps counting, the same traffic costs no packet-in', async () => {
    // vm1 → vm2 across the router: one exact flow each way
    expect((await pingStats(d.vms['vm1']!.vm, '10.0.2.12', 3)).received).toBe(3);
    expect(await packetIns()).toBe(2);
    const before = await exactFlows();
    expect([...before.keys()].sort()).toEqual(['10.0.1.11', '10.0.2.12']);
    // the flows are over 1 s old when the restart begins: one it re-created would be younger
    await sleep(1_100);

    const restartAt = Date.now();
    await d.restartController(1);
    const runtime = d.chassis[0]!.runtime;
    expect(runtime.reconciler.totals).toEqual({ adds: 0, modifies: 0, deletes: 0, groupMods: 0, batches: 0 });
    expect((runtime.app('l3-reactive').instance as ReactiveRouter).reactive.adopted).toBe(2);
    const after = await exactFlows();
    const sinceRestart = (Date.now() - restartAt) / 1000;
    expect([...after.keys()].sort()).toEqual(['10.0.1.11', '10.0.2.12']);
    // not re-created: older than the time since the restart began (however long it took)
    for (const [dst, age] of after) expect(age, `flow to ${dst} was re-created`).toBeGreaterThan(sinceRestart);

    // the new controller has seen no punt, and the same traffic needs none
    expect(await packetIns()).toBe(0);
    expect((await pingStats(d.vms['vm1']!.vm, '10.0.2.12', 3)).received).toBe(3);
    expect(await packetIns()).toBe(0);
    expect(runtime.reconciler.totals.adds + runtime.reconciler.totals.modifies + runtime.reconciler.totals.deletes).toBe(0);
  });
});
