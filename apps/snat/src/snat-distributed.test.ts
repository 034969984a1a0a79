import { packet } from '@dragonflow/core';
import { PUBLIC_PORT, UPSTREAM_MAC, gatewayMac, ipv4Of, routerMac, setGateway, vmMac } from '@dragonflow/l3/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { INTERNET_HOST, fromOutside, natCloud, upstreamAnswers, type NatCloud } from '../test/nat-cloud.js';

let c: NatCloud | undefined;
afterEach(async () => {
  // every test ends with no flow the switch refused
  expect(c?.h.runtime.reconciler.failedOwners() ?? []).toEqual([]);
  await c?.h.stop();
  c = undefined;
});

const CHASSIS_IP = '172.24.4.201';
const udpFrom = (o: { mac: string; routerMac: string; src: string; srcPort?: number }) =>
  packet.ethernet({ src: o.mac, dst: o.routerMac, payload: packet.ipv4({ src: o.src, dst: INTERNET_HOST, ttl: 64, payload: packet.udp({ srcPort: o.srcPort ?? 40000, dstPort: 5001, payload: 'ping' }) }) });

describe('snat distributed', () => {
  it('vm1’s traffic leaves from this chassis’ own address and MAC (never the gateway chassis’), in the router’s port range; the reply comes back to vm1', async () => {
    // the gateway is placed on chassis-2: distributed SNAT does not use it
    c = await natCloud({ gatewayOn: 'chassis-2', options: { mode: 'distributed', address: CHASSIS_IP } });
    const chassisMac = c.app['addresses'].mac().toString();
    expect(chassisMac).toMatch(/^fa:16:3f:/);
    await upstreamAnswers(c, chassisMac, CHASSIS_IP);
    const t = await c.h.inject(udpFrom({ mac: vmMac(0x11), routerMac: routerMac(1), src: '10.0.1.11' }), 1);
    expect(t.ports).toEqual([PUBLIC_PORT]);
    const out = t.only(PUBLIC_PORT);
    const ip = ipv4Of(out);
    expect([out.src.toString(), out.dst.toString(), ip.src.toString(), ip.ttl]).toEqual([chassisMac, UPSTREAM_MAC, CHASSIS_IP, 63]);
    const port = ip.payload.kind === 'udp' ? ip.payload.srcPort : 0;
    expect(port).toBeGreaterThanOrEqual(1024);
    const back = await c.h.inject(fromOutside({ dstMac: chassisMac, dst: CHASSIS_IP, dstPort: port }), PUBLIC_PORT);
    expect(back.ports).toEqual([1]);
    expect([back.only(1).src.toString(), ipv4Of(back.only(1)).dst.toString()]).toEqual([routerMac(1), '10.0.1.11']);
    // the chassis answers ARP for its address
    const ask = c.h.trace(packet.arpRequest({ srcMac: UPSTREAM_MAC, srcIp: '172.24.4.1', targetIp: CHASSIS_IP }), PUBLIC_PORT).only(PUBLIC_PORT).payload;
    expect(ask.kind === 'arp' && [ask.op, ask.sha.toString()]).toEqual([2, chassisMac]);
  });

  it('two routers with the same tenant CIDR share the chassis address: each in its own zone and port range, each reply to its own VM', async () => {
    c = await natCloud({ options: { mode: 'distributed', address: CHASSIS_IP } });
    const { h } = c;
    const netB = await h.network('netB', { networkType: 'vxlan', segmentationId: 1011 });
    const subB = await h.subnet(netB, '10.0.1.0/24', { gatewayIp: '10.0.1.1' });
    const router2 = await h.nb.create('logical_router', { name: 'router2' });
    await h.routerInterface(router2, subB, routerMac(9));
    await h.plug(await h.port(subB, '10.0.1.11', vmMac(0x21)), 6);
    await setGateway(h, router2, c.ext, { ip: '172.24.4.30', mac: gatewayMac(2), chassisIds: [h.chassisId] });
    const chassisMac = c.app['addresses'].mac().toString();
    await upstreamAnswers(c, chassisMac, CHASSIS_IP);

    const a = ipv4Of((await h.inject(udpFrom({ mac: vmMac(0x11), routerMac: routerMac(1), src: '10.0.1.11' }), 1)).only(PUBLIC_PORT));
    const b = ipv4Of((await h.inject(udpFrom({ mac: vmMac(0x21), routerMac: routerMac(9), src: '10.0.1.11' }), 6)).only(PUBLIC_PORT));
    expect([a.src.toString(), b.src.toString()]).toEqual([CHASSIS_IP, CHASSIS_IP]);
    const pa = a.payload.kind === 'udp' ? a.payload.srcPort : 0;
    const pb = b.payload.kind === 'udp' ? b.payload.srcPort : 0;
    expect(pa).not.toBe(pb);
    // replies in the other order than the chain's: the second router's is found in the second zone
    const backB = await h.inject(fromOutside({ dstMac: chassisMac, dst: CHASSIS_IP, dstPort: pb }), PUBLIC_PORT);
    const backA = await h.inject(fromOutside({ dstMac: chassisMac, dst: CHASSIS_IP, dstPort: pa }), PUBLIC_PORT);
    expect([backA.ports, backB.ports]).toEqual([[1], [6]]);
    expect(backB.only(6).src.toString()).toBe(routerMac(9));
    // nobody started this one: no zone knows it
    expect((await h.inject(fromOutside({ dstMac: chassisMac, dst: CHASSIS_IP, dstPort: 7 }), PUBLIC_PORT)).ports).toEqual([]);
  });

  it('a chassis with no VM behind the router does nothing for it; from a pool, each chassis takes the address at its rank', async () => {
    c = await natCloud({ options: { mode: 'distributed', pool: '172.24.4.200/30' } });
    // chassis-1 is first of (chassis-1, chassis-2): the pool's first host address
    expect(c.app['addresses'].address()?.toString()).toBe('172.24.4.201');
    await c.h.unplug(c.vm.vm1);
    await c.h.unplug(c.vm.vm2);
    expect(c.app['ctx'].flows.owners().filter((o) => o.startsWith('snat:'))).toEqual([]);
  });
});
