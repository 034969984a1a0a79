import { afterAll, describe, expect, it } from 'vitest';
import { DfError, isDfError } from '@dragonflow/base';
import { CleanupStack } from '../cleanup.js';
import { isAlive } from '../process.js';
import { makeTempDir, removeDir } from '../tmp.js';
import { buildChassis, planChassis } from './chassis.js';
import { FABRIC_DEVICES, fabricNetns, newSandboxTag } from './names.js';
import { removeNetns } from './netns-procs.js';
import type { FabricState } from './state.js';

const cleanup = new CleanupStack();
afterAll(async () => {
  expect(await cleanup.run()).toEqual([]);
});

describe('buildChassis', () => {
  it('waits for its daemons to be recorded; when that fails it stops them and fails with that error', async () => {
    const tag = newSandboxTag();
    const dir = makeTempDir('df-chassis-test-');
    cleanup.defer('dir', () => removeDir(dir));
    // No fabric is created: a build that went on past the failed record would fail on the veths instead.
    const fabric: FabricState = { netns: fabricNetns(tag), underlaySwitch: FABRIC_DEVICES.underlaySwitch, providerSwitch: FABRIC_DEVICES.providerSwitch, underlayCidr: '172.31.0.0/24' };
    const state = planChassis({ tag, index: 1, dir, fabric, options: {} });
    cleanup.defer('chassis netns', () => removeNetns(state.netns));
    let recorded: { ovsdbServer: number; vswitchd: number } | undefined;
    const err = await buildChassis(state, fabric, {}, async (pids) => {
      recorded = pids;
      await Promise.resolve();
      throw new DfError('TEST_STATE', 'the state file cannot be written');
    }).catch((e: unknown) => e);
    expect(isDfError(err, 'TEST_STATE')).toBe(true);
    expect(recorded).toBeDefined();
    expect([isAlive(recorded!.ovsdbServer), isAlive(recorded!.vswitchd)]).toEqual([false, false]);
  });
});
