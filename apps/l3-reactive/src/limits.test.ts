import l2 from '@dragonflow/app-l2';
import { reactiveOptionsSchema } from '@dragonflow/l3';
import { addRouterInterface, ipPacket, routedCloud, routerMac, vmMac, type RoutedCloud } from '@dragonflow/l3/testing';
import { afterEach, describe, expect, it } from 'vitest';
import l3 from './index.js';
import type { ReactiveRouter } from './reactive-router.js';

let c: RoutedCloud | undefined;
afterEach(async () => {
  await c?.h.stop();
  c = undefined;
});

const app = (cc: RoutedCloud) => cc.h.runtime.app('l3-reactive').instance as ReactiveRouter;
const from = (vm: 'vm1' | 'vm5', dst: string) =>
  vm === 'vm1' ? ipPacket({ srcMac: vmMac(0x11), dstMac: routerMac(1), src: '10.0.1.11', dst }) : ipPacket({ srcMac: vmMac(0x15), dstMac: routerMac(3), src: '10.0.3.15', dst });

/** A broad extra route: every address behind it is a new exact flow (what a scanning VM makes of it). */
async function withBroadRoute(options: object): Promise<RoutedCloud> {
  c = await routedCloud([l2, { descriptor: l3, options }]);
  await c.h.nb.modify('logical_router', c.router.id, (r) => ({ ...r, routes: [{ destination: '192.168.0.0/16', nexthop: '10.0.2.12' }] }));
  await c.h.settle();
  return c;
}

const exactTo = (cc: RoutedCloud) => app(cc).exactFlows.map((o) => o.split(':').at(-1)).sort();

describe('l3-reactive: exact flows are bounded', () => {
  it('per source port: past the cap the least recently punted flow is evicted from the switch and counted', async () => {
    const cc = await withBroadRoute({ maxExactFlowsPerPort: 3 });
    for (let i = 1; i <= 5; i++) expect((await cc.h.inject(from('vm1', `192.168.0.${i}`), 1)).packetIns).toHaveLength(1);
    expect(exactTo(cc)).toEqual(['192.168.0.3', '192.168.0.4', '192.168.0.5']);
    expect(app(cc).reactive.evicted).toBe(2);
    // The evicted flow is gone from the switch: its next packet is punted again (and evicts .3, the oldest now).
    expect((await cc.h.inject(from('vm1', '192.168.0.1'), 1)).packetIns).toHaveLength(1);
    expect(exactTo(cc)).toEqual(['192.168.0.1', '192.168.0.4', '192.168.0.5']);
    // A kept one stays in the switch.
    expect((await cc.h.inject(from('vm1', '192.168.0.5'), 1)).packetIns).toEqual([]);
    expect(cc.h.trace(from('vm1', '192.168.0.3'), 1).packetIns).toHaveLength(1);
    expect(app(cc).reactive.evicted).toBe(3);
    // ... and in the controller's metrics
    expect((await cc.h.metrics.flowsEvicted.get()).values.find((v) => v.labels['app'] === 'l3-reactive')?.value).toBe(3);
  });

  it('per router: two ports together cannot hold more than the router cap', async () => {
    const cc = await withBroadRoute({ maxExactFlowsPerRouter: 4 });
    await addRouterInterface(cc.h, await cc.h.nb.require('logical_router', cc.router.id), cc.sub.sub3, routerMac(3));
    await cc.h.settle();
    for (let i = 1; i <= 3; i++) await cc.h.inject(from('vm1', `192.168.1.${i}`), 1);
    for (let i = 1; i <= 3; i++) await cc.h.inject(from('vm5', `192.168.5.${i}`), 5);
    expect(app(cc).exactFlows).toHaveLength(4);
    expect(exactTo(cc)).toEqual(['192.168.1.3', '192.168.5.1', '192.168.5.2', '192.168.5.3']);
    expect(app(cc).reactive.evicted).toBe(2);
  });

  it('has the defaults docs/l3.md states', () => {
    const options = reactiveOptionsSchema.parse({});
    expect([options.maxExactFlowsPerPort, options.maxExactFlowsPerRouter]).toEqual([1024, 16384]);
  });
});
