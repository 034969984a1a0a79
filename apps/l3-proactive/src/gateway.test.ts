import l2 from '@dragonflow/app-l2';
import { PUBLIC_PORT, TUNNEL_PORT, externalNetwork, gatewayMac, ipPacket, ipv4Of, routedCloud, routerMac, setGateway, vmMac, type RoutedCloud } from '@dragonflow/l3/testing';
import { afterEach, describe, expect, it } from 'vitest';
import l3 from './index.js';
import type { ProactiveRouter } from './proactive-router.js';

let c: RoutedCloud | undefined;
afterEach(async () => {
  await c?.h.stop();
  c = undefined;
});

async function cloudWithGateway() {
  c = await routedCloud([l2, l3]);
  await c.h.setInfraPorts({ tunnels: { vxlan: TUNNEL_PORT }, providers: { public: PUBLIC_PORT } });
  const ext = await externalNetwork(c.h);
  const gw = await setGateway(c.h, c.router, ext, { ip: '172.24.4.20', mac: gatewayMac(1) });
  return { ...c, ext, gw };
}

const app = (cc: RoutedCloud) => cc.h.runtime.app('l3-proactive').instance as ProactiveRouter;
const fromVm1 = (dst: string) => ipPacket({ srcMac: vmMac(0x11), dstMac: routerMac(1), src: '10.0.1.11', dst });

describe('l3-proactive: the external gateway', () => {
  it('decides "external" for what no route covers, via the external subnet’s gateway, and for the external subnet itself via the destination', async () => {
    const { router, ext } = await cloudWithGateway();
    const m = app(c!).model;
    const r = m.router(router.id)!;
    expect(r.gateway).toMatchObject({ networkId: ext.network.id, enableSnat: true });
    expect([r.gateway!.ip.toString(), r.gateway!.mac.toString(), r.gateway!.nextHop?.toString()]).toEqual(['172.24.4.20', gatewayMac(1), '172.24.4.1']);
    const out = m.decide(r, ipv4Of(fromVm1('198.51.100.10')).dst);
    expect(out.kind === 'external' && [out.prefix.toString(), out.nextHop.toString()]).toEqual(['0.0.0.0/0', '172.24.4.1']);
    const onExt = m.decide(r, ipv4Of(fromVm1('172.24.4.77')).dst);
    expect(onExt.kind === 'external' && [onExt.prefix.toString(), onExt.nextHop.toString()]).toEqual(['172.24.4.0/24', '172.24.4.77']);
    // the router's own gateway address is its own, and tenant subnets are still routed as before
    expect(m.decide(r, r.gateway!.ip).kind).toBe('router-ip');
    expect(m.decide(r, ipv4Of(fromVm1('10.0.2.12')).dst).kind).toBe('forward');
  });

  it('routes vm1 → the internet out through the gateway: source MAC the gateway’s, TTL−1, external network, no destination port (the NAT apps take it from there)', async () => {
    const { h, router } = await cloudWithGateway();
    const t = h.trace(fromVm1('198.51.100.10'), 1);
    const hop = t.hops.find((x) => x.tableName === 'l3-proactive.routing');
    expect(hop?.flow?.owner).toBe(`router:${router.id}`);
    expect(hop?.flow?.priority).toBe(100);
    // without a NAT app nothing puts it on the provider network: it ends at dispatch (reg7 = 0)
    expect(t.ports).toEqual([]);
    // east-west is untouched by the default route
    const ew = h.trace(fromVm1('10.0.2.12'), 1);
    expect(ew.ports).toEqual([2]);
    expect(ew.only(2).src.toString()).toBe(routerMac(2));
  });

  it('answers a VM’s echo request to the gateway address in the switch, with the MAC it was sent to', async () => {
    const { h } = await cloudWithGateway();
    const t = h.trace(fromVm1('172.24.4.20'), 1);
    expect(t.ports).toEqual([1]);
    const ip = ipv4Of(t.only(1));
    expect([t.only(1).src.toString(), ip.src.toString(), ip.dst.toString()]).toEqual([routerMac(1), '172.24.4.20', '10.0.1.11']);
  });

  it('drops the external routes when the gateway is cleared', async () => {
    const { h, router, gw } = await cloudWithGateway();
    await h.nb.modify('logical_router', router.id, (r) => ({ ...r, externalGateway: null }));
    await h.nb.delete('logical_port', gw.port.id);
    await h.settle();
    const hop = h.trace(fromVm1('198.51.100.10'), 1).hops.find((x) => x.tableName === 'l3-proactive.routing');
    expect(hop?.flow?.priority).toBe(10);
    expect(app(c!).model.router(router.id)?.gateway).toBeUndefined();
  });
});
