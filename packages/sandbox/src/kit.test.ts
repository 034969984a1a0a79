import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { isDfError } from '@dragonflow/base';
import {
  CleanupStack,
  addAddress,
  createNetns,
  createVethPair,
  deleteLink,
  deleteNetns,
  isAlive,
  netnsExists,
  ping,
  requireBinary,
  run,
  shortId,
  startEtcd,
  startOvs,
  startRedis,
} from './index.js';

const cleanup = new CleanupStack();
afterAll(async () => {
  const errors = await cleanup.run();
  expect(errors).toEqual([]);
});

describe('requireBinary', () => {
  it('fails loudly, naming the binary and the setup script', () => {
    try {
      requireBinary('df-no-such-binary');
      expect.unreachable();
    } catch (err) {
      expect(isDfError(err, 'MISSING_BINARY')).toBe(true);
      expect(String(err)).toContain('./scripts/setup');
    }
  });
});

describe('startOvs', () => {
  it('runs a private userspace OVS and removes it on stop', async () => {
    const ovs = await startOvs();
    cleanup.defer('ovs', () => ovs.stop());
    await ovs.vsctl('add-br', 'br-t', '--', 'set', 'bridge', 'br-t', 'datapath_type=netdev', 'fail_mode=secure');
    expect(await ovs.vsctl('list-br')).toContain('br-t');
    await ovs.ofctl('-O', 'OpenFlow13', 'add-flow', 'br-t', 'table=0,priority=5,actions=drop');
    expect(await ovs.ofctl('-O', 'OpenFlow13', 'dump-flows', 'br-t')).toContain('priority=5');
    await ovs.stop();
    expect(isAlive(ovs.pids.vswitchd)).toBe(false);
    expect(isAlive(ovs.pids.ovsdbServer)).toBe(false);
    expect(existsSync(ovs.dir)).toBe(false);
  });

  it('forwards real packets between two namespaces through a bridge in a third', async () => {
    const tag = shortId();
    const chassis = `dfc${tag}`;
    const vms = [`dfv1${tag}`, `dfv2${tag}`];
    await createNetns(chassis);
    cleanup.defer('chassis netns', () => deleteNetns(chassis));
    const ovs = await startOvs({ netns: chassis });
    cleanup.defer('ovs in netns', () => ovs.stop());
    await ovs.vsctl('add-br', 'br-int', '--', 'set', 'bridge', 'br-int', 'datapath_type=netdev', 'fail_mode=secure');
    for (const [i, vm] of vms.entries()) {
      await createNetns(vm);
      cleanup.defer(`vm ${vm}`, () => deleteNetns(vm));
      await createVethPair({ name: 'eth0', netns: vm }, { name: `tap${i}${tag}`, netns: chassis });
      await addAddress('eth0', `10.99.0.${i + 1}/24`, vm);
      await ovs.vsctl('add-port', 'br-int', `tap${i}${tag}`);
    }
    expect(await ping(vms[0]!, '10.99.0.2')).toBe(false);
    await ovs.ofctl('-O', 'OpenFlow13', 'add-flow', 'br-int', 'priority=0,actions=NORMAL');
    expect(await ping(vms[0]!, '10.99.0.2', { count: 3 })).toBe(true);
  });
});

describe('veth helpers', () => {
  it('creates and deletes a pair', async () => {
    const tag = shortId();
    const ns = `dfn${tag}`;
    await createNetns(ns);
    cleanup.defer('netns', () => deleteNetns(ns));
    await createVethPair({ name: `va${tag}` }, { name: `vb${tag}`, netns: ns });
    expect((await run('ip', ['link', 'show', `vb${tag}`], { netns: ns })).stdout).toContain(`vb${tag}`);
    await deleteLink(`va${tag}`);
    expect((await run('ip', ['link', 'show', `vb${tag}`], { netns: ns, allowFailure: true })).code).not.toBe(0);
    await deleteNetns(ns);
    expect(await netnsExists(ns)).toBe(false);
  });
});

describe('startEtcd', () => {
  it('serves the v3 API and keeps data across a restart', async () => {
    const etcd = await startEtcd();
    cleanup.defer('etcd', () => etcd.stop());
    const env = { ETCDCTL_API: '3' };
    await run('etcdctl', [`--endpoints=${etcd.endpoint}`, 'put', '/df/k', 'v1'], { env });
    await etcd.restart();
    const got = await run('etcdctl', [`--endpoints=${etcd.endpoint}`, 'get', '--print-value-only', '/df/k'], { env });
    expect(got.stdout.trim()).toBe('v1');
    await etcd.stop();
    expect(etcd.alive).toBe(false);
  });
});

describe('startRedis', () => {
  it('answers and keeps data across a restart', async () => {
    const redis = await startRedis();
    cleanup.defer('redis', () => redis.stop());
    await run('redis-cli', ['-p', String(redis.port), 'SET', 'df:k', 'v1']);
    await redis.restart();
    const got = await run('redis-cli', ['-p', String(redis.port), 'GET', 'df:k']);
    expect(got.stdout.trim()).toBe('v1');
    await redis.stop();
    expect(redis.alive).toBe(false);
  });
});
