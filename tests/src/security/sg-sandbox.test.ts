/**
 * Security groups end to end, as a user drives them: `pnpm dfctl sandbox up --chassis 2`
 * with the l2, sg, dhcp and proactive router apps, groups and rules made with the
 * stock openstack CLI, real TCP servers and clients (python3) in VMs on two chassis:
 *
 * - the default group lets members ping each other and talk TCP, across the
 *   chassis and on one (through conntrack twice, in each port's zone);
 * - a group with only `--ingress --protocol tcp --dst-port 8000` reaches the server
 *   on 8000, not on 8001, and not with ping;
 * - a rule with `--remote-group`: members reach the server, others not, and
 *   membership changes apply live;
 * - deleting a rule cuts an open TCP session (it sends again and gets nothing back),
 *   while a session allowed by another rule goes on;
 * - two networks of two projects with the same CIDR and the same addresses: a
 *   packet shaped as a reply to a connection on one is dropped on the other (and
 *   delivered there once a rule allows it: the control).
 *
 * Needs root, Open vSwitch, python3 with scapy, tcpdump and the openstack CLI
 * (./scripts/setup). Never skips.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { netnsArgv, requireBinary, run, waitFor, type Vm } from '@dragonflow/sandbox';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ok, quiet, requireOpenstackCli } from '../api/openstack.js';
import { capture, pingStats } from '../sandbox/traffic.js';
import { ROOT, apiPost, dfOk, useDfSandbox } from '../sandbox-cli/df-cli.js';

const TOOLS = new URL('./tcp-tools.py', import.meta.url).pathname;
const APPS = '@dragonflow/app-l2,@dragonflow/app-sg,@dragonflow/app-dhcp,@dragonflow/app-l3-proactive';

/**
 * The sg app is no dependency of the CLI, so the CLI's build (ensureBuilt) leaves it
 * out: build it too when the tests run outside turbo (which built it as a
 * dependency of this package).
 */
function buildSgApp(): void {
  if (process.env['TURBO_HASH']) return;
  const r = spawnSync('pnpm', ['exec', 'turbo', 'run', 'build', '--filter=@dragonflow/app-sg...', '--output-logs=errors-only'], { cwd: ROOT, encoding: 'utf8', timeout: 300_000, env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' } });
  if (r.status !== 0) throw new Error(`building @dragonflow/app-sg failed:\n${r.stdout}\n${r.stderr}`);
}

/** A tcp-tools.py command in a VM, to its end: its output. */
async function tool(vm: Vm, args: string[], timeoutMs = 20_000): Promise<string> {
  const r = await run('/usr/bin/python3', [TOOLS, ...args], { netns: vm.netns, timeoutMs, allowFailure: true });
  return `${r.stdout.trim()}${r.stderr.trim() ? ` (stderr: ${r.stderr.trim()})` : ''}`;
}

/** A tcp-tools.py command left running in a VM; its output lines as they come. */
class Background {
  readonly lines: string[] = [];
  private readonly child: ChildProcess;

  constructor(vm: Vm, args: string[]) {
    const [bin, argv] = netnsArgv(vm.netns, '/usr/bin/python3', ['-u', TOOLS, ...args]);
    this.child = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    this.child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      this.lines.push(...parts.map((l) => l.trim()).filter(Boolean));
    });
    this.child.stderr!.on('data', (d: Buffer) => this.lines.push(`stderr: ${d.toString().trim()}`));
  }

  /** The first output line starting with `prefix` (waits for it). */
  line(prefix: string, timeoutMs = 20_000): Promise<string> {
    return waitFor(() => this.lines.find((l) => l.startsWith(prefix)), { what: `'${prefix}' from tcp-tools (so far: ${this.lines.join(' | ')})`, timeoutMs });
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

describe('security groups (dfctl sandbox, 2 chassis, openstack CLI, real TCP in the VMs)', () => {
  const s = useDfSandbox(['--chassis', '2', '--apps', APPS], {
    prepare: () => {
      requireOpenstackCli();
      for (const b of ['tcpdump', 'ping']) requireBinary(b);
      buildSgApp();
    },
    checkUp: (out) => expect(out).toContain('@dragonflow/app-sg'),
  });
  const { auth, env, vm } = s;
  const running: Background[] = [];
  const bg = (v: Vm, args: string[]): Background => {
    const b = new Background(v, args);
    running.push(b);
    return b;
  };
  const create = (name: string, network: string, chassis: number, ip: string) =>
    dfOk(['sandbox', 'vm', 'create', name, '--network', network, '--chassis', String(chassis), '--ip', ip, '--static'], { env: env(), timeoutMs: 120_000 });
  /** `openstack port set --no-security-group --security-group …` on a VM's port. */
  const setGroups = (v: string, groups: string[]) => quiet(auth(), ['port', 'set', '--no-security-group', ...groups.flatMap((g) => ['--security-group', g]), vm(v).state.portId]);
  /** Waits until `probe` from `from` to `to`:`port` answers `want` (the controllers caught up with a change). */
  const until = (from: string, to: string, port: number, want: 'ok' | 'timeout', timeoutMs = 30_000) =>
    waitFor(async () => (await tool(vm(from), ['probe', vm(to).address, String(port)])) === want, { what: `${from} → ${to}:${port} to be ${want}`, timeoutMs });

  beforeAll(async () => {
    const a = auth();
    await ok(a, ['network', 'create', 'snet']);
    await ok(a, ['subnet', 'create', '--network', 'snet', '--subnet-range', '10.61.1.0/24', 'ssub']);
    await create('a', 'snet', 1, '10.61.1.11');
    await create('b', 'snet', 2, '10.61.1.12');
    await create('c', 'snet', 1, '10.61.1.13');
    await bg(vm('b'), ['serve', '8000', '8001']).line('listening');
  }, 300_000);

  afterAll(() => {
    for (const b of running) b.stop();
  });

  test('the default group: members ping each other across the chassis and talk TCP to a real server', async () => {
    expect((await pingStats(vm('a'), '10.61.1.12', 3)).received).toBe(3);
    expect((await pingStats(vm('b'), '10.61.1.13', 3)).received).toBe(3);
    expect(await tool(vm('a'), ['probe', '10.61.1.12', '8000'])).toBe('ok');
    expect(await tool(vm('c'), ['probe', '10.61.1.12', '8001'])).toBe('ok');
    // a and c share chassis-1: through conntrack twice, in a's zone and in c's
    await bg(vm('c'), ['serve', '8002']).line('listening');
    expect((await pingStats(vm('a'), '10.61.1.13', 3)).received).toBe(3);
    expect(await tool(vm('a'), ['probe', '10.61.1.13', '8002'])).toBe('ok');
    // dfctl trace names the rule that let a's packet out: the default group's egress rule
    const a = vm('a');
    const flow = `in_port=${await a.ofport()},tcp,dl_src=${a.mac},dl_dst=${vm('b').mac},nw_src=10.61.1.11,nw_dst=10.61.1.12,tp_src=40000,tp_dst=8000`;
    const t = JSON.parse(await dfOk(['trace', '--sandbox', s.place().dir, '--chassis', '1', '--json', flow])) as { hops: { tableName?: string; owner?: string }[] };
    const verdicts = t.hops.filter((h) => h.tableName === 'sg.from-port-rules' && h.owner?.includes(', rule '));
    expect(verdicts.map((h) => h.owner)).toEqual([expect.stringMatching(/^sg · sg group default, rule egress IPv4 \(/)]);
  }, 120_000);

  test('a group with only --ingress --protocol tcp --dst-port 8000: the server on 8000 answers, 8001 and ping do not', async () => {
    await ok(auth(), ['security', 'group', 'create', 'web']);
    await ok(auth(), ['security', 'group', 'rule', 'create', '--ingress', '--protocol', 'tcp', '--dst-port', '8000', 'web']);
    await setGroups('b', ['web']);
    await until('a', 'b', 8001, 'timeout');
    expect(await tool(vm('a'), ['probe', '10.61.1.12', '8000'])).toBe('ok');
    expect((await pingStats(vm('a'), '10.61.1.12', 3)).received).toBe(0);
  }, 180_000);

  test('a rule with --remote-group: members reach the server, others not; joining and leaving apply live', async () => {
    await ok(auth(), ['security', 'group', 'create', 'clients']);
    await ok(auth(), ['security', 'group', 'create', 'from-clients']);
    await ok(auth(), ['security', 'group', 'rule', 'create', '--ingress', '--protocol', 'tcp', '--dst-port', '8001', '--remote-group', 'clients', 'from-clients']);
    await setGroups('b', ['web', 'from-clients']);
    await setGroups('a', ['default', 'clients']);
    await until('a', 'b', 8001, 'ok');
    expect(await tool(vm('c'), ['probe', '10.61.1.12', '8001'])).toBe('timeout');
    await setGroups('c', ['default', 'clients']);
    await until('c', 'b', 8001, 'ok');
    await setGroups('a', ['default']);
    await until('a', 'b', 8001, 'timeout');
    expect(await tool(vm('c'), ['probe', '10.61.1.12', '8001'])).toBe('ok');
  }, 240_000);

  test('deleting a rule cuts an open TCP session at its next packet; a session of another rule goes on', async () => {
    await ok(auth(), ['security', 'group', 'create', 'svc']);
    const rule = await ok<{ id: string }>(auth(), ['security', 'group', 'rule', 'create', '--ingress', '--protocol', 'tcp', '--dst-port', '8000', 'svc']);
    await ok(auth(), ['security', 'group', 'rule', 'create', '--ingress', '--protocol', 'tcp', '--dst-port', '8001', 'svc']);
    await setGroups('b', ['svc']);
    await until('a', 'b', 8000, 'ok');
    const flags = join(s.place().dir, 'sg-flags');
    rmSync(flags, { recursive: true, force: true });
    await run('mkdir', ['-p', flags]);
    const cut = bg(vm('a'), ['session', '10.61.1.12', '8000', '0', join(flags, 'cut')]);
    const kept = bg(vm('c'), ['session', '10.61.1.12', '8001', '0', join(flags, 'kept')]);
    expect(await cut.line('first')).toBe('first ok');
    expect(await kept.line('first')).toBe('first ok');

    await quiet(auth(), ['security', 'group', 'rule', 'delete', rule.id]);
    // the change is in the switch once a new connection to 8000 is refused
    await until('c', 'b', 8000, 'timeout');
    writeFileSync(join(flags, 'cut'), '');
    writeFileSync(join(flags, 'kept'), '');
    expect(await cut.line('second')).toBe('second timeout');
    expect(await kept.line('second')).toBe('second ok');
  }, 240_000);

  test('two projects with the same CIDR and addresses: a reply-shaped packet on one network is no reply to a connection on the other', async () => {
    // (the networks of the two projects are made through the REST API: the CLI resolves --project through Keystone, which df-api has not)
    for (const [project, net] of [
      ['project-one', 'pnet1'],
      ['project-two', 'pnet2'],
    ] as const) {
      const { network } = await apiPost<{ network: { id: string } }>(s.place().url, '/networks', { network: { name: net, project_id: project } });
      await apiPost(s.place().url, '/subnets', { subnet: { network_id: network.id, project_id: project, ip_version: 4, cidr: '10.62.0.0/24', name: `${net}-sub` } });
    }
    await create('p1a', 'pnet1', 1, '10.62.0.11');
    await create('p1b', 'pnet1', 2, '10.62.0.12');
    await create('p2a', 'pnet2', 1, '10.62.0.11');
    await create('p2b', 'pnet2', 2, '10.62.0.12');
    // p1a and p2a receive only replies to what they opened (egress rules only); p1b and p2b serve on 8000
    await ok(auth(), ['security', 'group', 'create', 'out-only']);
    await ok(auth(), ['security', 'group', 'create', 'out-only-2']);
    await ok(auth(), ['security', 'group', 'create', 'serve']);
    await ok(auth(), ['security', 'group', 'rule', 'create', '--ingress', '--protocol', 'tcp', '--dst-port', '8000', 'serve']);
    await setGroups('p1a', ['out-only']);
    await setGroups('p2a', ['out-only-2']);
    await setGroups('p1b', ['serve']);
    await setGroups('p2b', ['serve']);
    await bg(vm('p1b'), ['serve', '8000']).line('listening');
    await until('p1a', 'p1b', 8000, 'ok');
    // p1a's connection 10.62.0.11:40000 → 10.62.0.12:8000 on project one's network: its echo is a reply, delivered
    const session = bg(vm('p1a'), ['session', '10.62.0.12', '8000', '40000', join(s.place().dir, 'never')]);
    expect(await session.line('first')).toBe('first ok');

    const replyShaped = 'tcp and src host 10.62.0.12 and src port 8000 and dst port 40000';
    const spoof = () => tool(vm('p2b'), ['spoof', '10.62.0.12', '10.62.0.11', '8000', '40000'], 60_000);
    // on project two's network the same 4-tuple is no reply to anything: dropped before p2a
    expect((await capture(vm('p2a').netns, 'eth0', replyShaped, 1, spoof, 20_000)).trim()).toBe('');
    // the control: once a rule lets tcp into p2a, the same packet reaches it
    await ok(auth(), ['security', 'group', 'rule', 'create', '--ingress', '--protocol', 'tcp', 'out-only-2']);
    await waitFor(async () => /10\.62\.0\.12\.8000 > 10\.62\.0\.11\.40000/.test(await capture(vm('p2a').netns, 'eth0', replyShaped, 1, spoof, 10_000)), {
      what: 'the spoofed packet to reach p2a once tcp is allowed',
      timeoutMs: 60_000,
    });
  }, 300_000);
});
