import { packet, type LogicalPort, type LogicalSwitch, type Subnet } from '@dragonflow/core';
import { startHarness, type Harness } from '@dragonflow/testing';
import l2 from '@dragonflow/app-l2';
import { afterEach, describe, expect, it } from 'vitest';
import dhcp from '../index.js';
import { nextAdvertDelay } from './schedule.js';

const mac = (n: number): string => `fa:16:3e:00:00:${n.toString(16).padStart(2, '0')}`;
const ROUTER_MAC = mac(0xee);
const DHCP_MAC = mac(0xd0);

interface V6Cloud {
  h: Harness;
  net: LogicalSwitch;
  sub: Subnet;
  vm1: LogicalPort;
  vm2: LogicalPort;
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

/** One network (MTU 1400), an IPv6 subnet in `mode` with its DHCP port, two local VMs (ofports 1, 2); a router interface unless told. */
async function v6Cloud(mode: 'slaac' | 'dhcpv6-stateful' | 'dhcpv6-stateless', opts: { router?: boolean } = {}): Promise<V6Cloud> {
  h = await startHarness({ apps: [l2, dhcp] });
  const net = await h.network('net1', { mtu: 1400 });
  const sub = await h.subnet(net, 'fd00:1::/64', { gatewayIp: 'fd00:1::1', ipv6RaMode: mode, ipv6AddressMode: mode });
  await h.port(sub, 'fd00:1::2', DHCP_MAC, { deviceOwner: 'network:dhcp', deviceId: `dhcp-${net.id}`, portSecurityEnabled: false });
  const vm1 = await h.port(sub, 'fd00:1::f816:3eff:fe00:1', mac(1));
  const vm2 = await h.port(sub, 'fd00:1::f816:3eff:fe00:2', mac(2));
  if (opts.router !== false) {
    const router = await h.nb.create('logical_router', { name: 'r1' } as never);
    await h.routerInterface(router, sub, ROUTER_MAC);
  }
  await h.plug(vm1, 1);
  await h.plug(vm2, 2);
  return { h, net, sub, vm1, vm2 };
}

function raOf(frame: packet.EthernetFrame): { ip: packet.Ipv6Packet; ra: packet.RouterAdvert } {
  const ip = frame.payload;
  if (ip.kind !== 'ipv6' || ip.payload.kind !== 'icmpv6' || ip.payload.type !== 134) throw new Error(`not an RA: ${packet.describeFrame(frame)}`);
  return { ip, ra: packet.decodeRouterAdvert(ip.payload.body) };
}

const rs = (srcMac: string) => packet.routerSolicitation({ srcMac, srcIp: packet.linkLocalAddress(srcMac) });

async function solicit(c: V6Cloud, frame: packet.EthernetFrame, port: number) {
  const before = c.h.fakeSwitch.delivered.length;
  const trace = await c.h.inject(frame, port);
  return { trace, sent: c.h.fakeSwitch.delivered.slice(before) };
}

/** RAs the switch delivered (periodic and solicited), per port. */
const rasTo = (c: V6Cloud, port: number) => c.h.fakeSwitch.delivered.filter((d) => d.port === port && d.frame.payload.kind === 'ipv6' && d.frame.payload.payload.kind === 'icmpv6' && d.frame.payload.payload.type === 134);

describe('router advertisements: answered on the chassis of the VM', () => {
  it('an RS is punted, not flooded, and answered out of the asking port with the SLAAC prefix, MTU and the router as default router', async () => {
    const c = await v6Cloud('slaac');
    const { trace, sent } = await solicit(c, rs(mac(1)), 1);
    expect(trace.ports).toEqual([]);
    expect(trace.packetIns).toHaveLength(1);
    expect(sent.map((s) => s.port)).toEqual([1]);
    expect(packet.checksumErrors(sent[0]!.bytes)).toEqual([]);
    const { ip, ra } = raOf(sent[0]!.frame);
    expect(sent[0]!.frame.src.toString()).toBe(ROUTER_MAC);
    expect(sent[0]!.frame.dst.toString()).toBe('33:33:00:00:00:01');
    expect([ip.src.toString(), ip.dst.toString(), ip.hopLimit]).toEqual(['fe80::f816:3eff:fe00:ee', 'ff02::1', 255]);
    expect(ra).toMatchObject({ curHopLimit: 64, managed: false, otherConfig: false, routerLifetime: 300, mtu: 1400 });
    expect(ra.sourceLinkLayer?.toString()).toBe(ROUTER_MAC);
    expect(ra.prefixes.map((p) => ({ ...p, prefix: p.prefix.toString() }))).toEqual([
      { prefix: 'fd00:1::', length: 64, onLink: true, autonomous: true, validLifetime: 86400, preferredLifetime: 14400 },
    ]);
  });

  it.each([
    ['dhcpv6-stateful', { managed: true, otherConfig: false }, false],
    ['dhcpv6-stateless', { managed: false, otherConfig: true }, true],
  ] as const)('%s: M/O flags and the A flag as Neutron sets them', async (mode, flags, autonomous) => {
    const c = await v6Cloud(mode);
    const { sent } = await solicit(c, rs(mac(2)), 2);
    const { ra } = raOf(sent[0]!.frame);
    expect(ra).toMatchObject(flags);
    expect(ra.prefixes[0]!.autonomous).toBe(autonomous);
  });

  it('without a router the network DHCP port advertises the prefix with router lifetime 0; a router added is advertised at once', async () => {
    const c = await v6Cloud('slaac', { router: false });
    const { sent } = await solicit(c, rs(mac(1)), 1);
    expect(sent[0]!.frame.src.toString()).toBe(DHCP_MAC);
    expect(raOf(sent[0]!.frame).ra).toMatchObject({ routerLifetime: 0, prefixes: [expect.objectContaining({ autonomous: true })] as unknown });
    const before = rasTo(c, 1).length;
    const router = await c.h.nb.create('logical_router', { name: 'r1' } as never);
    await c.h.routerInterface(router, c.sub, ROUTER_MAC);
    const fresh = rasTo(c, 1).slice(before);
    expect(fresh.map((d) => [d.frame.src.toString(), raOf(d.frame).ra.routerLifetime])).toEqual([[ROUTER_MAC, 300]]);
  });

  it('sends unsolicited RAs to each local port: one at once, two more 16 s apart, then every 30–100 s', async () => {
    const c = await v6Cloud('slaac');
    expect(rasTo(c, 1)).toHaveLength(1);
    expect(rasTo(c, 2)).toHaveLength(1);
    c.h.clock.advance(32_000);
    await c.h.settle();
    expect(rasTo(c, 1)).toHaveLength(3);
    // The 4th comes a random MinRtrAdvInterval (30 s) to MaxRtrAdvInterval (100 s) after the 3rd:
    // step the clock a second at a time and note when it arrives.
    const third = c.h.clock.now();
    while (rasTo(c, 1).length === 3 && c.h.clock.now() - third <= 101_000) {
      c.h.clock.advance(1_000);
      await c.h.settle();
    }
    expect(rasTo(c, 1)).toHaveLength(4);
    const gap = c.h.clock.now() - third;
    expect(gap).toBeGreaterThanOrEqual(30_000);
    expect(gap).toBeLessThanOrEqual(100_000);
    const { ra } = raOf(rasTo(c, 1)[3]!.frame);
    expect(ra.prefixes[0]!.prefix.toString()).toBe('fd00:1::');
  });

  it('stops advertising to an unplugged port, and never to a port of an IPv4-only network', async () => {
    const c = await v6Cloud('slaac');
    await c.h.unplug(c.vm2);
    const before = rasTo(c, 2).length;
    c.h.clock.advance(600_000);
    await c.h.settle();
    expect(rasTo(c, 2)).toHaveLength(before);
    expect(rasTo(c, 1).length).toBeGreaterThan(before);
    const net4 = await c.h.network('net4');
    const sub4 = await c.h.subnet(net4, '10.0.0.0/24');
    const vm4 = await c.h.port(sub4, '10.0.0.5', mac(4));
    await c.h.plug(vm4, 4);
    const { trace, sent } = await solicit(c, rs(mac(4)), 4);
    expect(trace.packetIns).toHaveLength(0);
    expect(sent.filter((s) => s.port === 4)).toEqual([]);
  });

  it('ignores an RS that is not link-local (hop limit below 255)', async () => {
    const c = await v6Cloud('slaac');
    const frame = rs(mac(1));
    if (frame.payload.kind === 'ipv6') frame.payload.hopLimit = 64;
    const { sent } = await solicit(c, frame, 1);
    expect(sent).toEqual([]);
  });
});

describe('nextAdvertDelay (RFC 4861 §6.2.4)', () => {
  const intervals = { minIntervalSeconds: 30, maxIntervalSeconds: 100 };
  it('draws between the minimum and maximum interval, and caps the first three at 16 s', () => {
    expect(nextAdvertDelay(3, intervals, 0)).toBe(30_000);
    expect(nextAdvertDelay(3, intervals, 0.999999)).toBe(100_000);
    expect(nextAdvertDelay(3, intervals, 0.5)).toBe(65_000);
    expect(nextAdvertDelay(1, intervals, 0.5)).toBe(16_000);
    expect(nextAdvertDelay(2, { minIntervalSeconds: 3, maxIntervalSeconds: 10 }, 0)).toBe(3_000);
  });
});
