/**
 * The NB of bench:scale-out: a 3-member etcd cluster or a single redis server, each
 * in temp dirs; the cloud loaded into it; the server side's load read from the
 * servers themselves (etcd's /metrics, redis' INFO) and their CPU from /proc.
 */
import { type NbDriver, type TxnOp } from '@dragonflow/nb';
import { run, startEtcdCluster, startRedis, type EtcdServer } from '@dragonflow/sandbox';
import { cpuSeconds } from './nb-process.js';
import { chassisOps, tenantOps, tenants, type CloudShape } from './scale-out-topology.js';
import { connectNb, type NbTarget } from './scale-out-worker.js';

/** Counters of the NB servers at one moment (summed over etcd's members). */
export interface NbCounters {
  readonly at: number;
  /** Requests received (etcd: gRPC messages received, unary calls and stream messages; redis: commands processed). */
  readonly requests: number;
  /** Change events the server sent to watchers (etcd); XREAD calls served (redis). */
  readonly events: number;
  /** Open watches (etcd watchers; redis clients blocked in XREAD). */
  readonly watchers: number;
  /** Server CPU seconds (all members). */
  readonly cpu: number;
}

export interface NbServer {
  readonly name: string;
  readonly target: NbTarget;
  counters(): Promise<NbCounters>;
  /** etcd: SIGKILLs the leader; the member's name. */
  killLeader?(): Promise<string>;
  stop(): Promise<void>;
}

function metric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

async function etcdLeader(members: readonly EtcdServer[]): Promise<EtcdServer> {
  const live = members.filter((m) => m.alive);
  const out = await run('etcdctl', ['--endpoints', live.map((m) => m.endpoint).join(','), 'endpoint', 'status', '-w', 'json'], { env: { ETCDCTL_API: '3' } });
  const status = JSON.parse(out.stdout) as { Endpoint: string; Status: { header: { member_id: number | string }; leader: number | string } }[];
  const leader = status.find((s) => String(s.Status.header.member_id) === String(s.Status.leader));
  const m = leader && live.find((x) => x.endpoint === leader.Endpoint);
  if (!m) throw new Error(`no etcd leader among ${live.map((x) => x.endpoint).join(', ')}`);
  return m;
}

export async function startNb(kind: 'etcd' | 'redis'): Promise<NbServer> {
  if (kind === 'etcd') {
    const cluster = await startEtcdCluster(3);
    const members = cluster.members;
    return {
      name: 'etcd 3.4, 3-member cluster',
      target: { kind: 'etcd', endpoints: cluster.endpoints },
      async counters() {
        let requests = 0;
        let events = 0;
        let watchers = 0;
        let cpu = 0;
        for (const m of members.filter((x) => x.alive)) {
          const text = await (await fetch(`${m.endpoint}/metrics`)).text();
          requests += metric(text, 'grpc_server_msg_received_total');
          events += metric(text, 'etcd_debugging_mvcc_events_total');
          watchers += metric(text, 'etcd_debugging_mvcc_watcher_total');
          cpu += cpuSeconds(m.pid);
        }
        return { at: performance.now(), requests, events, watchers, cpu };
      },
      async killLeader() {
        const leader = await etcdLeader(members);
        await leader.kill();
        return leader.name;
      },
      stop: () => cluster.stop(),
    };
  }
  // Not persistent: the etcd members fsync their WAL, but an fsync per command would
  // make redis' figures the disk's; said so with the results.
  const redis = await startRedis({ persistent: false });
  return {
    name: 'redis 7, one server (no AOF)',
    target: { kind: 'redis', url: redis.url },
    async counters() {
      const out = await run('redis-cli', ['-p', String(redis.port), 'INFO', 'all']);
      const field = (name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(out.stdout)?.[1] ?? 0);
      const calls = (cmd: string): number => Number(new RegExp(`^cmdstat_${cmd}:calls=(\\d+)`, 'm').exec(out.stdout)?.[1] ?? 0);
      // What clients sent: every driver operation is one script call (EVALSHA), the feed's
      // reads are XREADs (total_commands_processed also counts the commands scripts run).
      const requests = calls('evalsha') + calls('eval') + calls('xread') + calls('script');
      return { at: performance.now(), requests, events: calls('xread'), watchers: field('blocked_clients'), cpu: cpuSeconds(redis.pid) };
    },
    stop: () => redis.stop(),
  };
}

/** Writes the cloud: chassis records, then tenant by tenant in commits of at most 100 objects. */
export async function loadCloud(driver: NbDriver, shape: CloudShape): Promise<number> {
  let ops: TxnOp[] = [];
  let objects = 0;
  const flush = async (): Promise<void> => {
    for (let i = 0; i < ops.length; i += 100) await driver.commit(ops.slice(i, i + 100));
    objects += ops.length;
    ops = [];
  };
  ops = chassisOps(shape);
  await flush();
  for (let t = 0; t < tenants(shape); t++) {
    ops = tenantOps(shape, t);
    await flush();
  }
  return objects;
}

export { connectNb };
