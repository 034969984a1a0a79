import { ManualClock } from '@dragonflow/base';
import { type OvsdbClient, Uuid } from '@dragonflow/ovsdb';
import { describe, expect, it } from 'vitest';
import { BridgeDatapathGuard } from './datapath-guard.js';

/** Stands in for ovsdb-server (unit test): answers getBridge's selects with one br-int row. */
function fakeOvsdb(bridge: () => { datapath_id: unknown } | undefined, state = 'connected'): OvsdbClient {
  return {
    state,
    transact: async () => {
      const row = bridge();
      const br = row ? [{ _uuid: new Uuid('11111111-2222-4333-8444-555555555555'), name: 'br-int', datapath_type: 'netdev', fail_mode: 'secure', protocols: [], controller: [], other_config: new Map(), external_ids: new Map(), ports: [], ...row }] : [];
      return [{ rows: br }, { rows: [] }, { rows: [] }];
    },
  } as unknown as OvsdbClient;
}

/** Lets pending OVSDB answers land, then moves the clock. */
async function step(clock: ManualClock, ms: number): Promise<void> {
  await new Promise((r) => setImmediate(r));
  clock.advance(ms);
  await new Promise((r) => setImmediate(r));
}

describe('BridgeDatapathGuard', () => {
  it('accepts the datapath id br-int has in OVSDB and refuses any other, saying why', async () => {
    const guard = new BridgeDatapathGuard('br-int', () => fakeOvsdb(() => ({ datapath_id: '000000000000df01' })));
    expect(await guard.accept(0xdf01n)).toBeUndefined();
    expect(await guard.accept(0xbad0n)).toBe('datapath 000000000000bad0 is not br-int (whose datapath id is 000000000000df01 in OVSDB)');
  });

  it('waits for vswitchd to write the id, and refuses after its deadline when it never does', async () => {
    let row: { datapath_id: unknown } | undefined = { datapath_id: [] };
    const clock = new ManualClock();
    const guard = new BridgeDatapathGuard('br-int', () => fakeOvsdb(() => row), { clock, timeoutMs: 1_000, pollMs: 100 });
    const accepted = guard.accept(0xdf01n);
    await step(clock, 300);
    row = { datapath_id: '000000000000df01' };
    for (let i = 0; i < 5; i++) await step(clock, 100);
    expect(await accepted).toBeUndefined();

    const missing = new BridgeDatapathGuard('br-int', () => fakeOvsdb(() => undefined), { clock, timeoutMs: 1_000, pollMs: 100 });
    const refused = missing.accept(0xdf01n);
    for (let i = 0; i < 12; i++) await step(clock, 100);
    expect(await refused).toBe('cannot confirm datapath 000000000000df01 is br-int: bridge br-int does not exist in OVSDB');
  });
});
