import { miniL2 } from '../../test/apps.js';
import { describeAppContract } from './app-contract.js';

// The contract suite run on a small switching app: proves the suite itself works.
describeAppContract({
  app: miniL2,
  minFlows: 2,
  async scenario(h) {
    const net = await h.network('net1');
    const sub = await h.subnet(net, '10.0.0.0/24');
    await h.plug(await h.port(sub, '10.0.0.1', 'fa:16:3e:00:00:01'), 1);
    await h.plug(await h.port(sub, '10.0.0.2', 'fa:16:3e:00:00:02'), 2);
  },
  async teardown(h) {
    for (const p of await h.nb.reader.list('logical_port')) {
      await h.unplug(p.id);
      await h.nb.delete('logical_port', p.id);
    }
  },
});
