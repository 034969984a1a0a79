import { describeAppContract } from '@dragonflow/testing/contract';
import l2 from '@dragonflow/app-l2';
import l3Proactive from '@dragonflow/app-l3-proactive';
import l3Reactive from '@dragonflow/app-l3-reactive';
import { FLAG_NAT_DONE, packet } from '@dragonflow/core';
import { PUBLIC_PORT, UPSTREAM_MAC, contractScenario, contractTeardown, externalNetwork, gatewayMac, ipv4Of, routerMac, setGateway, vmMac } from '@dragonflow/l3/testing';
import type { HarnessApp } from '@dragonflow/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { GATEWAY_IP, INTERNET_HOST, fromOutside, natCloud, upstreamAnswers, type NatCloud } from '../test/nat-cloud.js';
import snat from './index.js';

let c: NatCloud | undefined;
afterEach(async () => {
  // every test ends with no flow the switch refused
  expect(c?.h.runtime.reconciler.failedOwners() ?? []).toEqual([]);
  await c?.h.stop();
  c = undefined;
});

const udpFrom = (o: { mac: string; routerMac: string; src: string; dst?: string; srcPort?: number }) =>
  packet.ethernet({ src: o.mac, dst: o.routerMac, payload: packet.ipv4({ src: o.src, dst: o.dst ?? INTERNET_HOST, ttl: 64, payload: packet.udp({ srcPort: o.srcPort ?? 40000, dstPort: 5001, payload: 'ping' }) }) });

describe('snat: tenants', () => {
  it('two routers with the same tenant CIDR reach the outside at once, each from its own gateway IP, and each reply finds its own VM', async () => {
    c = await natCloud();
    const { h } = c;
    // tenant B: 10.0.1.0/24 again, behind router2 with its own gateway 172.24.4.30
    const netB = await h.network('netB', { networkType: 'vxlan', segmentationId: 1011 });
    const subB = await h.subnet(netB, '10.0.1.0/24', { gatewayIp: '10.0.1.1' });
    const router2 = await h.nb.create('logical_router', { name: 'router2' });
    await h.routerInterface(router2, subB, routerMac(9));
    const vmB = await h.port(subB, '10.0.1.11', vmMac(0x21));
    await h.plug(vmB, 6);
    await setGateway(h, router2, c.ext, { ip: '172.24.4.30', mac: gatewayMac(2), chassisIds: [h.chassisId] });
    await upstreamAnswers(c);

    const a = await h.inject(udpFrom({ mac: vmMac(0x11), routerMac: routerMac(1), src: '10.0.1.11' }), 1);
    const b = await h.inject(udpFrom({ mac: vmMac(0x21), routerMac: routerMac(9), src: '10.0.1.11' }), 6);
    const outA = a.only(PUBLIC_PORT);
    const outB = b.only(PUBLIC_PORT);
    expect([outA.src.toString(), ipv4Of(outA).src.toString(), outA.dst.toString()]).toEqual([gatewayMac(1), GATEWAY_IP, UPSTREAM_MAC]);
    expect([outB.src.toString(), ipv4Of(outB).src.toString(), outB.dst.toString()]).toEqual([gatewayMac(2), '172.24.4.30', UPSTREAM_MAC]);
    // one connection per router zone, same original tuple
    const zones = h.fakeSwitch.connections().map((x) => x.zone);
    expect(new Set(zones).size).toBe(2);

    const backA = await h.inject(fromOutside({ dstMac: gatewayMac(1), dst: GATEWAY_IP, dstPort: 40000 }), PUBLIC_PORT);
    const backB = await h.inject(fromOutside({ dstMac: gatewayMac(2), dst: '172.24.4.30', dstPort: 40000 }), PUBLIC_PORT);
    expect(backA.ports).toEqual([1]);
    expect(backB.ports).toEqual([6]);
    expect([backB.only(6).src.toString(), ipv4Of(backB.only(6)).dst.toString()]).toEqual([routerMac(9), '10.0.1.11']);
  });

  it('east-west traffic between the router’s networks is routed, never NATed (no connection in the router zone)', async () => {
    c = await natCloud();
    await upstreamAnswers(c);
    const t = await c.h.inject(udpFrom({ mac: vmMac(0x11), routerMac: routerMac(1), src: '10.0.1.11', dst: '10.0.2.12' }), 1);
    expect(t.ports).toEqual([2]);
    expect(ipv4Of(t.only(2)).src.toString()).toBe('10.0.1.11');
    expect(c.h.fakeSwitch.connections()).toEqual([]);
    expect(t.apps).not.toContain('snat');
  });

  it('enable_snat false: nothing leaves for the outside, and nothing is answered for the gateway IP', async () => {
    c = await natCloud({ enableSnat: false });
    await upstreamAnswers(c);
    expect(c.h.trace(udpFrom({ mac: vmMac(0x11), routerMac: routerMac(1), src: '10.0.1.11' }), 1).ports).toEqual([]);
    expect(c.h.fakeSwitch.delivered.filter((d) => d.port === PUBLIC_PORT)).toEqual([]);
    // turned on: it works at once (ARP for the next hop, then SNAT)
    await c.h.nb.modify('logical_router', c.router.id, (r) => ({ ...r, externalGateway: { ...r.externalGateway!, enableSnat: true } }));
    await c.h.settle();
    await upstreamAnswers(c);
    expect(ipv4Of(c.h.trace(udpFrom({ mac: vmMac(0x11), routerMac: routerMac(1), src: '10.0.1.11' }), 1).only(PUBLIC_PORT)).src.toString()).toBe(GATEWAY_IP);
  });

  it('leaves a packet another NAT app translated alone (NAT_DONE)', async () => {
    c = await natCloud();
    await upstreamAnswers(c);
    const flows = c.app['ctx'].flows.flowsOf('snat:nat-done');
    expect(flows).toHaveLength(1);
    expect(JSON.stringify(flows[0]!.match, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))).toContain(String(FLAG_NAT_DONE));
  });

  it('works behind the reactive L3 app too: out through the up-front external routes; the first reply teaches the route back, later ones follow it', async () => {
    c = await natCloud({ l3: l3Reactive as never });
    await upstreamAnswers(c);
    const t = await c.h.inject(udpFrom({ mac: vmMac(0x11), routerMac: routerMac(1), src: '10.0.1.11' }), 1);
    expect(ipv4Of(t.only(PUBLIC_PORT)).src.toString()).toBe(GATEWAY_IP);
    const first = await c.h.inject(fromOutside({ dstMac: gatewayMac(1), dst: GATEWAY_IP, dstPort: 40000 }), PUBLIC_PORT);
    expect(first.packetIns).toHaveLength(1);
    await c.h.settle();
    const back = await c.h.inject(fromOutside({ dstMac: gatewayMac(1), dst: GATEWAY_IP, dstPort: 40000 }), PUBLIC_PORT);
    expect(back.ports).toEqual([1]);
    expect(ipv4Of(back.only(1)).dst.toString()).toBe('10.0.1.11');
  });
});

describeAppContract({
  app: snat as HarnessApp,
  with: [l2 as HarnessApp, l3Proactive as HarnessApp],
  scenario: async (h) => {
    await h.setInfraPorts({ tunnels: { vxlan: 100 }, providers: { public: PUBLIC_PORT } });
    await contractScenario(h);
    const r = (await h.nb.reader.list('logical_router'))[0]!;
    await setGateway(h, r, await externalNetwork(h), { ip: GATEWAY_IP, mac: gatewayMac(1), chassisIds: [h.chassisId] });
  },
  teardown: async (h) => {
    for (const r of await h.nb.reader.list('logical_router')) {
      await h.nb.modify('logical_router', r.id, (x) => ({ ...x, ports: [], externalGateway: null }));
      await h.nb.delete('logical_router', r.id);
    }
    // (the NbApi's read view may lag its own writes)
    await h.nb.reader.waitFor(h.nb.lastCommitRevision);
    await contractTeardown(h);
  },
});
