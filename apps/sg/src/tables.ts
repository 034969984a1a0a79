import { REG_DST_PORT, REG_SRC_PORT, SCRATCH_REGISTERS, type TableSpec } from '@dragonflow/core';
import type { Direction } from './rules.js';

/**
 * The app's tables per rule direction. Neutron's `egress` rules (what a VM sends)
 * are applied in the `ingress-security` stage, on the source port (`reg6`); its
 * `ingress` rules (what a VM receives) in `egress-security`, on the destination
 * port (`reg7`). Each direction has an entry table (conntrack), a rules table
 * (conjunctive matches, verdicts) and a commit table.
 */
export interface DirectionTables {
  readonly entry: string;
  readonly rules: string;
  readonly commit: string;
  /** The pipeline register holding the port the rules apply to. */
  readonly portReg: typeof REG_SRC_PORT | typeof REG_DST_PORT;
  /** The app's scratch register of this direction: the port's zone and how it is enforced. */
  readonly scratch: string;
}

export const DIRECTIONS: Readonly<Record<Direction, DirectionTables>> = {
  egress: { entry: 'from-port', rules: 'from-port-rules', commit: 'from-port-commit', portReg: REG_SRC_PORT, scratch: 'from-port' },
  ingress: { entry: 'to-port', rules: 'to-port-rules', commit: 'to-port-commit', portReg: REG_DST_PORT, scratch: 'to-port' },
};

export const BOTH: readonly Direction[] = ['egress', 'ingress'];

/**
 * Scratch register layout (one register per direction, so what the first stage
 * wrote never reads as the second stage's): bits 0–15 the port's conntrack zone,
 * bit 16 the packet went through the port's conntrack here, bit 17 the port is
 * enforced without conntrack (stateless, or no group at all).
 */
export const ZONE_BITS = 0xffff;
export const TRACKED = 0x1_0000;
export const STATELESS = 0x2_0000;

/** ct_mark bit of a connection whose original direction is no longer allowed: its replies are dropped. */
export const BLOCKED = 0x1;

const CT_FIELDS = ['eth_type', 'ct_state', 'ct_mark', 'ip_proto', 'udp_src', 'udp_dst', 'icmpv6_type'] as const;
const CLAUSE_FIELDS = ['eth_type', 'ip_proto', 'tcp_dst', 'udp_dst', 'sctp_dst', 'icmpv4_type', 'icmpv4_code', 'icmpv6_type', 'icmpv6_code', 'conj_id', 'ct_state'] as const;

// The scratch register is handed out at load time, so the declared fields name every scratch register.
function stageTables(d: DirectionTables, remote: readonly ('ipv4_src' | 'ipv4_dst' | 'ipv6_src' | 'ipv6_dst')[]): TableSpec[] {
  return [
    { name: d.entry, match: [d.portReg, ...CT_FIELDS], description: 'IP of an enforced port → its conntrack zone; ARP, ND, DHCP pass untracked' },
    { name: d.rules, match: [d.portReg, ...SCRATCH_REGISTERS, ...CLAUSE_FIELDS, ...remote, 'ct_mark'], description: 'replies pass; conjunctive rule matches; not allowed → dropped (established: marked blocked)' },
    { name: d.commit, match: [...SCRATCH_REGISTERS, 'eth_type', 'ct_state', 'ct_mark'], description: 'allowed: a new connection is committed, a blocked one unblocked' },
  ];
}

export const SG_TABLES = {
  'ingress-security': stageTables(DIRECTIONS.egress, ['ipv4_dst', 'ipv6_dst']),
  'egress-security': stageTables(DIRECTIONS.ingress, ['ipv4_src', 'ipv6_src']),
};
