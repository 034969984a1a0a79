import { startApiServer } from '@dragonflow/api';
import { type RedisServer, startRedis } from '@dragonflow/sandbox';
import { afterAll, beforeAll } from 'vitest';
import { openstackCliShortPass } from './scenario.js';

// df-api on a real redis (started privately by the sandbox kit), loading the driver by package name.
let redis: RedisServer | undefined;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

openstackCliShortPass('redis', async (config) => {
  if (!redis) throw new Error('redis did not start');
  return startApiServer({ config: { ...config, listen: { port: 0 }, logLevel: 'warn', db: { driver: 'redis', endpoints: [redis.url] } } });
}, 10);
