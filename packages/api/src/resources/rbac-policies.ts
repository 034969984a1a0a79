import { type LogicalSwitch, type NbTransaction, RBAC_ACTIONS, type RbacAction, type RbacPolicy, newId } from '@dragonflow/nb';
import { type Static, Type } from 'typebox';
import type { RequestContext } from '../auth.js';
import { NeutronError, badAttribute, conflict, notFound, policyNotAuthorized } from '../neutron/errors.js';
import type { CollectionSpec, Dict, ListEntry } from '../neutron/query.js';
import { IdParams, ListQuery, ShowQuery } from '../neutron/schemas.js';
import { timestamp } from '../neutron/views.js';
import { type Backend, owns, projectFor } from '../services/backend.js';
import { externalFor, sharedWith, withFlags } from '../services/rbac.js';
import { type ApiApp, ctxOf, sendCreated, sendList, sendOne, tagged } from './common.js';

/*
 * rbac-policies on networks: access_as_shared lets a project attach ports to another
 * project's network, access_as_external lets it use the network as an external one.
 * A grant lives on its network (services/rbac.ts); its project is the one that made
 * it. Admins and the grant's or the network's project see it.
 */

const ProjectText = Type.String({ minLength: 1, maxLength: 255 });
const RbacCreate = Type.Object(
  {
    object_type: Type.String({ maxLength: 255 }),
    object_id: Type.String({ maxLength: 255 }),
    action: Type.String({ maxLength: 255 }),
    target_tenant: Type.Optional(ProjectText),
    target_project: Type.Optional(ProjectText),
    tenant_id: Type.Optional(ProjectText),
    project_id: Type.Optional(ProjectText),
  },
  { additionalProperties: false },
);
type RbacCreate = Static<typeof RbacCreate>;
const RbacUpdate = Type.Object({ target_tenant: Type.Optional(ProjectText), target_project: Type.Optional(ProjectText) }, { additionalProperties: false });
type RbacUpdate = Static<typeof RbacUpdate>;

const SPEC: CollectionSpec = {
  filterable: new Set(['id', 'object_type', 'object_id', 'action', 'target_tenant', 'target_project', 'tenant_id', 'project_id']),
  sortable: new Set(['id', 'object_type', 'object_id', 'action', 'target_tenant', 'target_project', 'tenant_id', 'project_id']),
};

function view(ls: LogicalSwitch, p: RbacPolicy): Dict {
  return {
    id: p.id,
    object_type: 'network',
    object_id: ls.id,
    action: p.action,
    target_tenant: p.targetProject,
    target_project: p.targetProject,
    tenant_id: p.projectId,
    project_id: p.projectId,
    created_at: timestamp(p.createdAt),
    updated_at: timestamp(p.updatedAt),
  };
}

function rbacNotFound(id: string): NeutronError {
  return new NeutronError(404, 'RbacPolicyNotFound', `RBAC policy with id ${id} could not be found.`, { id });
}

function canSee(ctx: RequestContext, ls: LogicalSwitch, p: RbacPolicy): boolean {
  return ctx.isAdmin || p.projectId === ctx.projectId || ls.projectId === ctx.projectId;
}

/** The grant `id` and its network, when the caller may see it. */
async function findPolicy(tx: Pick<NbTransaction, 'list'>, ctx: RequestContext, id: string): Promise<{ ls: LogicalSwitch; policy: RbacPolicy }> {
  for (const ls of await tx.list('logical_switch')) {
    const policy = (ls.rbacPolicies ?? []).find((p) => p.id === id);
    if (policy) {
      if (!canSee(ctx, ls, policy)) break;
      return { ls, policy };
    }
  }
  throw rbacNotFound(id);
}

function target(body: { target_tenant?: string | undefined; target_project?: string | undefined }): string | undefined {
  const { target_tenant: t, target_project: p } = body;
  if (t !== undefined && p !== undefined && t !== p) throw badAttribute('target_project', "'target_tenant' and 'target_project' do not match");
  return p ?? t;
}

/** Only an admin grants to every project (Neutron's restrict_wildcard rule). */
function checkTarget(ctx: RequestContext, targetProject: string): void {
  if (targetProject === '*' && !ctx.isAdmin) throw policyNotAuthorized('create_rbac_policy:target_tenant');
  if (targetProject !== '*' && !/^[A-Za-z0-9_.:@-]{1,255}$/.test(targetProject)) throw badAttribute('target_tenant', `'${targetProject}' is not '*' or a project id`);
}

/**
 * Refuses to drop grants that something depends on: ports of a project that would no
 * longer see the network shared, router gateways and floating IPs of a project that
 * could no longer use it as external.
 */
async function checkNotInUse(tx: NbTransaction, before: LogicalSwitch, after: LogicalSwitch, policyId: string): Promise<void> {
  const inUse = (what: string) =>
    conflict('RbacPolicyInUse', `RBAC policy on object ${before.id} cannot be removed because other objects depend on it. Details: ${what}`, { id: policyId });
  const owner = before.projectId;
  for (const p of await tx.lookup('logical_port', 'network', before.id)) {
    if (p.projectId === '' || p.projectId === owner) continue;
    const stillShared = sharedWith(after, p.projectId) || (p.deviceOwner.startsWith('network:') && externalFor(after, p.projectId));
    if (sharedWith(before, p.projectId) && !stillShared) throw inUse(`port ${p.id} of project ${p.projectId}`);
  }
  for (const r of await tx.lookup('logical_router', 'network', before.id)) {
    if (r.externalGateway?.networkId === before.id && r.projectId !== owner && externalFor(before, r.projectId) && !externalFor(after, r.projectId)) {
      throw inUse(`the gateway of router ${r.id} of project ${r.projectId}`);
    }
  }
  for (const f of await tx.lookup('floating_ip', 'floatingNetwork', before.id)) {
    if (f.projectId !== owner && externalFor(before, f.projectId) && !externalFor(after, f.projectId)) throw inUse(`floating IP ${f.id} of project ${f.projectId}`);
  }
}

async function createPolicy(tx: NbTransaction, backend: Backend, ctx: RequestContext, body: RbacCreate): Promise<{ ls: LogicalSwitch; policy: RbacPolicy }> {
  if (body.object_type !== 'network') throw badAttribute('object_type', `'${body.object_type}' is not one of: network (the only object type with RBAC policies here)`);
  if (!(RBAC_ACTIONS as readonly string[]).includes(body.action)) throw badAttribute('action', `'${body.action}' is not one of: ${RBAC_ACTIONS.join(', ')}`);
  const targetProject = target(body);
  if (targetProject === undefined) throw badAttribute('target_tenant', 'a target project (or * for every project) is required');
  checkTarget(ctx, targetProject);
  const ls = await tx.get('logical_switch', body.object_id);
  // Only the network's project (or an admin) grants access to it; others do not see it or may not.
  if (!ls || !owns(ctx, ls)) {
    if (ls && sharedWith(ls, ctx.projectId)) throw policyNotAuthorized('create_rbac_policy');
    throw notFound('network', body.object_id);
  }
  const action = body.action as RbacAction;
  const current = ls.rbacPolicies ?? [];
  if (current.some((p) => p.action === action && p.targetProject === targetProject)) {
    throw conflict('DuplicateRbacPolicy', 'An RBAC policy already exists with those values.', { object_id: ls.id, action, target_tenant: targetProject });
  }
  const now = new Date().toISOString();
  const policy: RbacPolicy = { id: newId(), projectId: projectFor(ctx, body), action, targetProject, createdAt: now, updatedAt: now };
  const saved = await tx.update('logical_switch', withFlags(ls, [...current, policy]));
  await backend.quotaCheck().enforce(tx, policy.projectId, 'rbac_policy');
  return { ls: saved, policy };
}

async function updatePolicy(tx: NbTransaction, ctx: RequestContext, id: string, body: RbacUpdate): Promise<{ ls: LogicalSwitch; policy: RbacPolicy }> {
  const { ls, policy } = await findPolicy(tx, ctx, id);
  if (!owns(ctx, policy)) throw policyNotAuthorized('update_rbac_policy');
  const targetProject = target(body) ?? policy.targetProject;
  checkTarget(ctx, targetProject);
  if (targetProject === policy.targetProject) return { ls, policy };
  const others = (ls.rbacPolicies ?? []).filter((p) => p.id !== id);
  if (others.some((p) => p.action === policy.action && p.targetProject === targetProject)) throw conflict('DuplicateRbacPolicy', 'An RBAC policy already exists with those values.', { id });
  const next: RbacPolicy = { ...policy, targetProject, updatedAt: new Date().toISOString() };
  const after = withFlags(ls, (ls.rbacPolicies ?? []).map((p) => (p.id === id ? next : p)));
  await checkNotInUse(tx, ls, after, id);
  return { ls: await tx.update('logical_switch', after), policy: next };
}

async function deletePolicy(tx: NbTransaction, ctx: RequestContext, id: string): Promise<void> {
  const { ls, policy } = await findPolicy(tx, ctx, id);
  if (!owns(ctx, policy) && !owns(ctx, ls)) throw policyNotAuthorized('delete_rbac_policy');
  const after = withFlags(ls, (ls.rbacPolicies ?? []).filter((p) => p.id !== id));
  await checkNotInUse(tx, ls, after, id);
  await tx.update('logical_switch', after);
}

export function registerRbacPolicies(app: ApiApp, backend: Backend): void {
  const { nb } = backend;
  const tag = 'rbac-policies';

  app.get('/v2.0/rbac-policies', { schema: { ...tagged(tag, 'List RBAC policies'), querystring: ListQuery } }, async (req, reply) => {
    const ctx = ctxOf(req);
    const entries: ListEntry[] = [];
    for (const ls of await nb.list('logical_switch')) {
      for (const p of ls.rbacPolicies ?? []) if (canSee(ctx, ls, p)) entries.push({ view: view(ls, p), order: p.createdAt ?? '' });
    }
    return sendList(req, reply, backend, 'rbac-policies', SPEC, 'network', entries, { key: 'rbac_policies' });
  });

  app.get('/v2.0/rbac-policies/:id', { schema: { ...tagged(tag, 'Show an RBAC policy'), params: IdParams, querystring: ShowQuery } }, async (req, reply) => {
    const { ls, policy } = await findPolicy(nb, ctxOf(req), req.params.id);
    return sendOne(req, reply, 'rbac_policy', view(ls, policy));
  });

  app.post('/v2.0/rbac-policies', { schema: { ...tagged(tag, 'Grant a project access to a network'), body: Type.Object({ rbac_policy: RbacCreate }, { additionalProperties: false }) } }, async (req, reply) => {
    const ctx = ctxOf(req);
    const { ls, policy } = await backend.write((tx) => createPolicy(tx, backend, ctx, req.body.rbac_policy));
    return sendCreated(reply, 'rbac_policy', 'rbac_policies', [view(ls, policy)], false);
  });

  const updateBody = Type.Object({ rbac_policy: RbacUpdate }, { additionalProperties: false });
  app.put('/v2.0/rbac-policies/:id', { schema: { ...tagged(tag, 'Change the project an RBAC policy grants to'), params: IdParams, body: updateBody } }, async (req, reply) => {
    const ctx = ctxOf(req);
    const { ls, policy } = await backend.write((tx) => updatePolicy(tx, ctx, req.params.id, req.body.rbac_policy));
    return sendOne(req, reply, 'rbac_policy', view(ls, policy));
  });

  app.delete('/v2.0/rbac-policies/:id', { schema: { ...tagged(tag, 'Revoke an RBAC policy'), params: IdParams } }, async (req, reply) => {
    const ctx = ctxOf(req);
    await backend.write((tx) => deletePolicy(tx, ctx, req.params.id));
    return reply.code(204).send();
  });
}
