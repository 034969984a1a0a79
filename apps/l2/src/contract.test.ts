import { describeAppContract } from '@dragonflow/testing/contract';
import { startHarness } from '@dragonflow/testing';
import { describe, expect, it } from 'vitest';
import { BROADCAST, INFRA, ROUTER_MAC, TUN, icmp, mac, tunnelCopies } from '../test/fixtures.js';
import l2 from './index.js';

describeAppContract({
  app: l2,
  minFlows: 10,
  async scenario(h) {
    await h.setInfraPorts(INFRA);
    const c2 = await h.addChassis('chassis-2', { tunnelIp: '192.0.2.2' });
    const net = await h.network('net1', { networkType: 'geneve', segmentationId: 77 });
    const sub = await h.subnet(net, '10.0.0.0/24');
    const sub6 = await h.subnet(net, 'fd00::/64');
    const v6 = (ip4: string, ip6: string) => ({ fixedIps: [{ subnetId: sub.id, ipAddress: ip4 }, { subnetId: sub6.id, ipAddress: ip6 }] });
    await h.plug(await h.port(sub, '10.0.0.1', mac(1), v6('10.0.0.1', 'fd00::1')), 1);
    await h.plug(await h.port(sub, '10.0.0.2', mac(2)), 2);
    await h.port(sub, '10.0.0.3', mac(3), { chassisId: c2.id, ...v6('10.0.0.3', 'fd00::3') });
    await h.port(sub, '10.0.0.254', ROUTER_MAC, { deviceOwner: 'network:router_interface' });
    const vlan = await h.network('prov', { networkType: 'vlan', segmentationId: 100, physicalNetwork: 'physnet1' });
    const vsub = await h.subnet(vlan, '172.16.0.0/24');
    await h.plug(await h.port(vsub, '172.16.0.1', mac(0x21)), 21);
    await h.port(vsub, '172.16.0.2', mac(0x22), { chassisId: c2.id });
  },
  async teardown(h) {
    for (const p of await h.nb.reader.list('logical_port')) {
      await h.unplug(p.id);
      await h.nb.delete('logical_port', p.id);
    }
  },
});

describe('l2: restart', () => {
  it('a controller restart rewrites no flow and packets keep their paths', async () => {
    const h = await startHarness({ apps: [l2], infraPorts: INFRA });
    try {
      const c2 = await h.addChassis('chassis-2', { tunnelIp: '192.0.2.2' });
      const net = await h.network('net1', { segmentationId: 5001 });
      const sub = await h.subnet(net, '10.0.0.0/24');
      await h.plug(await h.port(sub, '10.0.0.1', mac(1)), 1);
      await h.plug(await h.port(sub, '10.0.0.2', mac(2)), 2);
      await h.port(sub, '10.0.0.3', mac(3), { chassisId: c2.id });
      await h.settle();
      h.fakeSwitch.resetStats();
      await h.restart();
      expect(h.fakeSwitch.stats.flowMods).toBe(0);
      expect(h.trace(icmp(mac(1), mac(2), '10.0.0.1', '10.0.0.2'), 1).ports).toEqual([2]);
      expect(tunnelCopies(h.trace(icmp(mac(1), BROADCAST, '10.0.0.1', '10.0.0.255'), 1).outputs)).toEqual([`${TUN.vxlan} 5001→192.0.2.2`]);
    } finally {
      await h.stop();
    }
  });
});
