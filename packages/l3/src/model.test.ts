import { packet } from '@dragonflow/core';
import { startHarness, type Harness } from '@dragonflow/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { ICMP_ERROR, icmpError } from './icmp.js';
import { IpNetwork, Ipv4Address, L3Model, decisionSignature, type RouterInterface } from './index.js';
import { addRouterInterface, ipPacket, routerMac, vmMac } from './testing/index.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

async function topology() {
  h = await startHarness({ apps: [], selective: false });
  const net1 = await h.network('net1');
  const net2 = await h.network('net2');
  const sub1 = await h.subnet(net1, '10.0.1.0/24', { gatewayIp: '10.0.1.1' });
  const sub2 = await h.subnet(net2, '10.0.2.0/24', { gatewayIp: '10.0.2.1' });
  const sub2v6 = await h.subnet(net2, 'fd00:2::/64', { gatewayIp: 'fd00:2::1' });
  const vm1 = await h.port(sub1, '10.0.1.11', vmMac(0x11));
  const vm2 = await h.port(sub2, '10.0.2.12', vmMac(0x12));
  const hop = await h.port(sub2, '10.0.2.50', vmMac(0x50));
  const router = await h.nb.create('logical_router', {
    name: 'r',
    routes: [
      { destination: '192.168.0.0/16', nexthop: '10.0.2.50' },
      { destination: '192.168.7.0/24', nexthop: '10.0.2.12' },
      { destination: '172.16.0.0/12', nexthop: '10.0.2.99' },
      { destination: '10.0.2.0/24', nexthop: '10.0.2.50' },
      { destination: 'fd00:9::/64', nexthop: 'fd00:2::5' },
    ],
  });
  const rif1 = await addRouterInterface(h, router, sub1, routerMac(1));
  await addRouterInterface(h, router, sub2, routerMac(2));
  await addRouterInterface(h, router, sub2v6, 'fa:16:3e:00:06:01');
  await h.settle();
  const model = new L3Model(h.topology);
  return { h, model, router: model.router(router.id)!, net1, net2, sub1, vm1, vm2, hop, rif1 };
}

describe('L3Model', () => {
  it('sees a router’s IPv4 interfaces with their network keys, MACs and subnets (IPv6 is not routed)', async () => {
    const { router, net1, net2 } = await topology();
    expect(router.interfaces.map((i) => [i.networkKey, i.mac.toString(), i.ip.toString(), i.cidr.toString()])).toEqual([
      [net1.key, routerMac(1), '10.0.1.1', '10.0.1.0/24'],
      [net2.key, routerMac(2), '10.0.2.1', '10.0.2.0/24'],
    ]);
    expect(router.routes.map((r) => `${r.destination.toString()} via ${r.nexthop.toString()}`)).not.toContain('fd00:9::/64 via fd00:2::5');
  });

  it('decides by longest prefix: host on a connected subnet, extra routes to their resolved next hop, connected over extra', async () => {
    const { model, router, vm2, hop } = await topology();
    const d = (ip: string) => model.decide(router, Ipv4Address.parse(ip));
    expect(d('10.0.2.12')).toMatchObject({ kind: 'forward', via: 'connected', target: { id: vm2.id } });
    expect(d('10.0.2.12').kind === 'forward' && (d('10.0.2.12') as { egress: RouterInterface }).egress.mac.toString()).toBe(routerMac(2));
    // 192.168.7.0/24 (via vm2) is more specific than 192.168.0.0/16 (via hop)
    expect(d('192.168.7.9')).toMatchObject({ kind: 'forward', via: 'static', target: { id: vm2.id } });
    expect(d('192.168.8.9')).toMatchObject({ kind: 'forward', via: 'static', target: { id: hop.id } });
    // an extra route to a connected prefix does not override the connected subnet
    expect(d('10.0.2.77')).toMatchObject({ kind: 'unreachable', reason: 'no-port' });
    // next hop without a port
    expect(d('172.20.0.1')).toMatchObject({ kind: 'unreachable', reason: 'no-port' });
    expect(d('8.8.8.8')).toEqual({ kind: 'unreachable', reason: 'no-route' });
    expect(d('10.0.1.1')).toMatchObject({ kind: 'router-ip' });
  });

  it('never targets the router’s own interface ports, and lists what a network can reach', async () => {
    const { model, router, net1, rif1 } = await topology();
    expect(model.hostsOf(router).map((x) => x.ip.toString()).sort()).toEqual(['10.0.1.11', '10.0.2.12', '10.0.2.50']);
    expect(model.hostsOfPort(router, (await h!.nb.require('logical_port', rif1.id)))).toEqual([]);
    const reach = model.routableFrom(net1.id);
    expect(reach).toHaveLength(1);
    expect(reach[0]!.prefixes.map((p) => p.toString())).toEqual(['10.0.1.0/24', '10.0.2.0/24', '192.168.7.0/24', '192.168.0.0/16', '172.16.0.0/12']);
    expect(model.routableFrom('no-such-network')).toEqual([]);
  });

  it('gives a decision a signature that changes when the target’s MAC does', async () => {
    const { h, model, router, vm2 } = await topology();
    const before = decisionSignature(model.decide(router, Ipv4Address.parse('10.0.2.12')));
    await h.nb.modify('logical_port', vm2.id, (p) => ({ ...p, macAddress: vmMac(0x99) }));
    await h.settle();
    expect(decisionSignature(model.decide(router, Ipv4Address.parse('10.0.2.12')))).not.toBe(before);
  });

  it('a router that is administratively down is not routed', async () => {
    const { h, model, router } = await topology();
    await h.nb.modify('logical_router', router.id, (r) => ({ ...r, adminStateUp: false }));
    await h.settle();
    expect(model.router(router.id)).toBeUndefined();
    expect(model.routers()).toEqual([]);
  });
});

describe('ICMP errors', () => {
  const from: RouterInterface = {
    routerId: 'r',
    routerKey: 1,
    portId: 'p',
    networkId: 'n',
    networkKey: 1,
    subnetId: 's',
    mac: packet.mac(routerMac(1)),
    ip: Ipv4Address.parse('10.0.1.1'),
    cidr: IpNetwork.parse('10.0.1.0/24'),
  };
  const sent = ipPacket({ srcMac: vmMac(0x11), dstMac: routerMac(1), src: '10.0.1.11', dst: '10.0.2.12', ttl: 1 });

  it('quote the original IP header and 8 bytes, from the ingress interface to the sender', () => {
    const bytes = packet.encodeEthernet(sent);
    const reply = icmpError(bytes, sent, ICMP_ERROR.TIME_EXCEEDED, from)!;
    expect([reply.src.toString(), reply.dst.toString()]).toEqual([routerMac(1), vmMac(0x11)]);
    const ip = reply.payload.kind === 'ipv4' ? reply.payload : undefined;
    expect([ip?.src.toString(), ip?.dst.toString()]).toEqual(['10.0.1.1', '10.0.1.11']);
    expect(ip?.payload).toMatchObject({ kind: 'icmp', type: 11, code: 0, data: bytes.slice(14, 14 + 28) });
    expect(packet.checksumErrors(packet.encodeEthernet(reply))).toEqual([]);
  });

  it('are never sent about an ICMP error, a multicast sender or a non-IPv4 packet', () => {
    const err = packet.ethernet({ src: vmMac(0x11), dst: routerMac(1), payload: packet.ipv4({ src: '10.0.1.11', dst: '10.0.2.12', payload: packet.icmp({ type: 3, code: 1 }) }) });
    expect(icmpError(packet.encodeEthernet(err), err, ICMP_ERROR.HOST_UNREACHABLE, from)).toBeUndefined();
    const mcast = { ...sent, src: packet.mac('01:00:5e:00:00:01') };
    expect(icmpError(packet.encodeEthernet(mcast), mcast, ICMP_ERROR.TIME_EXCEEDED, from)).toBeUndefined();
    const arp = packet.arpRequest({ srcMac: vmMac(0x11), srcIp: '10.0.1.11', targetIp: '10.0.1.1' });
    expect(icmpError(packet.encodeEthernet(arp), arp, ICMP_ERROR.TIME_EXCEEDED, from)).toBeUndefined();
  });
});

describe('ExactFlowBuilder', () => {
  it('makes exactly the flow forwardFlow makes, for any destination, from a reused template', async () => {
    const { flowIdentity, instructionsKey } = await import('@dragonflow/core/host');
    const { ExactFlowBuilder, PRIORITY, forwardFlow } = await import('./flows.js');
    const t = { ingress: { id: 10, qualifiedName: 'x.ingress' }, routing: { id: 11, qualifiedName: 'x.routing' }, punt: { id: 12, qualifiedName: 'x.punt' }, afterRouting: 13, egress: 13 };
    const rewrite = { ethSrc: packet.mac(routerMac(2)), ethDst: packet.mac(vmMac(0x12)), networkKey: 7, portKey: 42 };
    const b = new ExactFlowBuilder(t, 60);
    for (const dst of ['10.0.2.12', '10.0.2.13', '192.168.1.1']) {
      const fast = b.build(3, 5, Ipv4Address.parse(dst), rewrite);
      const slow = forwardFlow(t, { routerKey: 3, sourceNetworkKey: 5, destination: Ipv4Address.parse(dst), rewrite, priority: PRIORITY.EXACT, idleTimeout: 60 });
      expect(flowIdentity(fast.table, fast.priority, fast.match)).toBe(flowIdentity(slow.table, slow.priority, slow.match));
      expect(instructionsKey(fast.instructions)).toBe(instructionsKey(slow.instructions));
      expect([fast.idleTimeout, fast.priority]).toEqual([60, PRIORITY.EXACT]);
    }
  });
});
