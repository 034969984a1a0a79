/**
 * The fallback path end to end (docs/ha.md "Fallback path"): `pnpm dfctl sandbox up
 * --chassis 3 --apps @dragonflow/app-l2,@dragonflow/app-l3-reactive,@dragonflow/app-dhcp,@dragonflow/app-ha-fallback`
 * (chassis-3 is the fallback chassis), two networks behind one reactive router made
 * with the stock openstack CLI, VMs as namespaces, real packets, the controller of
 * chassis-1 killed with SIGKILL:
 *
 * - a VM on chassis-1 pinging a VM on chassis-2 at 100 packets/s loses nothing
 *   across the kill and the restart (its flows are installed and stay);
 * - a new routed flow from that VM to a VM it never talked to works within 3 s of the
 *   kill: its punts reach chassis-3 through the fallback tunnel, chassis-3's
 *   l3-reactive routes them (its packet-in counter moves, chassis-1's is gone), the
 *   first packet included (a single echo request of a further new flow is answered);
 * - a DHCP renewal of a VM on chassis-1 (real dhclient) is answered by chassis-3's
 *   dhcp app, its reply tunnelled back to the VM;
 * - `dfctl status` shows chassis-1 in fallback (chassis-3's view, from the NB liveness
 *   of chassis-1) and chassis-3's df_app_status{app="ha-fallback",name="fallbacks"} counts it;
 * - after `dfctl sandbox controller start 1` the next new flow is handled locally
 *   again: chassis-1's l3-reactive counts its packet-in, chassis-3's does not move.
 *
 * Needs root, Open vSwitch and the openstack CLI (./scripts/setup). Never skips.
 */
import { spawn, spawnSync } from 'node:child_process';
import { netnsArgv, requireBinary, waitFor, type Vm } from '@dragonflow/sandbox';
import { beforeAll, describe, expect, test } from 'vitest';
import { ok, quiet, requireOpenstackCli } from '../api/openstack.js';
import { pingStats } from '../sandbox/traffic.js';
import { ROOT, curlUnix, df, dfOk, ensureBuilt, readServicesFile, useDfSandbox } from '../sandbox-cli/df-cli.js';

const APPS = ['@dragonflow/app-l2', '@dragonflow/app-l3-reactive', '@dragonflow/app-dhcp', '@dragonflow/app-ha-fallback'];

/** l3-reactive and ha-fallback are not dependencies of the CLI: build them when not run under turbo. */
function ensureAppsBuilt(): void {
  ensureBuilt();
  if (process.env['TURBO_HASH']) return;
  const r = spawnSync('pnpm', ['exec', 'turbo', 'run', 'build', '--filter=@dragonflow/app-l3-reactive...', '--filter=@dragonflow/app-ha-fallback...', '--output-logs=errors-only'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
    timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`building the apps failed:\n${r.stdout}\n${r.stderr}`);
}

/** A ping running in the background at `intervalS`; `done()` waits for it to finish and returns its summary. */
function backgroundPing(vm: Vm, target: string, count: number, intervalS: number): { done(): Promise<{ transmitted: number; received: number; output: string }> } {
  const [bin, args] = netnsArgv(vm.netns, 'ping', ['-n', '-q', '-c', String(count), '-i', String(intervalS), target]);
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    async done() {
      await exited;
      const m = /(\d+) packets transmitted, (\d+) received/.exec(output);
      if (!m) throw new Error(`cannot read ping's summary: ${output}`);
      return { transmitted: Number(m[1]), received: Number(m[2]), output };
    },
  };
}

describe('HA fallback path (dfctl sandbox, 3 chassis, reactive router, controller of chassis-1 killed)', () => {
  const s = useDfSandbox(['--chassis', '3', '--apps', APPS.join(',')], {
    prepare: () => {
      requireOpenstackCli();
      requireBinary('ping');
      requireBinary('dhclient');
      ensureAppsBuilt();
    },
    checkUp: (out) => expect(out).toContain('fallback path: chassis-3'),
  });
  const { auth, env, vm, vmCreate } = s;

  /** df_app_packet_ins_total{app=APP} (default l3-reactive) of one chassis' controller (undefined when it does not answer: it is down). */
  async function appPacketIns(chassis: number, app = 'l3-reactive'): Promise<number | undefined> {
    const c = readServicesFile(s.place().dir).controllers.find((x) => x.chassis === chassis)!;
    try {
      const text = await curlUnix(c.management.replace(/^unix:/, ''), '/metrics');
      const m = new RegExp(`^df_app_packet_ins_total\\{app="${app}"\\} (\\d+)$`, 'm').exec(text);
      return m ? Number(m[1]) : 0;
    } catch {
      return undefined;
    }
  }

  async function controllerMetrics(chassis: number): Promise<string> {
    const c = readServicesFile(s.place().dir).controllers.find((x) => x.chassis === chassis)!;
    return curlUnix(c.management.replace(/^unix:/, ''), '/metrics');
  }

  /** df_app_status{app="ha-fallback",name=NAME} of one chassis' controller. */
  async function appStatusMetric(chassis: number, name: string): Promise<number | undefined> {
    const c = readServicesFile(s.place().dir).controllers.find((x) => x.chassis === chassis)!;
    const text = await curlUnix(c.management.replace(/^unix:/, ''), '/metrics');
    const m = new RegExp(`^df_app_status\\{app="ha-fallback",name="${name}"\\} (\\d+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  }

  beforeAll(async () => {
    const a = auth();
    await ok(a, ['network', 'create', 'hanet1']);
    await ok(a, ['subnet', 'create', '--network', 'hanet1', '--subnet-range', '10.61.1.0/24', 'hasub1']);
    await ok(a, ['network', 'create', 'hanet2']);
    await ok(a, ['subnet', 'create', '--network', 'hanet2', '--subnet-range', '10.61.2.0/24', 'hasub2']);
    await ok(a, ['router', 'create', 'har']);
    await quiet(a, ['router', 'add', 'subnet', 'har', 'hasub1']);
    await quiet(a, ['router', 'add', 'subnet', 'har', 'hasub2']);
    await vmCreate('a1', 'hanet1', 1, '10.61.1.11');
    await vmCreate('b1', 'hanet2', 2, '10.61.2.21');
    await vmCreate('b2', 'hanet2', 2, '10.61.2.22');
    await vmCreate('b3', 'hanet2', 2, '10.61.2.23');
    await vmCreate('b4', 'hanet2', 2, '10.61.2.24');
    // on net1 (switched, not routed): warm the underlay ARP of vswitchd from chassis-1 to chassis-2 and chassis-3
    await vmCreate('w2', 'hanet1', 2, '10.61.1.32');
    await vmCreate('w3', 'hanet1', 3, '10.61.1.33');
    // a DHCP client on chassis-1 (dhclient), leased while chassis-1's controller is up
    await dfOk(['sandbox', 'vm', 'create', 'd1', '--network', 'hanet1', '--chassis', '1', '--dhcp-client', 'dhclient', '--ip', '10.61.1.14'], { env: env(), timeoutMs: 120_000 });
    await pingStats(vm('a1'), '10.61.1.32', 2);
    await pingStats(vm('a1'), '10.61.1.33', 2);
    // the established flow: a1 → b1 routed (reactive flows on chassis-1 and chassis-2)
    expect((await pingStats(vm('a1'), '10.61.2.21', 3)).received).toBeGreaterThan(0);
  }, 600_000);

  test('kill -9 of chassis-1\'s controller: 0 lost at 100 packets/s, a new routed flow works within 3 s through chassis-3, and after the restart new flows are handled locally', async () => {
    const ping = backgroundPing(vm('a1'), '10.61.2.21', 6000, 0.01);
    // the background ping is running (its flow is established: nothing punted)
    await new Promise((r) => setTimeout(r, 1000));
    const fallbackBefore = (await appPacketIns(3))!;
    expect(fallbackBefore).toBeDefined();

    await dfOk(['sandbox', 'controller', 'stop', '1', '--kill'], { env: env() });
    const killedAt = Date.now();
    expect(await appPacketIns(1)).toBeUndefined();

    // a new routed flow (a1 never talked to b2): an echo request every 10 ms until the first reply (ping -D stamps it)
    const [bin, args] = netnsArgv(vm('a1').netns, 'ping', ['-n', '-D', '-i', '0.01', '-W', '1', '10.61.2.22']);
    const probe = spawn(bin, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let probeOut = '';
    probe.stdout.on('data', (d: Buffer) => (probeOut += d.toString()));
    const reply = /\[(\d+\.\d+)\] \d+ bytes from/;
    try {
      await waitFor(() => reply.test(probeOut), { what: 'a1 (chassis-1, controller killed) to reach b2 across the router', timeoutMs: 20_000, intervalMs: 20 });
    } finally {
      probe.kill('SIGINT');
    }
    const answeredAt = Number(reply.exec(probeOut)![1]) * 1000;
    const seconds = (answeredAt - killedAt) / 1000;
    console.log(`new routed flow answered ${seconds.toFixed(2)} s after the kill`);
    expect(seconds).toBeLessThan(3);
    // routed by chassis-3: its l3-reactive saw the punt
    expect((await appPacketIns(3))!).toBeGreaterThan(fallbackBefore);
    // the first packet of a new flow is not lost on the fallback path: chassis-3 sends the punted packet itself on
    // (a single echo request to b4, never talked to, is answered)
    const [oneBin, oneArgs] = netnsArgv(vm('a1').netns, 'ping', ['-n', '-c', '1', '-W', '5', '10.61.2.24']);
    const one = spawnSync(oneBin, oneArgs, { encoding: 'utf8', timeout: 15_000 });
    expect(one.stdout, `the first echo request of a new flow through the fallback chassis was not answered:\n${one.stdout}${one.stderr}`).toMatch(/1 packets transmitted, 1 received/);
    // a DHCP renewal from chassis-1 is answered by chassis-3's dhcp app, the reply tunnelled back to the VM
    // (dhclient restarted on its lease: INIT-REBOOT, a REQUEST for the address it holds)
    const dhcpBefore = (await appPacketIns(3, 'dhcp'))!;
    const renewed = await vm('d1').renewDhcp(20_000);
    expect(renewed.ip).toBe('10.61.1.14');
    expect(vm('d1').dhcpEvents().at(-1)).toMatch(/ (REBOOT|BOUND) 10\.61\.1\.14$/);
    expect((await appPacketIns(3, 'dhcp'))!).toBeGreaterThan(dhcpBefore);
    // dfctl status: chassis-3 reports chassis-1 in fallback once its NB liveness lease ran out; its metrics count it
    await waitFor(async () => (await df(['status'], { env: env() })).stdout.includes('in fallback now: chassis-1'), { what: 'dfctl status to show chassis-1 in fallback', timeoutMs: 40_000, intervalMs: 500 });
    expect(await appStatusMetric(3, 'fallbacks')).toBe(1);

    await dfOk(['sandbox', 'controller', 'start', '1'], { env: env(), timeoutMs: 120_000 });
    await waitFor(async () => (await df(['status'], { env: env() })).stdout.includes('in fallback now: none'), { what: 'dfctl status to show chassis-1 back', timeoutMs: 40_000, intervalMs: 500 });
    // the restarted controller found its flows (the punt flows rewritten for the gate included) as it wants them:
    // nothing modified or deleted; its adds are the liveness flow and its refreshes
    const mods = await controllerMetrics(1);
    expect(/^df_reconciler_flow_mods_total\{command="(modify_strict|delete_strict)"\} [1-9]/m.test(mods), mods.split('\n').filter((l) => l.startsWith('df_reconciler_flow_mods_total')).join('\n')).toBe(false);
    const localBefore = (await appPacketIns(1))!;
    const fallbackAfter = (await appPacketIns(3))!;
    // the next new flow (a1 → b3) is punted to chassis-1's own controller again
    await waitFor(async () => (await pingStats(vm('a1'), '10.61.2.23', 1)).received > 0, { what: 'a1 to reach b3 after the restart', timeoutMs: 20_000, intervalMs: 100 });
    expect((await appPacketIns(1))!).toBeGreaterThan(localBefore);
    expect(await appPacketIns(3)).toBe(fallbackAfter);

    const r = await ping.done();
    console.log(`background ping: ${r.transmitted} sent, ${r.received} received`);
    expect(r.transmitted).toBeGreaterThan(1000);
    expect(r.received).toBe(r.transmitted);
  }, 300_000);
});
