/**
 * Standby takeover on a real sandbox (issue goal: the standby takes over within 1 s
 * of the master's death and sends zero flow-mods when nothing changed).
 *
 *   pnpm --filter @dragonflow/bench bench:ha-standby
 *
 * `dfctl sandbox up --chassis 1` (the default apps), two VMs on one network,
 * `dfctl sandbox controller start 1 --standby`. Then DF_BENCH_KILLS (default 10)
 * times: the master of the pair is killed with SIGKILL; one sample is the time from
 * the kill to the standby confirmed master by the switch (the role reply), and to
 * the switch confirmed in sync (barrier) after reading its flows back, with the
 * flow-mods that sync sent; the killed controller is started again (`dfctl sandbox
 * controller start 1`: it comes back as standby) before the next kill. vm1 pings
 * vm2 every 10 ms throughout: lost echoes are counted (from the sequence numbers).
 * The sandbox is taken down at the end, after a failure and on SIGINT/SIGTERM.
 * Needs root and Open vSwitch.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { Sandbox, netnsArgv, requireBinary, waitFor } from '@dragonflow/sandbox';
import { dfctl, loadNow, percentile, withBenchSandbox } from './bench-sandbox.js';

const COMMAND = 'pnpm --filter @dragonflow/bench bench:ha-standby';
const KILLS = Number(process.env['DF_BENCH_KILLS'] ?? 10);
const TARGET_MS = 1_000;


interface Entry {
  readonly chassis: number;
  readonly pid?: number;
  readonly management: string;
  readonly standby?: boolean;
}

interface Health {
  readonly ha?: { readonly role: string; readonly lastTakeover?: { readonly detectedAt: number; readonly masterAt: number; readonly syncedAt?: number; readonly flowMods?: number } };
}

function health(e: Entry): Promise<Health | undefined> {
  return new Promise((resolve) => {
    const req = request({ socketPath: e.management.replace(/^unix:/, ''), path: '/healthz', timeout: 2_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as Health);
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

const stats = (xs: number[]): string => `p50 ${percentile(xs, 50).toFixed(0)} ms, p99 ${percentile(xs, 99).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms`;

async function main(): Promise<void> {
  for (const b of ['ovs-vswitchd', 'ping']) requireBinary(b);
  const load0 = loadNow();
  await withBenchSandbox('df-bench-ha-', ['--chassis', '1'], async ({ dir, url }) => {
    const post = async (path: string, body: unknown): Promise<{ network: { id: string } }> => {
      const r = await fetch(`${url}/v2.0${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (!r.ok) throw new Error(`POST ${path}: ${r.status} ${await r.text()}`);
      return (await r.json()) as { network: { id: string } };
    };
    const net = (await post('/networks', { network: { name: 'n1' } })).network;
    await post('/subnets', { subnet: { network_id: net.id, cidr: '10.70.0.0/24', ip_version: 4 } });
    await dfctl(['sandbox', 'vm', 'create', 'vm1', '--network', 'n1', '--chassis', '1', '--ip', '10.70.0.11', '--dir', dir]);
    await dfctl(['sandbox', 'vm', 'create', 'vm2', '--network', 'n1', '--chassis', '1', '--ip', '10.70.0.12', '--dir', dir]);
    await dfctl(['sandbox', 'controller', 'start', '1', '--standby', '--dir', dir]);
    const entries = (): Entry[] => (JSON.parse(readFileSync(join(dir, 'df-sandbox.json'), 'utf8')) as { controllers: Entry[] }).controllers.filter((c) => c.chassis === 1);

    const [bin, argv] = netnsArgv(Sandbox.load(dir).vm('vm1').netns, 'ping', ['-n', '-i', '0.01', '10.70.0.12']);
    const ping = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'ignore'] });
    const replies = new Set<number>();
    ping.stdout.on('data', (d: Buffer) => {
      for (const m of d.toString().matchAll(/icmp_seq=(\d+)/g)) replies.add(Number(m[1]));
    });
    const exited = new Promise<void>((r) => ping.once('exit', () => r()));
    const toMaster: number[] = [];
    const toSynced: number[] = [];
    const detectToMaster: number[] = [];
    const flowMods: number[] = [];
    try {
      await waitFor(() => replies.size >= 50, { what: '50 ping replies before the first kill', timeoutMs: 30_000 });
      for (let i = 0; i < KILLS; i++) {
        const roles = await Promise.all(entries().map(async (e) => ({ e, h: await health(e) })));
        const master = roles.find((r) => r.h?.ha?.role === 'master');
        const standby = roles.find((r) => r.h?.ha?.role === 'slave');
        if (!master?.e.pid || !standby) throw new Error(`kill ${i + 1}: expected a master and a slave, found ${roles.map((r) => r.h?.ha?.role ?? 'no answer').join(', ')}`);
        const killedAt = Date.now();
        process.kill(master.e.pid, 'SIGKILL');
        const t = await waitFor(
          async () => {
            const h = await health(standby.e);
            const last = h?.ha?.role === 'master' ? h.ha.lastTakeover : undefined;
            return last && last.masterAt >= killedAt && last.syncedAt !== undefined ? last : undefined;
          },
          { what: `kill ${i + 1}: the standby to take over`, timeoutMs: 15_000, intervalMs: 5 },
        );
        toMaster.push(t.masterAt - killedAt);
        toSynced.push(t.syncedAt! - killedAt);
        detectToMaster.push(t.masterAt - t.detectedAt);
        flowMods.push(t.flowMods ?? -1);
        // the killed one back, as standby
        await dfctl(['sandbox', 'controller', 'start', '1', '--dir', dir]);
      }
      const seen = replies.size;
      await waitFor(() => replies.size >= seen + 50, { what: '50 ping replies after the last takeover', timeoutMs: 30_000 });
    } finally {
      ping.kill('SIGINT');
      await exited;
    }
    const last = Math.max(...replies);
    const lost = Array.from({ length: last }, (_, i) => i + 1).filter((s) => !replies.has(s)).length;
    console.log(`${COMMAND}  (1 chassis, default apps, ${KILLS} kills; load average ${load0} at the start, ${loadNow()} at the end)`);
    console.log(`SIGKILL → standby confirmed master      ${stats(toMaster)}  (goal ≤ ${TARGET_MS} ms: ${Math.max(...toMaster) <= TARGET_MS ? 'met' : 'missed'})  samples ${toMaster.join(', ')}`);
    console.log(`  of which socket closed → master        ${stats(detectToMaster)}`);
    console.log(`SIGKILL → switch confirmed in sync      ${stats(toSynced)}  samples ${toSynced.join(', ')}`);
    console.log(`flow-mods sent by each takeover         ${flowMods.join(', ')}  (goal 0)`);
    console.log(`ping vm1 → vm2 every 10 ms              ${lost} of ${last} echoes lost`);
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
