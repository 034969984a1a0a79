import type { TableName } from '../model/tables.js';
import type { ShadowIndex, Stub } from './shadow.js';

export interface ScopeOptions {
  readonly chassisId: string;
  readonly selective: boolean;
  readonly allChassis: boolean;
}

/**
 * What a selective cache holds, as computed from the shadow index: the networks, the
 * security groups (and the remote groups their rules name) and the chassis. A value:
 * the cache swaps in a new one when the scope may have moved and compares the two.
 */
export class Scope {
  private constructor(
    private readonly o: ScopeOptions,
    readonly networks: ReadonlySet<string>,
    readonly groups: ReadonlySet<string>,
    /**
     * Groups a held group's rules name as remote group: their member ports are held
     * wherever they live (a remote-group rule needs the members' addresses), without
     * their networks.
     */
    readonly remoteGroups: ReadonlySet<string>,
    /** Chassis whose record and liveness are held (selective, not allChassis). */
    readonly chassis: ReadonlySet<string>,
  ) {}

  static empty(o: ScopeOptions): Scope {
    return new Scope(o, new Set(), new Set(), new Set(), new Set());
  }

  /** The scope the shadow gives now (networks, groups, remote groups, chassis). */
  static compute(shadow: ShadowIndex, o: ScopeOptions): Scope {
    const nets = new Set<string>();
    const groups = new Set<string>();
    for (const pid of shadow.portsOnChassis(o.chassisId)) {
      const s = shadow.get('logical_port', pid);
      if (s?.networkId) nets.add(s.networkId);
      for (const g of s?.securityGroupIds ?? []) groups.add(g);
    }
    // Routing happens on the source chassis, so it needs the ports on the other side of
    // the routers of its networks: one hop (the routers of those networks are held, their
    // other networks are not).
    for (const n of [...nets]) for (const r of shadow.onNetwork('logical_router', n)) for (const m of shadow.get('logical_router', r)?.networks ?? []) nets.add(m);
    // The active gateway chassis of a router routes the replies centralized NAT
    // un-translates there: it needs the router, all its networks and their ports.
    for (const r of shadow.routersWithGatewayOn(o.chassisId)) for (const m of shadow.get('logical_router', r)?.networks ?? []) nets.add(m);
    const todo = [...groups];
    while (todo.length > 0) {
      for (const r of shadow.get('security_group', todo.pop()!)?.remoteGroupIds ?? []) {
        if (!groups.has(r)) {
          groups.add(r);
          todo.push(r);
        }
      }
    }
    const remote = new Set<string>();
    for (const g of groups) for (const r of shadow.get('security_group', g)?.remoteGroupIds ?? []) remote.add(r);
    const chassis = o.selective && !o.allChassis ? chassisInScope(shadow, o.chassisId, nets, remote) : new Set<string>();
    return new Scope(o, nets, groups, remote, chassis);
  }

  /**
   * Whether a change of an object's stub (old → new) can move the scope: the scope is
   * made of this chassis' ports, the routers and groups they lead to, and the chassis
   * of the ports on held networks and in remote groups. A port elsewhere, on a network
   * not held and in no remote group held — most of a large cloud's changes — cannot,
   * and the scope is not recomputed for it.
   */
  movedBy(table: TableName, id: string, old: Stub | undefined, next: Stub | undefined): boolean {
    if (!this.o.selective) return false;
    switch (table) {
      case 'logical_port':
        for (const s of [old, next]) {
          if (!s) continue;
          if (s.chassisId === this.o.chassisId) return true;
          if (s.networkId !== undefined && this.networks.has(s.networkId)) return true;
          if ((s.securityGroupIds ?? []).some((g) => this.remoteGroups.has(g))) return true;
        }
        return false;
      case 'logical_router':
        return true;
      case 'security_group':
        return this.groups.has(id);
      default:
        // Subnets, floating IPs, networks and chassis are in scope or not by the scope; they do not make it.
        return false;
    }
  }

  /** Whether the object is in scope (false for what the DB does not have). */
  wants(shadow: ShadowIndex, table: TableName, id: string): boolean {
    const s = shadow.get(table, id);
    if (!s) return false;
    if (!this.o.selective) return true;
    switch (table) {
      case 'chassis':
      case 'chassis_liveness':
        return this.o.allChassis || this.chassis.has(id);
      case 'logical_switch':
        return this.networks.has(id);
      case 'subnet':
        return s.networkId !== undefined && this.networks.has(s.networkId);
      case 'logical_port':
        return (s.networkId !== undefined && this.networks.has(s.networkId)) || (s.securityGroupIds ?? []).some((g) => this.remoteGroups.has(g));
      case 'logical_router':
        return (s.networks ?? []).some((n) => this.networks.has(n));
      case 'floating_ip': {
        if (s.networkId !== undefined && this.networks.has(s.networkId)) return true;
        const port = s.portId ? shadow.get('logical_port', s.portId) : undefined;
        return port?.networkId !== undefined && this.networks.has(port.networkId);
      }
      case 'security_group':
        return this.groups.has(id);
    }
  }
}

/**
 * This chassis, the chassis of every port held (tunnel peers: what l2 sends to) and
 * every gateway chassis of a router held (where its north-south traffic may go).
 */
function chassisInScope(shadow: ShadowIndex, chassisId: string, networks: ReadonlySet<string>, remoteGroups: ReadonlySet<string>): Set<string> {
  const out = new Set<string>([chassisId]);
  for (const n of networks) {
    for (const c of shadow.chassisOnNetwork(n)) out.add(c);
    for (const r of shadow.onNetwork('logical_router', n)) for (const c of shadow.get('logical_router', r)?.gatewayChassisIds ?? []) out.add(c);
  }
  for (const g of remoteGroups) for (const c of shadow.chassisOfGroup(g)) out.add(c);
  return out;
}
