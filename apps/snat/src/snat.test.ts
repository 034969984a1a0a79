import { packet } from '@dragonflow/core';
import { PUBLIC_PORT, TUNNEL_PORT, UPSTREAM_IP, UPSTREAM_MAC, gatewayMac, ipPacket, ipv4Of, routerMac, vmMac } from '@dragonflow/l3/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { GATEWAY_IP, INTERNET_HOST, fromOutside, natCloud, upstreamAnswers, type NatCloud } from '../test/nat-cloud.js';

let c: NatCloud | undefined;
afterEach(async () => {
  // every test ends with no flow the switch refused
  expect(c?.h.runtime.reconciler.failedOwners() ?? []).toEqual([]);
  await c?.h.stop();
  c = undefined;
});

/** A UDP datagram vm1 (10.0.1.11, port 1) sends to the internet host through its router. */
const vm1Out = (srcPort = 40000) =>
  packet.ethernet({ src: vmMac(0x11), dst: routerMac(1), payload: packet.ipv4({ src: '10.0.1.11', dst: INTERNET_HOST, ttl: 64, payload: packet.udp({ srcPort, dstPort: 5001, payload: 'ping' }) }) });

describe('snat centralized, on the gateway chassis', () => {
  it('asks for the upstream router by ARP out of the provider port, from the gateway address, and announces the gateway address', async () => {
    c = await natCloud();
    const sent = c.h.fakeSwitch.delivered.filter((d) => d.port === PUBLIC_PORT).map((d) => d.frame.payload);
    expect(sent).toContainEqual(expect.objectContaining({ kind: 'arp', op: 1, tpa: expect.objectContaining({}) }));
    const arps = sent.filter((p): p is packet.ArpPacket => p.kind === 'arp');
    expect(arps.map((a) => [a.op, a.spa.toString(), a.tpa.toString(), a.sha.toString()])).toEqual(
      expect.arrayContaining([
        [1, GATEWAY_IP, UPSTREAM_IP, gatewayMac(1)],
        [1, GATEWAY_IP, GATEWAY_IP, gatewayMac(1)],
      ]),
    );
    expect(c.app.stats.announced).toBe(1);
  });

  it('vm1 → internet: leaves on the provider port from the gateway IP and MAC to the upstream router’s MAC, TTL−1; the reply comes back to vm1 un-NATed', async () => {
    c = await natCloud();
    // before the next hop is resolved nothing leaves
    expect(c.h.trace(vm1Out(), 1).ports).toEqual([]);
    await upstreamAnswers(c);
    const t = await c.h.inject(vm1Out(), 1);
    expect(t.ports).toEqual([PUBLIC_PORT]);
    const out = t.only(PUBLIC_PORT);
    const ip = ipv4Of(out);
    expect([out.src.toString(), out.dst.toString(), ip.src.toString(), ip.dst.toString(), ip.ttl]).toEqual([gatewayMac(1), UPSTREAM_MAC, GATEWAY_IP, INTERNET_HOST, 63]);
    expect(ip.payload).toMatchObject({ kind: 'udp', srcPort: 40000, dstPort: 5001 });
    expect(packet.checksumErrors(packet.encodeEthernet(out))).toEqual([]);
    expect(t.hops.find((h) => h.tableName === 'snat.nat')?.flow?.owner).toBe(`snat:${c.router.id}`);

    const back = await c.h.inject(fromOutside({ dstMac: gatewayMac(1), dst: GATEWAY_IP, dstPort: 40000 }), PUBLIC_PORT);
    expect(back.ports).toEqual([1]);
    const reply = back.only(1);
    const rip = ipv4Of(reply);
    expect([reply.src.toString(), reply.dst.toString(), rip.src.toString(), rip.dst.toString(), rip.ttl]).toEqual([routerMac(1), vmMac(0x11), INTERNET_HOST, '10.0.1.11', 62]);
    expect(packet.checksumErrors(packet.encodeEthernet(reply))).toEqual([]);
  });

  it('a ping to the internet and its echo reply (ICMP through conntrack)', async () => {
    c = await natCloud();
    await upstreamAnswers(c);
    const t = await c.h.inject(ipPacket({ srcMac: vmMac(0x11), dstMac: routerMac(1), src: '10.0.1.11', dst: INTERNET_HOST }), 1);
    expect(ipv4Of(t.only(PUBLIC_PORT)).src.toString()).toBe(GATEWAY_IP);
    const back = await c.h.inject(fromOutside({ dstMac: gatewayMac(1), dst: GATEWAY_IP, dstPort: 0, icmpReply: { id: 7, seq: 1 } }), PUBLIC_PORT);
    expect(back.ports).toEqual([1]);
    expect(ipv4Of(back.only(1)).dst.toString()).toBe('10.0.1.11');
  });

  it('what nobody inside started is dropped: an unsolicited datagram to the gateway IP reaches no VM', async () => {
    c = await natCloud();
    await upstreamAnswers(c);
    const t = await c.h.inject(fromOutside({ dstMac: gatewayMac(1), dst: GATEWAY_IP, dstPort: 22 }), PUBLIC_PORT);
    expect(t.ports).toEqual([]);
  });

  it('answers the upstream router’s ARP request for the gateway IP out of the provider port', async () => {
    c = await natCloud();
    const ask = packet.arpRequest({ srcMac: UPSTREAM_MAC, srcIp: UPSTREAM_IP, targetIp: GATEWAY_IP });
    const t = c.h.trace(ask, PUBLIC_PORT);
    expect(t.ports).toEqual([PUBLIC_PORT]);
    const a = t.only(PUBLIC_PORT).payload;
    expect(a.kind === 'arp' && [a.op, a.sha.toString(), a.spa.toString(), a.tha.toString()]).toEqual([2, gatewayMac(1), GATEWAY_IP, UPSTREAM_MAC]);
  });

  it('a VM on chassis-2 behind the router: its redirected packet is SNATed here, and the reply is routed back to chassis-2 over net1’s VNI', async () => {
    c = await natCloud();
    await upstreamAnswers(c);
    // as chassis-2 sends it: routed there (gateway MAC as source, TTL 63), tunnel key 0xffffff
    const redirected = packet.ethernet({ src: gatewayMac(1), dst: vmMac(0x14), payload: packet.ipv4({ src: '10.0.1.14', dst: INTERNET_HOST, ttl: 63, payload: packet.udp({ srcPort: 41000, dstPort: 5001, payload: 'x' }) }) });
    const t = await c.h.inject(redirected, TUNNEL_PORT, { id: 0xffffffn, src: '192.0.2.2', dst: '192.0.2.1' } as never);
    expect(t.ports).toEqual([PUBLIC_PORT]);
    const out = t.only(PUBLIC_PORT);
    expect([out.dst.toString(), ipv4Of(out).src.toString(), ipv4Of(out).ttl]).toEqual([UPSTREAM_MAC, GATEWAY_IP, 63]);
    const back = await c.h.inject(fromOutside({ dstMac: gatewayMac(1), dst: GATEWAY_IP, dstPort: 41000 }), PUBLIC_PORT);
    expect(back.outputs.map((o) => [o.port, o.tunnel?.id, o.tunnel?.dst])).toEqual([[TUNNEL_PORT, 1001n, '192.0.2.2']]);
    const reply = back.only(TUNNEL_PORT);
    expect([reply.src.toString(), reply.dst.toString(), ipv4Of(reply).dst.toString()]).toEqual([routerMac(1), vmMac(0x14), '10.0.1.14']);
  });
});

describe('snat centralized, on a chassis that is not the gateway', () => {
  it('redirects vm1’s routed packet to the gateway chassis over the tunnel with the reserved key, untranslated', async () => {
    c = await natCloud({ gatewayOn: 'chassis-2' });
    const t = c.h.trace(vm1Out(), 1);
    expect(t.outputs.map((o) => [o.port, o.tunnel?.id, o.tunnel?.dst])).toEqual([[TUNNEL_PORT, 0xffffffn, '192.0.2.2']]);
    const out = t.only(TUNNEL_PORT);
    expect([out.src.toString(), ipv4Of(out).src.toString(), ipv4Of(out).ttl]).toEqual([gatewayMac(1), '10.0.1.11', 63]);
    // nothing asked on the external network from here
    expect(c.h.fakeSwitch.delivered.filter((d) => d.port === PUBLIC_PORT)).toEqual([]);
  });
});
