import { DfError } from '@dragonflow/base';
import type { PipelineMap } from '@dragonflow/core/host';
import { run } from '@dragonflow/sandbox';
import type { Command } from 'commander';
import { describeOwner, type OwnerIndex } from '../inspect/owners.js';
import { loadNaming, resolveInspectTarget } from '../inspect/target.js';
import { intOption } from '../sandbox/options.js';

/** One table visited by a trace: `N. REST`, nested resubmits indented further. */
const TABLE_LINE = /^(\s*)(\d+)\. (.*)$/;
/** REST of a table line with a flow: `[MATCH, ]priority P[, cookie C]` (a match-all flow prints no match). */
const FLOW_TEXT = /^(?:(.*), )?priority (\d+)(?:, cookie (0x[0-9a-f]+))?$/;
/** ofproto/trace's heading of each bridge the packet goes through (patch ports, tunnels' underlay). */
const BRIDGE_LINE = /^bridge\("(.+)"\)$/;

export interface TraceHop {
  readonly table: number;
  readonly tableName: string | undefined;
  /** The matched flow's match text as ovs-appctl prints it; undefined on a miss without a flow. */
  readonly match: string | undefined;
  readonly priority: number | undefined;
  /** "app · owner" of the matched flow. */
  readonly owner: string | undefined;
}

export interface AnnotatedTrace {
  readonly lines: readonly string[];
  readonly hops: readonly TraceHop[];
  /** The `Datapath actions:` line: what happened to the packet in the end. */
  readonly datapathActions: string | undefined;
}

/**
 * Annotates `ovs-appctl ofproto/trace` output: after each table's line, the table's
 * name from the controller's pipeline and the owner (app and object) of the flow
 * that matched, from its cookie. Every other line is kept as OVS printed it.
 */
export function annotateTrace(text: string, bridge: string, pipeline: PipelineMap | undefined, owners: OwnerIndex): AnnotatedTrace {
  const lines: string[] = [];
  const hops: TraceHop[] = [];
  let datapathActions: string | undefined;
  // Only the integration bridge's tables are the controller's; a trace may go on into br-phy or br-ex.
  let inBridge = false;
  for (const line of text.split('\n')) {
    lines.push(line);
    const b = BRIDGE_LINE.exec(line);
    if (b) {
      inBridge = b[1] === bridge;
      continue;
    }
    const dp = /^Datapath actions: (.*)$/.exec(line);
    if (dp) datapathActions = dp[1];
    const m = inBridge ? TABLE_LINE.exec(line) : null;
    if (!m) continue;
    const table = Number(m[2]);
    const t = pipeline?.tableById(table);
    const f = FLOW_TEXT.exec(m[3]!);
    const cookie = f?.[3] !== undefined ? BigInt(f[3]) : undefined;
    const owner = cookie !== undefined ? describeOwner(owners.owner(cookie, pipeline)) : undefined;
    hops.push({ table, tableName: t?.qualifiedName, match: f ? (f[1] ?? '') : undefined, priority: f ? Number(f[2]) : undefined, owner });
    const notes = [t ? `table ${t.qualifiedName} (${t.stage})` : `table ${table}`, owner ? `flow of ${owner}` : f ? undefined : 'no flow matched'].filter(Boolean);
    lines.push(`${m[1]}    ⤷ ${notes.join(' — ')}`);
  }
  return { lines, hops, datapathActions };
}

interface TraceOptions {
  readonly sandbox?: string;
  readonly chassis?: number;
  readonly config?: string;
  readonly bridge?: string;
  readonly appctlTarget?: string;
  readonly json?: boolean;
}

export function registerTrace(program: Command): void {
  program
    .command('trace <flow>')
    .description("trace a packet through a switch's tables (ovs-appctl ofproto/trace), each table named from the controller's pipeline and each flow's owner (app and object) named from its cookie")
    .option('--sandbox <dir>', 'the sandbox (default: $DF_SANDBOX_DIR, else the one sandbox that is up)')
    .option('--chassis <n>', "the sandbox chassis whose br-int to trace on", intOption('--chassis', 1, 200))
    .option('--config <file>', "the df-controller config (a sandbox chassis' own by default; without a sandbox: the node's, for names)")
    .option('--bridge <name>', 'without a sandbox: the integration bridge (default br-int)')
    .option('--appctl-target <path>', "without a sandbox: ovs-vswitchd's control socket (ovs-appctl -t; default: the running one)")
    .option('--json', 'print the hops as JSON')
    .addHelpText(
      'after',
      `
FLOW is ofproto/trace's packet description (ovs-fields(7) names), e.g.
  'in_port=3,icmp,dl_src=fa:16:3e:00:00:01,dl_dst=fa:16:3e:00:00:02,nw_src=10.0.1.5,nw_dst=10.0.1.6,nw_ttl=64'
in_port is the VM's OpenFlow port on br-int (pnpm dfctl flows --chassis N --table core.classify shows
which in_port belongs to which port). A packet from a tunnel: 'in_port=<tun port>,tun_id=<VNI>,…'.

Examples:
  pnpm dfctl trace --chassis 1 'in_port=3,arp,arp_op=1,dl_src=fa:16:3e:00:00:01,arp_spa=10.0.1.5,arp_tpa=10.0.1.1'
  pnpm dfctl trace --sandbox /tmp/df-sandbox-x/sb --chassis 1 'in_port=3,icmp,dl_src=…,dl_dst=<router MAC>,nw_src=…,nw_dst=…,nw_ttl=64'
  dfctl trace --config /etc/dragonflow/controller.yaml 'in_port=5,ip,dl_dst=…'   # on a compute node`,
    )
    .action(async (flow: string, o: TraceOptions) => {
      let label: string;
      let bridge: string;
      let appctl: (...args: string[]) => Promise<string>;
      let config: string | undefined;
      if (o.chassis !== undefined || o.sandbox !== undefined) {
        if (o.appctlTarget !== undefined || o.bridge !== undefined) throw new DfError('CLI_USAGE', 'dfctl trace: --bridge and --appctl-target are for a switch outside a sandbox; with --sandbox/--chassis they come from the sandbox');
        const target = resolveInspectTarget({ ...(o.sandbox !== undefined ? { sandbox: o.sandbox } : {}), ...(o.chassis !== undefined ? { chassis: o.chassis } : {}), ...(o.config !== undefined ? { config: o.config } : {}) }, 'dfctl trace');
        label = target.label;
        bridge = target.bridge;
        appctl = target.appctl!;
        config = target.config;
      } else {
        if (o.config === undefined) throw new DfError('CLI_USAGE', 'dfctl trace: say which switch: --chassis N (of the sandbox in --sandbox DIR, or the one that is up), or --config FILE of the local df-controller');
        bridge = o.bridge ?? 'br-int';
        label = `${bridge} (${o.appctlTarget ?? 'the local ovs-vswitchd'})`;
        config = o.config;
        appctl = async (...args: string[]) => (await run('ovs-appctl', [...(o.appctlTarget ? ['-t', o.appctlTarget] : []), ...args])).stdout;
      }
      const [text, naming] = await Promise.all([appctl('ofproto/trace', bridge, flow), loadNaming(config)]);
      const t = annotateTrace(text, bridge, naming.pipeline, naming.owners);
      if (o.json) {
        console.log(JSON.stringify({ flow, hops: t.hops, datapathActions: t.datapathActions }, null, 2));
        return;
      }
      console.log(`trace on ${label}`);
      for (const n of naming.notes) console.log(`  note: ${n}`);
      for (const l of t.lines) console.log(l);
    });
}
