import l2 from '@dragonflow/app-l2';
import l3 from '@dragonflow/app-l3-proactive';
import type { HarnessApp } from '@dragonflow/testing';
import { describeAppContract } from '@dragonflow/testing/contract';
import { floatingIp, natTopology } from '../test/cloud.js';
import dnat from './index.js';

describeAppContract({
  app: dnat as HarnessApp,
  with: [l2 as HarnessApp, l3 as HarnessApp],
  minFlows: 6,
  async scenario(h) {
    const c = await natTopology(h);
    await floatingIp(c, 1, '172.24.4.101', c.vm.vm1);
    await floatingIp(c, 2, '172.24.4.102', c.vm.vm2);
    await floatingIp(c, 3, '172.24.4.103', c.vm.vm3);
  },
  async teardown(h) {
    for (const f of await h.nb.reader.list('floating_ip')) await h.nb.delete('floating_ip', f.id);
    await h.settle();
  },
});
