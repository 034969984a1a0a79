import l2 from '@dragonflow/app-l2';
import { describeAppContract } from '@dragonflow/testing/contract';
import { startHarness } from '@dragonflow/testing';
import { packet } from '@dragonflow/core';
import { describe, expect, it } from 'vitest';
import { SERVER_MAC, clientFrame, dhcpOf, discover, mac } from '../test/cloud.js';
import dhcp from './index.js';

describeAppContract({
  app: dhcp,
  with: [l2],
  minFlows: 3,
  async scenario(h) {
    const net = await h.network('net1');
    const sub = await h.subnet(net, '10.0.0.0/24', { gatewayIp: '10.0.0.1' });
    await h.port(sub, '10.0.0.2', SERVER_MAC, { deviceOwner: 'network:dhcp', portSecurityEnabled: false });
    await h.plug(await h.port(sub, '10.0.0.11', mac(1)), 1);
    await h.plug(await h.port(sub, '10.0.0.12', mac(2)), 2);
  },
  async teardown(h) {
    for (const p of await h.nb.reader.list('logical_port')) {
      await h.unplug(p.id);
      await h.nb.delete('logical_port', p.id);
    }
  },
});

// The same contract with IPv6: a dual-stack network (DHCPv4, a dhcpv6-stateful subnet
// behind a router) and a SLAAC one — the RS and DHCPv6 punt flows come and go with them.
describeAppContract({
  app: dhcp,
  with: [l2],
  minFlows: 5,
  async scenario(h) {
    const net = await h.network('net1');
    const sub = await h.subnet(net, '10.0.0.0/24', { gatewayIp: '10.0.0.1' });
    const sub6 = await h.subnet(net, 'fd00:1::/64', { gatewayIp: 'fd00:1::1', ipv6RaMode: 'dhcpv6-stateful', ipv6AddressMode: 'dhcpv6-stateful' });
    const server = await h.port(sub, '10.0.0.2', SERVER_MAC, { deviceOwner: 'network:dhcp', portSecurityEnabled: false });
    await h.nb.modify('logical_port', server.id, (p) => ({ ...p, fixedIps: [...p.fixedIps, { subnetId: sub6.id, ipAddress: 'fd00:1::2' }] }));
    const router = await h.nb.create('logical_router', { name: 'r' } as never);
    await h.routerInterface(router, sub6, mac(0xee));
    const vm1 = await h.port(sub, '10.0.0.11', mac(1));
    await h.nb.modify('logical_port', vm1.id, (p) => ({ ...p, fixedIps: [...p.fixedIps, { subnetId: sub6.id, ipAddress: 'fd00:1::11' }] }));
    await h.plug(vm1.id, 1);
    const net2 = await h.network('net2');
    const slaac = await h.subnet(net2, 'fd00:2::/64', { gatewayIp: 'fd00:2::1', ipv6RaMode: 'slaac', ipv6AddressMode: 'slaac' });
    await h.port(slaac, 'fd00:2::2', mac(0xd2), { deviceOwner: 'network:dhcp', portSecurityEnabled: false });
    await h.plug(await h.port(slaac, 'fd00:2::f816:3eff:fe00:3', mac(3)), 3);
  },
  async teardown(h) {
    for (const r of await h.nb.reader.list('logical_router')) {
      await h.nb.update('logical_router', { ...r, ports: [] });
      await h.nb.delete('logical_router', r.id);
    }
    for (const p of await h.nb.reader.list('logical_port')) {
      await h.unplug(p.id);
      await h.nb.delete('logical_port', p.id);
    }
  },
});

describe('dhcp: restart', () => {
  it('a controller restart rewrites no flow, and a client that asked before it gets its ACK after it', async () => {
    const h = await startHarness({ apps: [l2, dhcp] });
    try {
      const net = await h.network('net1');
      const sub = await h.subnet(net, '10.0.0.0/24', { gatewayIp: '10.0.0.1' });
      await h.port(sub, '10.0.0.2', SERVER_MAC, { deviceOwner: 'network:dhcp', portSecurityEnabled: false });
      await h.plug(await h.port(sub, '10.0.0.11', mac(1)), 1);
      await h.settle();
      await h.inject(discover(mac(1)), 1);
      h.fakeSwitch.resetStats();
      await h.restart();
      expect(h.fakeSwitch.stats.flowMods).toBe(0);
      // The server keeps no state: the REQUEST after a restart is answered from the NB alone.
      const before = h.fakeSwitch.delivered.length;
      const req = clientFrame(mac(1), packet.DhcpMessageType.REQUEST, [
        [packet.DhcpOption.REQUESTED_IP, packet.dhcpEncode.ip(packet.ip4('10.0.0.11'))],
        [packet.DhcpOption.SERVER_ID, packet.dhcpEncode.ip(packet.ip4('10.0.0.2'))],
      ]);
      await h.inject(req, 1);
      const sent = h.fakeSwitch.delivered.slice(before);
      expect(sent.map((o) => o.port)).toEqual([1]);
      expect(packet.dhcpDecode.u8(dhcpOf(sent[0]!.frame).options.get(packet.DhcpOption.MESSAGE_TYPE)!)).toBe(packet.DhcpMessageType.ACK);
    } finally {
      await h.stop();
    }
  });
});
