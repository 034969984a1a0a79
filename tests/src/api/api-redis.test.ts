import { type ApiServerHandle, startApiServer } from '@dragonflow/api';
import { type RedisServer, startRedis } from '@dragonflow/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok, quiet, requireOpenstackCli } from './openstack.js';

// A shorter pass on the redis driver: df-api loads it by package name when configured.
describe('openstack CLI against df-api (redis DB)', () => {
  let redis: RedisServer | undefined;
  let api: ApiServerHandle | undefined;

  beforeAll(async () => {
    requireOpenstackCli();
    redis = await startRedis();
    api = await startApiServer({ config: { listen: { port: 0 }, logLevel: 'warn', db: { driver: 'redis', endpoints: [redis.url] } } });
  });
  afterAll(async () => {
    await api?.close();
    await redis?.stop();
  });

  it('creates, lists and deletes a network, a subnet and concurrent ports', async () => {
    const cli = { endpoint: api!.url };
    const net = await ok(cli, ['network', 'create', 'redis-net']);
    const sub = await ok(cli, ['subnet', 'create', '--network', 'redis-net', '--subnet-range', '10.30.0.0/24', 'redis-sub']);
    expect(sub).toMatchObject({ network_id: net['id'], gateway_ip: '10.30.0.1' });
    const ports = await Promise.all(Array.from({ length: 10 }, (_, i) => ok(cli, ['port', 'create', '--network', 'redis-net', `rp-${i}`])));
    expect(new Set(ports.map((p) => (p['fixed_ips'] as { ip_address: string }[])[0]!.ip_address)).size).toBe(10);
    expect(await ok<unknown[]>(cli, ['port', 'list', '--network', 'redis-net'])).toHaveLength(11);
    await quiet(cli, ['port', 'delete', ...ports.map((p) => String(p['id']))]);
    await quiet(cli, ['network', 'delete', 'redis-net']);
    expect(await ok<unknown[]>(cli, ['network', 'list'])).toEqual([]);
  }, 120_000);
});
