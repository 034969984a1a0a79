import { type NbCreateInput, type NbTransaction, type SecurityGroup, parseObject, uuidV5 } from '@dragonflow/nb';

/** Namespace of the ids of default security groups and their rules (a fixed random UUID). */
const DEFAULT_SG_NAMESPACE = '0b8e4f7c-2d51-4f3a-9c1e-6a0d2b7e5f13';

/**
 * The id of a project's default security group. It is derived from the project, so
 * two requests creating it at the same time create the same object: one commit
 * wins, the other retries and finds it.
 */
export function defaultSecurityGroupId(projectId: string): string {
  return uuidV5(DEFAULT_SG_NAMESPACE, `default-sg/${projectId}`);
}

/**
 * The rules of a project's `default` group as Neutron creates them: any egress, and
 * ingress from members of the group, IPv4 and IPv6 — rule n (0–3) has id `ruleId(n)`.
 * Exported for the benchmarks, which write the same group straight into the NB.
 */
export function defaultGroupRules(groupId: string, ruleId: (n: number) => string) {
  return [
    { id: ruleId(0), direction: 'egress' as const, ethertype: 'IPv4' as const },
    { id: ruleId(1), direction: 'egress' as const, ethertype: 'IPv6' as const },
    { id: ruleId(2), direction: 'ingress' as const, ethertype: 'IPv4' as const, remoteGroupId: groupId },
    { id: ruleId(3), direction: 'ingress' as const, ethertype: 'IPv6' as const, remoteGroupId: groupId },
  ];
}

/** Neutron's rules of a new group: any egress, IPv4 and IPv6. */
export function egressRules(newId: () => string) {
  return [
    { id: newId(), direction: 'egress' as const, ethertype: 'IPv4' as const },
    { id: newId(), direction: 'egress' as const, ethertype: 'IPv6' as const },
  ];
}

/** The project's default group as created: Neutron's rules, any egress and ingress from members of the group (IPv4, IPv6). */
function defaultGroupInput(projectId: string): NbCreateInput<'security_group'> & { id: string } {
  const id = defaultSecurityGroupId(projectId);
  const ruleId = (n: number): string => uuidV5(DEFAULT_SG_NAMESPACE, `default-sg/${projectId}/rule/${n}`);
  return {
    id,
    projectId,
    name: 'default',
    description: 'Default security group',
    rules: defaultGroupRules(id, ruleId),
  };
}

/** The project's default security group, created on first use (inside the caller's write). */
export async function ensureDefaultSecurityGroup(tx: NbTransaction, projectId: string): Promise<SecurityGroup> {
  const existing = await tx.get('security_group', defaultSecurityGroupId(projectId));
  if (existing) return existing;
  return tx.create('security_group', defaultGroupInput(projectId));
}

/**
 * The default group of a project that has none yet, as reads show it. Neutron creates
 * it on the first list; here a read never writes (anyone can name a project in noauth
 * mode, and a GET must not fill the DB), so reads show this stand-in — same id, same
 * rule ids — and the first write that needs the group creates it.
 */
export function unsavedDefaultGroup(projectId: string): SecurityGroup {
  return { ...parseObject('security_group', { ...defaultGroupInput(projectId), key: 1 }), version: 0 } as SecurityGroup;
}
