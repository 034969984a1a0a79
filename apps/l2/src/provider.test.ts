import { packet, type LogicalPort } from '@dragonflow/core';
import { startHarness, type Harness } from '@dragonflow/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { BROADCAST, INFRA, PATCH_PHYSNET1, TUN, icmp, mac } from '../test/fixtures.js';
import l2 from './index.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

/** A VLAN (vid 100) or flat network on physnet1: local vm1 (ofport 1) and vm2 (ofport 2), remote vm3 on chassis-2. */
async function provider(kind: 'vlan' | 'flat'): Promise<{ h: Harness; vm3: LogicalPort }> {
  const hh = await startHarness({ apps: [l2], infraPorts: INFRA });
  h = hh;
  const c2 = await hh.addChassis('chassis-2', { tunnelIp: '192.0.2.2', bridgeMappings: { physnet1: 'br-ex' } });
  const net = await hh.network('prov', kind === 'vlan' ? { networkType: 'vlan', segmentationId: 100, physicalNetwork: 'physnet1' } : { networkType: 'flat', physicalNetwork: 'physnet1' });
  const sub = await hh.subnet(net, '172.16.0.0/24');
  await hh.plug(await hh.port(sub, '172.16.0.1', mac(1)), 1);
  await hh.plug(await hh.port(sub, '172.16.0.2', mac(2)), 2);
  const vm3 = await hh.port(sub, '172.16.0.3', mac(3), { chassisId: c2.id });
  await hh.settle();
  return { h: hh, vm3 };
}

const vids = (f: packet.EthernetFrame): number[] => f.vlans.map((v) => v.vid);

describe('l2: VLAN provider network', () => {
  it('to a port on another chassis: tagged with the segment’s VLAN and out of the provider patch port (no tunnel)', async () => {
    const { h } = await provider('vlan');
    const frame = icmp(mac(1), mac(3), '172.16.0.1', '172.16.0.3');
    const t = h.trace(frame, 1);
    expect(t.ports).toEqual([PATCH_PHYSNET1]);
    const out = t.only(PATCH_PHYSNET1);
    expect(vids(out)).toEqual([100]);
    expect(out.vlans[0]!.tpid).toBe(0x8100);
    expect(packet.describeFrame({ ...out, vlans: [] })).toBe(packet.describeFrame(frame));
  });

  it('from the physical network: the tag is popped and the frame reaches its local port untagged', async () => {
    const { h } = await provider('vlan');
    const tagged = packet.ethernet({ src: mac(3), dst: mac(1), vlan: 100, payload: packet.ipv4({ src: '172.16.0.3', dst: '172.16.0.1', payload: packet.icmpEchoRequest({ id: 1 }) }) });
    const t = h.trace(tagged, PATCH_PHYSNET1);
    expect(t.ports).toEqual([1]);
    expect(vids(t.only(1))).toEqual([]);
    // another VLAN, or untagged: not this network
    expect(h.trace({ ...tagged, vlans: [{ tpid: 0x8100, pcp: 0, dei: 0, vid: 101 }] }, PATCH_PHYSNET1).ports).toEqual([]);
    expect(h.trace({ ...tagged, vlans: [] }, PATCH_PHYSNET1).ports).toEqual([]);
    // the right VLAN on a tunnel port: not this network either
    expect(h.trace(tagged, TUN.vxlan, { id: 100n }).ports).toEqual([]);
  });

  it('broadcast: local copies and one tagged copy to the physical network; from the physical network, local copies only', async () => {
    const { h } = await provider('vlan');
    const t = h.trace(icmp(mac(1), BROADCAST, '172.16.0.1', '172.16.0.255'), 1);
    expect(t.ports.sort((a, b) => a - b)).toEqual([2, PATCH_PHYSNET1]);
    expect(vids(t.only(2))).toEqual([]);
    expect(vids(t.only(PATCH_PHYSNET1))).toEqual([100]);
    const back = h.trace(packet.ethernet({ src: mac(3), dst: BROADCAST, vlan: 100, payload: packet.arpRequest({ srcMac: mac(3), srcIp: '172.16.0.3', targetIp: '172.16.0.1' }).payload }), PATCH_PHYSNET1);
    expect(back.ports.sort((a, b) => a - b)).toEqual([1, 2]);
    expect(back.drops.filter((d) => d.includes('input port'))).toEqual([]);
    for (const o of back.outputs) expect(vids(o.frame)).toEqual([]);
  });

  it('a frame from the physical network for a port elsewhere is not sent back out', async () => {
    const { h } = await provider('vlan');
    const t = h.trace(packet.ethernet({ src: mac(9), dst: mac(3), vlan: 100, payload: packet.ipv4({ src: '172.16.0.9', dst: '172.16.0.3', payload: packet.icmpEchoRequest({}) }) }), PATCH_PHYSNET1);
    expect(t.ports).toEqual([]);
  });
});

describe('l2: flat provider network', () => {
  it('leaves untagged through the patch port and enters untagged', async () => {
    const { h } = await provider('flat');
    const out = h.trace(icmp(mac(1), mac(3), '172.16.0.1', '172.16.0.3'), 1);
    expect(out.ports).toEqual([PATCH_PHYSNET1]);
    expect(vids(out.only(PATCH_PHYSNET1))).toEqual([]);
    expect(h.trace(icmp(mac(3), mac(2), '172.16.0.3', '172.16.0.2'), PATCH_PHYSNET1).ports).toEqual([2]);
    // a tagged frame is some VLAN network's, not the flat one's
    expect(h.trace(packet.ethernet({ src: mac(3), dst: mac(2), vlan: 5, payload: packet.ipv4({ src: '172.16.0.3', dst: '172.16.0.2', payload: packet.icmpEchoRequest({}) }) }), PATCH_PHYSNET1).ports).toEqual([]);
  });

  it('without a bridge mapping on this chassis the network is switched locally only', async () => {
    const { h } = await provider('flat');
    await h.setInfraPorts({ tunnels: INFRA.tunnels, providers: {} });
    expect(h.trace(icmp(mac(1), BROADCAST, '172.16.0.1', '172.16.0.255'), 1).ports).toEqual([2]);
    expect(h.trace(icmp(mac(1), mac(3), '172.16.0.1', '172.16.0.3'), 1).ports).toEqual([]);
  });
});
