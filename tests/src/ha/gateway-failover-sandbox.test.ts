/**
 * Gateway failover end to end (docs/ha.md, "Gateway failover"): `dfctl sandbox up
 * --chassis 3 --external --gateway-chassis 2,3` with centralized SNAT and floating
 * IPs, run twice: the controllers' liveness ttl at its minimum (1 s) without BFD, and the default
 * ttl (10 s) with BFD between the gateway chassis (chassis.gatewayBfd, on by
 * default) — there the gap under 3 s can only come from BFD (the lease alone takes
 * 8–9 s; the test fails with `--no-gateway-bfd`):
 *
 * - a VM on chassis-1 pings the internet host 198.51.100.10 through centralized SNAT
 *   at 20 packets/s; another VM there has a floating IP the outside pings;
 * - the active gateway chassis is killed whole (df-controller, ovs-vswitchd,
 *   ovsdb-server; SIGKILL, `dfctl sandbox chassis kill N`): the pings resume via the
 *   other gateway chassis, the gap measured from ping's own timestamps under 3 s; the
 *   floating IP answers again; `dfctl status` names the new active gateway chassis;
 * - the killed chassis started again does not take the gateway back: no gap in the
 *   pings while it comes back, and the other one stays active.
 *
 * Needs root, Open vSwitch, ping and the openstack CLI. Never skips.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { netnsArgv, requireBinary, run, waitFor } from '@dragonflow/sandbox';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ok, quiet, requireOpenstackCli } from '../api/openstack.js';
import { df, dfOk, useDfSandbox } from '../sandbox-cli/df-cli.js';
import { INTERNET_HOST, publicNetwork, tenant } from '../nat/nat-sandbox.js';

/** The goal: external traffic back within 3 s of the kill (liveness ttl 1 s, or BFD). */
const GOAL_MS = 3_000;
const INTERVAL_S = 0.05;

/** A ping running in the background, with ping's own reply timestamps (-D). */
class Pinger {
  private child: ChildProcess | undefined;
  private out = '';

  start(netns: string, target: string): void {
    const [bin, argv] = netnsArgv(netns, 'ping', ['-D', '-n', '-i', String(INTERVAL_S), '-W', '1', target]);
    const child = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    this.child = child;
  }

  /** Reply times in ms (ping's -D timestamps). */
  replies(): number[] {
    return [...this.out.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=\d+/gm)].map((m) => Math.round(Number(m[1]) * 1000));
  }

  /** The longest time without a reply among replies after `from` (ms since the epoch), and the reply before it. */
  longestGap(from = 0): number {
    const r = this.replies();
    let gap = 0;
    for (let i = 1; i < r.length; i++) if (r[i]! >= from) gap = Math.max(gap, r[i]! - r[i - 1]!);
    return gap;
  }

  stop(): void {
    this.child?.kill();
  }
}

interface GatewayLine {
  routerId: string;
  active?: string;
  candidates: { chassis: string; alive: boolean }[];
}

/** The failover scenario on a sandbox started with `detection` (dfctl sandbox up options), `what` naming it. */
function failoverOnSandbox(what: string, detection: readonly string[]): void {
  const s = useDfSandbox(['--chassis', '3', '--external', '--gateway-chassis', '2,3', ...detection, '--app-options', '@dragonflow/app-dnat={mode: centralized}'], {
    prepare: () => {
      requireOpenstackCli();
      requireBinary('ping');
    },
    checkUp: (out) => {
      expect(out).toMatch(/chassis-2 \(gateway\): netns/);
      expect(out).toMatch(/chassis-3 \(gateway\): netns/);
    },
  });
  const pinger = new Pinger();
  let routerId = '';
  let fipAddress = '';

  /** The active gateway chassis of the router as chassis `n`'s controller reports it (`dfctl status --json`). */
  const activeSeenBy = async (n: number): Promise<GatewayLine | undefined> => {
    // exit status 1 while a chassis is down: the report is printed all the same
    const r = JSON.parse((await df(['status', '--json'], { env: s.env(), timeoutMs: 30_000 })).stdout) as {
      chassis: { index: number; controller: { health?: { gateways?: GatewayLine[] } } }[];
    };
    return r.chassis.find((c) => c.index === n)?.controller.health?.gateways?.find((g) => g.routerId === routerId);
  };
  const outsidePing = async (ip: string): Promise<boolean> => (await run('ping', ['-c', '1', '-W', '1', ip], { netns: s.sandbox().outside().netns, allowFailure: true })).code === 0;

  beforeAll(async () => {
    const a = s.auth();
    await publicNetwork(a);
    const t = await tenant(a, 'alpha');
    routerId = t.routerId;
    await quiet(a, ['security', 'group', 'rule', 'create', '--ingress', '--protocol', 'icmp', 'default']);
    // va goes out through SNAT (the router's gateway IP); vf has a floating IP (a VM with one would go out through it)
    await s.vmCreate('va', 'alpha-net', 1, '10.10.0.5');
    await s.vmCreate('vf', 'alpha-net', 1, '10.10.0.6');
    const fip = await ok<{ id: string; floating_ip_address: string }>(a, ['floating', 'ip', 'create', 'public']);
    await quiet(a, ['floating', 'ip', 'set', '--port', s.vm('vf').state.portId, fip.id]);
    fipAddress = fip.floating_ip_address;
  }, 240_000);

  afterAll(() => pinger.stop());

  let killed = 0;
  let survivor = 0;

  test('the VM reaches the internet through the active gateway chassis and its floating IP answers the outside', async () => {
    // every chassis agrees on the active gateway chassis, one of 2 and 3
    await waitFor(async () => (await activeSeenBy(1))?.active, { what: 'chassis-1 to report the router’s active gateway chassis', timeoutMs: 10_000 });
    const active = (await activeSeenBy(1))!.active!;
    expect(['chassis-2', 'chassis-3']).toContain(active);
    for (const n of [2, 3]) expect((await activeSeenBy(n))?.active).toBe(active);
    killed = Number(active.slice('chassis-'.length));
    survivor = killed === 2 ? 3 : 2;

    await waitFor(() => s.vm('va').ping(INTERNET_HOST, { count: 1, timeoutSec: 1 }), { what: 'the VM to reach the internet host', timeoutMs: 10_000 });
    await waitFor(() => outsidePing(fipAddress), { what: 'the floating IP to answer the outside', timeoutMs: 10_000 });
    pinger.start(s.vm('va').netns, INTERNET_HOST);
    await waitFor(() => pinger.replies().length >= 20, { what: '20 replies to the background ping', timeoutMs: 10_000 });
  }, 60_000);

  test('the active gateway chassis killed whole (SIGKILL): pings resume within 3 s via the other one, the floating IP answers again', async () => {
    const before = pinger.replies().length;
    const killedAt = Date.now();
    await dfOk(['sandbox', 'chassis', 'kill', String(killed)], { env: s.env(), timeoutMs: 30_000 });
    // the processes are dead when the command returns (pings went on while it started): replies again, well past that
    const dead = Date.now();
    await waitFor(() => pinger.replies().filter((t) => t > dead).length >= 20, { what: 'the pings to resume after the kill', timeoutMs: 30_000, intervalMs: 100 });
    const gap = pinger.longestGap(killedAt);
    // the kill did cut the traffic (the old gateway was in the path), and it came back within the goal
    expect(gap).toBeGreaterThan(INTERVAL_S * 1000 * 4);
    expect(gap).toBeLessThan(GOAL_MS);
    expect(pinger.replies().length).toBeGreaterThan(before);
    console.log(`gateway failover: external traffic gap ${gap} ms (${what})`);

    await waitFor(() => outsidePing(fipAddress), { what: 'the floating IP to answer the outside again', timeoutMs: 5_000 });
    for (const n of [1, survivor]) {
      await waitFor(async () => (await activeSeenBy(n))?.active === `chassis-${survivor}`, { what: `chassis-${n} to report chassis-${survivor} active`, timeoutMs: 5_000 });
    }
    // with BFD the takeover comes before the lease of the killed chassis expires: it is seen dead within the ttl
    await waitFor(async () => (await activeSeenBy(1))?.candidates.find((c) => c.chassis === `chassis-${killed}`)?.alive === false, {
      what: `chassis-1 to see chassis-${killed} dead (lease expiry)`,
      timeoutMs: 20_000,
    });
    expect((await activeSeenBy(1))?.active).toBe(`chassis-${survivor}`);
  }, 90_000);

  test('the killed chassis started again does not take the gateway back (no pre-emption): no gap, the other one stays active', async () => {
    const startedAt = Date.now();
    await dfOk(['sandbox', 'chassis', 'start', String(killed)], { env: s.env(), timeoutMs: 120_000 });
    await waitFor(async () => (await activeSeenBy(1))?.candidates.find((c) => c.chassis === `chassis-${killed}`)?.alive, { what: `chassis-${killed} to be alive again`, timeoutMs: 10_000 });
    // let it settle (its controller in sync, every chassis seeing it), pinging all the while
    const settled = Date.now();
    await waitFor(() => pinger.replies().filter((t) => t > settled).length >= 40, { what: '40 more replies after the restart', timeoutMs: 20_000 });
    for (const n of [1, 2, 3]) expect((await activeSeenBy(n))?.active).toBe(`chassis-${survivor}`);
    // a move back would cut the traffic again for a moment; one lost echo (1 s timeout, 50 ms interval) at most
    expect(pinger.longestGap(startedAt)).toBeLessThan(500);
    expect(await outsidePing(fipAddress)).toBe(true);
  }, 180_000);
}

describe('gateway failover on the sandbox, liveness ttl 1 s and no BFD (centralized SNAT and floating IPs, gateway chassis 2,3)', () => {
  failoverOnSandbox('liveness ttl 1000 ms, BFD off', ['--liveness-ttl', '1000', '--no-gateway-bfd']);
});

describe('gateway failover on the sandbox, default liveness ttl (10 s) and BFD between the gateway chassis', () => {
  failoverOnSandbox('liveness ttl 10000 ms, BFD', []);
});
