import { startApiServer } from '@dragonflow/api';
import { type EtcdServer, shortId, startEtcd } from '@dragonflow/sandbox';
import { afterAll, beforeAll } from 'vitest';
import { openstackCliShortPass } from './scenario.js';

// df-api on a real etcd (started privately by the sandbox kit), driven by the stock openstack CLI (the
// full scenario runs on the memory DB; this is the driver-dependent short pass, with more contention).
let etcd: EtcdServer | undefined;

beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  await etcd?.stop();
});

openstackCliShortPass('etcd', async (config) => {
  if (!etcd) throw new Error('etcd did not start');
  return startApiServer({
    config: { ...config, listen: { port: 0 }, logLevel: 'warn', db: { driver: 'etcd', endpoints: [etcd.endpoint], prefix: `/df-e2e-${shortId()}/` } },
  });
}, 20);
