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
