import { ManualClock } from '@dragonflow/base';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PUNT_LIMITS, resolvePuntLimits, type PuntMeterHook, type PuntMeterSpec, type PuntSpec } from '../app/punt.js';
import { silentLogger } from '../observe/logger.js';
import { CoreMetrics } from '../observe/metrics.js';
import { allocatePipeline } from '../pipeline/allocator.js';
import { REG_SRC_PORT } from '../pipeline/registers.js';
import { flow } from '../reconciler/flow.js';
import { Reconciler } from '../reconciler/reconciler.js';
import { PuntGuard } from './punt-guard.js';

function guard(spec: PuntSpec<never>, meters?: PuntMeterHook): PuntGuard {
  const pipeline = allocatePipeline([{ app: 'x', tables: { services: [{ name: 'ask', match: [REG_SRC_PORT, 'eth_type'] }] }, registers: [] }]);
  const metrics = new CoreMetrics();
  return new PuntGuard({
    app: 'x',
    slot: pipeline.app('x').slot,
    spec,
    limits: resolvePuntLimits('x', spec, undefined),
    pipeline,
    reconciler: new Reconciler({ metrics }),
    metrics,
    clock: new ManualClock(),
    log: silentLogger(),
    ...(meters ? { meters } : {}),
  });
}

describe('PuntGuard', () => {
  it('puts the meter the host gives in front of the controller action of a punt flow', () => {
    const asked: [string, PuntMeterSpec][] = [];
    const g = guard({ tables: ['ask'], meter: { rate: 50, burst: 10 } }, { meterFor: (app, spec) => (asked.push([app, spec]), 7) });
    const f = flow(g.tables.keys().next().value!, { priority: 10, match: { eth_type: 0x0800 }, ...g.toController() });
    expect(f.instructions).toEqual([
      { type: 'meter', meterId: 7 },
      { type: 'apply_actions', actions: [{ type: 'output', port: 0xfffffffd, maxLen: 0xffff }] },
    ]);
    g.toController();
    expect(asked).toEqual([['x', { rate: 50, burst: 10 }]]);
  });

  it('without a meter hook, the core declares the punt meter itself in the app slot; without a meter spec, a punt flow is the controller action alone', () => {
    const own = guard({ tables: ['ask'], meter: { rate: 50, burst: 10 } });
    const slot = 1;
    expect(own.toController()).toEqual({ meter: ((slot << 24) | 0xffffff) >>> 0, actions: [{ type: 'output', port: 0xfffffffd, maxLen: 0xffff }] });
    expect(guard({ tables: ['ask'] }, { meterFor: () => 7 }).toController(128)).toEqual({ actions: [{ type: 'output', port: 0xfffffffd, maxLen: 128 }] });
  });

  it('counts within budget, then drops and suppresses once per port; port key 0 is never suppressed', () => {
    const g = guard({ tables: ['ask'], limits: { burst: 2 } });
    expect(g.limits).toEqual({ ...DEFAULT_PUNT_LIMITS, burst: 2 });
    expect([1, 1, 1, 1, 0, 0, 0].map((k) => g.admit(k))).toEqual([true, true, false, false, true, true, false]);
    expect(g.stats()).toEqual({ punts: 4, rateLimited: 3, suppressions: 1 });
    expect([g.isSuppressed(1), g.isSuppressed(0)]).toEqual([true, false]);
    expect(resolvePuntLimits('x', { tables: ['ask'], limits: (o: { punt: object }) => o.punt } as never, undefined)).toEqual(DEFAULT_PUNT_LIMITS);
    expect(g.suppressionFlows(1)).toEqual([expect.objectContaining({ priority: 65000, hardTimeout: DEFAULT_PUNT_LIMITS.suppressSeconds, match: { [REG_SRC_PORT]: { value: 1 } } })]);
  });
});
