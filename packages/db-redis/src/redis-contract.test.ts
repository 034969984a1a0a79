import { randomUUID } from 'node:crypto';
import { type DbUnderTest, type DriverHarness, TcpProxy, describeDriverContract, describeNbApiOnDriver } from '@dragonflow/nb/contract';
import { type RedisServer, startRedis } from '@dragonflow/sandbox';
import { Redis } from 'ioredis';
import { RedisDriver } from './driver.js';

// A real redis-server (apt: redis-server) with an append-only file, so a restart keeps
// the data and the feed; a missing binary fails setup loudly.
let redis: RedisServer;
let proxy: TcpProxy;

const harness: DriverHarness = {
  name: 'redis',
  leaseTtlMs: 1_500,
  canDisconnect: true,
  canRestart: true,
  async setup() {
    redis = await startRedis({ persistent: true });
    proxy = await TcpProxy.start({ host: '127.0.0.1', port: redis.port });
  },
  async teardown() {
    await proxy?.close();
    await redis?.stop();
  },
  async freshDb(): Promise<DbUnderTest> {
    const prefix = `dftest:${randomUUID()}:`;
    const admin = new Redis(redis.url);
    return {
      connect: () => RedisDriver.connect({ url: `redis://127.0.0.1:${proxy.port}`, prefix }),
      dropConnections: async () => proxy.dropConnections(),
      restartServer: () => redis.restart(),
      compact: async () => {
        await admin.xtrim(`${prefix}feed`, 'MAXLEN', 0);
      },
      dispose: async () => {
        admin.disconnect();
      },
    };
  },
};

describeDriverContract(harness);
describeNbApiOnDriver(harness);
