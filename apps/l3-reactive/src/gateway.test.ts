import l2 from '@dragonflow/app-l2';
import { PUBLIC_PORT, TUNNEL_PORT, externalNetwork, gatewayMac, ipPacket, routedCloud, routerMac, setGateway, vmMac, type RoutedCloud } from '@dragonflow/l3/testing';
import { afterEach, describe, expect, it } from 'vitest';
import l3 from './index.js';
import type { ReactiveRouter } from './reactive-router.js';

let c: RoutedCloud | undefined;
afterEach(async () => {
  await c?.h.stop();
  c = undefined;
});

const fromVm1 = (dst: string) => ipPacket({ srcMac: vmMac(0x11), dstMac: routerMac(1), src: '10.0.1.11', dst });

describe('l3-reactive: the external gateway', () => {
  it('routes what leaves through the gateway with flows up front (nothing punted), and still learns tenant destinations one by one', async () => {
    c = await routedCloud([l2, l3]);
    const { h, router } = c;
    await h.setInfraPorts({ tunnels: { vxlan: TUNNEL_PORT }, providers: { public: PUBLIC_PORT } });
    await setGateway(h, router, await externalNetwork(h), { ip: '172.24.4.20', mac: gatewayMac(1) });
    const out = await h.inject(fromVm1('198.51.100.10'), 1);
    expect(out.packetIns).toEqual([]);
    expect(out.hops.find((x) => x.tableName === 'l3-reactive.routing')?.flow).toMatchObject({ priority: 100, owner: `router:${router.id}` });
    // a tenant destination is not caught by the default route: its subnet's punt (priority 124) takes it first
    const ew = await h.inject(fromVm1('10.0.2.12'), 1);
    expect(ew.packetIns).toHaveLength(1);
    expect((h.runtime.app('l3-reactive').instance as ReactiveRouter).exactFlows).toHaveLength(1);
    expect(h.trace(fromVm1('10.0.2.12'), 1).ports).toEqual([2]);
  });
});
