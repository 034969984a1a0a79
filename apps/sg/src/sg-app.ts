import { APP_CONTEXT, inject, injectable, type AppContext, type LogicalPort, type SecurityGroup } from '@dragonflow/core';
import { ClauseBook, type ClauseEntry } from './clause-book.js';
import { bypassFlows, conntrackFlows, portFlows, verdictFlow, type PortConj, type PortPlan, type SgLayout } from './flows.js';
import { ConjIds, clauseCount, ethTypeOf, ethTypeOfCidr, isEnforced, memberAddresses, prefixMatch, protocolMatches, remoteField, type Direction } from './rules.js';
import { BOTH, DIRECTIONS } from './tables.js';

/** Owner names: `dfctl flows` and traces show them. */
export const owners = {
  port: (portId: string) => `sg:port:${portId}`,
  rule: (groupId: string, ruleId: string) => `sg:${groupId}:rule:${ruleId}`,
  bypass: 'sg:bypass',
  conntrack: 'sg:conntrack',
} as const;

/**
 * Security groups in the switch. The computation is kept per object so one change
 * costs its own flows: a group's change recomputes its verdict flows, its clause
 * contributions, the member clauses of the groups its rules name, and the local
 * ports in it; a port's change recomputes its own flows (local) and its member
 * clauses (its addresses, for the rules naming its groups). The reconciler sends
 * only what differs.
 */
@injectable()
export class SecurityGroups {
  private readonly layout: SgLayout;
  private readonly conj = new ConjIds();
  private readonly book = new ClauseBook();
  /** Local ports with flows, and their keys (to release the zone when they go). */
  private readonly enforced = new Map<string, number>();
  /** Per group: its rules with verdict flows, and the remote groups its rules named. */
  private readonly groupRules = new Map<string, Set<string>>();
  private readonly groupRemotes = new Map<string, Set<string>>();
  /** Whether the shared flows are desired. */
  private sharing = false;
  /**
   * The plan each enforced port's flows were last built from. A port's flows depend
   * on nothing else, so an unchanged plan skips building and comparing them: a bulk
   * of ports in a group otherwise builds each port's flows twice (the group entering
   * the local topology updates every port in it, then each port's own event does).
   */
  private readonly plans = new Map<string, PortPlan>();

  constructor(@inject(APP_CONTEXT) private readonly ctx: AppContext) {
    const scratch = Object.fromEntries(BOTH.map((d) => [d, ctx.tables.register(DIRECTIONS[d].scratch)])) as Record<Direction, string>;
    this.layout = { tables: ctx.tables, scratch };
  }

  /** Everything from the topology (start, reload, after an error): owners not set again are removed by the core. */
  resync(): void {
    const { topology, flows } = this.ctx;
    this.book.clear();
    this.conj.clear();
    this.groupRules.clear();
    this.groupRemotes.clear();
    // A resync sets every owner again (the core removes those it does not set).
    this.plans.clear();
    for (const g of topology.all('security_group')) this.updateGroup(g.id);
    const seen = new Set<string>();
    for (const p of topology.all('logical_port')) {
      seen.add(p.id);
      this.updateMember(p.id);
      this.updatePort(p.id);
    }
    for (const id of [...this.enforced.keys()]) if (!seen.has(id)) this.updatePort(id);
    this.sharedFlows(true);
    this.book.flush(this.layout, flows, true);
  }

  /** A group was created, changed or deleted. */
  groupChanged(groupId: string): void {
    const before = this.groupRemotes.get(groupId) ?? new Set<string>();
    this.updateGroup(groupId);
    const after = this.groupRemotes.get(groupId) ?? new Set<string>();
    for (const r of new Set([...before, ...after])) for (const p of this.ctx.topology.lookup('logical_port', 'securityGroup', r)) this.updateMember(p.id);
    for (const p of this.ctx.topology.lookup('logical_port', 'securityGroup', groupId)) this.updatePort(p.id);
    this.book.flush(this.layout, this.ctx.flows);
  }

  /** A port was created, changed (groups, addresses, binding) or deleted. */
  portChanged(portId: string): void {
    this.updateMember(portId);
    this.updatePort(portId);
    this.book.flush(this.layout, this.ctx.flows);
  }

  // ---------------------------------------------------------------- internals

  /** The group's verdict flows (one per rule) and its protocol and prefix clauses. */
  private updateGroup(groupId: string): void {
    const g = this.ctx.topology.get('security_group', groupId);
    const rules = new Set(g?.rules.map((r) => r.id) ?? []);
    for (const rid of this.groupRules.get(groupId) ?? []) {
      if (rules.has(rid)) continue;
      this.ctx.flows.remove(owners.rule(groupId, rid));
      this.conj.release(rid);
    }
    const entries: ClauseEntry[] = [];
    const remotes = new Set<string>();
    for (const r of g?.rules ?? []) {
      const id = this.conj.of(r.id);
      const clauses = clauseCount(r);
      this.ctx.flows.replace(owners.rule(groupId, r.id), [verdictFlow(this.layout, r.direction, id)]);
      for (const match of protocolMatches(r)) entries.push({ dir: r.direction, match, conjId: id, clause: 2, clauses });
      const prefix = prefixMatch(r);
      if (prefix) entries.push({ dir: r.direction, match: prefix, conjId: id, clause: 3, clauses });
      if (r.remoteGroupId !== null) remotes.add(r.remoteGroupId);
    }
    this.book.set(`group:${groupId}`, entries);
    if (g) {
      this.groupRules.set(groupId, rules);
      this.groupRemotes.set(groupId, remotes);
    } else {
      this.groupRules.delete(groupId);
      this.groupRemotes.delete(groupId);
    }
  }

  /** A port's addresses as the remote-end clause of every rule that names one of its groups. */
  private updateMember(portId: string): void {
    const p = this.ctx.topology.get('logical_port', portId);
    const entries: ClauseEntry[] = [];
    if (p) {
      const addrs = memberAddresses(p);
      for (const gid of p.securityGroupIds) {
        for (const naming of this.ctx.topology.lookup('security_group', 'remoteGroup', gid)) {
          for (const r of naming.rules) {
            if (r.remoteGroupId !== gid) continue;
            const eth_type = ethTypeOf(r);
            const id = this.conj.of(r.id);
            for (const a of addrs) if (ethTypeOfCidr(a) === eth_type) entries.push({ dir: r.direction, match: { eth_type, [remoteField(r.direction, eth_type)]: a }, conjId: id, clause: 3, clauses: 3 });
          }
        }
      }
    }
    this.book.set(`member:${portId}`, entries);
  }

  /**
   * The flows every enforced port shares (bypass, conntrack verdicts) are there while
   * at least one port here is enforced, so a chassis without one holds no sg flow.
   */
  private sharedFlows(always = false): void {
    const want = this.enforced.size > 0;
    if (want === this.sharing && !always) return;
    this.sharing = want;
    if (want) {
      this.ctx.flows.replace(owners.bypass, bypassFlows(this.layout));
      this.ctx.flows.replace(owners.conntrack, conntrackFlows(this.layout));
    } else {
      this.ctx.flows.remove(owners.bypass);
      this.ctx.flows.remove(owners.conntrack);
    }
  }

  /** A local port's own flows, or none (not here, port security off, a network port). */
  private updatePort(portId: string): void {
    const { topology, flows, zones } = this.ctx;
    const p = topology.get('logical_port', portId);
    const here = p !== undefined && topology.localBinding(portId) !== undefined && isEnforced(p);
    const oldKey = this.enforced.get(portId);
    if (!here) {
      if (oldKey === undefined) return;
      flows.remove(owners.port(portId));
      zones.release('port', oldKey);
      this.enforced.delete(portId);
      this.plans.delete(portId);
      this.sharedFlows();
      return;
    }
    if (oldKey !== undefined && oldKey !== p.key) zones.release('port', oldKey);
    this.enforced.set(portId, p.key);
    const plan = this.planOf(p);
    const last = this.plans.get(portId);
    if (!last || !samePlan(last, plan)) {
      flows.replace({ id: owners.port(portId), key: p.key, kind: 'port' }, portFlows(this.layout, plan));
      this.plans.set(portId, plan);
    }
    this.sharedFlows();
  }

  private planOf(p: LogicalPort): PortPlan {
    const groups = p.securityGroupIds.map((g) => this.ctx.topology.get('security_group', g)).filter((g): g is SecurityGroup => g !== undefined);
    const conj: Record<Direction, PortConj[]> = { egress: [], ingress: [] };
    for (const g of groups) for (const r of g.rules) conj[r.direction].push({ id: this.conj.of(r.id), clauses: clauseCount(r) });
    // A port mixing stateful and stateless groups (df-api accepts it; Neutron refuses) is tracked.
    return { key: p.key, zone: this.ctx.zones.of('port', p.key), stateful: groups.some((g) => g.stateful), conj };
  }
}

const sameConj = (a: readonly PortConj[], b: readonly PortConj[]): boolean => a.length === b.length && a.every((c, i) => c.id === b[i]!.id && c.clauses === b[i]!.clauses);

function samePlan(a: PortPlan, b: PortPlan): boolean {
  return a.key === b.key && a.zone === b.zone && a.stateful === b.stateful && sameConj(a.conj.egress, b.conj.egress) && sameConj(a.conj.ingress, b.conj.ingress);
}
