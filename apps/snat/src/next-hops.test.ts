import { packet } from '@dragonflow/core';
import { PUBLIC_PORT, UPSTREAM_IP, UPSTREAM_MAC, gatewayMac, ipv4Of } from '@dragonflow/l3/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { GATEWAY_IP, INTERNET_HOST, fromVm1, natCloud, upstreamAnswers, type NatCloud } from '../test/nat-cloud.js';

let c: NatCloud | undefined;
afterEach(async () => {
  expect(c?.h.runtime.reconciler.failedOwners() ?? []).toEqual([]);
  await c?.h.stop();
  c = undefined;
});

const arpsFor = (cc: NatCloud, target: string) =>
  cc.h.fakeSwitch.delivered.filter((d) => d.port === PUBLIC_PORT && d.frame.payload.kind === 'arp' && d.frame.payload.op === 1 && d.frame.payload.tpa.toString() === target && d.frame.payload.spa.toString() !== target).length;

describe('snat: next hops on the external network', () => {
  it('asks again every second until answered, then every 30 s; a changed MAC moves the traffic at once', async () => {
    c = await natCloud();
    const first = arpsFor(c, UPSTREAM_IP);
    expect(first).toBe(1);
    c.h.clock.advance(1_000);
    c.h.clock.advance(1_000);
    await c.h.settle();
    expect(arpsFor(c, UPSTREAM_IP)).toBe(3);
    await upstreamAnswers(c);
    c.h.clock.advance(29_000);
    await c.h.settle();
    expect(arpsFor(c, UPSTREAM_IP)).toBe(3);
    c.h.clock.advance(1_000);
    await c.h.settle();
    expect(arpsFor(c, UPSTREAM_IP)).toBe(4);
    // the upstream router is replaced: the next answer carries a new MAC
    const newMac = 'fa:16:3e:aa:aa:02';
    await c.h.inject(packet.arpReply({ srcMac: newMac, srcIp: UPSTREAM_IP, dstMac: gatewayMac(1), dstIp: GATEWAY_IP }), PUBLIC_PORT);
    await c.h.settle();
    expect(c.h.trace(fromVm1(INTERNET_HOST), 1).only(PUBLIC_PORT).dst.toString()).toBe(newMac);
  });

  it('a next hop an NB port holds (an extra route via another router’s gateway) needs no ARP: its MAC comes from the NB', async () => {
    c = await natCloud();
    const other = await c.h.nb.create('logical_port', { networkId: c.ext.network.id, macAddress: 'fa:16:3e:bb:bb:01', fixedIps: [{ subnetId: c.ext.subnet.id, ipAddress: '172.24.4.50' }], deviceOwner: 'network:router_gateway', deviceId: 'someone-else' } as never);
    await c.h.nb.modify('logical_router', c.router.id, (r) => ({ ...r, routes: [{ destination: '192.168.50.0/24', nexthop: '172.24.4.50' }] }));
    await c.h.settle();
    await upstreamAnswers(c);
    expect(arpsFor(c, '172.24.4.50')).toBe(0);
    const t = c.h.trace(fromVm1('192.168.50.9'), 1);
    expect(t.only(PUBLIC_PORT).dst.toString()).toBe(other.macAddress);
    expect(ipv4Of(t.only(PUBLIC_PORT)).src.toString()).toBe(GATEWAY_IP);
    // the rest still goes to the upstream router
    expect(c.h.trace(fromVm1(INTERNET_HOST), 1).only(PUBLIC_PORT).dst.toString()).toBe(UPSTREAM_MAC);
  });
  it('asks only once the flow that punts the answer is in: a neighbour answering at once is learnt from its first answer, not from a retry a second later', async () => {
    // the gateway starts on chassis-2 (this chassis only redirects, asks nothing), then moves here
    c = await natCloud({ gatewayOn: 'chassis-2' });
    const cc = c;
    expect(arpsFor(cc, UPSTREAM_IP)).toBe(0);
    // the upstream router answers the moment the request leaves the provider port (before the next flush of desired flows)
    const sub = cc.h.fakeSwitch.delivered$.subscribe((o) => {
      const arp = o.frame.payload;
      if (o.port !== PUBLIC_PORT || arp.kind !== 'arp' || arp.op !== 1 || arp.tpa.toString() !== UPSTREAM_IP) return;
      cc.h.fakeSwitch.inject(packet.arpReply({ srcMac: UPSTREAM_MAC, srcIp: UPSTREAM_IP, dstMac: arp.sha, dstIp: arp.spa }), PUBLIC_PORT);
    });
    try {
      await cc.h.nb.modify('logical_router', cc.router.id, (r) => ({ ...r, externalGateway: { ...r.externalGateway!, chassisIds: [cc.h.chassisId, cc.c2.id] } }));
      await cc.h.settle();
    } finally {
      sub.unsubscribe();
    }
    expect(arpsFor(cc, UPSTREAM_IP)).toBe(1);
    expect(cc.h.trace(fromVm1(INTERNET_HOST), 1).only(PUBLIC_PORT).dst.toString()).toBe(UPSTREAM_MAC);
  });
});
