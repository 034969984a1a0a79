// Proof that the sandbox topology carries real packets between chassis: VXLAN, Geneve
// and GRE flow-based tunnels over the br-phy underlay, and a VLAN (and flat) provider
// network through the provider bridges — with hand-written flows, no controller.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox, listLeftovers, type Chassis, type Vm } from '@dragonflow/sandbox';
import { capture, fullSizePing, iperfTcp, pingStats } from './traffic.js';
import { clearIntegrationFlows, installFlatFlows, installTunnelFlows, installVlanFlows } from './static-flows.js';

describe('sandbox dataplane with static flows', () => {
  let sandbox: Sandbox;
  let c1: Chassis;
  let c2: Chassis;
  let vm1: Vm;
  let vm2: Vm;

  beforeAll(async () => {
    sandbox = await Sandbox.create();
    c1 = await sandbox.createChassis(1);
    c2 = await sandbox.createChassis(2);
    vm1 = await sandbox.createVm(c1, { name: 'vm1', ip: '10.10.0.1/24', mac: 'fa:16:3e:00:00:01', portId: 'port-vm1' });
    vm2 = await sandbox.createVm(c2, { name: 'vm2', ip: '10.10.0.2/24', mac: 'fa:16:3e:00:00:02', portId: 'port-vm2' });
  });

  afterAll(async () => {
    const tag = sandbox?.tag;
    await sandbox?.destroy();
    if (tag) expect((await listLeftovers()).namespaces.filter((n) => n.tag === tag)).toEqual([]);
  });

  it('drops everything on br-int until flows are installed (fail_mode=secure)', async () => {
    await clearIntegrationFlows(c1);
    await clearIntegrationFlows(c2);
    expect((await pingStats(vm1, vm2.address, 2)).received).toBe(0);
  });

  it('routes the underlay between chassis tunnel IPs on br-phy', async () => {
    const r = await c1.ovs.tool('ping', ['-n', '-c', '2', '-W', '1', c2.tunnelIp], { allowFailure: true });
    expect(r).toMatch(/2 received/);
  });

  const TUNNELS = [
    { type: 'vxlan', port: 'tun-vxlan', filter: 'udp port 4789', vni: 5001, seen: /VXLAN.*vni 5001/ },
    { type: 'geneve', port: 'tun-geneve', filter: 'udp port 6081', vni: 5002, seen: /Geneve.*vni 0x138a/ },
    { type: 'gre', port: 'tun-gre', filter: 'ip proto 47', vni: 5003, seen: /GRE.*key=0x138b/ },
  ] as const;

  for (const t of TUNNELS) {
    it(`carries ping and TCP between VMs on two chassis through a ${t.type} tunnel`, async () => {
      for (const [here, vm, peer] of [
        [c1, vm1, c2],
        [c2, vm2, c1],
      ] as const) {
        await clearIntegrationFlows(here);
        await installTunnelFlows(here, vm, t.port, t.vni, peer.tunnelIp);
      }
      // The first packet to a new tunnel peer may be spent on ARP for its underlay address.
      await pingStats(vm1, vm2.address, 2);
      const seen = await capture(sandbox.state.fabric.netns, 'c1-ul', t.filter, 4, async () => {
        const ping = await pingStats(vm1, vm2.address, 5);
        expect(ping.received, ping.output).toBe(5);
      });
      // The packets really crossed the fabric encapsulated, with our VNI/key, between the tunnel IPs.
      expect(seen).toMatch(t.seen);
      expect(seen).toContain(`${c1.tunnelIp}`);
      expect(seen).toContain(`${c2.tunnelIp}`);
      expect(seen).toContain('10.10.0.1 > 10.10.0.2: ICMP echo request');

      // A full-size packet of the VM's MTU (1400) fits in the tunnel over a 1500-byte underlay.
      expect(await fullSizePing(vm1, vm2.address)).toBe(true);
      const tcp = await iperfTcp(vm2, vm1, 1);
      expect(tcp.bytesReceived).toBeGreaterThan(1_000_000);
    });
  }

  it('needs TX checksum offload off in the VM: with it on, TCP through the tunnel fails', async () => {
    for (const [here, vm, peer] of [
      [c1, vm1, c2],
      [c2, vm2, c1],
    ] as const) {
      await clearIntegrationFlows(here);
      await installTunnelFlows(here, vm, 'tun-vxlan', 5001, peer.tunnelIp);
    }
    await vm1.exec('ethtool', ['-K', 'eth0', 'tx', 'on']);
    try {
      expect((await pingStats(vm1, vm2.address, 3)).received).toBeGreaterThan(0);
      await expect(iperfTcp(vm2, vm1, 1, 2000)).rejects.toThrow(/unable to connect|timed out|Connection/i);
    } finally {
      await vm1.exec('ethtool', ['-K', 'eth0', 'tx', 'off']);
    }
    expect((await iperfTcp(vm2, vm1, 1)).bytesReceived).toBeGreaterThan(1_000_000);
  });

  it('carries ping and TCP over a VLAN provider network through patch ports, tagged on the wire', async () => {
    for (const [here, vm] of [
      [c1, vm1],
      [c2, vm2],
    ] as const) {
      await clearIntegrationFlows(here);
      await installVlanFlows(here, vm, 100);
    }
    const seen = await capture(sandbox.state.fabric.netns, 'c1-px', 'vlan 100 and icmp', 4, async () => {
      const ping = await pingStats(vm1, vm2.address, 5);
      expect(ping.received, ping.output).toBe(5);
    });
    expect(seen).toMatch(/ethertype 802\.1Q \(0x8100\).*vlan 100/);
    expect(seen).toContain('fa:16:3e:00:00:01 > fa:16:3e:00:00:02');
    expect(await fullSizePing(vm1, vm2.address)).toBe(true);
    const tcp = await iperfTcp(vm2, vm1, 1);
    expect(tcp.bytesReceived).toBeGreaterThan(1_000_000);
  });

  it('keeps VLANs apart: a frame tagged 100 is not delivered to a port expecting 200', async () => {
    await clearIntegrationFlows(c1);
    await clearIntegrationFlows(c2);
    await installVlanFlows(c1, vm1, 100);
    await installVlanFlows(c2, vm2, 200);
    expect((await pingStats(vm1, vm2.address, 3)).received).toBe(0);
  });

  it('carries a flat provider network untagged', async () => {
    for (const [here, vm] of [
      [c1, vm1],
      [c2, vm2],
    ] as const) {
      await clearIntegrationFlows(here);
      await installFlatFlows(here, vm);
    }
    const seen = await capture(sandbox.state.fabric.netns, 'c1-px', 'icmp', 2, async () => {
      expect((await pingStats(vm1, vm2.address, 3)).received).toBe(3);
    });
    expect(seen).not.toContain('802.1Q');
    expect(seen).toContain('ethertype IPv4');
  });
});
