import { DfError, parseIp } from '@dragonflow/base';
import type { OvsdbClient } from './client.js';
import { OvsdbErrorCode, OvsdbTransactionError } from './errors.js';
import { interfaceStateFromRows } from './interface-state.js';
import type { Condition, Operation, Row } from './operations.js';
import { mapToRecord, NamedUuid, optional, setOf, Uuid, valuesEqual, type Atom, type OvsdbValue } from './values.js';
import {
  OPEN_VSWITCH_DB,
  type BridgeInfo,
  type BridgeOptions,
  type EnsureResult,
  type FailMode,
  type InterfaceState,
  type PatchPairOptions,
  type PortOptions,
  type TunnelPortOptions,
  type TunnelType,
} from './vswitch-types.js';

const MAX_ATTEMPTS = 5;
const TUNNEL_TYPES: readonly TunnelType[] = ['vxlan', 'geneve', 'gre'];
const NAME_RE = /^[A-Za-z0-9_.:-]{1,255}$/;

const BRIDGE_COLUMNS = ['_uuid', 'name', 'datapath_type', 'fail_mode', 'protocols', 'controller', 'other_config', 'external_ids', 'ports', 'datapath_id'];
const INTERFACE_COLUMNS = ['_uuid', 'name', 'type', 'options', 'external_ids', 'ofport', 'ofport_request', 'mtu_request', 'mac_in_use', 'link_state', 'admin_state', 'error', 'bfd', 'bfd_status'];

function byName(name: string): Condition[] {
  return [['name', '==', name]];
}

function byUuid(uuid: Uuid): Condition[] {
  return [['_uuid', '==', uuid]];
}

function checkName(what: string, name: string): void {
  if (!NAME_RE.test(name)) throw new DfError(OvsdbErrorCode.INVALID_ARGUMENT, `'${name}' is not a valid ${what} name`, { context: { [what]: name } });
}

/** A wait that fails at once (timeout 0) unless the rows still look as we read them: optimistic concurrency. */
function guard(table: string, where: readonly Condition[], columns: readonly string[], rows: readonly Row[]): Operation {
  return { op: 'wait', table, where, columns, until: '==', rows: rows.map((r) => Object.fromEntries(columns.map((c) => [c, r[c]!]))), timeout: 0 };
}

/** Keys of `wanted` whose value differs in `current`; the mutations that make them match. */
interface MapPatch {
  changed: boolean;
  mutations: [string, 'delete' | 'insert', OvsdbValue][];
}

function mapPatch(column: string, current: Readonly<Record<string, string>>, wanted: Readonly<Record<string, string>> | undefined): MapPatch {
  if (!wanted) return { changed: false, mutations: [] };
  const differing = Object.entries(wanted).filter(([k, v]) => current[k] !== v);
  if (differing.length === 0) return { changed: false, mutations: [] };
  return {
    changed: true,
    mutations: [
      [column, 'delete', differing.map(([k]) => k)],
      [column, 'insert', new Map<Atom, Atom>(differing)],
    ],
  };
}

function parseDatapathId(text: string | undefined): bigint | undefined {
  return text !== undefined && /^[0-9a-f]{16}$/i.test(text) ? BigInt(`0x${text}`) : undefined;
}

function uuidOf(row: Row): Uuid {
  const u = row['_uuid'];
  if (!(u instanceof Uuid)) throw new DfError(OvsdbErrorCode.PROTOCOL, 'row without _uuid');
  return u;
}

function isRetryable(err: unknown): boolean {
  // A guard `wait` failed (someone wrote in between) or a unique index caught a concurrent insert.
  return err instanceof OvsdbTransactionError && (err.ovsdbError === 'timed out' || err.ovsdbError === 'constraint violation');
}

/**
 * Typed helpers over the Open_vSwitch database. Every `ensure*` reads, compares and
 * writes only what differs, guarded so a concurrent writer makes it retry rather
 * than clobber; calling one twice writes nothing the second time.
 */
export class VswitchDb {
  constructor(readonly client: OvsdbClient) {}

  /** Makes sure the single Open_vSwitch row exists (what `ovs-vsctl init` does); returns its UUID. */
  async ensureRoot(): Promise<Uuid> {
    return this.retrying('ensure the Open_vSwitch row', async () => {
      const [sel] = await this.client.transact(OPEN_VSWITCH_DB, [{ op: 'select', table: 'Open_vSwitch', where: [], columns: ['_uuid'] }]);
      const existing = sel?.rows?.[0];
      if (existing) return uuidOf(existing);
      const [, ins] = await this.client.transact(OPEN_VSWITCH_DB, [
        { op: 'wait', table: 'Open_vSwitch', where: [], columns: ['_uuid'], until: '==', rows: [], timeout: 0 },
        { op: 'insert', table: 'Open_vSwitch', row: {} },
      ]);
      return ins!.uuid!;
    });
  }

  async listBridges(): Promise<string[]> {
    const [sel] = await this.client.transact(OPEN_VSWITCH_DB, [{ op: 'select', table: 'Bridge', where: [], columns: ['name'] }]);
    return (sel?.rows ?? []).map((r) => String(r['name'])).sort();
  }

  async getBridge(name: string): Promise<BridgeInfo | undefined> {
    const [br, ctl, ports] = await this.client.transact(OPEN_VSWITCH_DB, [
      { op: 'select', table: 'Bridge', where: byName(name), columns: BRIDGE_COLUMNS },
      { op: 'select', table: 'Controller', where: [], columns: ['_uuid', 'target'] },
      { op: 'select', table: 'Port', where: [], columns: ['_uuid', 'name'] },
    ]);
    const row = br?.rows?.[0];
    if (!row) return undefined;
    const targets = new Map((ctl?.rows ?? []).map((r) => [uuidOf(r).value, String(r['target'])]));
    const portNames = new Map((ports?.rows ?? []).map((r) => [uuidOf(r).value, String(r['name'])]));
    return {
      uuid: uuidOf(row).value,
      name,
      datapathType: String(row['datapath_type']),
      failMode: optional<string>(row['fail_mode']) as FailMode | undefined,
      protocols: setOf<string>(row['protocols']).sort(),
      controllerTargets: setOf<Uuid>(row['controller'])
        .map((u) => targets.get(u.value) ?? '')
        .sort(),
      otherConfig: mapToRecord(row['other_config']),
      externalIds: mapToRecord(row['external_ids']),
      ports: setOf<Uuid>(row['ports'])
        .map((u) => portNames.get(u.value) ?? '')
        .sort(),
      datapathId: parseDatapathId(optional<string>(row['datapath_id'])),
    };
  }

  /**
   * Creates the bridge or brings it in line with `options`, writing only what differs.
   * An identical controller target is never rewritten.
   */
  async ensureBridge(name: string, options: BridgeOptions = {}): Promise<EnsureResult> {
    checkName('bridge', name);
    const otherConfig = bridgeOtherConfig(options);
    return this.retrying(`ensure bridge ${name}`, async () => {
      // The root row is read with the bridge: only a bridge to create needs it.
      const [br, ctl, top] = await this.client.transact(OPEN_VSWITCH_DB, [
        { op: 'select', table: 'Bridge', where: byName(name), columns: BRIDGE_COLUMNS },
        { op: 'select', table: 'Controller', where: [], columns: ['_uuid', 'target'] },
        { op: 'select', table: 'Open_vSwitch', where: [], columns: ['_uuid'] },
      ]);
      const row = br?.rows?.[0];
      const targets = options.controllerTargets ? [...new Set(options.controllerTargets)] : undefined;
      if (!row) {
        const rootRow = top?.rows?.[0];
        const root = rootRow ? uuidOf(rootRow) : await this.ensureRoot();
        const ops: Operation[] = [
          { op: 'wait', table: 'Bridge', where: byName(name), columns: ['name'], until: '==', rows: [], timeout: 0 },
          { op: 'insert', table: 'Interface', row: { name, type: 'internal' }, uuidName: 'iface' },
          { op: 'insert', table: 'Port', row: { name, interfaces: [new NamedUuid('iface')] }, uuidName: 'port' },
        ];
        const controllers = (targets ?? []).map((target, i) => {
          ops.push({ op: 'insert', table: 'Controller', row: { target }, uuidName: `ctl${i}` });
          return new NamedUuid(`ctl${i}`);
        });
        const bridgeRow: Record<string, OvsdbValue> = { name, ports: [new NamedUuid('port')], controller: controllers };
        if (options.datapathType !== undefined) bridgeRow['datapath_type'] = options.datapathType;
        if (options.failMode !== undefined) bridgeRow['fail_mode'] = options.failMode;
        if (options.protocols !== undefined) bridgeRow['protocols'] = [...options.protocols];
        if (otherConfig) bridgeRow['other_config'] = new Map(Object.entries(otherConfig));
        if (options.externalIds) bridgeRow['external_ids'] = new Map(Object.entries(options.externalIds));
        ops.push({ op: 'insert', table: 'Bridge', row: bridgeRow, uuidName: 'bridge' });
        ops.push({ op: 'mutate', table: 'Open_vSwitch', where: byUuid(root), mutations: [['bridges', 'insert', [new NamedUuid('bridge')]]] });
        await this.client.transact(OPEN_VSWITCH_DB, ops, { comment: `df: create bridge ${name}` });
        return { created: true, changed: [] };
      }

      const uuid = uuidOf(row);
      const changed: string[] = [];
      const update: Record<string, OvsdbValue> = {};
      const ops: Operation[] = [];
      if (options.datapathType !== undefined && row['datapath_type'] !== options.datapathType) {
        update['datapath_type'] = options.datapathType;
        changed.push('datapath_type');
      }
      if (options.failMode !== undefined && optional(row['fail_mode']) !== options.failMode) {
        update['fail_mode'] = options.failMode;
        changed.push('fail_mode');
      }
      if (options.protocols !== undefined && !valuesEqual(row['protocols']!, [...options.protocols])) {
        update['protocols'] = [...options.protocols];
        changed.push('protocols');
      }
      if (targets) {
        const current = new Map((ctl?.rows ?? []).map((r) => [uuidOf(r).value, String(r['target'])]));
        const kept: Uuid[] = [];
        const present = new Set<string>();
        for (const u of setOf<Uuid>(row['controller'])) {
          const target = current.get(u.value);
          if (target !== undefined && targets.includes(target) && !present.has(target)) {
            kept.push(u);
            present.add(target);
          }
        }
        const missing = targets.filter((t) => !present.has(t));
        if (missing.length > 0 || kept.length !== setOf(row['controller']).length) {
          const added = missing.map((target, i) => {
            ops.push({ op: 'insert', table: 'Controller', row: { target }, uuidName: `ctl${i}` });
            return new NamedUuid(`ctl${i}`);
          });
          update['controller'] = [...kept, ...added];
          changed.push('controller');
        }
      }
      const mutations: [string, 'delete' | 'insert', OvsdbValue][] = [];
      const oc = mapPatch('other_config', mapToRecord(row['other_config']), otherConfig);
      if (oc.changed) {
        mutations.push(...oc.mutations);
        changed.push('other_config');
      }
      const ext = mapPatch('external_ids', mapToRecord(row['external_ids']), options.externalIds);
      if (ext.changed) {
        mutations.push(...ext.mutations);
        changed.push('external_ids');
      }
      if (changed.length === 0) return { created: false, changed };
      ops.unshift(guard('Bridge', byUuid(uuid), ['datapath_type', 'fail_mode', 'protocols', 'controller', 'other_config', 'external_ids'], [row]));
      if (Object.keys(update).length > 0) ops.push({ op: 'update', table: 'Bridge', where: byUuid(uuid), row: update });
      if (mutations.length > 0) ops.push({ op: 'mutate', table: 'Bridge', where: byUuid(uuid), mutations });
      await this.client.transact(OPEN_VSWITCH_DB, ops, { comment: `df: update bridge ${name} (${changed.join(', ')})` });
      return { created: false, changed };
    });
  }

  /** Removes the bridge (and, by garbage collection, its ports and controllers). False when absent. */
  async deleteBridge(name: string): Promise<boolean> {
    const [br, top] = await this.client.transact(OPEN_VSWITCH_DB, [
      { op: 'select', table: 'Bridge', where: byName(name), columns: ['_uuid'] },
      { op: 'select', table: 'Open_vSwitch', where: [], columns: ['_uuid'] },
    ]);
    const row = br?.rows?.[0];
    const root = top?.rows?.[0];
    // A bridge no root row refers to does not outlive its transaction (Bridge is not a root table).
    if (!row || !root) return false;
    await this.client.transact(OPEN_VSWITCH_DB, [{ op: 'mutate', table: 'Open_vSwitch', where: byUuid(uuidOf(root)), mutations: [['bridges', 'delete', [uuidOf(row)]]] }], {
      comment: `df: delete bridge ${name}`,
    });
    return true;
  }

  /**
   * Adds a port with one interface of the same name to `bridge`, or brings an existing
   * one in line. A port of that name on another bridge is an error.
   */
  async addPort(bridge: string, name: string, options: PortOptions = {}): Promise<EnsureResult> {
    checkName('port', name);
    return this.retrying(`add port ${name} to ${bridge}`, async () => {
      const [br, port, iface] = await this.client.transact(OPEN_VSWITCH_DB, [
        { op: 'select', table: 'Bridge', where: byName(bridge), columns: ['_uuid', 'ports'] },
        { op: 'select', table: 'Port', where: byName(name), columns: ['_uuid', 'interfaces', 'tag'] },
        { op: 'select', table: 'Interface', where: byName(name), columns: INTERFACE_COLUMNS },
      ]);
      const brRow = br?.rows?.[0];
      if (!brRow) throw new DfError(OvsdbErrorCode.INVALID_ARGUMENT, `bridge ${bridge} does not exist`, { context: { bridge, port: name } });
      const portRow = port?.rows?.[0];
      const ifaceRow = iface?.rows?.[0];
      const brUuid = uuidOf(brRow);
      if (!portRow) {
        if (ifaceRow) {
          throw new DfError(OvsdbErrorCode.INVALID_ARGUMENT, `an interface named ${name} already exists on another port`, { context: { bridge, port: name } });
        }
        const ifaceInsert: Record<string, OvsdbValue> = { name };
        if (options.type !== undefined) ifaceInsert['type'] = options.type;
        if (options.options) ifaceInsert['options'] = new Map(Object.entries(options.options));
        if (options.externalIds) ifaceInsert['external_ids'] = new Map(Object.entries(options.externalIds));
        if (options.ofportRequest !== undefined) ifaceInsert['ofport_request'] = [options.ofportRequest];
        if (options.mtuRequest !== undefined) ifaceInsert['mtu_request'] = [options.mtuRequest];
        if (options.bfd) ifaceInsert['bfd'] = new Map(Object.entries(options.bfd));
        const portInsert: Record<string, OvsdbValue> = { name, interfaces: [new NamedUuid('iface')] };
        if (options.tag !== undefined) portInsert['tag'] = [options.tag];
        await this.client.transact(
          OPEN_VSWITCH_DB,
          [
            { op: 'wait', table: 'Port', where: byName(name), columns: ['name'], until: '==', rows: [], timeout: 0 },
            { op: 'insert', table: 'Interface', row: ifaceInsert, uuidName: 'iface' },
            { op: 'insert', table: 'Port', row: portInsert, uuidName: 'port' },
            { op: 'mutate', table: 'Bridge', where: byUuid(brUuid), mutations: [['ports', 'insert', [new NamedUuid('port')]]] },
          ],
          { comment: `df: add port ${name} to ${bridge}` },
        );
        return { created: true, changed: [] };
      }
      const portUuid = uuidOf(portRow);
      if (!setOf<Uuid>(brRow['ports']).some((u) => u.equals(portUuid))) {
        throw new DfError(OvsdbErrorCode.INVALID_ARGUMENT, `port ${name} exists on another bridge than ${bridge}`, { context: { bridge, port: name } });
      }
      if (!ifaceRow || !setOf<Uuid>(portRow['interfaces']).some((u) => u.equals(uuidOf(ifaceRow)))) {
        throw new DfError(OvsdbErrorCode.INVALID_ARGUMENT, `port ${name} has no interface named ${name}`, { context: { bridge, port: name } });
      }
      const changed: string[] = [];
      const ifaceUpdate: Record<string, OvsdbValue> = {};
      if (options.type !== undefined && ifaceRow['type'] !== options.type) {
        ifaceUpdate['type'] = options.type;
        changed.push('type');
      }
      if (options.options && !valuesEqual(ifaceRow['options']!, new Map(Object.entries(options.options)))) {
        ifaceUpdate['options'] = new Map(Object.entries(options.options));
        changed.push('options');
      }
      if (options.bfd && !valuesEqual(ifaceRow['bfd'] ?? new Map(), new Map(Object.entries(options.bfd)))) {
        ifaceUpdate['bfd'] = new Map(Object.entries(options.bfd));
        changed.push('bfd');
      }
      if (options.ofportRequest !== undefined && optional(ifaceRow['ofport_request']) !== options.ofportRequest) {
        ifaceUpdate['ofport_request'] = [options.ofportRequest];
        changed.push('ofport_request');
      }
      if (options.mtuRequest !== undefined && optional(ifaceRow['mtu_request']) !== options.mtuRequest) {
        ifaceUpdate['mtu_request'] = [options.mtuRequest];
        changed.push('mtu_request');
      }
      const ext = mapPatch('external_ids', mapToRecord(ifaceRow['external_ids']), options.externalIds);
      if (ext.changed) changed.push('external_ids');
      const tagChanged = options.tag !== undefined && optional(portRow['tag']) !== options.tag;
      if (tagChanged) changed.push('tag');
      if (changed.length === 0) return { created: false, changed };
      const ifaceUuid = uuidOf(ifaceRow);
      const ops: Operation[] = [
        guard('Interface', byUuid(ifaceUuid), ['type', 'options', 'external_ids', 'ofport_request', 'mtu_request', ...(options.bfd ? ['bfd'] : [])], [ifaceRow]),
        guard('Port', byUuid(portUuid), ['tag'], [portRow]),
      ];
      if (Object.keys(ifaceUpdate).length > 0) ops.push({ op: 'update', table: 'Interface', where: byUuid(ifaceUuid), row: ifaceUpdate });
      if (ext.changed) ops.push({ op: 'mutate', table: 'Interface', where: byUuid(ifaceUuid), mutations: ext.mutations });
      if (tagChanged) ops.push({ op: 'update', table: 'Port', where: byUuid(portUuid), row: { tag: [options.tag!] } });
      await this.client.transact(OPEN_VSWITCH_DB, ops, { comment: `df: update port ${name} (${changed.join(', ')})` });
      return { created: false, changed };
    });
  }

  /** Removes the port from the bridge; its interface goes with it. False when there was no such port. */
  async deletePort(bridge: string, name: string): Promise<boolean> {
    const [br, port] = await this.client.transact(OPEN_VSWITCH_DB, [
      { op: 'select', table: 'Bridge', where: byName(bridge), columns: ['_uuid', 'ports'] },
      { op: 'select', table: 'Port', where: byName(name), columns: ['_uuid'] },
    ]);
    const brRow = br?.rows?.[0];
    const portRow = port?.rows?.[0];
    if (!brRow) throw new DfError(OvsdbErrorCode.INVALID_ARGUMENT, `bridge ${bridge} does not exist`, { context: { bridge, port: name } });
    if (!portRow || !setOf<Uuid>(brRow['ports']).some((u) => u.equals(uuidOf(portRow)))) return false;
    await this.client.transact(OPEN_VSWITCH_DB, [{ op: 'mutate', table: 'Bridge', where: byUuid(uuidOf(brRow)), mutations: [['ports', 'delete', [uuidOf(portRow)]]] }], {
      comment: `df: delete port ${name} from ${bridge}`,
    });
    return true;
  }

  /** A flow-based tunnel port: the peer (tun_dst) and the VNI/key (tun_id) come from flows. */
  async ensureTunnelPort(bridge: string, type: TunnelType, options: TunnelPortOptions = {}): Promise<EnsureResult> {
    if (!TUNNEL_TYPES.includes(type)) {
      throw new DfError(OvsdbErrorCode.INVALID_ARGUMENT, `'${String(type)}' is not a tunnel type (vxlan, geneve, gre)`, { context: { type } });
    }
    const remoteIp = options.remoteIp ?? 'flow';
    if (remoteIp !== 'flow') parseIp(remoteIp, 'remoteIp');
    const key = options.key ?? 'flow';
    if (key !== 'flow' && !/^\d+$/.test(key)) throw new DfError(OvsdbErrorCode.INVALID_ARGUMENT, `tunnel key '${key}' is neither 'flow' nor a number`, { context: { key } });
    const tunnelOptions: Record<string, string> = { remote_ip: remoteIp, key };
    if (options.localIp !== undefined) tunnelOptions['local_ip'] = parseIp(options.localIp, 'localIp').toString();
    if (options.dstPort !== undefined) tunnelOptions['dst_port'] = String(options.dstPort);
    if (options.bfd && remoteIp === 'flow') throw new DfError(OvsdbErrorCode.INVALID_ARGUMENT, 'BFD needs a tunnel port with a fixed remote_ip (a flow-based port has no single peer)', { context: { type } });
    return this.addPort(bridge, options.name ?? `tun-${type}`, {
      type,
      options: tunnelOptions,
      ...(options.externalIds ? { externalIds: options.externalIds } : {}),
      ...(options.bfd ? { bfd: options.bfd } : {}),
    });
  }

  /** A pair of patch ports joining two bridges (e.g. br-int ↔ a provider bridge: see providerPatchPorts for their names). */
  async ensurePatchPair(bridgeA: string, bridgeB: string, options: PatchPairOptions = {}): Promise<{ a: EnsureResult; b: EnsureResult; portA: string; portB: string }> {
    const portA = options.portA ?? `patch-${bridgeB}`;
    const portB = options.portB ?? `patch-${bridgeA}`;
    const a = await this.addPort(bridgeA, portA, { type: 'patch', options: { peer: portB } });
    const b = await this.addPort(bridgeB, portB, { type: 'patch', options: { peer: portA } });
    return { a, b, portA, portB };
  }

  /** One interface's current state (a single read; use InterfaceMonitor to follow changes). */
  async getInterface(name: string): Promise<InterfaceState | undefined> {
    const [iface, port, br] = await this.client.transact(OPEN_VSWITCH_DB, [
      { op: 'select', table: 'Interface', where: byName(name), columns: INTERFACE_COLUMNS },
      { op: 'select', table: 'Port', where: [], columns: ['_uuid', 'name', 'interfaces'] },
      { op: 'select', table: 'Bridge', where: [], columns: ['_uuid', 'name', 'ports'] },
    ]);
    const row = iface?.rows?.[0];
    if (!row) return undefined;
    const ports = (port?.rows ?? []).filter((p) => setOf<Uuid>(p['interfaces']).some((u) => u.equals(uuidOf(row))));
    return interfaceStateFromRows(row, ports[0], (br?.rows ?? []).find((b) => ports[0] !== undefined && setOf<Uuid>(b['ports']).some((u) => u.equals(uuidOf(ports[0]!)))));
  }

  private async retrying<T>(what: string, body: () => Promise<T>): Promise<T> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      try {
        return await body();
      } catch (err) {
        if (!isRetryable(err)) throw err;
        lastError = err;
      }
    }
    throw new DfError(OvsdbErrorCode.CONFLICT, `gave up trying to ${what}: other writers kept changing the same rows`, {
      cause: lastError,
      context: { attempts: MAX_ATTEMPTS },
    });
  }
}

function bridgeOtherConfig(options: BridgeOptions): Record<string, string> | undefined {
  const out: Record<string, string> = { ...(options.otherConfig ?? {}) };
  if (options.datapathId !== undefined) {
    if (options.datapathId < 0n || options.datapathId >= 1n << 64n) {
      throw new DfError(OvsdbErrorCode.INVALID_ARGUMENT, `datapath id ${options.datapathId} does not fit 64 bits`, { context: { datapathId: options.datapathId.toString() } });
    }
    out['datapath-id'] = options.datapathId.toString(16).padStart(16, '0');
  }
  if (options.disableInBand !== undefined) out['disable-in-band'] = String(options.disableInBand);
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The names of the patch pair between the integration bridge and a provider bridge:
 * `patch-<provider>` on the integration bridge, `patch-<integration>-<provider>` on the
 * provider bridge. Port names are unique across all bridges of an Open vSwitch, so the
 * provider side names its bridge too: two provider bridges each get their own pair.
 */
export function providerPatchPorts(integration: string, provider: string): { onIntegration: string; onProvider: string } {
  return { onIntegration: `patch-${provider}`, onProvider: `patch-${integration}-${provider}` };
}
