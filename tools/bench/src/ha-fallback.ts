/**
 * The fallback path on a real sandbox (docs/ha.md "Fallback path"; issue goals: new
 * routed flows from a chassis whose controller died work again within 3 s, punts
 * handled locally again within 1 s of its return), and what the liveness costs.
 *
 *   pnpm --filter @dragonflow/bench bench:ha-fallback
 *
 * `dfctl sandbox up --chassis 3 --apps l2,l3-reactive,ha-fallback` (chassis-3 is the
 * fallback), net1 and net2 behind one reactive router (df-api's REST), a1 on net1 on
 * chassis-1, one fresh destination VM on net2 on chassis-2 per sample. Then
 * DF_BENCH_KILLS (default 8) times:
 *
 * - detection: the controller of chassis-1 is killed (SIGKILL); from the kill to the
 *   first echo reply a1 gets from a destination it never talked to (ping asks every
 *   10 ms) — the liveness flow's hard timeout, the switch's expiry check, the tunnel
 *   to chassis-3 and chassis-3's reactive router;
 * - recovery: `dfctl sandbox controller start 1` (it returns once the controller is
 *   healthy: connected and in sync); from then to the first packet-in chassis-1's
 *   l3-reactive counts for another new destination a1 pings every 10 ms from that
 *   moment (its /metrics read every 20 ms).
 *
 * Steady state: df-controller of chassis-1 idle for DF_BENCH_IDLE_SECONDS (default
 * 20): flow-mods per second (df_reconciler_flow_mods_total: the liveness refreshes)
 * and its CPU use (/proc/PID/stat). The sandbox is taken down at the end, after a
 * failure and on SIGINT/SIGTERM. Needs root and Open vSwitch.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { Sandbox, netnsArgv, requireBinary, run, waitFor } from '@dragonflow/sandbox';
import { api, dfctl, loadNow, percentile, withBenchSandbox } from './bench-sandbox.js';

const COMMAND = 'pnpm --filter @dragonflow/bench bench:ha-fallback';
const KILLS = Number(process.env['DF_BENCH_KILLS'] ?? 8);
const IDLE_SECONDS = Number(process.env['DF_BENCH_IDLE_SECONDS'] ?? 20);
const APPS = ['@dragonflow/app-l2', '@dragonflow/app-l3-reactive', '@dragonflow/app-ha-fallback'];



function getUnix(socket: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, timeout: 2_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer on ${socket}`)));
    req.on('error', reject);
    req.end();
  });
}

const metric = (text: string, re: RegExp): number => [...text.matchAll(re)].reduce((sum, m) => sum + Number(m[1]), 0);

/** A ping every 10 ms in the background; `firstReply()` is the wall-clock ms of its first echo reply (waits up to `timeoutMs`). */
function pinger(netns: string, ip: string): { firstReply(timeoutMs: number): Promise<number>; stop(): Promise<void> } {
  const [bin, argv] = netnsArgv(netns, 'ping', ['-n', '-D', '-i', '0.01', '-W', '1', ip]);
  const child = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const reply = /\[(\d+\.\d+)\] \d+ bytes from/;
  return {
    async firstReply(timeoutMs) {
      await waitFor(() => reply.test(out), { what: `an echo reply from ${ip}`, timeoutMs, intervalMs: 5 });
      return Number(reply.exec(out)![1]) * 1000;
    },
    async stop() {
      child.kill('SIGINT');
      await exited;
    },
  };
}

async function main(): Promise<void> {
  for (const b of ['ovs-vswitchd', 'ping']) requireBinary(b);
  const load0 = loadNow();
  await withBenchSandbox('df-bench-hafb-', ['--chassis', '3', '--apps', APPS.join(',')], async ({ dir, url }) => {
    const router = (await api<{ router: { id: string } }>(url, 'POST', '/routers', { router: { name: 'r1' } })).router;
    for (const n of [1, 2]) {
      const net = (await api<{ network: { id: string } }>(url, 'POST', '/networks', { network: { name: `net${n}` } })).network;
      const sub = (await api<{ subnet: { id: string } }>(url, 'POST', '/subnets', { subnet: { network_id: net.id, name: `sub${n}`, cidr: `10.0.${n}.0/24`, ip_version: 4 } })).subnet;
      await api(url, 'PUT', `/routers/${router.id}/add_router_interface`, { subnet_id: sub.id });
    }
    await dfctl(['sandbox', 'vm', 'create', 'a1', '--network', 'net1', '--chassis', '1', '--dir', dir]);
    // underlay ARP of vswitchd towards chassis-2 and chassis-3 (switched pings on net1)
    for (const c of [2, 3]) await dfctl(['sandbox', 'vm', 'create', `w${c}`, '--network', 'net1', '--chassis', String(c), '--dir', dir]);
    const dests: string[] = [];
    for (let i = 0; i < 2 * KILLS; i++) {
      await dfctl(['sandbox', 'vm', 'create', `d${i}`, '--network', 'net2', '--chassis', '2', '--dir', dir]);
      dests.push(`d${i}`);
    }
    const sb = Sandbox.load(dir);
    const a1 = sb.vm('a1');
    for (const w of ['w2', 'w3']) await waitFor(async () => (await run('ping', ['-n', '-c', '1', '-W', '1', sb.vm(w).address], { netns: a1.netns, allowFailure: true })).code === 0, { what: `${w} to answer`, timeoutMs: 10_000 });

    const services = JSON.parse(readFileSync(join(dir, 'df-sandbox.json'), 'utf8')) as { controllers: { chassis: number; pid?: number; management: string }[] };
    const mgmt = (chassis: number): string => services.controllers.find((c) => c.chassis === chassis)!.management.replace(/^unix:/, '');
    const metrics = (chassis: number): Promise<string> => getUnix(mgmt(chassis), '/metrics');

    // steady state: the liveness refreshes of an idle chassis
    const pid = (): number => (JSON.parse(readFileSync(join(dir, 'df-sandbox.json'), 'utf8')) as typeof services).controllers.find((c) => c.chassis === 1)!.pid!;
    const cpuTicks = (p: number): number => {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return Number(f[11]) + Number(f[12]);
    };
    const mods0 = metric(await metrics(1), /^df_reconciler_flow_mods_total\{[^}]*\} (\d+)$/gm);
    const cpu0 = cpuTicks(pid());
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const mods1 = metric(await metrics(1), /^df_reconciler_flow_mods_total\{[^}]*\} (\d+)$/gm);
    const cpu1 = cpuTicks(pid());
    const idleS = (Date.now() - t0) / 1000;
    const modsPerS = (mods1 - mods0) / idleS;
    const cpuPct = ((cpu1 - cpu0) / 100 / idleS) * 100;

    const detection: number[] = [];
    const recovery: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      const fresh = sb.vm(dests[2 * k]!).address;
      const again = sb.vm(dests[2 * k + 1]!).address;
      await dfctl(['sandbox', 'controller', 'stop', '1', '--kill', '--dir', dir]);
      const killed = Date.now();
      const p = pinger(a1.netns, fresh);
      try {
        detection.push((await p.firstReply(15_000)) - killed);
      } finally {
        await p.stop();
      }
      await dfctl(['sandbox', 'controller', 'start', '1', '--dir', dir]);
      const started = Date.now();
      const before = metric(await metrics(1), /^df_app_packet_ins_total\{app="l3-reactive"\} (\d+)$/gm);
      const q = pinger(a1.netns, again);
      try {
        let at = 0;
        await waitFor(
          async () => {
            const n = metric(await metrics(1), /^df_app_packet_ins_total\{app="l3-reactive"\} (\d+)$/gm);
            if (n > before) at = Date.now();
            return n > before;
          },
          { what: "chassis-1's l3-reactive to see a packet-in after its restart", timeoutMs: 15_000, intervalMs: 20 },
        );
        recovery.push(at - started);
      } finally {
        await q.stop();
      }
    }

    const summary = (xs: number[]) => `p50 ${(percentile(xs, 50) / 1000).toFixed(2)} s, p99 ${(percentile(xs, 99) / 1000).toFixed(2)} s, max ${(Math.max(...xs) / 1000).toFixed(2)} s`;
    console.log(`${COMMAND}  (${KILLS} kills; load average ${load0} at the start, ${loadNow()} at the end)`);
    console.log(`detection: kill -9 → a new routed flow answered via chassis-3: ${summary(detection)} (goal ≤ 3 s: ${percentile(detection, 99) <= 3000 ? 'met' : 'missed'})  [${detection.map((x) => (x / 1000).toFixed(2)).join(', ')}]`);
    console.log(`recovery: controller healthy again → its own l3-reactive gets the next new flow's punt: ${summary(recovery)} (goal ≤ 1 s: ${percentile(recovery, 99) <= 1000 ? 'met' : 'missed'})  [${recovery.map((x) => (x / 1000).toFixed(2)).join(', ')}]`);
    console.log(`steady state, chassis-1 idle ${idleS.toFixed(0)} s: ${modsPerS.toFixed(2)} flow-mods/s (the liveness refreshes), df-controller CPU ${cpuPct.toFixed(1)} % of one core`);
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
