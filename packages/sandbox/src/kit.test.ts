import { existsSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isDfError } from '@dragonflow/base';
import {
  CleanupStack,
  addAddress,
  createNetns,
  createVethPair,
  deleteLink,
  deleteNetns,
  freePort,
  isAlive,
  linkExists,
  makeTempDir,
  netnsExists,
  ping,
  removeDir,
  requireBinary,
  run,
  shortId,
  spawnDaemon,
  startEtcd,
  startEtcdCluster,
  startOvs,
  startRedis,
  waitFor,
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

describe('waitFor', () => {
  it('stops at once when the process it waits for exits, showing its log', async () => {
    const dir = makeTempDir('df-wait-');
    cleanup.defer('wait dir', () => removeDir(dir));
    const log = join(dir, 'daemon.log');
    const pid = spawnDaemon('sh', ['-c', 'echo cannot bind the port; exit 3'], { logFile: log });
    const started = Date.now();
    const err = await waitFor(() => false, { what: 'the daemon to answer', timeoutMs: 20_000, logFile: log, pid }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(isDfError(err, 'PROCESS_EXITED')).toBe(true);
    expect(String(err)).toContain(`the daemon to answer: its process (pid ${pid}) exited`);
    expect(String(err)).toContain('cannot bind the port');
  });

  it('takes an error of the check as "not yet" and keeps polling', async () => {
    let calls = 0;
    const value = await waitFor(
      () => {
        calls++;
        if (calls < 3) throw new Error('not yet');
        return calls;
      },
      { what: 'the third call', timeoutMs: 5_000, intervalMs: 1 },
    );
    expect(value).toBe(3);
  });
});

describe('startOvs', () => {
  /** A namespace of this test's own, so it can look at the taps after the instance is gone. */
  async function testNetns(): Promise<string> {
    const ns = `dfk${shortId()}`;
    await createNetns(ns);
    cleanup.defer(`netns ${ns}`, () => deleteNetns(ns));
    return ns;
  }

  it('runs a private userspace OVS and removes it on stop', async () => {
    const ns = await testNetns();
    const ovs = await startOvs({ netns: ns });
    cleanup.defer('ovs', () => ovs.stop());
    // A name of this run: a device left by an earlier (killed) run cannot make it pass or fail.
    const br = `brt${shortId()}`;
    await ovs.vsctl('add-br', br, '--', 'set', 'bridge', br, 'datapath_type=netdev', 'fail_mode=secure');
    expect(await ovs.vsctl('list-br')).toContain(br);
    expect(await ovs.appctl('version')).toContain('ovs-vswitchd');
    await ovs.ofctl('-O', 'OpenFlow13', 'add-flow', br, 'table=0,priority=5,actions=drop');
    expect(await ovs.ofctl('-O', 'OpenFlow13', 'dump-flows', br)).toContain('priority=5');
    expect(await linkExists(br, ns)).toBe(true);
    await ovs.stop();
    expect(isAlive(ovs.pids.vswitchd)).toBe(false);
    expect(isAlive(ovs.pids.ovsdbServer)).toBe(false);
    expect(existsSync(ovs.dir)).toBe(false);
    // the bridge's tap device went with the datapath, and stop waited for it
    expect(await netnsExists(ns)).toBe(true);
    expect(await linkExists(br, ns)).toBe(false);
  });

  it('removes the taps of a vswitchd that died without cleaning up', async () => {
    const ns = await testNetns();
    const ovs = await startOvs({ netns: ns });
    cleanup.defer('ovs', () => ovs.stop());
    const br = `brk${shortId()}`;
    const port = `ik${shortId()}`;
    await ovs.vsctl('add-br', br, '--', 'set', 'bridge', br, 'datapath_type=netdev');
    await ovs.vsctl('add-port', br, port, '--', 'set', 'interface', port, 'type=internal');
    await waitFor(() => linkExists(port, ns), { what: `${port} to appear`, timeoutMs: 10_000 });
    process.kill(ovs.pids.vswitchd, 'SIGKILL');
    await waitFor(() => !isAlive(ovs.pids.vswitchd), { what: 'vswitchd to die', timeoutMs: 10_000 });
    // killed, vswitchd left its (persistent) taps behind: stop removes them itself
    expect(await linkExists(br, ns)).toBe(true);
    await ovs.stop();
    expect(await linkExists(br, ns)).toBe(false);
    expect(await linkExists(port, ns)).toBe(false);
  });

  it('without a namespace, each instance runs in one of its own (deleted on stop), so two at once both get their bridges', async () => {
    // Two userspace datapaths in one namespace contend for the `ovs-netdev` tap: the
    // second's bridges fail ("creating tap device failed: Device or resource busy").
    const [a, b] = await Promise.all([startOvs(), startOvs()]);
    cleanup.defer('ovs a', () => a.stop());
    cleanup.defer('ovs b', () => b.stop());
    expect(a.netns).not.toBe(b.netns);
    const tag = shortId();
    for (const [ovs, br] of [[a, `bra${tag}`], [b, `brb${tag}`]] as const) {
      await ovs.vsctl('add-br', br, '--', 'set', 'bridge', br, 'datapath_type=netdev');
      await waitFor(() => linkExists(br, ovs.netns), { what: `${br}'s tap in ${ovs.netns}`, timeoutMs: 10_000 });
      expect(await ovs.ofctl('show', br)).toContain(br);
    }
    expect(await linkExists(`bra${tag}`)).toBe(false);
    await a.stop();
    await b.stop();
    expect(await netnsExists(a.netns)).toBe(false);
    expect(await netnsExists(b.netns)).toBe(false);
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
  it('creates a pair between two namespaces, each end under its name there, and deletes it', async () => {
    const tag = shortId();
    const [nsA, nsB] = [`dfna${tag}`, `dfnb${tag}`];
    for (const ns of [nsA, nsB]) {
      await createNetns(ns);
      cleanup.defer('netns', () => deleteNetns(ns));
    }
    // eth0 is also the root namespace's name: each end is made where it lives, so no clash
    await createVethPair({ name: 'eth0', netns: nsA, mac: '02:00:00:00:0a:01', mtu: 1400 }, { name: `vb${tag}`, netns: nsB });
    const a = (await run('ip', ['-j', 'link', 'show', 'eth0'], { netns: nsA })).stdout;
    expect(JSON.parse(a)).toMatchObject([{ ifname: 'eth0', address: '02:00:00:00:0a:01', mtu: 1400 }]);
    expect(await linkExists(`vb${tag}`, nsB)).toBe(true);
    expect(await linkExists(`vb${tag}`)).toBe(false);
    await deleteLink('eth0', nsA);
    expect(await linkExists(`vb${tag}`, nsB)).toBe(false);
    await deleteNetns(nsB);
    expect(await netnsExists(nsB)).toBe(false);
  });

  it('leaves a root-namespace device alone when the name is taken', async () => {
    const tag = shortId();
    const ns = `dfn${tag}`;
    await createNetns(ns);
    cleanup.defer('netns', () => deleteNetns(ns));
    // the root end's name exists (loopback): the pair is refused, and lo is still there
    await expect(createVethPair({ name: 'lo' }, { name: `vb${tag}`, netns: ns })).rejects.toThrow();
    expect(await linkExists('lo')).toBe(true);
    expect(await linkExists(`vb${tag}`, ns)).toBe(false);
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

describe('startEtcdCluster', () => {
  it('runs three members that keep a quorum when one is killed, and the killed one catches up on restart', async () => {
    const cluster = await startEtcdCluster(3);
    cleanup.defer('etcd cluster', () => cluster.stop());
    const env = { ETCDCTL_API: '3' };
    const [a, b, c] = cluster.members;
    expect(cluster.endpoints).toHaveLength(3);
    await run('etcdctl', [`--endpoints=${a!.endpoint}`, 'put', '/df/k', 'v1'], { env });
    const list = await run('etcdctl', [`--endpoints=${b!.endpoint}`, 'member', 'list'], { env });
    expect(list.stdout.trim().split('\n')).toHaveLength(3);
    await a!.kill();
    expect(a!.alive).toBe(false);
    await run('etcdctl', [`--endpoints=${b!.endpoint}`, 'put', '/df/k', 'v2'], { env });
    await a!.restart();
    const got = await run('etcdctl', [`--endpoints=${a!.endpoint}`, 'get', '--print-value-only', '/df/k'], { env });
    expect(got.stdout.trim()).toBe('v2');
    const fromC = await run('etcdctl', [`--endpoints=${c!.endpoint}`, 'get', '--print-value-only', '/df/k'], { env });
    expect(fromC.stdout.trim()).toBe('v2');
    await cluster.stop();
    expect(cluster.members.some((m) => m.alive)).toBe(false);
  });
});

describe('startRedis', () => {
  it('fails at once, naming redis, when redis-server exits during start-up, and leaves nothing behind', async () => {
    const port = await freePort();
    // Holds the port; drops every connection (redisAnswers' probes) so that close() can finish.
    const busy: Server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => busy.listen(port, '127.0.0.1', resolve));
    cleanup.defer('busy port', () => new Promise<void>((resolve) => busy.close(() => resolve())));
    // Its temporary directory is made under TMPDIR: a private one shows whether it is removed.
    const tmp = makeTempDir('df-wait-tmp-');
    cleanup.defer('private TMPDIR', () => removeDir(tmp));
    const savedTmp = process.env['TMPDIR'];
    process.env['TMPDIR'] = tmp;
    let err: unknown;
    const started = Date.now();
    try {
      err = await startRedis({ port }).catch((e: unknown) => e);
    } finally {
      if (savedTmp === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = savedTmp;
    }
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(isDfError(err, 'PROCESS_EXITED')).toBe(true);
    expect(String(err)).toContain(`redis to answer PING on port ${port}`);
    expect(readdirSync(tmp)).toEqual([]);
  });

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
