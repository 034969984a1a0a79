import { CORE_API_VERSION, type AppDescriptor } from '@dragonflow/core';
import { PUNT_METER_OWNER, cookieSlot, instructionsKey, validateApps } from '@dragonflow/core/host';
import { flowIdentity } from '@dragonflow/openflow';
import semver from 'semver';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness, type HarnessApp } from '../harness/harness.js';

export interface AppContractOptions {
  /** The app under test. */
  readonly app: HarnessApp;
  /** Apps it needs (its `requires`), in config order before it. */
  readonly with?: readonly HarnessApp[];
  /** Creates the topology the app acts on (networks, ports; plug local ports with `h.plug`). */
  scenario(h: Harness): Promise<void>;
  /** Deletes (or unplugs) everything the scenario made, so the app has nothing left to act on. */
  teardown(h: Harness): Promise<void>;
  /** The scenario must make the app install at least this many flows (default 1). */
  readonly minFlows?: number;
}

const descriptorOf = (a: HarnessApp): AppDescriptor => ('app' in a && 'resync' in a ? a : (a as { descriptor: AppDescriptor }).descriptor);

/**
 * The contract every app passes (first-party and third-party alike): it loads and
 * allocates, writes only its own tables, installs idempotently (a resync, a
 * controller restart and a replayed batch change nothing), and removes everything
 * it installed when its objects go away. Call it in a test file:
 *
 * ```ts
 * describeAppContract({ app: myApp, scenario: async (h) => {...}, teardown: async (h) => {...} });
 * ```
 */
export function describeAppContract(options: AppContractOptions): void {
  const d = descriptorOf(options.app);
  const apps = [...(options.with ?? []), options.app];
  let h: Harness | undefined;

  async function ready(): Promise<Harness> {
    h = await startHarness({ apps });
    await options.scenario(h);
    await h.settle();
    return h;
  }

  /** Flows on the switch whose cookie names the app. */
  function appFlows(hh: Harness) {
    const slot = hh.runtime.pipeline.app(d.name).slot;
    return hh.fakeSwitch.flowStats().filter((f) => cookieSlot(f.cookie) === slot);
  }

  async function errorsOf(hh: Harness): Promise<number> {
    const handler = (await hh.metrics.handlerErrors.get()).values.filter((v) => v.labels['app'] === d.name).reduce((n, v) => n + v.value, 0);
    const refused = (await hh.metrics.flowsRefused.get()).values.filter((v) => v.labels['app'] === d.name).reduce((n, v) => n + v.value, 0);
    const switchErrors = (await hh.metrics.switchErrors.get()).values.filter((v) => v.labels['app'] === d.name).reduce((n, v) => n + v.value, 0);
    return handler + refused + switchErrors;
  }

  describe(`app contract: ${d.name}`, () => {
    afterEach(async () => {
      await h?.stop();
      h = undefined;
    });

    it('loads: a valid descriptor for this core API, consistent with the apps it needs', () => {
      expect(semver.satisfies(CORE_API_VERSION, d.coreApi)).toBe(true);
      expect(() => validateApps(apps.map((a) => ({ package: `(${descriptorOf(a).name})`, descriptor: descriptorOf(a) })))).not.toThrow();
    });

    it('allocates its declared tables in its declared stages', async () => {
      const hh = await startHarness({ apps });
      h = hh;
      const allocated = hh.runtime.pipeline.app(d.name);
      const declared = Object.entries(d.tables ?? {}).flatMap(([stage, specs]) => (specs ?? []).map((t) => `${stage}/${t.name}`));
      expect(allocated.tables.map((t) => `${t.stage}/${t.name}`)).toEqual(expect.arrayContaining(declared));
      expect(allocated.tables).toHaveLength(declared.length);
    });

    it('installs its flows, only in its own tables, without errors', async () => {
      const hh = await ready();
      const flows = appFlows(hh);
      expect(flows.length).toBeGreaterThanOrEqual(options.minFlows ?? 1);
      for (const f of flows) expect(hh.runtime.pipeline.ownerOf(f.tableId), `flow in table ${f.tableId}`).toBe(d.name);
      expect(await errorsOf(hh)).toBe(0);
    });

    it('installs idempotently: a resync, a restart and a replayed batch change nothing', async () => {
      const hh = await ready();
      const before = hh.fakeSwitch.flowStats().map((f) => `${flowIdentity(f.tableId, f.priority, f.match)} ${f.cookie} ${instructionsKey(f.instructions)}`);
      hh.fakeSwitch.resetStats();
      hh.runtime.app(d.name).requestResync('contract');
      await hh.settle();
      expect(hh.fakeSwitch.stats.flowMods, 'flow-mods after a resync').toBe(0);
      await hh.restart();
      expect(hh.fakeSwitch.stats.flowMods, 'flow-mods after a controller restart').toBe(0);
      const replay = appFlows(hh).map((f) => ({
        type: 'flow_mod' as const,
        command: 'add' as const,
        cookie: f.cookie,
        cookieMask: 0n,
        tableId: f.tableId,
        idleTimeout: f.idleTimeout,
        hardTimeout: f.hardTimeout,
        priority: f.priority,
        bufferId: 0xffffffff,
        outPort: 0xffffffff,
        outGroup: 0xffffffff,
        flags: f.flags,
        match: f.match,
        instructions: f.instructions,
      }));
      const outcome = await hh.fakeSwitch.connect().sendBatch(replay);
      expect(outcome.errors).toEqual([]);
      const after = hh.fakeSwitch.flowStats().map((f) => `${flowIdentity(f.tableId, f.priority, f.match)} ${f.cookie} ${instructionsKey(f.instructions)}`);
      expect(after.sort()).toEqual(before.sort());
      expect(await errorsOf(hh)).toBe(0);
    });

    it('removes everything it installed when its objects go away', async () => {
      const hh = await ready();
      expect(appFlows(hh).length).toBeGreaterThan(0);
      await options.teardown(hh);
      await hh.settle();
      expect(appFlows(hh)).toEqual([]);
      // The core's punt meter of the app (punt.meter) stays while the app is loaded: it holds no flow.
      expect(hh.runtime.reconciler.ownersOf(d.name).filter((o) => o !== PUNT_METER_OWNER)).toEqual([]);
      expect(await errorsOf(hh)).toBe(0);
    });
  });
}
