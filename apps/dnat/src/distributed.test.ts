import { packet } from '@dragonflow/core';
import type { Harness } from '@dragonflow/testing';
import l2 from '@dragonflow/app-l2';
import l3 from '@dragonflow/app-l3-proactive';
import { afterEach, describe, expect, it } from 'vitest';
import { INTERNET_IP, PATCH_PUBLIC, UPSTREAM_IP, UPSTREAM_MAC, associate, fipMac, floatingIp, fromOutside, icmpErrorAbout, ipv4Of, quotedOf, natCloud, routerMac, vmMac, type NatCloud } from '../test/cloud.js';
import { answerNextHop } from '../test/neighbors.js';
import { HOLD_LIMIT } from '@dragonflow/nat';
import type { FloatingIps } from './dnat-app.js';
import dnat from './index.js';

const app = (c: NatCloud) => c.h.runtime.app('dnat').instance as FloatingIps;

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const FIP1 = '172.24.4.101';
const FIP2 = '172.24.4.102';

async function cloud(): Promise<NatCloud> {
  const c = await natCloud([l2, l3, dnat]);
  h = c.h;
  return c;
}

const echo = (seq = 1): packet.IpPayload => packet.icmpEchoRequest({ id: 9, seq, data: 'ping' });
const fromVm = (n: number, src: string, dst: string, dstMac: string, payload: packet.IpPayload = echo(), ttl = 64): packet.EthernetFrame =>
  packet.ethernet({ src: vmMac(n), dst: dstMac, payload: packet.ipv4({ src, dst, ttl, payload }) });

describe('dnat (distributed): a floating IP on a local port', () => {
  it('answers ARP for the floating IP from the provider network with its port’s MAC, not for a floating IP of a port elsewhere', async () => {
    const c = await cloud();
    await floatingIp(c, 1, FIP1, c.vm.vm1);
    await floatingIp(c, 2, FIP2, c.vm.vm3);
    const ask = (ip: string) => packet.arpRequest({ srcMac: UPSTREAM_MAC, srcIp: UPSTREAM_IP, targetIp: ip });
    const t = c.h.trace(ask(FIP1), PATCH_PUBLIC);
    const reply = t.only(PATCH_PUBLIC);
    expect(reply.src.toString()).toBe(fipMac(1));
    expect(reply.dst.toString()).toBe(UPSTREAM_MAC);
    expect(reply.payload).toMatchObject({ kind: 'arp', op: 2 });
    expect(packet.describeFrame(reply)).toContain(`${FIP1} is-at ${fipMac(1)}`);
    expect(c.h.trace(ask(FIP2), PATCH_PUBLIC).outputOn(PATCH_PUBLIC)).toEqual([]);
  });

  it('outside → floating IP reaches the VM DNATed and routed; the VM’s reply leaves SNATed to the floating IP from its MAC', async () => {
    const c = await cloud();
    await floatingIp(c, 1, FIP1, c.vm.vm1);
    await answerNextHop(c, UPSTREAM_IP, UPSTREAM_MAC);
    const t = await c.h.inject(fromOutside(fipMac(1), INTERNET_IP, FIP1, echo()), PATCH_PUBLIC);
    const inbound = t.only(1);
    expect(inbound.src.toString()).toBe(routerMac(1));
    expect(inbound.dst.toString()).toBe(vmMac(0x11));
    expect(ipv4Of(inbound)).toMatchObject({ src: packet.ip4(INTERNET_IP), dst: packet.ip4('10.0.1.11'), ttl: 63 });

    const reply = await c.h.inject(fromVm(0x11, '10.0.1.11', INTERNET_IP, routerMac(1), packet.icmpEchoReply({ id: 9, seq: 1, data: 'ping' })), 1);
    const out = reply.only(PATCH_PUBLIC);
    expect(out.src.toString()).toBe(fipMac(1));
    expect(out.dst.toString()).toBe(UPSTREAM_MAC);
    expect(ipv4Of(out)).toMatchObject({ src: packet.ip4(FIP1), dst: packet.ip4(INTERNET_IP), ttl: 63 });
  });

  it('the VM’s own connection leaves from the floating IP (not the gateway address) and its replies come back un-NATed', async () => {
    const c = await cloud();
    await floatingIp(c, 1, FIP1, c.vm.vm1);
    await answerNextHop(c, UPSTREAM_IP, UPSTREAM_MAC);
    const udp = packet.udp({ srcPort: 40000, dstPort: 80, payload: 'GET' });
    const out = (await c.h.inject(fromVm(0x11, '10.0.1.11', INTERNET_IP, routerMac(1), udp), 1)).only(PATCH_PUBLIC);
    expect(ipv4Of(out)).toMatchObject({ src: packet.ip4(FIP1), dst: packet.ip4(INTERNET_IP) });
    const back = (await c.h.inject(fromOutside(fipMac(1), INTERNET_IP, FIP1, packet.udp({ srcPort: 80, dstPort: 40000, payload: 'OK' })), PATCH_PUBLIC)).only(1);
    expect(ipv4Of(back)).toMatchObject({ src: packet.ip4(INTERNET_IP), dst: packet.ip4('10.0.1.11') });
    expect(ipv4Of(back).payload).toMatchObject({ kind: 'udp', srcPort: 80, dstPort: 40000 });
  });

  it('ICMP errors through the NAT carry the translated embedded header, both ways', async () => {
    const c = await cloud();
    await floatingIp(c, 1, FIP1, c.vm.vm1);
    await answerNextHop(c, UPSTREAM_IP, UPSTREAM_MAC);
    // The VM's datagram expires beyond the router: the upstream router's time exceeded quotes the floating IP.
    const probe = packet.udp({ srcPort: 33434, dstPort: 33435, payload: 'probe' });
    const sent = (await c.h.inject(fromVm(0x11, '10.0.1.11', INTERNET_IP, routerMac(1), probe, 2), 1)).only(PATCH_PUBLIC);
    expect(ipv4Of(sent)).toMatchObject({ src: packet.ip4(FIP1), ttl: 1 });
    const inbound = ipv4Of((await c.h.inject(fromOutside(fipMac(1), UPSTREAM_IP, FIP1, icmpErrorAbout(sent, 11, 0)), PATCH_PUBLIC)).only(1));
    expect(inbound).toMatchObject({ src: packet.ip4(UPSTREAM_IP), dst: packet.ip4('10.0.1.11') });
    expect(quotedOf(inbound)).toBe(`10.0.1.11.33434 > ${INTERNET_IP}.33435`);

    // An outside host's port unreachable about the VM's datagram: the VM sees its own fixed IP quoted.
    const dgram = (await c.h.inject(fromVm(0x11, '10.0.1.11', INTERNET_IP, routerMac(1), packet.udp({ srcPort: 41000, dstPort: 9, payload: 'x' })), 1)).only(PATCH_PUBLIC);
    expect(quotedOf(ipv4Of(packet.ethernet({ src: UPSTREAM_MAC, dst: UPSTREAM_MAC, payload: packet.ipv4({ src: INTERNET_IP, dst: FIP1, payload: icmpErrorAbout(dgram, 3, 3) }) })))).toBe(`${FIP1}.41000 > ${INTERNET_IP}.9`);
    const toVm = ipv4Of((await c.h.inject(fromOutside(fipMac(1), INTERNET_IP, FIP1, icmpErrorAbout(dgram, 3, 3)), PATCH_PUBLIC)).only(1));
    expect(toVm).toMatchObject({ src: packet.ip4(INTERNET_IP), dst: packet.ip4('10.0.1.11') });
    expect(quotedOf(toVm)).toBe(`10.0.1.11.41000 > ${INTERNET_IP}.9`);

    // The VM's own port unreachable to an outside host that reached it through the floating IP quotes the floating IP.
    const inUdp = (await c.h.inject(fromOutside(fipMac(1), INTERNET_IP, FIP1, packet.udp({ srcPort: 5353, dstPort: 7, payload: 'y' })), PATCH_PUBLIC)).only(1);
    expect(quotedOf(ipv4Of(packet.ethernet({ src: UPSTREAM_MAC, dst: UPSTREAM_MAC, payload: packet.ipv4({ src: '10.0.1.11', dst: INTERNET_IP, payload: icmpErrorAbout(inUdp, 3, 3) }) })))).toBe(`${INTERNET_IP}.5353 > 10.0.1.11.7`);
    const outErr = ipv4Of((await c.h.inject(fromVm(0x11, '10.0.1.11', INTERNET_IP, routerMac(1), icmpErrorAbout(inUdp, 3, 3)), 1)).only(PATCH_PUBLIC));
    expect(outErr).toMatchObject({ src: packet.ip4(FIP1), dst: packet.ip4(INTERNET_IP) });
    expect(quotedOf(outErr)).toBe(`${INTERNET_IP}.5353 > ${FIP1}.7`);
  });

  it('east-west between two networks of the router is routed, never NATed', async () => {
    const c = await cloud();
    await floatingIp(c, 1, FIP1, c.vm.vm1);
    await floatingIp(c, 2, FIP2, c.vm.vm2);
    await answerNextHop(c, UPSTREAM_IP, UPSTREAM_MAC);
    const t = await c.h.inject(fromVm(0x11, '10.0.1.11', '10.0.2.12', routerMac(1)), 1);
    expect(ipv4Of(t.only(2))).toMatchObject({ src: packet.ip4('10.0.1.11'), dst: packet.ip4('10.0.2.12'), ttl: 63 });
    expect(t.apps).not.toContain('dnat');
  });

  it('hairpin: a VM reaching another floating IP leaves from its own floating IP and is let in at the other', async () => {
    const c = await cloud();
    await floatingIp(c, 1, FIP1, c.vm.vm1);
    await floatingIp(c, 2, FIP2, c.vm.vm2);
    await answerNextHop(c, UPSTREAM_IP, UPSTREAM_MAC);
    const out = (await c.h.inject(fromVm(0x12, '10.0.2.12', FIP1, routerMac(2)), 2)).only(PATCH_PUBLIC);
    expect(ipv4Of(out)).toMatchObject({ src: packet.ip4(FIP2), dst: packet.ip4(FIP1) });
    // the upstream router sends it back to the floating IP's MAC
    const back = (await c.h.inject({ ...out, src: packet.mac(UPSTREAM_MAC), dst: packet.mac(fipMac(1)) }, PATCH_PUBLIC)).only(1);
    expect(ipv4Of(back)).toMatchObject({ src: packet.ip4(FIP2), dst: packet.ip4('10.0.1.11') });
  });
});

describe('dnat (distributed): the next hop', () => {
  const arpsFor = (c: NatCloud, ip: string) => c.h.fakeSwitch.delivered.filter((o) => o.port === PATCH_PUBLIC && o.frame.payload.kind === 'arp' && o.frame.payload.op === 1 && o.frame.payload.tpa.toString() === ip);

  it('holds what the port sends before the upstream router answers, sends it on translated once it does; asks again until answered, then refreshes', async () => {
    const c = await cloud();
    await floatingIp(c, 1, FIP1, c.vm.vm1);
    const asks = arpsFor(c, UPSTREAM_IP);
    expect(asks.map((o) => packet.describeFrame(o.frame))).toEqual([packet.describeFrame(packet.arpRequest({ srcMac: fipMac(1), srcIp: FIP1, targetIp: UPSTREAM_IP }))]);

    // HOLD_LIMIT packets are held, the two beyond it dropped (counted)
    const held = Array.from({ length: HOLD_LIMIT + 2 }, (_, i) => fromVm(0x11, '10.0.1.11', INTERNET_IP, routerMac(1), echo(i + 1)));
    for (const f of held) expect((await c.h.inject(f, 1)).ports).toEqual([]);
    await c.h.settle();
    c.h.clock.advance(1_000);
    await c.h.settle();
    expect(arpsFor(c, UPSTREAM_IP)).toHaveLength(2);

    const before = c.h.fakeSwitch.delivered.length;
    await answerNextHop(c, UPSTREAM_IP, UPSTREAM_MAC);
    const sentOn = c.h.fakeSwitch.delivered.slice(before).filter((o) => o.port === PATCH_PUBLIC && o.frame.payload.kind === 'ipv4');
    const seqOf = (f: packet.EthernetFrame): number | undefined => {
      const icmp = ipv4Of(f).payload;
      return icmp.kind === 'icmp' ? icmp.rest & 0xffff : undefined;
    };
    expect(sentOn.map((o) => [o.frame.src.toString(), o.frame.dst.toString(), ipv4Of(o.frame).src.toString(), seqOf(o.frame)])).toEqual(
      Array.from({ length: HOLD_LIMIT }, (_, i) => [fipMac(1), UPSTREAM_MAC, FIP1, i + 1]),
    );
    expect(app(c).stats.heldDropped).toBe(2);
    // from now on straight out of the switch
    expect(c.h.trace(fromVm(0x11, '10.0.1.11', INTERNET_IP, routerMac(1), echo(3)), 1).only(PATCH_PUBLIC).dst.toString()).toBe(UPSTREAM_MAC);
    c.h.clock.advance(30_000);
    await c.h.settle();
    expect(arpsFor(c, UPSTREAM_IP)).toHaveLength(3);
  });

  it('asks only once the flow that punts the answer is in: a neighbour that answers at once is learnt from its first answer, not a retry a second later', async () => {
    const c = await cloud();
    // the upstream router answers the moment the request leaves the provider port (before the next flush of desired flows)
    const sub = c.h.fakeSwitch.delivered$.subscribe((o) => {
      const arp = o.frame.payload;
      if (o.port !== PATCH_PUBLIC || arp.kind !== 'arp' || arp.op !== 1 || arp.tpa.toString() !== UPSTREAM_IP) return;
      c.h.fakeSwitch.inject(packet.arpReply({ srcMac: UPSTREAM_MAC, srcIp: UPSTREAM_IP, dstMac: arp.sha, dstIp: arp.spa }), PATCH_PUBLIC);
    });
    try {
      await floatingIp(c, 1, FIP1, c.vm.vm1);
      await c.h.settle();
    } finally {
      sub.unsubscribe();
    }
    expect(arpsFor(c, UPSTREAM_IP)).toHaveLength(1);
    expect(c.h.trace(fromVm(0x11, '10.0.1.11', INTERNET_IP, routerMac(1)), 1).only(PATCH_PUBLIC).dst.toString()).toBe(UPSTREAM_MAC);
  });
});

describe('dnat (distributed): association changes apply at once', () => {
  it('associate sends a gratuitous ARP; moving to a port on another chassis removes the floating IP from here; disassociation cuts it', async () => {
    const c = await cloud();
    const f = await floatingIp(c, 1, FIP1);
    const ask = packet.arpRequest({ srcMac: UPSTREAM_MAC, srcIp: UPSTREAM_IP, targetIp: FIP1 });
    expect(c.h.trace(ask, PATCH_PUBLIC).outputOn(PATCH_PUBLIC)).toEqual([]);

    const before = c.h.fakeSwitch.delivered.length;
    await associate(c, f, c.vm.vm1);
    const garps = c.h.fakeSwitch.delivered.slice(before).filter((o) => o.port === PATCH_PUBLIC && o.frame.payload.kind === 'arp' && o.frame.payload.spa.equals(o.frame.payload.tpa));
    // a request (hosts) and a reply (routers: Linux with forwarding on ignores the request)
    expect(garps.map((o) => packet.describeFrame(o.frame))).toEqual([
      packet.describeFrame(packet.arpRequest({ srcMac: fipMac(1), srcIp: FIP1, targetIp: FIP1 })),
      packet.describeFrame(packet.ethernet({ src: fipMac(1), dst: 'ff:ff:ff:ff:ff:ff', payload: packet.arp({ op: 2, sha: fipMac(1), spa: FIP1, tha: fipMac(1), tpa: FIP1 }) })),
    ]);
    expect(c.h.trace(ask, PATCH_PUBLIC).only(PATCH_PUBLIC).src.toString()).toBe(fipMac(1));
    expect(c.h.trace(fromOutside(fipMac(1), INTERNET_IP, FIP1, echo()), PATCH_PUBLIC).ports).toEqual([1]);
    await answerNextHop(c, UPSTREAM_IP, UPSTREAM_MAC);

    // moved to vm2 on this chassis: the outside's entry is still right (no new announcement), traffic goes to vm2
    const beforeMove = c.h.fakeSwitch.delivered.length;
    await associate(c, f, c.vm.vm2);
    expect(c.h.fakeSwitch.delivered.slice(beforeMove).filter((o) => o.frame.payload.kind === 'arp' && o.frame.payload.spa.equals(o.frame.payload.tpa))).toEqual([]);
    expect(ipv4Of(c.h.trace(fromOutside(fipMac(1), INTERNET_IP, FIP1, echo(2)), PATCH_PUBLIC).only(2)).dst.toString()).toBe('10.0.2.12');
    expect(c.h.trace(fromVm(0x11, '10.0.1.11', INTERNET_IP, routerMac(1)), 1).outputOn(PATCH_PUBLIC).map((o) => ipv4Of(o).src.toString())).not.toContain(FIP1);

    // moved to vm3 on chassis-2: chassis-2 answers now, this one stops at once
    await associate(c, f, c.vm.vm3);
    expect(c.h.trace(ask, PATCH_PUBLIC).outputOn(PATCH_PUBLIC)).toEqual([]);
    expect(c.h.trace(fromOutside(fipMac(1), INTERNET_IP, FIP1, echo(3)), PATCH_PUBLIC).ports).toEqual([]);

    // moved back here from chassis-2: announced again, since the outside learnt chassis-2 meanwhile
    const beforeBack = c.h.fakeSwitch.delivered.length;
    await associate(c, f, c.vm.vm1);
    expect(c.h.fakeSwitch.delivered.slice(beforeBack).filter((o) => o.port === PATCH_PUBLIC && o.frame.payload.kind === 'arp' && o.frame.payload.spa.equals(o.frame.payload.tpa))).toHaveLength(2);
    expect(c.h.trace(ask, PATCH_PUBLIC).outputOn(PATCH_PUBLIC)).toHaveLength(1);
    await associate(c, f, null);
    expect(c.h.trace(ask, PATCH_PUBLIC).outputOn(PATCH_PUBLIC)).toEqual([]);
    expect(c.h.trace(fromOutside(fipMac(1), INTERNET_IP, FIP1, echo(4)), PATCH_PUBLIC).ports).toEqual([]);
    // only the tables' miss flows are left
    for (const t of ['dnat.fip-ingress', 'dnat.fip-egress']) expect(c.h.fakeSwitch.flowCount(c.h.runtime.pipeline.table(t).id)).toBe(1);
  });

  it('a port that leaves the chassis takes its floating IP’s flows with it', async () => {
    const c = await cloud();
    await floatingIp(c, 1, FIP1, c.vm.vm1);
    expect(c.h.trace(fromOutside(fipMac(1), INTERNET_IP, FIP1, echo()), PATCH_PUBLIC).ports).toEqual([1]);
    await c.h.unplug(c.vm.vm1);
    expect(c.h.trace(fromOutside(fipMac(1), INTERNET_IP, FIP1, echo()), PATCH_PUBLIC).ports).toEqual([]);
  });
});

