/**
 * Port security and security groups at scale on one chassis: what they cost in flows
 * and in convergence, against a real Open vSwitch, with the controller's pieces in
 * process (see convergence-run.ts).
 *
 *   pnpm --filter @dragonflow/bench bench:security     (DF_BENCH_PORTS=1000,10000 by default)
 *
 * Apps: `@dragonflow/app-l2`, `@dragonflow/app-portsec`, `@dragonflow/app-sg`,
 * `@dragonflow/app-l3-proactive` (the sandbox's set with the security apps). The
 * topology of bench:l2 (10 networks behind one router, N VM ports), in three modes,
 * each N and mode in a fresh process:
 *
 * - `open`: port security off, no groups — the baseline;
 * - `default`: every port in the project's `default` group (Neutron's four rules:
 *   any egress, ingress from members, IPv4 and IPv6);
 * - `four`: every port in a group of four rules (ssh from anywhere, tcp 8000–8080
 *   from 10.0.0.0/8, ICMP echo, any egress IPv4).
 *
 * Measured: bulk commit → every flow confirmed, flows per port (and what the security
 * apps add over `open`), controller CPU and RSS; in `default` mode also one port
 * joining the group of N (the port exists without a group, the commit adds it:
 * commit → confirmed) and one rule added to the group of N ports.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cookieSlot } from '@dragonflow/core/host';
import { uuidV5, type TxnOp } from '@dragonflow/nb';
import { CleanupStack } from '@dragonflow/sandbox';
import l2 from '@dragonflow/app-l2';
import proactive from '@dragonflow/app-l3-proactive';
import portsec from '@dragonflow/app-portsec';
import sg from '@dragonflow/app-sg';
import { mb, ms, startConvergence } from './convergence-run.js';
import { NETWORKS, baseTopology, neutronDefaultGroup, vmPort } from './convergence-topology.js';
import { put, quantile, serveDbIfAsked } from './nb-process.js';

const BENCH_TOKEN = 'security-bench-token';
const COMMAND = 'pnpm --filter @dragonflow/bench bench:security';
const CHASSIS = 'bench-sec';
const PROJECT = 'bench';
const JOINS = 50;
const RULES = 20;
const NS = '0c7e1a55-8f2b-4b7d-9e61-3a9d5c2e7f40';
const MODES = ['open', 'default', 'four'] as const;
type Mode = (typeof MODES)[number];

const groupId = (name: string): string => uuidV5(NS, `sg-${name}`);
const ruleId = (group: string, n: number | string): string => uuidV5(NS, `rule-${group}-${n}`);
const defaultGroup = (extra: number): TxnOp => neutronDefaultGroup(groupId('default'), PROJECT, extra);

function fourRuleGroup(): TxnOp {
  return put('security_group', {
    id: groupId('four'),
    key: 2,
    projectId: PROJECT,
    name: 'four',
    rules: [
      { id: ruleId('four', 0), direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 22, portRangeMax: 22 },
      { id: ruleId('four', 1), direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 8000, portRangeMax: 8080, remoteIpPrefix: '10.0.0.0/8' },
      { id: ruleId('four', 2), direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp', portRangeMin: 8 },
      { id: ruleId('four', 3), direction: 'egress', ethertype: 'IPv4' },
    ],
  });
}

function modePort(mode: Mode, i: number, chassisId: string, options: { groups?: string[] } = {}): TxnOp {
  if (mode === 'open') return vmPort(i, chassisId, { projectId: PROJECT, portSecurityEnabled: false });
  return vmPort(i, chassisId, { projectId: PROJECT, securityGroupIds: options.groups ?? [groupId(mode === 'four' ? 'four' : 'default')] });
}

/** What the DB process commits: base (+ the groups), N ports of a mode, a port without/with the group, the default group with k extra rules. */
const DB_COMMANDS = {
  base: ([chassisId]: readonly string[]) => [...baseTopology(chassisId!, CHASSIS), defaultGroup(0), fourRuleGroup()],
  ports: ([mode, n, chassisId]: readonly string[]) => Array.from({ length: Number(n) }, (_, i) => modePort(mode as Mode, i, chassisId!)),
  nogroup: ([i, chassisId]: readonly string[]) => [modePort('default', Number(i), chassisId!, { groups: [] })],
  join: ([i, chassisId]: readonly string[]) => [modePort('default', Number(i), chassisId!)],
  rules: ([k]: readonly string[]) => [defaultGroup(Number(k))],
};

async function runOne(mode: Mode, ports: number): Promise<void> {
  const cleanup = new CleanupStack();
  try {
    const c = await startConvergence(cleanup, {
      script: fileURLToPath(import.meta.url),
      token: BENCH_TOKEN,
      chassisName: CHASSIS,
      nsPrefix: 'dfsecb',
      apps: [
        { package: '@dragonflow/app-l2', descriptor: l2 },
        { package: '@dragonflow/app-portsec', descriptor: portsec },
        { package: '@dragonflow/app-sg', descriptor: sg },
        { package: '@dragonflow/app-l3-proactive', descriptor: proactive },
      ],
    });
    c.bindPorts(0, ports);
    await c.db.request(`prepare ports ${mode} ${ports} ${c.chassisId}`);
    const b = await c.bulk();
    await c.checkErrors();
    // what each security app installed, by the app slot in the flows' cookies (read back from the switch)
    const bySlot = new Map<number, number>();
    for (const f of await c.conn.flowStats()) bySlot.set(cookieSlot(f.cookie), (bySlot.get(cookieSlot(f.cookie)) ?? 0) + 1);
    const appFlows = (name: string): number => bySlot.get(c.runtime.pipeline.app(name).slot) ?? 0;
    const perApp = { portsec: appFlows('portsec'), sg: appFlows('sg') };
    const lines = [
      await c.header(ports, `ports, mode ${mode}`),
      `  bulk commit → confirmed:   ${(b.ms / 1000).toFixed(3)} s   (${b.installed.toLocaleString('en')} flows on the switch)`,
      `  controller CPU:            ${(b.cpu.user + b.cpu.system).toFixed(2)} s; ovs-vswitchd CPU ${b.ovsCpu.toFixed(2)} s; RSS ${mb(b.rssAfter)} after GC`,
      `  flows per port:            ${((b.installed - c.flowsBefore) / ports).toFixed(2)}  (portsec ${(perApp.portsec / ports).toFixed(2)}, sg ${(perApp.sg / ports).toFixed(2)} per port, shared flows included)`,
    ];
    if (mode === 'default') {
      const join: number[] = [];
      for (let k = 0; k < JOINS; k++) {
        const i = ports + k;
        c.bindPorts(i, i + 1);
        await c.commitConfirmed(`nogroup ${i} ${c.chassisId}`);
        join.push(await c.commitConfirmed(`join ${i} ${c.chassisId}`));
      }
      const rule: number[] = [];
      for (let k = 1; k <= RULES; k++) rule.push(await c.commitConfirmed(`rules ${k}`));
      await c.checkErrors();
      lines.push(
        `  one port joins the group → confirmed: median ${ms(quantile(join, 0.5))}, p99 ${ms(quantile(join, 0.99))} (${JOINS} ports)`,
        `  one rule added to the group of ${ports.toLocaleString('en')} ports → confirmed: median ${ms(quantile(rule, 0.5))}, max ${ms(Math.max(...rule))} (${RULES} rules)`,
      );
    }
    console.log(lines.join('\n'));
    console.log(`RESULT ${JSON.stringify({ mode, ports, flows: b.installed, before: c.flowsBefore, ...perApp })}`);
  } finally {
    const problems = await cleanup.run();
    if (problems.length) console.error(`cleanup: ${problems.join('; ')}`);
  }
}

async function main(): Promise<void> {
  if (await serveDbIfAsked(BENCH_TOKEN, DB_COMMANDS)) return;
  const i = process.argv.indexOf('--run');
  if (i > 0) {
    await runOne(process.argv[i + 1] as Mode, Number(process.argv[i + 2]));
    return;
  }
  // Each N and mode in a fresh process, so RSS and heap are its own.
  const sizes = (process.env['DF_BENCH_PORTS'] ?? '1000,10000').split(',').map(Number);
  const summary: string[] = [];
  for (const n of sizes) {
    const flows: Partial<Record<Mode, number>> = {};
    const sgFlows: Partial<Record<Mode, number>> = {};
    for (const mode of MODES) {
      const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--run', mode, String(n)], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
      process.stdout.write(r.stdout.replace(/^RESULT .*\n/m, ''));
      if (r.status !== 0) process.exitCode = 1;
      const m = /^RESULT (.*)$/m.exec(r.stdout);
      if (m) {
        const r = JSON.parse(m[1]!) as { flows: number; sg: number };
        flows[mode] = r.flows;
        sgFlows[mode] = r.sg;
      }
    }
    if (flows.open !== undefined) {
      const added = (mode: Mode): string => (flows[mode] === undefined ? '?' : ((flows[mode]! - flows.open!) / n).toFixed(2));
      const sgPer = (mode: Mode): string => (sgFlows[mode] === undefined ? '?' : (sgFlows[mode]! / n).toFixed(2));
      summary.push(`N=${n.toLocaleString('en')}: port security + default group add ${added('default')} flows per port (the group's own: ${sgPer('default')}); port security + a 4-rule group add ${added('four')} (the group's own: ${sgPer('four')})`);
    }
  }
  for (const s of summary) console.log(s);
  console.log(`${NETWORKS} networks, 1 router; goals (issue): ≤ 15 flows per port with the default group, joining a group of 1,000 ≤ 5 ms median`);
  console.log(`reproduce: ${COMMAND}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
