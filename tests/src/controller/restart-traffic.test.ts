/**
 * A df-controller killed with SIGKILL and started again, in a `dfctl sandbox` with two
 * chassis and the L2 app: traffic between VMs on the two chassis keeps flowing
 * with no loss (the flows stay in OVS, fail_mode=secure), the restarted controller
 * sends zero flow-mods (its /metrics), and no flow was re-created (every flow's
 * duration kept counting). Needs root, Open vSwitch (./scripts/setup); never skips.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { run, waitFor } from '@dragonflow/sandbox';
import { beforeAll, describe, expect, test } from 'vitest';
import { apiPost, curlUnix, df, dfOk, readServicesFile, readTopology, useDfSandbox } from '../sandbox-cli/df-cli.js';

const s = useDfSandbox(['--chassis', '2']);

/** Flows of a chassis' br-int keyed by table/priority/match, with their age in seconds. */
async function flowAges(chassis: number): Promise<Map<string, number>> {
  const st = readTopology(s.place().dir).chassis.find((c) => c.index === chassis)!;
  const dump = (await run('ovs-ofctl', ['-O', 'OpenFlow13', 'dump-flows', `unix:${join(st.dir, 'br-int.mgmt')}`])).stdout;
  const ages = new Map<string, number>();
  for (const line of dump.split('\n')) {
    const m = /duration=([\d.]+)s, table=(\d+), .*?priority=(\d+)(,[^ ]*)? actions=/.exec(line);
    if (m) ages.set(`${m[2]}/${m[3]}${m[4] ?? ''}`, Number(m[1]));
  }
  return ages;
}

beforeAll(async () => {
  const { url } = s.place();
  const net = (await apiPost<{ network: { id: string } }>(url, '/networks', { network: { name: 'n1' } })).network;
  await apiPost(url, '/subnets', { subnet: { network_id: net.id, cidr: '10.50.0.0/24', ip_version: 4 } });
  await s.vmCreate('a', 'n1', 1, '10.50.0.10');
  await s.vmCreate('b', 'n1', 2, '10.50.0.20');
}, 300_000);

describe('controller killed and restarted', () => {
  test('no packet lost, zero flow-mods, no flow re-created', async () => {
    const vmA = readTopology(s.place().dir).vms.find((v) => v.name === 'a')!;
    // warm up (the first packet to a new tunnel peer resolves its underlay MAC)
    expect((await df(['sandbox', 'exec', 'a', '--', 'ping', '-c', '2', '-W', '2', '10.50.0.20'], { env: s.env() })).code).toBe(0);
    const before = await flowAges(1);
    expect(before.size).toBeGreaterThan(10);

    // Pings every 20 ms from before the kill until well after the restart. Loss is read
    // from the replies' sequence numbers (a gap is a lost packet), not from ping's own
    // summary, which counts a packet still in flight when ping is stopped as lost.
    const ping = spawn('ip', ['netns', 'exec', vmA.netns, 'ping', '-n', '-i', '0.02', '10.50.0.20'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const replies = new Set<number>();
    let pingOut = '';
    ping.stdout.on('data', (d: Buffer) => {
      pingOut += d.toString();
      for (const m of d.toString().matchAll(/icmp_seq=(\d+)/g)) replies.add(Number(m[1]));
    });
    const pingDone = new Promise<void>((resolve) => ping.on('exit', () => resolve()));
    try {
      // 100 replies (2 s at least) before the kill: a flow the restart re-created would
      // be younger than the restart by then, so the age check below can tell.
      await waitFor(() => replies.size >= 100, { what: `100 ping replies before the restart (so far: ${pingOut.slice(-200)})`, timeoutMs: 30_000, pid: ping.pid });
      const restartAt = Date.now();

      const oldPid = readServicesFile(s.place().dir).controllers[0]!.pid;
      const restarted = await dfOk(['sandbox', 'controller', 'restart', '1', '--kill', '--dir', s.place().dir]);
      expect(restarted).toMatch(/df-controller of chassis-1 running \(pid \d+\), connected and in sync/);
      const c1 = readServicesFile(s.place().dir).controllers[0]!;
      expect(c1.pid).not.toBe(oldPid);

      // 100 more replies after the new controller is up, then every packet up to the
      // last answered one must have been answered
      const seen = replies.size;
      await waitFor(() => replies.size >= seen + 100, { what: '100 ping replies after the restart', timeoutMs: 30_000, pid: ping.pid });
      const last = Math.max(...replies);
      const lost = Array.from({ length: last }, (_, i) => i + 1).filter((seq) => !replies.has(seq));
      expect(lost, `ping sequence numbers with no reply (of ${last})`).toEqual([]);

      // the new controller read the flows back and found nothing to change
      const metrics = await curlUnix(c1.management.replace(/^unix:/, ''), '/metrics');
      expect(metrics).toMatch(/^df_reconciler_batches_total 0$/m);
      expect(metrics).not.toMatch(/^df_reconciler_flow_mods_total\{[^}]*\} [1-9]/m);
      const health = JSON.parse(await curlUnix(c1.management.replace(/^unix:/, ''), '/healthz')) as { status: string; sync: { installedFlows: number } };
      expect(health.status).toBe('ok');
      // every flow is the same flow, older than the restart (one re-created by it is younger)
      const after = await flowAges(1);
      const sinceRestart = (Date.now() - restartAt) / 1000;
      expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
      for (const [k, age] of after) expect(age, `flow ${k} was re-created`).toBeGreaterThan(sinceRestart);
      expect(health.sync.installedFlows).toBe(after.size);
    } finally {
      ping.kill('SIGINT');
      await pingDone;
    }
  });
});
