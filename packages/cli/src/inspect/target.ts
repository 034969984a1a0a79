import { existsSync } from 'node:fs';
import { DfError, describeError } from '@dragonflow/base';
import type { PipelineMap } from '@dragonflow/core/host';
import { openNbDb } from '@dragonflow/db';
import { Sandbox } from '@dragonflow/sandbox';
import { resolveDbSpec } from '../commands/db.js';
import { pipelineFromConfig } from '../commands/pipeline.js';
import { resolveSandboxDir } from '../sandbox/lifecycle.js';
import { readServices } from '../sandbox/services.js';
import { OwnerIndex } from './owners.js';

/** Where `dfctl flows` and `dfctl trace` look: one chassis of a sandbox, or a bridge and a controller config given by hand. */
export interface InspectFlags {
  readonly sandbox?: string;
  readonly chassis?: number;
  readonly bridgeSocket?: string;
  readonly config?: string;
}

export interface InspectTarget {
  /** What it is, for headings ("chassis-1 of sandbox dfsbxxxx", "unix:/var/run/openvswitch/br-int.mgmt"). */
  readonly label: string;
  /** OpenFlow target of the bridge's management socket (`unix:PATH`). */
  readonly bridgeSocket: string;
  readonly bridge: string;
  /** The controller config the pipeline map and the NB come from, when known. */
  readonly config: string | undefined;
  /** Runs `ovs-appctl ARGS` against the chassis' vswitchd (sandbox only). */
  readonly appctl: ((...args: string[]) => Promise<string>) | undefined;
}

/** Resolves --sandbox/--chassis or --bridge-socket/--config; refuses a mix or nothing. */
export function resolveInspectTarget(f: InspectFlags, what: string): InspectTarget {
  if (f.bridgeSocket !== undefined) {
    if (f.sandbox !== undefined || f.chassis !== undefined) throw new DfError('CLI_USAGE', `${what}: give either --sandbox/--chassis or --bridge-socket, not both`);
    const path = f.bridgeSocket.replace(/^unix:/, '');
    if (!existsSync(path)) throw new DfError('NOT_FOUND', `${what}: ${path} does not exist (a bridge's management socket is RUNDIR/BRIDGE.mgmt, e.g. /var/run/openvswitch/br-int.mgmt)`, { context: { path } });
    const bridge = /([^/]+)\.mgmt$/.exec(path)?.[1] ?? 'br-int';
    return { label: `unix:${path}`, bridgeSocket: `unix:${path}`, bridge, config: f.config, appctl: undefined };
  }
  if (f.chassis === undefined) throw new DfError('CLI_USAGE', `${what}: say which switch: --chassis N (of the sandbox in --sandbox DIR, or the one that is up), or --bridge-socket PATH`);
  const dir = resolveSandboxDir(f.sandbox);
  const services = readServices(dir);
  const sb = Sandbox.load(dir);
  const chassis = sb.listChassis().find((c) => c.index === f.chassis);
  if (!chassis) throw new DfError('SANDBOX_NO_CHASSIS', `${what}: the sandbox in ${dir} has chassis ${sb.listChassis().map((c) => c.index).join(', ')}, not ${f.chassis}`, { context: { chassis: f.chassis } });
  const controller = services.controllers.find((c) => c.chassis === f.chassis);
  const bridge = chassis.state.integrationBridge;
  return {
    label: `${chassis.name} of sandbox ${sb.tag} (${dir})`,
    bridgeSocket: `unix:${chassis.state.integrationMgmtSocket}`,
    bridge,
    config: f.config ?? controller?.config,
    appctl: (...args: string[]) => chassis.ovs.appctl(...args),
  };
}

/** What names tables and owners: the controller's pipeline and an index of the NB's objects. */
export interface Naming {
  readonly pipeline: PipelineMap | undefined;
  readonly owners: OwnerIndex;
  /** Why something could not be named (printed once, not fatal). */
  readonly notes: readonly string[];
}

/**
 * Loads the pipeline map of the controller config (its apps, in its order) and reads
 * the NB it names, so table numbers and cookies can be named. Either may be missing:
 * the output then says so and shows numbers.
 */
export async function loadNaming(config: string | undefined): Promise<Naming> {
  const notes: string[] = [];
  if (config === undefined) return { pipeline: undefined, owners: OwnerIndex.empty(), notes: ['no controller config (--config FILE): tables and apps are shown by number'] };
  let pipeline: PipelineMap | undefined;
  try {
    pipeline = await pipelineFromConfig(config);
  } catch (err) {
    notes.push(`cannot build the pipeline map of ${config}: ${describeError(err)}`);
  }
  let owners = OwnerIndex.empty();
  try {
    owners = await withTimeout(NB_TIMEOUT_MS, `the NB DB did not answer within ${NB_TIMEOUT_MS / 1000} s`, async () => {
      const db = await openNbDb(resolveDbSpec({ config }, {}));
      try {
        return await OwnerIndex.fromDriver(db.driver);
      } finally {
        await db.close();
      }
    });
  } catch (err) {
    notes.push(`cannot read the NB DB of ${config} (owners are shown as tags): ${describeError(err)}`);
  }
  return { pipeline, owners, notes };
}

const NB_TIMEOUT_MS = 5_000;

/** Runs `fn`, rejecting when it takes longer than `ms` (the names are a help; a missing DB must not hang the command). */
async function withTimeout<T>(ms: number, message: string, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([fn(), new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new DfError('TIMEOUT', message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
