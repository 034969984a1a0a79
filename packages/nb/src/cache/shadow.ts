import { NB_INDEXES } from '../model/indexes.js';
import type { NbObject, TableName } from '../model/tables.js';

/**
 * What selective topology must know about every object, also the ones it does not
 * cache: the few fields that decide whether an object is in scope.
 */
export interface Stub {
  networkId?: string;
  chassisId?: string | null;
  networks?: readonly string[];
  /** A router's gateway chassis, every one of the list: each may become the active one (docs/ha.md). */
  gatewayChassisIds?: readonly string[];
  portId?: string | null;
  securityGroupIds?: readonly string[];
  remoteGroupIds?: readonly string[];
}

/** Whether two stubs say the same (so the object's change cannot move the scope). */
export function sameStub(a: Stub | undefined, b: Stub | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)] as (keyof Stub)[]);
  for (const k of keys) {
    const x = a[k];
    const y = b[k];
    if (Array.isArray(x) && Array.isArray(y)) {
      if (x.length !== y.length || x.some((v, i) => v !== y[i])) return false;
    } else if (x !== y) return false;
  }
  return true;
}

/** The stub of a table whose objects' scope is their id alone (networks, chassis, liveness): one shared object. */
const EMPTY: Stub = Object.freeze({});

/**
 * Makes a stub's strings and lists shared ones: every port of a network names it with
 * its own copy of the id (decoded from its own JSON), and a cloud's ports far
 * outnumber the networks, chassis and groups they name.
 */
export interface Interner {
  id(s: string): string;
  list(xs: readonly string[]): readonly string[];
}

export function stubOf(table: TableName, o: NbObject, i: Interner = { id: (s) => s, list: (xs) => xs }): Stub {
  switch (table) {
    case 'subnet':
      return { networkId: i.id((o as NbObject<'subnet'>).networkId) };
    case 'logical_port': {
      const p = o as NbObject<'logical_port'>;
      return { networkId: i.id(p.networkId), chassisId: p.chassisId ? i.id(p.chassisId) : p.chassisId, securityGroupIds: i.list(p.securityGroupIds) };
    }
    case 'logical_router':
    {
      const r = o as NbObject<'logical_router'>;
      const gatewayChassisIds = r.externalGateway?.chassisIds ?? [];
      return { networks: i.list(NB_INDEXES.logical_router.network(r)), ...(gatewayChassisIds.length > 0 ? { gatewayChassisIds: i.list(gatewayChassisIds) } : {}) };
    }
    case 'floating_ip': {
      const f = o as NbObject<'floating_ip'>;
      return { networkId: i.id(f.floatingNetworkId), portId: f.portId };
    }
    case 'security_group':
      return { remoteGroupIds: i.list(NB_INDEXES.security_group.remoteGroup(o as NbObject<'security_group'>)) };
    default:
      return EMPTY;
  }
}

type Idx = Map<string, Set<string>>;
/** key → value → how many objects give it (a multiset per key). */
type Counts = Map<string, Map<string, number>>;

function inc(idx: Counts, k: string | null | undefined, v: string | null | undefined): void {
  if (!k || !v) return;
  let m = idx.get(k);
  if (!m) idx.set(k, (m = new Map()));
  m.set(v, (m.get(v) ?? 0) + 1);
}

function dec(idx: Counts, k: string | null | undefined, v: string | null | undefined): void {
  if (!k || !v) return;
  const m = idx.get(k);
  const n = m?.get(v);
  if (!m || n === undefined) return;
  if (n > 1) m.set(v, n - 1);
  else {
    m.delete(v);
    if (m.size === 0) idx.delete(k);
  }
}

function add(idx: Idx, k: string | null | undefined, id: string): void {
  if (!k) return;
  let s = idx.get(k);
  if (!s) idx.set(k, (s = new Set()));
  s.add(id);
}

function del(idx: Idx, k: string | null | undefined, id: string): void {
  if (!k) return;
  const s = idx.get(k);
  if (!s) return;
  s.delete(id);
  if (s.size === 0) idx.delete(k);
}

const NONE: ReadonlySet<string> = new Set();
const NO_KEYS: ReadonlyMap<string, number> = new Map();
const NO_IDS: readonly string[] = Object.freeze([]);

/** Stubs of every object in the DB, with the indexes scope computation needs. */
export class ShadowIndex implements Interner {
  /**
   * Interned ids and lists (see Interner), dropped with clear(). Only what stubs name
   * is interned — networks, chassis, groups — so it grows with those, not with ports;
   * ids of deleted ones stay until the next resync.
   */
  private readonly ids = new Map<string, string>();
  private readonly lists = new Map<string, readonly string[]>();

  private readonly rows = new Map<TableName, Map<string, { stub: Stub; rev: number }>>();
  /** table → network id → ids (subnets, ports, routers, floating IPs by network); no composed key string to build and hash per change. */
  private readonly byNetwork = new Map<TableName, Idx>();
  private readonly portsByChassis: Idx = new Map();
  private readonly fipsByPort: Idx = new Map();
  private readonly portsByGroup: Idx = new Map();
  private readonly routersByGatewayChassis: Idx = new Map();
  /** Chassis that ports of a network are bound to (the network's tunnel peers), without walking its ports. */
  private readonly chassisByNetwork: Counts = new Map();
  /** Chassis that member ports of a security group are bound to. */
  private readonly chassisByGroup: Counts = new Map();

  id(s: string): string {
    const held = this.ids.get(s);
    if (held !== undefined) return held;
    this.ids.set(s, s);
    return s;
  }

  list(xs: readonly string[]): readonly string[] {
    if (xs.length === 0) return NO_IDS;
    const k = xs.join('\n');
    const held = this.lists.get(k);
    if (held) return held;
    const mine = Object.freeze(xs.map((x) => this.id(x)));
    this.lists.set(k, mine);
    return mine;
  }

  /** The stub of `o`, its ids and lists shared (see Interner). */
  stubOf(table: TableName, o: NbObject): Stub {
    return stubOf(table, o, this);
  }

  get(table: TableName, id: string): Stub | undefined {
    return this.rows.get(table)?.get(id)?.stub;
  }

  onNetwork(table: TableName, networkId: string): ReadonlySet<string> {
    return this.byNetwork.get(table)?.get(networkId) ?? NONE;
  }

  portsOnChassis(chassisId: string): ReadonlySet<string> {
    return this.portsByChassis.get(chassisId) ?? NONE;
  }

  /**
   * Routers whose gateway may be active on `chassisId` (it is one of their gateway
   * chassis): each candidate holds the router's topology, so a takeover needs no fetch.
   */
  routersWithGatewayOn(chassisId: string): ReadonlySet<string> {
    return this.routersByGatewayChassis.get(chassisId) ?? NONE;
  }

  /** Chassis that ports of `networkId` are bound to. */
  chassisOnNetwork(networkId: string): Iterable<string> {
    return (this.chassisByNetwork.get(networkId) ?? NO_KEYS).keys();
  }

  /** Chassis that member ports of security group `groupId` are bound to. */
  chassisOfGroup(groupId: string): Iterable<string> {
    return (this.chassisByGroup.get(groupId) ?? NO_KEYS).keys();
  }

  fipsOfPort(portId: string): ReadonlySet<string> {
    return this.fipsByPort.get(portId) ?? NONE;
  }

  /** Ports that list security group `groupId` (members of a remote group may live on networks not held). */
  portsOfGroup(groupId: string): ReadonlySet<string> {
    return this.portsByGroup.get(groupId) ?? NONE;
  }

  /** Applies a put (stub) or delete (undefined) seen at `rev`; false when older than what is held. */
  apply(table: TableName, id: string, stub: Stub | undefined, rev: number): boolean {
    let t = this.rows.get(table);
    const cur = t?.get(id);
    if (cur && rev <= cur.rev) return false;
    if (cur) this.unindex(table, id, cur.stub);
    if (stub) {
      if (!t) this.rows.set(table, (t = new Map()));
      t.set(id, { stub, rev });
      this.index(table, id, stub);
    } else {
      t?.delete(id);
    }
    return true;
  }

  clear(): void {
    this.rows.clear();
    this.ids.clear();
    this.lists.clear();
    this.byNetwork.clear();
    this.portsByChassis.clear();
    this.fipsByPort.clear();
    this.portsByGroup.clear();
    this.routersByGatewayChassis.clear();
    this.chassisByNetwork.clear();
    this.chassisByGroup.clear();
  }

  private index(table: TableName, id: string, s: Stub): void {
    const nets = this.networksOf(table, s);
    if (nets.length > 0) {
      let byNet = this.byNetwork.get(table);
      if (!byNet) this.byNetwork.set(table, (byNet = new Map()));
      for (const n of nets) add(byNet, n, id);
    }
    if (table === 'logical_port') add(this.portsByChassis, s.chassisId, id);
    if (table === 'logical_port') for (const g of s.securityGroupIds ?? []) add(this.portsByGroup, g, id);
    if (table === 'logical_port') inc(this.chassisByNetwork, s.networkId, s.chassisId);
    if (table === 'logical_port') for (const g of s.securityGroupIds ?? []) inc(this.chassisByGroup, g, s.chassisId);
    if (table === 'floating_ip') add(this.fipsByPort, s.portId, id);
    if (table === 'logical_router') for (const c of s.gatewayChassisIds ?? []) add(this.routersByGatewayChassis, c, id);
  }

  private unindex(table: TableName, id: string, s: Stub): void {
    const byNet = this.byNetwork.get(table);
    if (byNet) for (const n of this.networksOf(table, s)) del(byNet, n, id);
    if (table === 'logical_port') del(this.portsByChassis, s.chassisId, id);
    if (table === 'logical_port') for (const g of s.securityGroupIds ?? []) del(this.portsByGroup, g, id);
    if (table === 'logical_port') dec(this.chassisByNetwork, s.networkId, s.chassisId);
    if (table === 'logical_port') for (const g of s.securityGroupIds ?? []) dec(this.chassisByGroup, g, s.chassisId);
    if (table === 'floating_ip') del(this.fipsByPort, s.portId, id);
    if (table === 'logical_router') for (const c of s.gatewayChassisIds ?? []) del(this.routersByGatewayChassis, c, id);
  }

  private networksOf(table: TableName, s: Stub): readonly string[] {
    if (table === 'logical_router') return s.networks ?? NO_IDS;
    return s.networkId ? [s.networkId] : NO_IDS;
  }
}
