/**
 * A hot-standby df-controller on a real `dfctl sandbox` (two chassis, the default
 * apps): `dfctl sandbox controller start 1 --standby` runs a second controller for
 * chassis 1; while a VM there pings a VM on chassis 2 every 20 ms, the master is
 * killed with SIGKILL. The standby must be master within 1 s of the kill, with a
 * newer generation id, having sent zero flow-mods (its /metrics), with no ping
 * lost; new work (a VM created on chassis 1 afterwards: its port bound and set
 * ACTIVE, its DHCP exchange punted to the controller) is done by the new master.
 * The killed controller, started again, comes back as standby (no pre-emption).
 * Needs root, Open vSwitch (./scripts/setup); never skips.
 */
import { spawn } from 'node:child_process';
import { waitFor } from '@dragonflow/sandbox';
import type { HealthReport } from '@dragonflow/controller';
import { beforeAll, describe, expect, test } from 'vitest';
import { apiPost, curlUnix, df, dfOk, readServicesFile, readTopology, useDfSandbox, type Services } from '../sandbox-cli/df-cli.js';

const s = useDfSandbox(['--chassis', '2']);

type Entry = Services['controllers'][number];

function controllers(): Entry[] {
  return readServicesFile(s.place().dir).controllers.filter((c) => c.chassis === 1);
}

async function health(e: Entry): Promise<HealthReport> {
  return JSON.parse(await curlUnix(e.management.replace(/^unix:/, ''), '/healthz')) as HealthReport;
}

async function metrics(e: Entry): Promise<string> {
  return curlUnix(e.management.replace(/^unix:/, ''), '/metrics');
}

beforeAll(async () => {
  const { url } = s.place();
  const net = (await apiPost<{ network: { id: string } }>(url, '/networks', { network: { name: 'n1' } })).network;
  await apiPost(url, '/subnets', { subnet: { network_id: net.id, cidr: '10.60.0.0/24', ip_version: 4 } });
  await s.vmCreate('a', 'n1', 1, '10.60.0.10');
  await s.vmCreate('b', 'n1', 2, '10.60.0.20');
}, 300_000);

describe('standby controller', () => {
  test('takes over from a killed master within 1 s, with zero flow-mods and no packet lost; the old one returns as standby', async () => {
    const dir = s.place().dir;
    const started = await dfOk(['sandbox', 'controller', 'start', '1', '--standby', '--dir', dir], { timeoutMs: 120_000 });
    expect(started).toMatch(/the second df-controller of chassis-1 running \(pid \d+\), slave/);
    const [first, second] = [controllers().find((c) => !c.standby)!, controllers().find((c) => c.standby)!];
    const h1 = await health(first);
    const h2 = await health(second);
    expect([h1.ha?.role, h2.ha?.role]).toEqual(['master', 'slave']);
    expect(h2.status).toBe('ok');
    const generation = BigInt(h1.ha!.generationId!);
    // the standby keeps the whole desired state: as many flows as the master installed
    expect(h2.sync.desiredFlows).toBe(h1.sync.desiredFlows);
    expect(await metrics(second)).not.toMatch(/^df_reconciler_flow_mods_total\{[^}]*\} [1-9]/m);

    // both controllers are in br-int's controller list, both connected
    const chassis1 = s.sandbox().chassis(1);
    const targets = (await chassis1.ovs.vsctl('get-controller', chassis1.state.integrationBridge)).trim().split('\n');
    expect(targets.sort()).toEqual([h1.openflow.controllerTarget, h2.openflow.controllerTarget].sort());

    const vmA = readTopology(dir).vms.find((v) => v.name === 'a')!;
    expect((await df(['sandbox', 'exec', 'a', '--', 'ping', '-c', '2', '-W', '2', '10.60.0.20'], { env: s.env() })).code).toBe(0);
    const ping = spawn('ip', ['netns', 'exec', vmA.netns, 'ping', '-n', '-i', '0.02', '10.60.0.20'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const replies = new Set<number>();
    let pingOut = '';
    ping.stdout.on('data', (d: Buffer) => {
      pingOut += d.toString();
      for (const m of d.toString().matchAll(/icmp_seq=(\d+)/g)) replies.add(Number(m[1]));
    });
    const pingDone = new Promise<void>((resolve) => ping.on('exit', () => resolve()));
    let newGeneration: string | undefined;
    try {
      await waitFor(() => replies.size >= 100, { what: `100 ping replies before the kill (so far: ${pingOut.slice(-200)})`, timeoutMs: 30_000, pid: ping.pid });

      const killedAt = Date.now();
      process.kill(first.pid!, 'SIGKILL');
      const took = await waitFor(
        async () => {
          const h = await health(second).catch(() => undefined);
          return h?.ha?.role === 'master' && h.ha.lastTakeover?.syncedAt !== undefined ? h : undefined;
        },
        { what: 'the standby to become master and confirm the switch in sync', timeoutMs: 10_000, intervalMs: 20 },
      );
      const t = took.ha!.lastTakeover!;
      newGeneration = took.ha!.generationId;
      expect(t.masterAt - killedAt, 'ms from SIGKILL to the standby confirmed master').toBeLessThan(1_000);
      expect(t.flowMods, 'flow-mods the takeover sync sent').toBe(0);
      expect(BigInt(took.ha!.generationId!)).toBeGreaterThan(generation);
      const m = await metrics(second);
      expect(m).not.toMatch(/^df_reconciler_flow_mods_total\{[^}]*\} [1-9]/m);
      expect(m).toMatch(/^df_controller_ha_takeovers_total 1$/m);

      const seen = replies.size;
      await waitFor(() => replies.size >= seen + 100, { what: '100 ping replies after the takeover', timeoutMs: 30_000, pid: ping.pid });
      const last = Math.max(...replies);
      const lost = Array.from({ length: last }, (_, i) => i + 1).filter((seq) => !replies.has(seq));
      expect(lost, `ping sequence numbers with no reply (of ${last})`).toEqual([]);
    } finally {
      ping.kill('SIGINT');
      await pingDone;
    }

    // the new master registers the chassis and does new work: a VM's port bound and ACTIVE, its DHCP answered (a punt)
    await waitFor(async () => (await health(second)).liveness.alive, { what: 'the new master to keep the chassis liveness', timeoutMs: 15_000 });
    const before = Number(/^df_app_packet_ins_total\{app="dhcp"\} (\d+)/m.exec(await metrics(second))?.[1] ?? 0);
    await s.vmCreate('c', 'n1', 1);
    expect((await df(['sandbox', 'exec', 'c', '--', 'ping', '-c', '3', '-W', '2', '10.60.0.20'], { env: s.env() })).code).toBe(0);
    const punts = Number(/^df_app_packet_ins_total\{app="dhcp"\} (\d+)/m.exec(await metrics(second))?.[1] ?? 0);
    expect(punts, 'DHCP packets punted to the new master').toBeGreaterThan(before);

    // the killed one comes back as standby: no pre-emption
    const back = await dfOk(['sandbox', 'controller', 'start', '1', '--dir', dir], { timeoutMs: 120_000 });
    expect(back).toMatch(/df-controller of chassis-1 running \(pid \d+\), slave/);
    const again = controllers().find((c) => !c.standby)!;
    expect((await health(again)).ha?.role).toBe('slave');
    const still = await health(second);
    expect([still.ha?.role, still.ha?.generationId]).toEqual(['master', newGeneration]);
    const status = await dfOk(['status', '--sandbox', dir]);
    expect(status).toMatch(/HA {8}master, generation \d+ .*1 takeover\(s\)/);
    expect(status).toMatch(/HA {8}slave/);

    // `controller stop 1 --kill` kills the master of the pair (now the second one): the first takes over again
    await dfOk(['sandbox', 'controller', 'stop', '1', '--kill', '--dir', dir]);
    expect(controllers().find((c) => c.standby)!.pid).toBeUndefined();
    const retaken = await waitFor(
      async () => {
        const h = await health(again).catch(() => undefined);
        return h?.ha?.role === 'master' && h.ha.lastTakeover?.syncedAt !== undefined ? h : undefined;
      },
      { what: 'the first controller to take over again', timeoutMs: 10_000, intervalMs: 20 },
    );
    expect(retaken.ha!.lastTakeover!.flowMods).toBe(0);
    expect(BigInt(retaken.ha!.generationId!)).toBeGreaterThan(BigInt(newGeneration!));
  }, 300_000);
});
