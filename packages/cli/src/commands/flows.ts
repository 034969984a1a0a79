import { DfError, describeError } from '@dragonflow/base';
import { connectSwitch, silentLogger, type PipelineMap } from '@dragonflow/core/host';
import { formatInstructions, formatMatch, type FlowStats } from '@dragonflow/openflow';
import type { Command } from 'commander';
import { describeOwner, type FlowOwner, type OwnerIndex } from '../inspect/owners.js';
import { loadNaming, resolveInspectTarget, type InspectFlags } from '../inspect/target.js';
import { intOption } from '../sandbox/options.js';

/** One installed flow, decoded and named. */
export interface NamedFlow {
  readonly table: number;
  /** `app.table` from the controller's pipeline, when known. */
  readonly tableName: string | undefined;
  readonly priority: number;
  readonly match: string;
  readonly actions: string;
  readonly cookie: string;
  readonly owner: FlowOwner;
  readonly packets: bigint;
  readonly bytes: bigint;
  readonly durationSec: number;
  readonly idleTimeout: number;
  readonly hardTimeout: number;
}

export interface FlowsFilter {
  /** A table number or (part of) its name, e.g. `l2.egress` or `egress`. */
  readonly table?: string;
  /** An app name (`l2`, `core`, …). */
  readonly app?: string;
  /** Text an owner description or the flow's match/actions must contain (a port name, a MAC, an id prefix). */
  readonly grep?: string;
}

/** Decodes and names flow-stats replies; sorted by table, then priority (high first). */
export function nameFlows(stats: readonly FlowStats[], pipeline: PipelineMap | undefined, owners: OwnerIndex): NamedFlow[] {
  return stats
    .map((f) => ({
      table: f.tableId,
      tableName: pipeline?.tableById(f.tableId)?.qualifiedName,
      priority: f.priority,
      match: formatMatch(f.match) || '(any)',
      actions: formatInstructions(f.instructions),
      cookie: `0x${f.cookie.toString(16)}`,
      owner: owners.owner(f.cookie, pipeline),
      packets: f.packetCount,
      bytes: f.byteCount,
      durationSec: f.durationSec,
      idleTimeout: f.idleTimeout,
      hardTimeout: f.hardTimeout,
    }))
    .sort((a, b) => a.table - b.table || b.priority - a.priority || a.match.localeCompare(b.match));
}

export function filterFlows(flows: readonly NamedFlow[], f: FlowsFilter): NamedFlow[] {
  return flows.filter((x) => {
    if (f.table !== undefined) {
      if (/^\d+$/.test(f.table) ? x.table !== Number(f.table) : !(x.tableName === f.table || x.tableName?.endsWith(`.${f.table}`))) return false;
    }
    if (f.app !== undefined && x.owner.app !== f.app) return false;
    if (f.grep !== undefined && ![describeOwner(x.owner), x.match, x.actions].some((t) => t.includes(f.grep!))) return false;
    return true;
  });
}

/**
 * The flows grouped by table, a heading per table (number, name, stage, its app),
 * one line per flow: priority, match, actions, then who owns it and its packets.
 */
export function formatFlows(flows: readonly NamedFlow[], pipeline: PipelineMap | undefined): string[] {
  const lines: string[] = [];
  let table = -1;
  for (const f of flows) {
    if (f.table !== table) {
      table = f.table;
      const t = pipeline?.tableById(table);
      lines.push(`table ${table}${t ? `  ${t.qualifiedName}  (stage ${t.stage}, miss: ${t.miss})` : ''}`);
    }
    const timeouts = [f.idleTimeout ? `idle_timeout=${f.idleTimeout}` : '', f.hardTimeout ? `hard_timeout=${f.hardTimeout}` : ''].filter(Boolean).join(',');
    lines.push(`  ${String(f.priority).padStart(5)} ${f.match}${timeouts ? ` ${timeouts}` : ''} → ${f.actions}`);
    lines.push(`        ${describeOwner(f.owner)}   cookie ${f.cookie}, ${f.packets} packets`);
  }
  return lines;
}

interface FlowsOptions extends InspectFlags {
  readonly table?: string;
  readonly app?: string;
  readonly grep?: string;
  readonly json?: boolean;
}

/** Reads the switch's flows over its management socket with our OpenFlow codec. */
export async function dumpFlows(bridgeSocket: string): Promise<FlowStats[]> {
  let conn;
  try {
    conn = await connectSwitch(bridgeSocket, { logger: silentLogger(), handshakeTimeoutMs: 5_000, requestTimeoutMs: 10_000 });
  } catch (err) {
    throw new DfError('SWITCH_UNREACHABLE', `cannot open ${bridgeSocket} (is ovs-vswitchd running, and is this its bridge's .mgmt socket?): ${describeError(err)}`, { cause: err, context: { target: bridgeSocket } });
  }
  try {
    return await conn.flowStats();
  } finally {
    conn.close();
  }
}

export function registerFlows(program: Command): void {
  program
    .command('flows')
    .description("dump a switch's OpenFlow flows, decoded by Dragonflow's codec, with each table's name and each flow's owner (app and object, from its cookie)")
    .option('--sandbox <dir>', 'the sandbox (default: $DF_SANDBOX_DIR, else the one sandbox that is up)')
    .option('--chassis <n>', "the sandbox chassis whose br-int to read", intOption('--chassis', 1, 200))
    .option('--bridge-socket <path>', "instead of a sandbox: a bridge's management socket (e.g. /var/run/openvswitch/br-int.mgmt)")
    .option('--config <file>', "the df-controller config of that switch: its pipeline names the tables and apps, its NB names the owners (a sandbox chassis' own by default)")
    .option('--table <table>', 'only this table: a number or a name (l2.egress, or just egress)')
    .option('--app <app>', 'only flows this app owns (core, l2, l3-proactive, …)')
    .option('--grep <text>', 'only flows whose owner, match or actions contain this text (a VM name, a MAC, an id prefix)')
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      `
Each flow is shown as: priority, match → actions, then "app · owner" from its cookie
(the app in the cookie's slot, the object whose unique key or owner text the cookie
carries, named from the NB DB), the cookie and the packet count.

Examples:
  pnpm dfctl flows --chassis 1                                 # the sandbox that is up
  pnpm dfctl flows --sandbox /tmp/df-sandbox-x/sb --chassis 2 --app l2 --table egress
  pnpm dfctl flows --chassis 1 --grep vm1                      # flows of the objects named vm1
  dfctl flows --bridge-socket /var/run/openvswitch/br-int.mgmt --config /etc/dragonflow/controller.yaml`,
    )
    .action(async (o: FlowsOptions) => {
      const target = resolveInspectTarget(o, 'dfctl flows');
      const [stats, naming] = await Promise.all([dumpFlows(target.bridgeSocket), loadNaming(target.config)]);
      const flows = filterFlows(nameFlows(stats, naming.pipeline, naming.owners), { ...(o.table !== undefined ? { table: o.table } : {}), ...(o.app !== undefined ? { app: o.app } : {}), ...(o.grep !== undefined ? { grep: o.grep } : {}) });
      if (o.json) {
        console.log(JSON.stringify(flows, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v), 2));
        return;
      }
      console.log(`${target.label}: ${flows.length} of ${stats.length} flows${naming.pipeline ? '' : ' (no pipeline map: tables by number)'}`);
      for (const n of naming.notes) console.log(`  note: ${n}`);
      for (const l of formatFlows(flows, naming.pipeline)) console.log(l);
    });
}
