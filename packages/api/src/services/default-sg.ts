import { type NbTransaction, type SecurityGroup, uuidV5 } from '@dragonflow/nb';

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

/** Neutron's rules of a new group: any egress, IPv4 and IPv6. */
export function egressRules(newId: () => string) {
  return [
    { id: newId(), direction: 'egress' as const, ethertype: 'IPv4' as const },
    { id: newId(), direction: 'egress' as const, ethertype: 'IPv6' as const },
  ];
}

/**
 * The project's default security group, created on first use with Neutron's
 * default rules: any egress, and ingress from members of the same group (IPv4, IPv6).
 */
export async function ensureDefaultSecurityGroup(tx: NbTransaction, projectId: string): Promise<SecurityGroup> {
  const id = defaultSecurityGroupId(projectId);
  const existing = await tx.get('security_group', id);
  if (existing) return existing;
  const ruleId = (n: number): string => uuidV5(DEFAULT_SG_NAMESPACE, `default-sg/${projectId}/rule/${n}`);
  return tx.create('security_group', {
    id,
    projectId,
    name: 'default',
    description: 'Default security group',
    rules: [
      { id: ruleId(0), direction: 'egress', ethertype: 'IPv4' },
      { id: ruleId(1), direction: 'egress', ethertype: 'IPv6' },
      { id: ruleId(2), direction: 'ingress', ethertype: 'IPv4', remoteGroupId: id },
      { id: ruleId(3), direction: 'ingress', ethertype: 'IPv6', remoteGroupId: id },
    ],
  });
}
