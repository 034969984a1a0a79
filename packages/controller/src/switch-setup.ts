import type { InfraPorts, Logger } from '@dragonflow/core';
import type { EnsureResult, InterfaceState, TunnelType, VswitchDb } from '@dragonflow/ovsdb';
import { providerPatchPorts } from '@dragonflow/ovsdb';

/** How this chassis' switch must look (from the config). */
export interface SwitchSpec {
  readonly integrationBridge: string;
  readonly datapathType: string;
  /** The OpenFlow target vswitchd connects to (where this controller listens). */
  readonly controllerTarget: string;
  /** The other controllers of the bridge (a hot standby, `ha.peerTargets`): kept in its Controller list beside ours. */
  readonly peerTargets?: readonly string[];
  readonly tunnelTypes: readonly TunnelType[];
  /** Provider network → the bridge of its physical interface. */
  readonly mappings: Readonly<Record<string, string>>;
}

export interface SwitchSetupReport {
  readonly bridge: EnsureResult;
  readonly tunnels: Readonly<Record<string, EnsureResult>>;
  /** Tunnel ports this controller had made for a type no longer configured, removed. */
  readonly removedTunnels: readonly string[];
  /** Per provider network: the patch pair result, or why it is missing. */
  readonly providers: Readonly<Record<string, EnsureResult | { readonly missing: string }>>;
}

export function tunnelPortName(type: TunnelType): string {
  return `tun-${type}`;
}

/** The tunnel types a controller can configure. */
const ALL_TUNNEL_TYPES: readonly TunnelType[] = ['vxlan', 'geneve', 'gre'];

/**
 * The Interface external_id that marks a tunnel port as the controller's own: only
 * such a port is removed when its type leaves the config (one an operator or a
 * deployment tool made under the same name is left alone).
 */
export const TUNNEL_MARK = 'dragonflow-tunnel';

/** The patch port on the integration bridge leading to a provider bridge. */
export function providerPatchName(integrationBridge: string, providerBridge: string): string {
  return providerPatchPorts(integrationBridge, providerBridge).onIntegration;
}

/** Converts the OpenFlow listen address into the target OVS connects to. */
export function controllerTargetFor(listen: string): string {
  const unix = /^p?unix:(.+)$/.exec(listen);
  if (unix) return `unix:${unix[1]}`;
  const tcp = /^tcp:(.+):(\d+)$/.exec(listen);
  if (tcp) return `tcp:${tcp[1] === '0.0.0.0' || tcp[1] === '[::]' ? '127.0.0.1' : tcp[1]}:${tcp[2]}`;
  const ptcp = /^ptcp:(\d+)(?::(.+))?$/.exec(listen);
  if (ptcp) return `tcp:${!ptcp[2] || ptcp[2] === '0.0.0.0' ? '127.0.0.1' : ptcp[2]}:${ptcp[1]}`;
  return listen;
}

/**
 * Brings the switch in line with the spec, writing only what differs (ARCHITECTURE
 * §7): the integration bridge with fail_mode=secure, the datapath type, OpenFlow13
 * and our controller target with the peers' (a standby pair names the same set, so
 * the two never rewrite each other's rows) — an identical Controller row is never rewritten, since
 * that would make vswitchd reconnect and, in some modes, flush flows — one
 * flow-based tunnel port per configured type (and none left of a type it made
 * that is no longer configured), and a patch pair to each mapped
 * provider bridge (a bridge that does not exist yet is reported, not created: it
 * holds the physical interface, which is the operator's).
 */
export async function ensureSwitch(vs: VswitchDb, spec: SwitchSpec, log: Logger): Promise<SwitchSetupReport> {
  const bridge = await vs.ensureBridge(spec.integrationBridge, {
    datapathType: spec.datapathType,
    failMode: 'secure',
    protocols: ['OpenFlow13'],
    controllerTargets: [spec.controllerTarget, ...(spec.peerTargets ?? [])],
  });
  if (bridge.created) log.info({ bridge: spec.integrationBridge }, 'created the integration bridge');
  else if (bridge.changed.length > 0) log.info({ bridge: spec.integrationBridge, changed: bridge.changed }, 'updated the integration bridge');

  const tunnels: Record<string, EnsureResult> = {};
  for (const type of spec.tunnelTypes) {
    const r = await vs.ensureTunnelPort(spec.integrationBridge, type, { name: tunnelPortName(type), externalIds: { [TUNNEL_MARK]: type } });
    tunnels[type] = r;
    if (r.created || r.changed.length > 0) log.info({ port: tunnelPortName(type), type, changed: r.changed }, 'ensured a flow-based tunnel port');
  }
  const removedTunnels: string[] = [];
  for (const type of ALL_TUNNEL_TYPES.filter((t) => !spec.tunnelTypes.includes(t))) {
    const name = tunnelPortName(type);
    const i = await vs.getInterface(name);
    if (i?.bridge !== spec.integrationBridge || i.externalIds[TUNNEL_MARK] === undefined) continue;
    if (await vs.deletePort(spec.integrationBridge, name)) {
      removedTunnels.push(name);
      log.info({ port: name, type }, 'removed a tunnel port whose type is no longer configured');
    }
  }

  const providers: Record<string, EnsureResult | { missing: string }> = {};
  const mapped = Object.entries(spec.mappings);
  if (mapped.length > 0) {
    const present = new Set(await vs.listBridges());
    for (const [physnet, br] of mapped) {
      if (!present.has(br)) {
        providers[physnet] = { missing: `bridge ${br} does not exist` };
        log.error({ physnet, bridge: br }, `bridge mapping ${physnet}:${br}: the bridge does not exist; create it with its physical interface (ovs-vsctl add-br ${br}; add-port ${br} NIC)`);
        continue;
      }
      const names = providerPatchPorts(spec.integrationBridge, br);
      const r = await vs.ensurePatchPair(spec.integrationBridge, br, { portA: names.onIntegration, portB: names.onProvider });
      providers[physnet] = r.a;
      if (r.a.created || r.b.created) log.info({ physnet, bridge: br, port: r.portA }, 'created the patch pair to a provider bridge');
    }
  }
  return { bridge, tunnels, removedTunnels, providers };
}

export type { InfraPorts };

/** Reads the infrastructure ports' ofports (the runtime's `setInfraPorts` input) from the integration bridge's interfaces. */
export function infraPortsFrom(interfaces: ReadonlyMap<string, InterfaceState>, spec: Pick<SwitchSpec, 'integrationBridge' | 'tunnelTypes' | 'mappings'>): InfraPorts {
  const tunnels: Partial<Record<TunnelType, number>> = {};
  for (const type of spec.tunnelTypes) {
    const i = interfaces.get(tunnelPortName(type));
    if (i && i.type === type && i.ofport !== undefined && i.ofport > 0) tunnels[type] = i.ofport;
  }
  const providers: Record<string, number> = {};
  for (const [physnet, br] of Object.entries(spec.mappings)) {
    const i = interfaces.get(providerPatchName(spec.integrationBridge, br));
    if (i && i.type === 'patch' && i.ofport !== undefined && i.ofport > 0) providers[physnet] = i.ofport;
  }
  return { tunnels, providers };
}

export function sameInfraPorts(a: InfraPorts, b: InfraPorts): boolean {
  return JSON.stringify(sortKeys(a.tunnels)) === JSON.stringify(sortKeys(b.tunnels)) && JSON.stringify(sortKeys(a.providers)) === JSON.stringify(sortKeys(b.providers));
}

function sortKeys(o: Readonly<Record<string, number | undefined>>): [string, number | undefined][] {
  return Object.entries(o).sort(([x], [y]) => x.localeCompare(y));
}
