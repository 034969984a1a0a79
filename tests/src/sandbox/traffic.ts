// Traffic helpers for the sandbox dataplane proofs: ping with loss figures, a tcpdump
// capture around an action, an iperf3 run. Everything runs inside namespaces the test made.
import { spawn } from 'node:child_process';
import { DfError } from '@dragonflow/base';
import { netnsArgv, requireBinary, run, type Vm } from '@dragonflow/sandbox';

export interface PingResult {
  transmitted: number;
  received: number;
  output: string;
}

export async function pingStats(vm: Vm, target: string, count = 5): Promise<PingResult> {
  const r = await run('ping', ['-n', '-c', String(count), '-i', '0.2', '-W', '1', target], { netns: vm.netns, allowFailure: true, timeoutMs: (count + 5) * 1000 });
  const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
  if (!m) throw new DfError('TEST_PING', `cannot read ping output: ${r.stdout} ${r.stderr}`);
  return { transmitted: Number(m[1]), received: Number(m[2]), output: r.stdout };
}

/** Pings with a packet of exactly the VM's MTU and Don't Fragment set: true when both replies come back. */
export async function fullSizePing(vm: Vm, target: string): Promise<boolean> {
  const payload = vm.state.mtu - 28;
  const r = await run('ping', ['-n', '-c', '2', '-i', '0.2', '-W', '1', '-M', 'do', '-s', String(payload), target], { netns: vm.netns, allowFailure: true, timeoutMs: 10_000 });
  return /2 received/.test(r.stdout);
}

/**
 * Starts tcpdump in `netns` on `iface` with `filter`, waits until it listens, runs
 * `action`, then returns what tcpdump printed (at most `count` packets, -v, -e).
 */
export async function capture(netns: string, iface: string, filter: string, count: number, action: () => Promise<unknown>, timeoutMs = 8000): Promise<string> {
  requireBinary('tcpdump');
  const [bin, argv] = netnsArgv(netns, 'tcpdump', ['-n', '-e', '-v', '-l', '-i', iface, '-c', String(count), filter]);
  const child = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const listening = new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) resolve();
    });
    child.once('exit', () => reject(new DfError('TEST_CAPTURE', `tcpdump exited early: ${err}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
  try {
    await listening;
    await action();
    await exited;
  } finally {
    clearTimeout(killer);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  }
  return out;
}

export interface IperfResult {
  bytesReceived: number;
  bitsPerSecond: number;
  retransmits: number;
}

/** Runs an iperf3 TCP test from `client` to `server` for `seconds`; the server is stopped by pid afterwards. */
export async function iperfTcp(server: Vm, client: Vm, seconds = 1, connectTimeoutMs = 5000): Promise<IperfResult> {
  requireBinary('iperf3');
  const [bin, argv] = netnsArgv(server.netns, 'iperf3', ['-s', '-1', '-p', '5201', '--forceflush']);
  const srv = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => srv.once('exit', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      let text = '';
      const t = setTimeout(() => reject(new DfError('TEST_IPERF', `iperf3 server did not start: ${text}`)), 5000);
      srv.stdout.on('data', (d: Buffer) => {
        text += d.toString();
        if (text.includes('Server listening')) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    const r = await run('iperf3', ['-c', server.address, '-p', '5201', '-t', String(seconds), '-J', '--connect-timeout', String(connectTimeoutMs)], {
      netns: client.netns,
      allowFailure: true,
      timeoutMs: (seconds + 15) * 1000,
    });
    let parsed: { error?: string; end?: { sum_received?: { bytes: number; bits_per_second: number }; sum_sent?: { retransmits?: number } } };
    try {
      parsed = JSON.parse(r.stdout) as typeof parsed;
    } catch {
      throw new DfError('TEST_IPERF', `iperf3 gave no JSON: ${r.stdout} ${r.stderr}`);
    }
    if (parsed.error) throw new DfError('TEST_IPERF', `iperf3 failed: ${parsed.error}`, { context: { error: parsed.error } });
    return {
      bytesReceived: parsed.end?.sum_received?.bytes ?? 0,
      bitsPerSecond: parsed.end?.sum_received?.bits_per_second ?? 0,
      retransmits: parsed.end?.sum_sent?.retransmits ?? 0,
    };
  } finally {
    if (srv.exitCode === null && srv.signalCode === null) {
      srv.kill('SIGTERM');
      await exited;
    }
  }
}
