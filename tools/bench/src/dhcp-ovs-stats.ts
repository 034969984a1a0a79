import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { OvsInstance } from '@dragonflow/sandbox';

/**
 * What ovs-vswitchd does per DHCP message on a side of bench:dhcp (DF_BENCH_OVS_STATS=1):
 * its coverage counters' deltas over a run, divided by the messages answered, the
 * datapath flows left by the run, and `ofproto/trace` of a DISCOVER from the first
 * port. Read the same way on both sides, so the switch's work can be compared.
 */

/**
 * `coverage/show`'s totals by counter name. ovs-vswitchd adds each thread's counts to
 * the totals at most once a second, so this first waits that long: the totals then
 * hold everything done before the call.
 */
export async function coverage(ovs: OvsInstance): Promise<Map<string, number>> {
  await new Promise((r) => setTimeout(r, 1_100));
  const out = await ovs.appctl('coverage/show');
  const totals = new Map<string, number>();
  for (const line of out.split('\n')) {
    const m = /^(\S+)\s+.*total:\s+(\d+)/.exec(line);
    if (m) totals.set(m[1]!, Number(m[2]));
  }
  return totals;
}

/** The counters that moved between `before` and `after` by at least one per 20 messages, per message, one per line. */
export function coverageDelta(before: Map<string, number>, after: Map<string, number>, messages: number): string {
  const rows: string[] = [];
  for (const [name, total] of [...after].sort(([a], [b]) => a.localeCompare(b))) {
    const d = total - (before.get(name) ?? 0);
    if (d * 20 < messages) continue;
    rows.push(`  ${name.padEnd(32)} ${String(d).padStart(9)}  ${(d / messages).toFixed(2).padStart(8)} per message`);
  }
  return rows.join('\n');
}

/** The datapath flows (the megaflows a run left), their count and the lines. */
export async function datapathFlows(ovs: OvsInstance): Promise<string> {
  const out = (await ovs.appctl('dpctl/dump-flows', '-m')).trim();
  const lines = out ? out.split('\n') : [];
  return `${lines.length} datapath flows:\n${lines.map((l) => `  ${l}`).join('\n')}`;
}

/** `ofproto/trace` of a broadcast DISCOVER from `iface` with `mac` on br-int. */
export async function traceDiscover(ovs: OvsInstance, iface: string, mac: string): Promise<string> {
  const flow = `udp,in_port=${iface},dl_src=${mac},dl_dst=ff:ff:ff:ff:ff:ff,nw_src=0.0.0.0,nw_dst=255.255.255.255,udp_src=68,udp_dst=67`;
  return ovs.appctl('ofproto/trace', 'br-int', flow).catch((err: unknown) => `ofproto/trace failed: ${String(err)}`);
}

/**
 * DF_BENCH_PERF=<dir>: `perf record` of the whole machine for `seconds` into
 * <dir>/<side>.data — scheduler switches and wake-ups, and the syscalls that carry a
 * DHCP message (the client's sendto/recvfrom, the writes and sends of ovs-vswitchd and
 * the controllers) — for a timeline of single exchanges (dhcp-timeline.py reads it).
 */
export function recordTimeline(dir: string, side: string, seconds: number): Promise<void> {
  // DF_BENCH_PERF_SAMPLE=1: CPU samples with call stacks instead (run node with --perf-basic-prof to name its JIT code).
  const sample = process.env['DF_BENCH_PERF_SAMPLE'] === '1';
  const events = sample ? ['cpu-clock'] : ['sched:sched_switch', 'sched:sched_wakeup', 'syscalls:sys_enter_write', 'syscalls:sys_enter_writev', 'syscalls:sys_enter_sendto', 'syscalls:sys_enter_sendmsg', 'syscalls:sys_exit_recvfrom', 'syscalls:sys_exit_read', 'syscalls:sys_exit_recvmsg'];
  const args = ['record', '-a', '-q', ...(sample ? ['-F', '20000', '-g'] : []), ...events.flatMap((e) => ['-e', e]), '-o', join(dir, `${side}.data`), '--', 'sleep', String(seconds)];
  return new Promise((resolve, reject) => {
    const p = spawn('perf', args, { stdio: 'ignore' });
    p.on('error', reject);
    p.on('exit', () => resolve());
  });
}
