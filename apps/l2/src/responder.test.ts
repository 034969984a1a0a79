import { packet } from '@dragonflow/core';
import { afterEach, describe, expect, it } from 'vitest';
import { ROUTER_MAC, TUN, cloud, mac, tunnelCopies, type Cloud } from '../test/fixtures.js';

let c: Cloud | undefined;
afterEach(async () => {
  await c?.h.stop();
  c = undefined;
});

const whoHas = (srcMac: string, srcIp: string, targetIp: string) => packet.arpRequest({ srcMac, srcIp, targetIp });

/** The ARP payload of a frame (fails the test when it is not ARP). */
function arpOf(f: packet.EthernetFrame): packet.ArpPacket {
  expect(f.payload.kind).toBe('arp');
  return f.payload as packet.ArpPacket;
}

describe('l2: ARP responder', () => {
  it('answers a request for a local port’s IP in the switch: the reply goes back out of the asking port only', async () => {
    c = await cloud();
    const t = c.h.trace(whoHas(mac(1), '10.0.0.1', '10.0.0.2'), 1);
    expect(t.ports).toEqual([1]);
    const reply = t.only(1);
    expect(reply.src.toString()).toBe(mac(2));
    expect(reply.dst.toString()).toBe(mac(1));
    const a = arpOf(reply);
    expect({ op: a.op, sha: a.sha.toString(), spa: a.spa.toString(), tha: a.tha.toString(), tpa: a.tpa.toString() }).toEqual({
      op: 2,
      sha: mac(2),
      spa: '10.0.0.2',
      tha: mac(1),
      tpa: '10.0.0.1',
    });
    // byte for byte what a host would send
    expect(packet.encodeEthernet(reply)).toEqual(packet.encodeEthernet(packet.arpReply({ srcMac: mac(2), srcIp: '10.0.0.2', dstMac: mac(1), dstIp: '10.0.0.1' })));
  });

  it('answers for remote ports and router interfaces too, so the request never leaves the host', async () => {
    c = await cloud();
    const remote = c.h.trace(whoHas(mac(2), '10.0.0.2', '10.0.0.4'), 2);
    expect(remote.ports).toEqual([2]);
    expect(arpOf(remote.only(2)).sha.toString()).toBe(mac(4));
    const router = c.h.trace(whoHas(mac(1), '10.0.0.1', '10.0.0.254'), 1);
    expect(router.ports).toEqual([1]);
    expect(arpOf(router.only(1)).sha.toString()).toBe(ROUTER_MAC);
  });

  it('an unknown IP is asked on the whole network (local ports and each remote chassis)', async () => {
    c = await cloud();
    const t = c.h.trace(whoHas(mac(1), '10.0.0.1', '10.0.0.77'), 1);
    expect(t.ports.filter((p) => p !== TUN.vxlan)).toEqual([2]);
    expect(tunnelCopies(t.outputs)).toEqual(['100 5001→192.0.2.2', '100 5001→192.0.2.3']);
    expect(arpOf(t.only(2)).op).toBe(1);
  });

  it('a port’s own request for its own IP (probe, gratuitous ARP) is not answered: it goes out as sent', async () => {
    c = await cloud();
    const garp = whoHas(mac(1), '10.0.0.1', '10.0.0.1');
    const t = c.h.trace(garp, 1);
    expect(t.ports.filter((p) => p !== TUN.vxlan)).toEqual([2]);
    expect(packet.describeFrame(t.only(2))).toBe(packet.describeFrame(garp));
    // the same request from another port is answered
    expect(c.h.trace(whoHas(mac(2), '10.0.0.2', '10.0.0.1'), 2).ports).toEqual([2]);
  });

  it('requests from a tunnel are left to their targets (the asking chassis answers its own VMs)', async () => {
    c = await cloud();
    const req = whoHas(mac(3), '10.0.0.3', '10.0.0.1');
    const t = c.h.trace(req, TUN.vxlan, { id: 5001n });
    expect(t.ports.sort()).toEqual([1, 2]);
    expect(arpOf(t.only(1)).op).toBe(1);
  });

  it('stops answering for a port once it is gone', async () => {
    c = await cloud();
    await c.h.nb.delete('logical_port', c.vm.vm4.id);
    await c.h.settle();
    const t = c.h.trace(whoHas(mac(1), '10.0.0.1', '10.0.0.4'), 1);
    expect(t.ports.filter((p) => p !== TUN.vxlan)).toEqual([2]);
  });

  it('does not answer for allowed address pairs (a VIP moves between ports; its owner answers)', async () => {
    c = await cloud();
    await c.h.nb.modify('logical_port', c.vm.vm2.id, (p) => ({ ...p, allowedAddressPairs: [{ ipAddress: '10.0.0.100', macAddress: null }] }));
    await c.h.settle();
    const t = c.h.trace(whoHas(mac(1), '10.0.0.1', '10.0.0.100'), 1);
    expect(t.ports.filter((p) => p !== TUN.vxlan)).toEqual([2]);
    expect(arpOf(t.only(2)).op).toBe(1);
  });
});

describe('l2: IPv6 neighbour discovery responder', () => {
  async function dualStack(): Promise<Cloud> {
    const cl = await cloud();
    const sub6 = await cl.h.subnet(cl.net, 'fd00::/64');
    for (const [name, ip] of [
      ['vm1', 'fd00::1'],
      ['vm2', 'fd00::2'],
      ['vm3', 'fd00::3'],
    ] as const) {
      await cl.h.nb.modify('logical_port', cl.vm[name].id, (p) => ({ ...p, fixedIps: [...p.fixedIps, { subnetId: sub6.id, ipAddress: ip }] }));
    }
    await cl.h.nb.modify('logical_port', cl.router.id, (p) => ({ ...p, fixedIps: [...p.fixedIps, { subnetId: sub6.id, ipAddress: 'fd00::fe' }] }));
    await cl.h.settle();
    return cl;
  }

  it('answers an NS for a known address with a correct NA out of the asking port, and nothing else leaves', async () => {
    c = await dualStack();
    const ns = packet.neighborSolicitation({ srcMac: mac(1), srcIp: 'fd00::1', targetIp: 'fd00::3' });
    const before = c.h.fakeSwitch.delivered.length;
    const t = await c.h.inject(ns, 1);
    expect(t.ports).toEqual([]);
    expect(t.packetIns).toHaveLength(1);
    const sent = c.h.fakeSwitch.delivered.slice(before);
    expect(sent.map((o) => o.port)).toEqual([1]);
    const na = sent[0]!.frame;
    expect(packet.checksumErrors(sent[0]!.bytes)).toEqual([]);
    expect(packet.encodeEthernet(na)).toEqual(packet.encodeEthernet(packet.neighborAdvertisement({ srcMac: mac(3), srcIp: 'fd00::3', dstMac: mac(1), dstIp: 'fd00::1' })));
  });

  it('sets the router flag for a router interface address', async () => {
    c = await dualStack();
    const before = c.h.fakeSwitch.delivered.length;
    await c.h.inject(packet.neighborSolicitation({ srcMac: mac(2), srcIp: 'fd00::2', targetIp: 'fd00::fe' }), 2);
    const [out] = c.h.fakeSwitch.delivered.slice(before);
    const icmp6 = out!.frame.payload.kind === 'ipv6' ? out!.frame.payload.payload : undefined;
    expect(out!.port).toBe(2);
    expect(out!.frame.src.toString()).toBe(ROUTER_MAC);
    expect(icmp6?.kind === 'icmpv6' && icmp6.nd ? icmp6.nd.flags >>> 0 : 0).toBe(0xe0000000);
  });

  it("answers for the router interface's link-local address (its RAs come from it: the hosts' default router)", async () => {
    c = await dualStack();
    const linkLocal = packet.linkLocalAddress(ROUTER_MAC);
    const before = c.h.fakeSwitch.delivered.length;
    const t = await c.h.inject(packet.neighborSolicitation({ srcMac: mac(1), srcIp: packet.linkLocalAddress(mac(1)), targetIp: linkLocal }), 1);
    expect(t.ports).toEqual([]);
    const sent = c.h.fakeSwitch.delivered.slice(before);
    expect(sent.map((o) => o.port)).toEqual([1]);
    const icmp6 = sent[0]!.frame.payload.kind === 'ipv6' ? sent[0]!.frame.payload.payload : undefined;
    expect(sent[0]!.frame.src.toString()).toBe(ROUTER_MAC);
    expect(icmp6?.kind === 'icmpv6' && icmp6.nd ? [icmp6.nd.target.toString(), icmp6.nd.tll?.toString(), icmp6.nd.flags >>> 0] : []).toEqual([linkLocal.toString(), ROUTER_MAC, 0xe0000000]);
  });

  it('an NS for an unknown address, or from the owner itself, is flooded and reaches no controller', async () => {
    c = await dualStack();
    const unknown = c.h.trace(packet.neighborSolicitation({ srcMac: mac(1), srcIp: 'fd00::1', targetIp: 'fd00::99' }), 1);
    expect(unknown.packetIns).toEqual([]);
    expect(unknown.ports.filter((p) => p !== TUN.vxlan)).toEqual([2]);
    const dad = c.h.trace(packet.neighborSolicitation({ srcMac: mac(1), srcIp: '::', targetIp: 'fd00::1' }), 1);
    expect(dad.packetIns).toEqual([]);
    expect(dad.ports.filter((p) => p !== TUN.vxlan)).toEqual([2]);
  });
});
