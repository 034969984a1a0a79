import { DfError, redactUrl } from '@dragonflow/base';
import type { HealthReport } from '@dragonflow/controller';
import { CommanderError, type Command } from 'commander';
import { resolveSandboxDir, sandboxStatus, type SandboxReport } from '../sandbox/lifecycle.js';
import { getOverUnix } from '../sandbox/services.js';

/** A controller's /healthz from its management endpoint: `unix:PATH`, `tcp:HOST:PORT` or `http://HOST:PORT`. */
export async function fetchHealth(endpoint: string): Promise<HealthReport> {
  const unix = /^unix:(.+)$/.exec(endpoint);
  let body: string;
  try {
    if (unix) body = (await getOverUnix(unix[1]!, '/healthz')).body;
    else {
      const url = endpoint.replace(/^tcp:/, 'http://').replace(/\/$/, '');
      if (!/^https?:\/\//.test(url)) throw new DfError('CLI_USAGE', `--management '${endpoint}': expected unix:PATH, tcp:HOST:PORT or http://HOST:PORT`);
      body = await (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(3_000) })).text();
    }
  } catch (err) {
    if (err instanceof DfError && err.code === 'CLI_USAGE') throw err;
    throw new DfError('CONTROLLER_UNREACHABLE', `no answer from the controller at ${endpoint} (is df-controller running with management.listen there?): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  try {
    return JSON.parse(body) as HealthReport;
  } catch (cause) {
    throw new DfError('CONTROLLER_REPLY', `${endpoint}/healthz did not answer JSON: ${body.slice(0, 200)}`, { cause });
  }
}

const mark = (ok: boolean): string => (ok ? 'ok' : 'NOT OK');

/** A controller's health in a few lines: overall, DB, OVSDB, OpenFlow, apps, ports, flows, problems. */
export function formatHealth(h: HealthReport, indent = '  '): string[] {
  const cache = h.db.cache;
  const ports = h.ports;
  const lines = [
    `${indent}status    ${h.status}`,
    `${indent}NB DB     ${h.db.connected ? 'connected' : 'DISCONNECTED'} (${h.db.where})${cache ? `, cache ${cache.phase} at revision ${cache.revision}, ${cache.networks} networks` : ''}${h.db.lastError ? `; last error: ${h.db.lastError}` : ''}`,
    `${indent}liveness  ${h.liveness.alive ? 'registered alive' : `NOT ALIVE${h.liveness.reason ? ` (${h.liveness.reason})` : ''}`}`,
    `${indent}OVSDB     ${h.ovsdb.state} (${h.ovsdb.remote}), setup ${h.ovsdb.setup}${h.ovsdb.lastError ? `; last error: ${h.ovsdb.lastError}` : ''}`,
    `${indent}OpenFlow  ${h.openflow.connected ? `connected, datapath ${h.openflow.datapathId ?? '?'}` : 'NOT CONNECTED'} (listening on ${h.openflow.listen})`,
    `${indent}apps      ${h.apps.length ? h.apps.join(', ') : '(none: core pipeline only)'}`,
    `${indent}ports     ${ports ? `${ports.active} ACTIVE of ${ports.plugged} plugged${ports.unknownIfaceIds.length ? `, ${ports.unknownIfaceIds.length} unknown iface-id(s)` : ''}${ports.failedInterfaces.length ? `, ${ports.failedInterfaces.length} interface(s) vswitchd could not open` : ''}` : '-'}`,
    `${indent}flows     ${h.sync.installedFlows} installed, ${h.sync.desiredFlows} desired, in sync up to revision ${h.sync.syncedRevision}`,
    `${indent}tunnels   ${h.chassis.tunnelTypes.join(', ')} from ${h.chassis.tunnelIp ?? '?'}${Object.keys(h.infraPorts.tunnels).length ? ` (ports ${Object.entries(h.infraPorts.tunnels).map(([t, p]) => `${t}=${p}`).join(', ')})` : ''}`,
  ];
  const providers = Object.entries(h.infraPorts.providers);
  if (providers.length > 0) lines.push(`${indent}providers ${providers.map(([physnet, port]) => `${physnet} (port ${port})`).join(', ')}`);
  if (h.ha) {
    const last = h.ha.lastTakeover;
    lines.push(
      `${indent}HA        ${h.ha.role}${h.ha.generationId ? `, generation ${h.ha.generationId}` : ''} (standby pair, active socket ${h.ha.activeSocket})${h.ha.takeovers ? `; ${h.ha.takeovers} takeover(s), last: master ${last ? last.masterAt - last.detectedAt : '?'} ms after the other died${last?.flowMods !== undefined ? `, ${last.flowMods} flow-mods` : ''}` : ''}${h.ha.demoted ? `; STEPPED DOWN: ${h.ha.demoted}` : ''}`,
    );
  }
  // Older controllers do not report the role.
  if (h.chassis.gateway) lines.push(`${indent}role      gateway (external networks, SNAT)`);
  // Older controllers do not report gateways.
  for (const g of h.gateways ?? []) {
    const candidates = g.candidates.map((c) => `${c.chassis}${c.alive ? '' : ' (dead)'}${c.bfd ? ` [BFD ${c.bfd}]` : ''}`).join(', ');
    lines.push(`${indent}gateway   router ${g.routerName || g.routerId}: active ${g.active ?? '-'} of ${candidates}${g.preempt ? ', pre-emptive' : ''}`);
  }
  lines.push(...formatFallback(h, indent));
  for (const p of h.problems) lines.push(`${indent}! ${p}`);
  return lines;
}

/** The ha-fallback app's view (docs/ha.md "Fallback path"): where this chassis' punts go without its controller, whom it serves, who is in fallback now. */
export function formatFallback(h: HealthReport, indent = '  '): string[] {
  const st = h.appStatus?.['ha-fallback'];
  if (!st) return [];
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
  const serves = list(st['serves']);
  const inFallback = list(st['inFallback']);
  const lines = [`${indent}fallback  ${typeof st['fallbackChassis'] === 'string' ? `punts go to ${st['fallbackChassis']} while this controller is gone` : 'no fallback chassis for this one'}`];
  if (serves.length > 0) {
    lines.push(`${indent}          serves ${serves.join(', ')} (${String(st['servedPorts'] ?? 0)} ports); in fallback now: ${inFallback.length ? inFallback.join(', ') : 'none'} (${String(st['fallbacks'] ?? 0)} fallback(s) since start)`);
  }
  return lines;
}

/** Whether everything a report covers is healthy. */
export function sandboxHealthy(r: SandboxReport): boolean {
  // A chassis is healthy when its controllers answer ok; with a standby pair, one of the two may be down (the other is master).
  return (
    r.db.alive &&
    r.api.alive &&
    r.chassis.every((c) => {
      const up = [c.controller, ...(c.standby ? [c.standby] : [])].filter((x) => x.alive);
      return c.ovs && up.length > 0 && up.every((x) => x.health?.status === 'ok') && (!c.standby || up.some((x) => x.health?.ha?.role === 'master'));
    })
  );
}

/** A sandbox in a few lines per chassis. */
export function formatSandboxHealth(r: SandboxReport): string[] {
  const lines = [
    `sandbox ${r.tag} (${r.dir}): ${sandboxHealthy(r) ? 'ok' : 'NOT OK'}`,
    `  NB DB     ${r.db.kind} ${mark(r.db.alive)} (${r.db.endpoints.map(redactUrl).join(', ')})`,
    `  df-api    ${mark(r.api.alive)} (${r.api.url})`,
    `  tunnels   ${r.tunnels.join(', ')}; apps ${r.apps.length ? r.apps.join(', ') : '(none)'}; ${r.vms.length} VM(s), ${r.vms.filter((v) => v.portStatus === 'ACTIVE').length} ACTIVE`,
  ];
  for (const c of r.chassis) {
    const h = c.controller.health;
    lines.push(`${c.name}: ${!c.ovs ? 'OVS NOT RUNNING' : !c.controller.alive ? 'df-controller NOT RUNNING' : h ? h.status : 'df-controller does not answer'} (netns ${c.netns}${c.controller.pid ? `, df-controller pid ${c.controller.pid}` : ''})`);
    if (h) lines.push(...formatHealth(h));
    const sb = c.standby;
    if (sb) {
      lines.push(`${c.name} second df-controller: ${!sb.alive ? 'NOT RUNNING' : sb.health ? sb.health.status : 'does not answer'}${sb.pid ? ` (pid ${sb.pid})` : ''}`);
      if (sb.health) lines.push(...formatHealth(sb.health));
    }
  }
  return lines;
}

interface StatusOptions {
  readonly sandbox?: string;
  readonly management?: string;
  readonly json?: boolean;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("a concise health summary: of a sandbox (DB, df-api, each chassis' controller) or of one df-controller's management endpoint — NB DB, OVSDB, OpenFlow, apps, ports, flows, problems")
    .option('--sandbox <dir>', 'the sandbox (default: $DF_SANDBOX_DIR, else the one sandbox that is up)')
    .option('--management <endpoint>', "instead of a sandbox: a df-controller's management endpoint (its management.listen: unix:PATH, tcp:HOST:PORT or http://HOST:PORT)")
    .option('--json', 'print the reports as JSON')
    .addHelpText(
      'after',
      `
Exit status: 0 when everything is healthy, 1 when something is not (so scripts can wait on it).
For VMs and ports in detail: pnpm dfctl sandbox status.

Examples:
  pnpm dfctl status                                         # the sandbox that is up
  pnpm dfctl status --sandbox /tmp/df-sandbox-x/sb --json
  dfctl status --management unix:/run/dragonflow/df-controller.sock
  dfctl status --management tcp:127.0.0.1:9100`,
    )
    .action(async (o: StatusOptions) => {
      let healthy: boolean;
      if (o.management !== undefined) {
        if (o.sandbox !== undefined) throw new DfError('CLI_USAGE', 'dfctl status: give either --sandbox or --management, not both');
        const h = await fetchHealth(o.management);
        healthy = h.status === 'ok';
        if (o.json) console.log(JSON.stringify(h, null, 2));
        else {
          console.log(`df-controller ${h.chassis.name} (${o.management}): ${h.status}`);
          for (const l of formatHealth(h)) console.log(l);
        }
      } else {
        const r = await sandboxStatus(resolveSandboxDir(o.sandbox));
        healthy = sandboxHealthy(r);
        if (o.json) console.log(JSON.stringify({ healthy, ...r }, null, 2));
        else for (const l of formatSandboxHealth(r)) console.log(l);
      }
      if (!healthy) throw new CommanderError(1, 'df.status.unhealthy', '');
    });
}
