import dhcp from '@dragonflow/app-dhcp';
import l2 from '@dragonflow/app-l2';
import l3 from '@dragonflow/app-l3-reactive';
import { Ipv4Address, PUNT_ORIGIN_MARK, REG_PUNT_ORIGIN, packet, type LogicalPort, type LogicalSwitch, type Subnet } from '@dragonflow/core';
import { TUNNEL_PORT, addRouterInterface, ipPacket, routerMac, vmMac } from '@dragonflow/l3/testing';
import { startHarness, type Harness, type HarnessApp } from '@dragonflow/testing';
import { afterEach, describe, expect, it } from 'vitest';
import haFallback, { FALLBACK_TUNNEL_BASE, type HaFallback } from '../src/index.js';

const INFRA = { tunnels: { vxlan: TUNNEL_PORT }, providers: {} };
const GW_IP = '192.0.2.3';
const C2_IP = '192.0.2.2';
/** chassis-1's tunnel IP (the harness' own chassis). */
const C1_IP = '192.0.2.1';

let open: Harness[] = [];
afterEach(async () => {
  for (const h of open.reverse()) await h.stop();
  open = [];
});

interface Cloud {
  /** chassis-1: the chassis whose controller dies (vm1 on ofport 1). */
  readonly h: Harness;
  readonly net: { readonly net1: LogicalSwitch; readonly net2: LogicalSwitch };
  readonly sub: { readonly sub1: Subnet; readonly sub2: Subnet };
  readonly vm: { readonly vm1: LogicalPort; readonly vm3: LogicalPort; readonly vm6: LogicalPort };
}

const apps = (options: object = {}): HarnessApp[] => [l2, l3, dhcp, { descriptor: haFallback, options }];
/** A fallback chassis switches and routes every network it knows (its topology is not selective). */
const fallbackApps = (options: object = {}): HarnessApp[] => [
  { descriptor: l2, options: { allNetworks: true } },
  { descriptor: l3, options: { allNetworks: true } },
  { descriptor: dhcp, options: { allNetworks: true } },
  { descriptor: haFallback, options },
];

/**
 * chassis-1 (this harness) with vm1 10.0.1.11 on net1; chassis-2 with vm3 10.0.2.13
 * and vm6 10.0.2.16 on net2; a gateway chassis `gw` (the default fallback); one
 * reactive router between net1 and net2.
 */
async function cloud(options: object = {}): Promise<Cloud> {
  const h = await startHarness({ apps: apps(options), infraPorts: INFRA });
  open.push(h);
  const c2 = await h.addChassis('chassis-2', { tunnelIp: C2_IP });
  await h.addChassis('gw', { tunnelIp: GW_IP, gateway: true });
  const net = {
    net1: await h.network('net1', { networkType: 'vxlan', segmentationId: 1001 }),
    net2: await h.network('net2', { networkType: 'vxlan', segmentationId: 1002 }),
  };
  const sub1 = await h.subnet(net.net1, '10.0.1.0/24', { gatewayIp: '10.0.1.1' });
  const sub2 = await h.subnet(net.net2, '10.0.2.0/24', { gatewayIp: '10.0.2.1' });
  const vm = {
    vm1: await h.port(sub1, '10.0.1.11', vmMac(0x11)),
    vm3: await h.port(sub2, '10.0.2.13', vmMac(0x13), { chassisId: c2.id }),
    vm6: await h.port(sub2, '10.0.2.16', vmMac(0x16), { chassisId: c2.id }),
  };
  const router = await h.nb.create('logical_router', { name: 'router1' });
  await addRouterInterface(h, router, sub1, routerMac(1));
  await addRouterInterface(h, router, sub2, routerMac(2));
  await h.plug(vm.vm1, 1);
  return { h, net, sub: { sub1, sub2 }, vm };
}

/** The fallback chassis `gw`: its own controller on the same NB, holding the whole topology (not selective). */
async function fallbackChassis(c: Cloud, options: object = {}): Promise<Harness> {
  const gw = await startHarness({ apps: fallbackApps(options), chassis: 'gw', driver: c.h.driver, selective: false, tunnelIp: GW_IP, infraPorts: INFRA });
  open.push(gw);
  return gw;
}

const vm1To = (dst: string, seq = 1) => ipPacket({ srcMac: vmMac(0x11), dstMac: routerMac(1), src: '10.0.1.11', dst, seq });
const app = (h: Harness) => h.runtime.app('ha-fallback').instance as HaFallback;

describe('ha-fallback: the punt gate and its liveness flow', () => {
  it('punts pass the gate to the controller and still reach the punting app (reg15 names its table)', async () => {
    const { h } = await cloud();
    const first = await h.inject(vm1To('10.0.2.13'), 1);
    expect(first.packetIns).toHaveLength(1);
    // the packet-in comes from the gate, with the punting table in reg15
    const pin = first.packetIns[0]!;
    expect(h.runtime.pipeline.tableById(pin.tableId)?.qualifiedName).toBe('ha-fallback.gate');
    await h.settle();
    // ... and l3-reactive got it: its exact flow routes the next packet to chassis-2
    const next = await h.inject(vm1To('10.0.2.13', 2), 1);
    expect(next.packetIns).toEqual([]);
    expect(next.outputs.map((o) => [o.port, o.tunnel?.id, o.tunnel?.dst])).toEqual([[TUNNEL_PORT, 1002n, C2_IP]]);
  });

  it('the punting flow carries the origin: set reg15, resubmit to the gate (no output:CONTROLLER left in other apps)', async () => {
    const { h } = await cloud();
    const gate = h.runtime.pipeline.app('ha-fallback').tables.find((t) => t.name === 'gate')!.id;
    const puntTable = h.runtime.pipeline.app('l3-reactive').tables.find((t) => t.name === 'punt')!.id;
    const flows = h.fakeSwitch.flowsIn(puntTable).filter((f) => f.priority > 0 && f.priority < 65000);
    expect(flows.length).toBeGreaterThan(0);
    for (const f of flows) {
      const actions = f.instructions.flatMap((i) => (i.type === 'apply_actions' ? i.actions : []));
      expect(actions).toHaveLength(2);
      expect(actions[0]).toEqual({ type: 'set_field', field: REG_PUNT_ORIGIN, value: (PUNT_ORIGIN_MARK | puntTable) >>> 0 });
      expect(actions[1]).toMatchObject({ type: 'resubmit', table: gate });
    }
  });

  it('the controller keeps the liveness flow alive: refreshed by OFPFC_ADD well before its hard timeout, no other flow-mod', async () => {
    const { h } = await cloud();
    const before = { ...h.fakeSwitch.stats };
    // in steps of 100 ms: the refresh is written on the next tick, as it is with a real clock
    for (let i = 0; i < 50; i++) {
      h.clock.advance(100);
      await h.settle();
    }
    const after = { ...h.fakeSwitch.stats };
    // 5 s at a refresh every 333 ms: 15 adds of the liveness flow, nothing else
    expect(after.adds - before.adds).toBe(15);
    expect([after.modifies - before.modifies, after.deletes - before.deletes]).toEqual([0, 0]);
    expect(app(h).status()).toMatchObject({ refreshes: 15, refreshFailures: 0, livenessExpired: 0, fallbackChassis: 'gw' });
    expect((await h.inject(vm1To('10.0.2.16'), 1)).packetIns).toHaveLength(1);
  });

  it('when the controller dies the liveness flow expires and punts are tunnelled to the fallback chassis with the port key', async () => {
    const { h, vm } = await cloud();
    await h.runtime.stop();
    // still alive for up to livenessSeconds
    h.clock.advance(900);
    expect(h.trace(vm1To('10.0.2.13'), 1).packetIns).toHaveLength(1);
    h.clock.advance(200);
    const t = h.trace(vm1To('10.0.2.13'), 1);
    expect(t.packetIns).toEqual([]);
    expect(t.outputs.map((o) => [o.port, o.tunnel?.id, o.tunnel?.dst])).toEqual([[TUNNEL_PORT, BigInt(FALLBACK_TUNNEL_BASE + vm1Key(vm.vm1)), GW_IP]]);
    // the packet is as the VM sent it (not yet routed)
    expect(t.only(TUNNEL_PORT).dst.toString()).toBe(routerMac(1));
  });

  it('established flows lose nothing when the controller dies (they never pass the gate)', async () => {
    const { h } = await cloud();
    await h.inject(vm1To('10.0.2.13'), 1);
    await h.settle();
    await h.runtime.stop();
    h.clock.advance(5000);
    const t = h.trace(vm1To('10.0.2.13', 9), 1);
    expect(t.outputs.map((o) => [o.port, o.tunnel?.id, o.tunnel?.dst])).toEqual([[TUNNEL_PORT, 1002n, C2_IP]]);
  });

  it('a restarted controller adds the liveness flow back: punts reach it again', async () => {
    const { h } = await cloud();
    await h.restart(async () => {
      h.clock.advance(3000);
      expect(h.trace(vm1To('10.0.2.13'), 1).packetIns).toEqual([]);
    });
    const t = await h.inject(vm1To('10.0.2.13'), 1);
    expect(t.packetIns).toHaveLength(1);
    expect(app(h).livenessFlows()).toHaveLength(1);
  });

  it('a switch that lost the controller for longer than the hard timeout gets the liveness flow back at the reconnect', async () => {
    const { h } = await cloud();
    h.runtime.detachSwitch();
    h.clock.advance(2000);
    expect(h.trace(vm1To('10.0.2.13'), 1).packetIns).toEqual([]);
    await h.runtime.attachSwitch(h.fakeSwitch.connect());
    await h.settle();
    // found missing at the reconnect (not a stall of a connected controller)
    expect(app(h).status().livenessExpired).toBe(0);
    expect(app(h).livenessFlows()).toHaveLength(1);
    expect((await h.inject(vm1To('10.0.2.13'), 1)).packetIns).toHaveLength(1);
  });
});

const vm1Key = (p: LogicalPort): number => p.key;
const chassisIdOf = (h: Harness, name: string): string => h.topology.all('chassis').find((x) => x.name === name)!.id;

describe('ha-fallback: the fallback chassis', () => {
  it("classifies a stranded port's punt as that port and routes it with its own controller: a new flow from the stranded chassis works", async () => {
    const c = await cloud();
    const gw = await fallbackChassis(c);
    // gw is the fallback of both other chassis: vm1 (chassis-1), vm3 and vm6 (chassis-2)
    expect(app(gw).status()).toMatchObject({ serves: ['chassis-1', 'chassis-2'], servedPorts: 3, fallbackChassis: null });
    expect(app(c.h).status().fallbackChassis).toBe('gw');
    const tunnel = { id: BigInt(FALLBACK_TUNNEL_BASE + c.vm.vm1.key), src: Ipv4Address.parse('192.0.2.1'), dst: Ipv4Address.parse(GW_IP) };
    // the first packet is punted to gw's controller (l3-reactive there), which installs the flow
    const first = await gw.inject(vm1To('10.0.2.13'), TUNNEL_PORT, tunnel);
    expect(first.packetIns).toHaveLength(1);
    await gw.settle();
    // its packet-out keeps the stranded port's classification: the first packet itself is routed to chassis-2
    const sent = gw.fakeSwitch.delivered.filter((o) => o.port === TUNNEL_PORT);
    expect(sent.map((o) => [o.tunnel?.id, o.tunnel?.dst, o.frame.src.toString()])).toEqual([[1002n, C2_IP, routerMac(2)]]);
    // the next one is routed by gw and tunnelled to chassis-2 with net2's VNI
    const next = await gw.inject(vm1To('10.0.2.13', 2), TUNNEL_PORT, tunnel);
    expect(next.packetIns).toEqual([]);
    expect(next.outputs.map((o) => [o.port, o.tunnel?.id, o.tunnel?.dst])).toEqual([[TUNNEL_PORT, 1002n, C2_IP]]);
    expect(next.only(TUNNEL_PORT).src.toString()).toBe(routerMac(2));
  });

  it("answers a stranded port's DHCP (dhcp with allNetworks) and sends the reply back by tunnel to the port's chassis", async () => {
    const c = await cloud();
    await c.h.port(c.sub.sub1, '10.0.1.2', vmMac(0xd0), { deviceOwner: 'network:dhcp', deviceId: `dhcp-${c.net.net1.id}`, portSecurityEnabled: false });
    const gw = await fallbackChassis(c);
    const msg = packet.dhcpMessage({
      op: 1,
      xid: 0x5eed,
      chaddr: packet.mac(vmMac(0x11)),
      ciaddr: packet.ip4('10.0.1.11'),
      options: new Map([[packet.DhcpOption.MESSAGE_TYPE, packet.dhcpEncode.u8(packet.DhcpMessageType.REQUEST)]]),
    });
    // a renewal: unicast from the client's address to the server's
    const renewal = packet.ethernet({ src: vmMac(0x11), dst: vmMac(0xd0), payload: packet.ipv4({ src: '10.0.1.11', dst: '10.0.1.2', payload: packet.udp({ srcPort: 68, dstPort: 67, payload: packet.encodeDhcp(msg) }) }) });
    const t = await gw.inject(renewal, TUNNEL_PORT, { id: BigInt(FALLBACK_TUNNEL_BASE + c.vm.vm1.key), src: Ipv4Address.parse(C1_IP), dst: Ipv4Address.parse(GW_IP) });
    expect(t.packetIns).toHaveLength(1);
    await gw.settle();
    const sent = gw.fakeSwitch.delivered.filter((o) => o.port === TUNNEL_PORT);
    // out by tunnel to chassis-1 with net1's VNI: chassis-1 delivers it to vm1 like any packet for it
    expect(sent.map((o) => [o.tunnel?.id, o.tunnel?.dst, o.frame.dst.toString()])).toEqual([[1001n, C1_IP, vmMac(0x11)]]);
    const ip = sent[0]!.frame.payload;
    if (ip.kind !== 'ipv4' || ip.payload.kind !== 'udp') throw new Error('the reply is not UDP');
    const ack = packet.decodeDhcp(ip.payload.payload);
    expect([ack.options.get(packet.DhcpOption.MESSAGE_TYPE)?.[0], ack.yiaddr.toString()]).toEqual([packet.DhcpMessageType.ACK, '10.0.1.11']);
  });

  it("answers a stranded port's DHCPv6 and router solicitations (dhcp with allNetworks), by tunnel to the port's chassis", async () => {
    const c = await cloud();
    const net6 = await c.h.network('net6', { networkType: 'vxlan', segmentationId: 1006 });
    const sub6 = await c.h.subnet(net6, 'fd00:6::/64', { gatewayIp: 'fd00:6::1', ipv6RaMode: 'dhcpv6-stateful', ipv6AddressMode: 'dhcpv6-stateful' });
    await c.h.port(sub6, 'fd00:6::2', vmMac(0xd6), { deviceOwner: 'network:dhcp', deviceId: `dhcp-${net6.id}`, portSecurityEnabled: false });
    await addRouterInterface(c.h, await c.h.nb.create('logical_router', { name: 'router6' }), sub6, routerMac(6));
    const vm7 = await c.h.port(sub6, 'fd00:6::17', vmMac(0x17));
    await c.h.plug(vm7, 2);
    const gw = await fallbackChassis(c);
    const tunnel = { id: BigInt(FALLBACK_TUNNEL_BASE + vm7.key), src: Ipv4Address.parse(C1_IP), dst: Ipv4Address.parse(GW_IP) };
    const fromVm7 = (dst: string, hopLimit: number, payload: packet.IpPayload) =>
      packet.ethernet({ src: vmMac(0x17), dst: packet.ipv6MulticastMac(packet.ip6(dst)), payload: packet.ipv6({ src: packet.linkLocalAddress(vmMac(0x17)), dst, hopLimit, payload }) });
    const msg: packet.Dhcp6Message = {
      type: packet.Dhcp6Type.SOLICIT,
      transactionId: 0x6006,
      options: [{ code: packet.Dhcp6Option.CLIENTID, data: packet.duidLl(packet.mac(vmMac(0x17))) }, packet.encodeIaNa({ iaid: 1, t1: 0, t2: 0, options: [] })],
    };
    const solicit = fromVm7('ff02::1:2', 1, packet.udp({ srcPort: 546, dstPort: 547, payload: packet.encodeDhcp6(msg) }));
    const rs = packet.routerSolicitation({ srcMac: vmMac(0x17), srcIp: packet.linkLocalAddress(vmMac(0x17)) });
    for (const frame of [solicit, rs]) expect((await gw.inject(frame, TUNNEL_PORT, tunnel)).packetIns).toHaveLength(1);
    await gw.settle();
    const sent = gw.fakeSwitch.delivered.filter((o) => o.port === TUNNEL_PORT);
    expect(sent.map((o) => [o.tunnel?.id, o.tunnel?.dst, o.frame.dst.toString()])).toEqual([
      [1006n, C1_IP, vmMac(0x17)],
      [1006n, C1_IP, expect.any(String)],
    ]);
    const [advertise, ra] = sent.map((o) => o.frame.payload);
    if (advertise?.kind !== 'ipv6' || advertise.payload.kind !== 'udp') throw new Error('the first answer is not DHCPv6');
    expect(packet.decodeDhcp6(advertise.payload.payload).type).toBe(packet.Dhcp6Type.ADVERTISE);
    expect(ra?.kind === 'ipv6' && ra.payload.kind === 'icmpv6' ? ra.payload.type : ra).toBe(134);
    // the fallback chassis sends no unsolicited adverts of its own to the stranded port
    const before = gw.fakeSwitch.delivered.length;
    gw.clock.advance(200_000);
    await gw.settle();
    expect(gw.fakeSwitch.delivered.slice(before).filter((o) => o.port === TUNNEL_PORT)).toEqual([]);
  });

  it("sends an ICMP error made by the controller (l3's destination unreachable) back by tunnel to the stranded port", async () => {
    const c = await cloud();
    const gw = await fallbackChassis(c);
    // 10.0.2.99: on net2's subnet, no port has it
    const t = await gw.inject(vm1To('10.0.2.99'), TUNNEL_PORT, { id: BigInt(FALLBACK_TUNNEL_BASE + c.vm.vm1.key), src: Ipv4Address.parse(C1_IP), dst: Ipv4Address.parse(GW_IP) });
    expect(t.packetIns).toHaveLength(1);
    await gw.settle();
    const sent = gw.fakeSwitch.delivered.filter((o) => o.port === TUNNEL_PORT);
    expect(sent.map((o) => [o.tunnel?.id, o.tunnel?.dst, o.frame.dst.toString()])).toEqual([[1001n, C1_IP, vmMac(0x11)]]);
    const ip = sent[0]!.frame.payload;
    expect(ip.kind === 'ipv4' && ip.payload.kind === 'icmp' ? [ip.dst.toString(), ip.payload.type] : ip).toEqual(['10.0.1.11', 3]);
  });

  it("reports a served chassis whose NB liveness is gone as in fallback, and back when it returns", async () => {
    const c = await cloud();
    const gw = await fallbackChassis(c);
    const c2 = c.h.topology.get('chassis', chassisIdOf(c.h, 'chassis-2'))!;
    // (chassis-1, the harness' own chassis, registers no liveness record: it counts as gone from the start)
    const before = app(gw).status();
    expect(before.inFallback).not.toContain('chassis-2');
    await c.h.stopChassis(c2.id);
    await gw.settle();
    expect(app(gw).status().inFallback).toContain('chassis-2');
    expect(app(gw).status().fallbacks).toBe(before.fallbacks + 1);
    expect(gw.runtime.appStatus()['ha-fallback']).toMatchObject({ inFallback: expect.arrayContaining(['chassis-2']) as unknown });
    await c.h.addChassis('chassis-2', { tunnelIp: C2_IP });
    await gw.settle();
    expect(app(gw).status().inFallback).not.toContain('chassis-2');
    expect(app(gw).status().fallbacks).toBe(before.fallbacks + 1);
  });

  it('falls back to the next fallback chassis in the list while the first is dead, and to the first again when it returns', async () => {
    const c = await cloud({ fallbackChassis: ['gw', 'chassis-2'] });
    const gwId = chassisIdOf(c.h, 'gw');
    expect(app(c.h).status().fallbackChassis).toBe('gw');
    await c.h.stopChassis(gwId); // gw's lease is gone: it cannot take punts
    expect(app(c.h).status().fallbackChassis).toBe('chassis-2');
    await c.h.addChassis('gw', { tunnelIp: GW_IP, gateway: true });
    expect(app(c.h).status().fallbackChassis).toBe('gw');
    await c.h.stopChassis(gwId);
    // chassis-1's controller dies while gw is dead: its switch tunnels punts to chassis-2
    await c.h.runtime.stop();
    c.h.clock.advance(1_100);
    const t = c.h.trace(vm1To('10.0.2.13'), 1);
    expect(t.packetIns).toEqual([]);
    expect(t.outputs.map((o) => [o.port, o.tunnel?.id, o.tunnel?.dst])).toEqual([[TUNNEL_PORT, BigInt(FALLBACK_TUNNEL_BASE + vm1Key(c.vm.vm1)), C2_IP]]);
  });

  it('a fallback chassis serves the chassis whose first fallback is dead', async () => {
    const c = await cloud({ fallbackChassis: ['chassis-2', 'gw'] });
    const gw = await fallbackChassis(c, { fallbackChassis: ['chassis-2', 'gw'] });
    const tunnel = { id: BigInt(FALLBACK_TUNNEL_BASE + c.vm.vm1.key), src: Ipv4Address.parse(C1_IP), dst: Ipv4Address.parse(GW_IP) };
    expect(app(gw).status().serves).toEqual(['chassis-2']);
    expect(gw.trace(vm1To('10.0.2.13'), TUNNEL_PORT, tunnel).packetIns).toEqual([]);
    await c.h.stopChassis(chassisIdOf(c.h, 'chassis-2'));
    await gw.settle();
    // chassis-1's punts now come to gw: its stranded vm1 is classified here and reaches gw's controller
    expect(app(gw).status().serves).toContain('chassis-1');
    expect(gw.trace(vm1To('10.0.2.13'), TUNNEL_PORT, tunnel).packetIns).toHaveLength(1);
  });

  it('ignores fallback keys of ports it does not serve (a chassis served by another fallback)', async () => {
    const c = await cloud({ fallbackChassis: ['chassis-2', 'gw'] });
    const gw = await fallbackChassis(c, { fallbackChassis: ['chassis-2', 'gw'] });
    // chassis-1 falls back to chassis-2 here; gw serves only chassis-2 (its fallback, as the first in the list, is chassis-2's)
    expect(app(gw).status()).toMatchObject({ serves: ['chassis-2'], servedPorts: 2 });
    const t = gw.trace(vm1To('10.0.2.13'), TUNNEL_PORT, { id: BigInt(FALLBACK_TUNNEL_BASE + c.vm.vm1.key), src: Ipv4Address.parse('192.0.2.1'), dst: Ipv4Address.parse(GW_IP) });
    expect([t.packetIns, t.ports]).toEqual([[], []]);
  });
});

describe('ha-fallback: the core refuses a second punt gate', () => {
  it('names both apps', async () => {
    const other = { ...haFallback, name: 'other-gate' };
    await expect(startHarness({ apps: [l2, haFallback, other] })).rejects.toThrow(/apps 'ha-fallback' and 'other-gate' both declare a puntGate; at most one app may/);
  });

  it('names a gate that is not one of the app\'s tables', async () => {
    const bad = { ...haFallback, puntGate: 'nope' };
    await expect(startHarness({ apps: [l2, bad] })).rejects.toThrow(/app 'ha-fallback': puntGate 'nope' is not one of its tables/);
  });
});

