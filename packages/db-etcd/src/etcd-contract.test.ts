import { randomUUID } from 'node:crypto';
import { type DbUnderTest, type DriverHarness, TcpProxy, describeDriverContract, describeNbApiOnDriver } from '@dragonflow/nb/contract';
import { type EtcdServer, startEtcd } from '@dragonflow/sandbox';
import { EtcdDriver } from './driver.js';

// A real etcd (apt: etcd-server) started in a temp dir; a missing binary fails setup loudly.
let etcd: EtcdServer;
let proxy: TcpProxy;

const harness: DriverHarness = {
  name: 'etcd',
  leaseTtlMs: 2_000,
  canDisconnect: true,
  canRestart: true,
  async setup() {
    etcd = await startEtcd();
    // Clients go through a proxy so the suite can cut their connections while etcd runs.
    proxy = await TcpProxy.start({ host: '127.0.0.1', port: etcd.port });
  },
  async teardown() {
    await proxy?.close();
    await etcd?.stop();
  },
  async freshDb(): Promise<DbUnderTest> {
    const prefix = `/dftest/${randomUUID()}/`;
    const admin = new EtcdDriver({ endpoints: etcd.endpoint, prefix });
    return {
      // Pages of 5 keys: the suite's snapshots and lists span several pages.
      connect: async () => new EtcdDriver({ endpoints: `http://127.0.0.1:${proxy.port}`, prefix, requestTimeoutMs: 3_000, snapshotPageSize: 5 }),
      dropConnections: async () => proxy.dropConnections(),
      restartServer: () => etcd.restart(),
      compact: async () => {
        await admin.client.kv.compact({ revision: String(await admin.currentRevision()), physical: true });
      },
      dispose: () => admin.close(),
    };
  },
};

describeDriverContract(harness);
describeNbApiOnDriver(harness);
