import { CtState, act, flow, type Action, type AppTables, type DesiredFlow, type MatchSpec } from '@dragonflow/core';
import { ETH_IPV4, ETH_IPV6, type Direction } from './rules.js';
import { BLOCKED, DIRECTIONS, STATELESS, TRACKED, ZONE_BITS } from './tables.js';

/** Priorities inside the app's tables (relative: the tables are the app's own). */
export const PRIO = {
  /** entry: traffic that always passes untracked (ARP never gets here: only IP is matched). */
  BYPASS: 300,
  /** entry: the port's IP into its zone. */
  PORT: 100,
  /** rules: invalid. */
  INVALID: 400,
  /** rules: replies and related of a connection that is not blocked. */
  REPLY: 300,
  /** rules: the conjunctive rule matches and their verdicts. */
  RULE: 200,
  /** rules: established in the original direction, not allowed (any more): marked blocked, dropped. */
  BLOCK: 100,
  /** rules: enforced and nothing allowed it. */
  DENY: 50,
  /** commit table. */
  COMMIT: 100,
} as const;

const IP_TYPES = [ETH_IPV4, ETH_IPV6] as const;
const ct = (bits: number, mask: number): [number, number] => [bits | CtState.TRK, mask | CtState.TRK];

/** What names the per-direction pieces an app instance resolved (tables and its scratch registers). */
export interface SgLayout {
  readonly tables: AppTables;
  /** The field of each direction's scratch register ('reg0', …). */
  readonly scratch: Readonly<Record<Direction, string>>;
}

/** A conjunction a port takes part in: the rule's id and its clause count. */
export interface PortConj {
  readonly id: number;
  readonly clauses: number;
}

export interface PortPlan {
  readonly key: number;
  readonly zone: number;
  /** Conntrack on (any of its groups is stateful) or off (stateless groups only, or no group: all IP dropped). */
  readonly stateful: boolean;
  readonly conj: Readonly<Record<Direction, readonly PortConj[]>>;
}

const zoneRef = (field: string) => ({ field: field as 'reg0', ofs: 0, nBits: 16 });

/**
 * A port's own flows, both directions: its IP goes into its conntrack zone (or,
 * stateless, is marked for the rules without conntrack), and one flow carries the
 * port's clause of every conjunction its groups' rules make. Everything else a
 * port needs is shared (per rule, per match, per stage), so a port costs
 * 2 × (2 + 1) flows whatever its groups hold.
 */
export function portFlows(l: SgLayout, p: PortPlan): DesiredFlow[] {
  const out: DesiredFlow[] = [];
  for (const dir of ['egress', 'ingress'] as const) {
    const d = DIRECTIONS[dir];
    const reg = l.scratch[dir];
    const rules = l.tables.ref(d.rules);
    for (const eth_type of IP_TYPES) {
      const match = { [d.portReg]: p.key, eth_type };
      out.push(
        p.stateful
          ? flow(l.tables.ref(d.entry), { priority: PRIO.PORT, match, actions: [act.setField(reg as 'reg0', p.zone | TRACKED), act.ct({ zone: zoneRef(reg), table: rules.id })] })
          : flow(l.tables.ref(d.entry), { priority: PRIO.PORT, match, actions: [act.setField(reg as 'reg0', STATELESS)], goto: rules }),
      );
    }
    const conj = [...p.conj[dir]].sort((a, b) => a.id - b.id);
    if (conj.length > 0) {
      // stateful: only the original direction of a valid connection is judged by the rules
      const match: MatchSpec = p.stateful ? { [d.portReg]: p.key, ct_state: ct(0, CtState.RPL | CtState.INV) } : { [d.portReg]: p.key };
      out.push(flow(rules, { priority: PRIO.RULE, match, actions: conj.map((c) => act.conjunction(c.id, 1, c.clauses)) }));
    }
  }
  return out;
}

/** A rule's verdict: its conjunction matched, the packet is allowed (committed in the commit table when tracked). */
export function verdictFlow(l: SgLayout, dir: Direction, conjId: number): DesiredFlow {
  const d = DIRECTIONS[dir];
  return flow(l.tables.ref(d.rules), { priority: PRIO.RULE, match: { conj_id: conjId }, goto: l.tables.ref(d.commit) });
}

/** One merged clause flow: a match shared by several rules' conjunctions. */
export function clauseFlow(l: SgLayout, dir: Direction, match: MatchSpec, actions: readonly Action[]): DesiredFlow {
  return flow(l.tables.ref(DIRECTIONS[dir].rules), { priority: PRIO.RULE, match, actions });
}

/** Traffic that passes every port untracked, as in Neutron's firewall: ND, and DHCP/DHCPv6 client traffic. */
export function bypassFlows(l: SgLayout): DesiredFlow[] {
  const out: DesiredFlow[] = [];
  for (const dir of ['egress', 'ingress'] as const) {
    const d = DIRECTIONS[dir];
    const exit = l.tables.next(d.commit);
    const [v4src, v4dst, v6src, v6dst] = dir === 'egress' ? [68, 67, 546, 547] : [67, 68, 547, 546];
    const matches: MatchSpec[] = [
      { eth_type: ETH_IPV4, ip_proto: 17, udp_src: v4src, udp_dst: v4dst },
      { eth_type: ETH_IPV6, ip_proto: 17, udp_src: v6src, udp_dst: v6dst },
      ...[133, 134, 135, 136].map((t) => ({ eth_type: ETH_IPV6, ip_proto: 58, icmpv6_type: t })),
    ];
    for (const match of matches) out.push(flow(l.tables.ref(d.entry), { priority: PRIO.BYPASS, match, goto: exit }));
  }
  return out;
}

/**
 * The conntrack verdicts every tracked port shares (the scratch register says the
 * packet went through its port's zone in this stage, and which zone):
 * invalid → drop; reply or related, not blocked → pass; established in the original
 * direction and no rule allows it → `ct(commit, ct_mark=BLOCKED)` and drop, which
 * cuts the connection's replies at once; anything else enforced → drop. In the
 * commit table: allowed and new → commit; allowed and blocked → commit clearing
 * the mark.
 */
export function conntrackFlows(l: SgLayout): DesiredFlow[] {
  const out: DesiredFlow[] = [];
  for (const dir of ['egress', 'ingress'] as const) {
    const d = DIRECTIONS[dir];
    const reg = l.scratch[dir];
    const rules = l.tables.ref(d.rules);
    const commit = l.tables.ref(d.commit);
    const exit = l.tables.next(d.commit);
    const tracked = { [reg]: [TRACKED, TRACKED] as [number, number] };
    const zone = zoneRef(reg);
    out.push(
      flow(rules, { priority: PRIO.INVALID, match: { ...tracked, ct_state: ct(CtState.INV, CtState.INV) } }),
      flow(rules, { priority: PRIO.REPLY, match: { ...tracked, ct_state: ct(CtState.EST | CtState.RPL, CtState.EST | CtState.RPL | CtState.INV), ct_mark: [0, BLOCKED] }, goto: exit }),
      flow(rules, { priority: PRIO.REPLY, match: { ...tracked, ct_state: ct(CtState.REL, CtState.REL | CtState.INV), ct_mark: [0, BLOCKED] }, goto: exit }),
      flow(rules, { priority: PRIO.DENY, match: tracked }),
      flow(rules, { priority: PRIO.DENY, match: { [reg]: [STATELESS, STATELESS] } }),
    );
    for (const eth_type of IP_TYPES) {
      out.push(
        flow(rules, {
          priority: PRIO.BLOCK,
          match: { ...tracked, eth_type, ct_state: ct(CtState.EST, CtState.EST | CtState.RPL | CtState.INV) },
          actions: [act.ct({ commit: true, zone, actions: [act.setField('ct_mark', BLOCKED)] })],
        }),
        flow(commit, { priority: PRIO.COMMIT, match: { ...tracked, eth_type, ct_state: ct(CtState.NEW, CtState.NEW | CtState.INV) }, actions: [act.ct({ commit: true, zone })], goto: exit }),
        flow(commit, {
          priority: PRIO.COMMIT,
          match: { ...tracked, eth_type, ct_state: ct(CtState.EST, CtState.EST | CtState.INV), ct_mark: [BLOCKED, BLOCKED] },
          actions: [act.ct({ commit: true, zone, actions: [act.setField('ct_mark', 0)] })],
          goto: exit,
        }),
      );
    }
  }
  return out;
}

/** The scratch register's zone bits (for diagnostics and tests). */
export const zoneOf = (value: number): number => value & ZONE_BITS;
