import { packet } from '@dragonflow/core';
import { afterEach, describe, expect, it } from 'vitest';
import { BROADCAST, TUN, cloud, icmp, mac, tunnelCopies, type Cloud } from '../test/fixtures.js';

let c: Cloud | undefined;
afterEach(async () => {
  await c?.h.stop();
  c = undefined;
});

/**
 * Tenant isolation is a security property: net1 (VNI 5001) and net2 (VNI 5002)
 * use the same CIDR and the same addresses; net2's vm12 even carries the same IP
 * as net1's vm2. Nothing of one network may reach the other.
 */
async function twoTenants(): Promise<Cloud & { net2Vm11: string; net2Vm12: string }> {
  const cl = await cloud();
  const net2 = await cl.h.network('net2', { networkType: 'vxlan', segmentationId: 5002 });
  const sub2 = await cl.h.subnet(net2, '10.0.0.0/24');
  const vm11 = await cl.h.port(sub2, '10.0.0.1', mac(0x11));
  const vm12 = await cl.h.port(sub2, '10.0.0.2', mac(0x12));
  await cl.h.port(sub2, '10.0.0.3', mac(0x13), { chassisId: cl.c2.id });
  await cl.h.plug(vm11, 11);
  await cl.h.plug(vm12, 12);
  return { ...cl, net2Vm11: vm11.id, net2Vm12: vm12.id };
}

const NET1_LOCAL = [1, 2];
const NET2_LOCAL = [11, 12];

describe('l2: isolation between networks with overlapping CIDRs', () => {
  it('ARP for a shared IP is answered with the MAC of the asker’s own network', async () => {
    c = await twoTenants();
    const a1 = c.h.trace(packet.arpRequest({ srcMac: mac(1), srcIp: '10.0.0.1', targetIp: '10.0.0.2' }), 1);
    const a2 = c.h.trace(packet.arpRequest({ srcMac: mac(0x11), srcIp: '10.0.0.1', targetIp: '10.0.0.2' }), 11);
    expect(a1.ports).toEqual([1]);
    expect(a2.ports).toEqual([11]);
    expect((a1.only(1).payload as packet.ArpPacket).sha.toString()).toBe(mac(2));
    expect((a2.only(11).payload as packet.ArpPacket).sha.toString()).toBe(mac(0x12));
  });

  it('a broadcast stays in its network, locally and on the wire (its own VNI only)', async () => {
    c = await twoTenants();
    const t1 = c.h.trace(icmp(mac(1), BROADCAST, '10.0.0.1', '10.0.0.255'), 1);
    expect(t1.ports.filter((p) => NET2_LOCAL.includes(p))).toEqual([]);
    expect(tunnelCopies(t1.outputs)).toEqual(['100 5001→192.0.2.2', '100 5001→192.0.2.3']);
    const t2 = c.h.trace(icmp(mac(0x11), BROADCAST, '10.0.0.1', '10.0.0.255'), 11);
    expect(t2.ports.filter((p) => NET1_LOCAL.includes(p))).toEqual([]);
    expect(t2.ports.filter((p) => p !== TUN.vxlan)).toEqual([12]);
    expect(tunnelCopies(t2.outputs)).toEqual(['100 5002→192.0.2.2']);
  });

  it('unicast to another network’s MAC never crosses (it is unknown here and floods its own network only)', async () => {
    c = await twoTenants();
    const t = c.h.trace(icmp(mac(1), mac(0x12), '10.0.0.1', '10.0.0.2'), 1);
    expect(t.ports.filter((p) => NET2_LOCAL.includes(p))).toEqual([]);
    expect(tunnelCopies(t.outputs).every((s) => s.includes(' 5001→'))).toBe(true);
  });

  it('traffic arriving with one network’s VNI reaches only that network’s ports, even for the other’s MAC', async () => {
    c = await twoTenants();
    expect(c.h.trace(icmp(mac(3), mac(0x11), '10.0.0.3', '10.0.0.1'), TUN.vxlan, { id: 5001n }).ports.filter((p) => NET2_LOCAL.includes(p))).toEqual([]);
    expect(c.h.trace(icmp(mac(0x13), mac(0x11), '10.0.0.3', '10.0.0.1'), TUN.vxlan, { id: 5002n }).ports).toEqual([11]);
    expect(c.h.trace(icmp(mac(0x13), BROADCAST, '10.0.0.3', '10.0.0.255'), TUN.vxlan, { id: 5002n }).ports.sort((a, b) => a - b)).toEqual(NET2_LOCAL);
    expect(c.h.trace(icmp(mac(3), BROADCAST, '10.0.0.3', '10.0.0.255'), TUN.vxlan, { id: 5001n }).ports.sort((a, b) => a - b)).toEqual(NET1_LOCAL);
  });

  it('the same MAC on two networks (allowed by Neutron) is still two different ports', async () => {
    c = await twoTenants();
    const net3 = await c.h.network('net3', { networkType: 'vxlan', segmentationId: 5003 });
    const sub3 = await c.h.subnet(net3, '10.0.0.0/24');
    const twin = await c.h.port(sub3, '10.0.0.2', mac(2));
    const peer = await c.h.port(sub3, '10.0.0.9', mac(9));
    await c.h.plug(twin, 21);
    await c.h.plug(peer, 22);
    expect(c.h.trace(icmp(mac(1), mac(2), '10.0.0.1', '10.0.0.2'), 1).ports).toEqual([2]);
    expect(c.h.trace(icmp(mac(9), mac(2), '10.0.0.9', '10.0.0.2'), 22).ports).toEqual([21]);
  });
});
