import l2 from '@dragonflow/app-l2';
import { describeAppContract } from '@dragonflow/testing/contract';
import { mac, ruleId } from '../test/cloud.js';
import sg from './index.js';

describeAppContract({
  app: sg,
  with: [l2],
  minFlows: 20,
  async scenario(h) {
    const net = await h.network('net1');
    const sub = await h.subnet(net, '10.0.0.0/24');
    const def = await h.nb.create('security_group', { name: 'default' });
    const rules = [
      { id: ruleId(), direction: 'egress', ethertype: 'IPv4' },
      { id: ruleId(), direction: 'ingress', ethertype: 'IPv4', remoteGroupId: def.id },
      { id: ruleId(), direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 8000, portRangeMax: 8080 },
      { id: ruleId(), direction: 'ingress', ethertype: 'IPv6', protocol: 'ipv6-icmp', remoteIpPrefix: 'fd00::/64' },
    ];
    await h.nb.modify('security_group', def.id, (g) => ({ ...g, rules }) as never);
    await h.plug(await h.port(sub, '10.0.0.11', mac(1), { securityGroupIds: [def.id] }), 1);
    await h.plug(await h.port(sub, '10.0.0.12', mac(2), { securityGroupIds: [def.id] }), 2);
    await h.plug(await h.port(sub, '10.0.0.13', mac(3)), 3);
  },
  async teardown(h) {
    for (const p of await h.nb.reader.list('logical_port')) {
      await h.unplug(p.id);
      await h.nb.delete('logical_port', p.id);
    }
    for (const g of await h.nb.reader.list('security_group')) await h.nb.delete('security_group', g.id);
  },
});
