import { type LogicalSwitch, type RbacAction, type RbacPolicy, newId } from '@dragonflow/nb';
import type { RequestContext } from '../auth.js';

/*
 * Who may use a network besides its project (Neutron's rbac-policies). Grants live on
 * the network (`rbacPolicies`); its `shared` and `external` flags follow them: shared
 * while an access_as_shared grant to '*' exists, external while any access_as_external
 * grant does. Networks written without grants (stored before they existed, or made
 * straight in the NB DB) have none: their flags stand for grants to '*'.
 */

function grants(ls: LogicalSwitch): readonly RbacPolicy[] {
  return ls.rbacPolicies ?? [];
}

function granted(ls: LogicalSwitch, action: RbacAction, project: string): boolean {
  return grants(ls).some((p) => p.action === action && (p.targetProject === '*' || p.targetProject === project));
}

/** The network is shared with `project`: with everyone, or with it by a grant. */
export function sharedWith(ls: LogicalSwitch, project: string): boolean {
  return ls.shared || granted(ls, 'access_as_shared', project);
}

/** `project` may use the network as an external one (router gateway, floating IPs). */
export function externalFor(ls: LogicalSwitch, project: string): boolean {
  if (!ls.external) return false;
  // An external network without any grant was written without them (before grants
  // existed, or straight into the NB DB): external for everyone, as its flag says.
  if (!grants(ls).some((p) => p.action === 'access_as_external')) return true;
  return ls.projectId === project || granted(ls, 'access_as_external', project);
}

/** Who the caller is for these checks: an admin is granted everything. */
export function usableBy(ctx: RequestContext, ls: LogicalSwitch, use: 'shared' | 'external'): boolean {
  if (ctx.isAdmin) return use === 'shared' || ls.external;
  return use === 'shared' ? ls.projectId === ctx.projectId || sharedWith(ls, ctx.projectId) : externalFor(ls, ctx.projectId);
}

/** The flags the grants imply (see above). */
export function withFlags(ls: LogicalSwitch, policies: RbacPolicy[]): LogicalSwitch {
  return {
    ...ls,
    rbacPolicies: policies,
    shared: policies.some((p) => p.action === 'access_as_shared' && p.targetProject === '*'),
    external: policies.some((p) => p.action === 'access_as_external'),
  };
}

/** A grant to '*' made by the network's project (what shared=True and router:external=True create). */
export function wildcard(ls: Pick<LogicalSwitch, 'projectId'>, action: RbacAction, now: string): RbacPolicy {
  return { id: newId(), projectId: ls.projectId, action, targetProject: '*', createdAt: now, updatedAt: now };
}

/**
 * The grants after setting the shared and external flags as a network create or
 * update asks: a flag set adds its grant to '*', a flag cleared removes the grants
 * of its action (for external all of them: the network is no longer external).
 */
export function grantsForFlags(ls: Pick<LogicalSwitch, 'projectId' | 'shared' | 'external'> & { rbacPolicies?: RbacPolicy[] | undefined }, shared: boolean, external: boolean, now: string): RbacPolicy[] {
  // A network written without grants gets the grants its flags stand for.
  let out = ls.rbacPolicies ?? [];
  const hasWildShared = out.some((p) => p.action === 'access_as_shared' && p.targetProject === '*');
  if (shared && !hasWildShared) out = [...out, wildcard(ls, 'access_as_shared', now)];
  if (!shared) out = out.filter((p) => !(p.action === 'access_as_shared' && p.targetProject === '*'));
  const hasExternal = out.some((p) => p.action === 'access_as_external');
  if (external && !hasExternal) out = [...out, wildcard(ls, 'access_as_external', now)];
  if (!external) out = out.filter((p) => p.action !== 'access_as_external');
  return out;
}
