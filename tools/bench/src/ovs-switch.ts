import { join } from 'node:path';
import { OfListener, silentLogger, type OfConnection } from '@dragonflow/core/host';
import { createNetns, deleteNetns, shortId, startOvs, type CleanupStack, type OvsInstance } from '@dragonflow/sandbox';

export interface BenchSwitch {
  ovs: OvsInstance;
  conn: OfConnection;
}

/**
 * What the OpenFlow benchmarks drive: a private userspace OVS in a namespace of its own,
 * with one bridge (fail_mode=secure, OpenFlow 1.3) whose controller is our listener on a
 * unix socket. Everything it starts is registered on `cleanup`.
 */
export async function startBenchSwitch(
  cleanup: CleanupStack,
  options: { bridge: string; nsPrefix: string; beforeConnect?: (ovs: OvsInstance) => Promise<void> },
): Promise<BenchSwitch> {
  const netns = `${options.nsPrefix}-${shortId()}`.slice(0, 15);
  await createNetns(netns);
  cleanup.defer('delete netns', () => deleteNetns(netns));
  const ovs = await startOvs({ netns });
  cleanup.defer('stop ovs', () => ovs.stop());
  const sock = join(ovs.dir, 'controller.sock');
  const listener = await OfListener.start({ logger: silentLogger(), unixPath: sock });
  cleanup.defer('close listener', () => listener.close());
  const br = options.bridge;
  await ovs.vsctl('add-br', br, '--', 'set', 'bridge', br, 'datapath_type=netdev', 'fail_mode=secure', 'protocols=OpenFlow13');
  await options.beforeConnect?.(ovs);
  await ovs.vsctl('set-controller', br, `unix:${sock}`);
  return { ovs, conn: await listener.waitForSwitch(undefined, 20_000) };
}
