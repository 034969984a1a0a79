import { Type } from 'typebox';
import type { RequestContext } from '../auth.js';
import { NeutronError, badAttribute } from '../neutron/errors.js';
import { intOf } from '../neutron/schemas.js';
import type { Backend } from '../services/backend.js';
import { QUOTA_RESOURCES, type QuotaResource, type QuotaSet, usage } from '../services/quotas.js';
import { type ApiApp, ctxOf, tagged } from './common.js';

const PROJECT_RE = /^[A-Za-z0-9_.:@-]{1,255}$/;

const ProjectParams = Type.Object({ project_id: Type.String({ maxLength: 255 }) });

const IntLike = Type.Union([Type.Integer(), Type.String({ pattern: '^\\s*-?[0-9]{1,10}\\s*$' })], { title: 'integer' });
const QuotaBody = Type.Object(
  {
    quota: Type.Object(
      {
        ...Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, Type.Optional(IntLike)])),
        /** Neutron's quota-check-limit: refuse a limit below what the project already uses. */
        check_limit: Type.Optional(Type.Boolean()),
        force: Type.Optional(Type.Boolean()),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
type QuotaBody = { quota: Partial<Record<QuotaResource, number | string>> & { check_limit?: boolean; force?: boolean } };

function adminRequired(reason: string): NeutronError {
  return new NeutronError(403, 'AdminRequired', `User does not have admin privileges: ${reason}`);
}

/** The project of a quota URL; only an admin may name another project than its own. */
function projectOf(ctx: RequestContext, id: string, write: boolean): string {
  if (!PROJECT_RE.test(id)) throw badAttribute('project_id', `'${id}' may only hold letters, digits and _ . : @ - (1..255)`);
  if (write && !ctx.isAdmin) throw adminRequired('Only admin can view or configure quota.');
  if (!ctx.isAdmin && id !== ctx.projectId) throw adminRequired('Only admin is authorized to access quotas for another tenant.');
  return id;
}

/**
 * Neutron's quota API (extensions quotas, quota_details, quota-check-limit):
 * `GET /v2.0/quotas` (admin: projects with non-default quotas), `GET/PUT/DELETE
 * /v2.0/quotas/{project}`, `…/details` (limit, used, reserved) and `…/default`.
 */
export function registerQuotas(app: ApiApp, backend: Backend): void {
  const { quotas, nb } = backend;
  const tag = 'quotas';

  app.get('/v2.0/quotas', { schema: { ...tagged(tag, 'Quotas of every project with non-default ones (admin)') } }, async (req) => {
    const ctx = ctxOf(req);
    if (!ctx.isAdmin) throw adminRequired('Only admin can view or configure quota.');
    return { quotas: (await quotas.all()).map((q) => ({ ...q.limits, project_id: q.projectId, tenant_id: q.projectId })) };
  });

  // The caller's own project, as Neutron answers it (clients use it to learn their project id).
  app.get('/v2.0/quotas/tenant', { schema: { ...tagged(tag, "The caller's project") } }, async (req) => ({ tenant: { tenant_id: ctxOf(req).projectId } }));

  app.get('/v2.0/quotas/:project_id', { schema: { ...tagged(tag, "A project's quotas"), params: ProjectParams } }, async (req) => {
    const project = projectOf(ctxOf(req), req.params.project_id, false);
    return { quota: await quotas.limits(project) };
  });

  app.get('/v2.0/quotas/:project_id/default', { schema: { ...tagged(tag, 'The default quotas'), params: ProjectParams } }, async (req) => {
    const project = projectOf(ctxOf(req), req.params.project_id, false);
    return { quota: { ...quotas.defaults, project_id: project, tenant_id: project } };
  });

  app.get('/v2.0/quotas/:project_id/details', { schema: { ...tagged(tag, "A project's quotas with what it uses"), params: ProjectParams } }, async (req) => {
    const project = projectOf(ctxOf(req), req.params.project_id, false);
    const limits = await quotas.limits(project);
    const quota: Record<string, { limit: number; used: number; reserved: number }> = {};
    for (const r of QUOTA_RESOURCES) quota[r] = { limit: limits[r], used: await usage(nb, project, r), reserved: 0 };
    return { quota };
  });

  app.put('/v2.0/quotas/:project_id', { schema: { ...tagged(tag, "Set a project's quotas (admin)"), params: ProjectParams, body: QuotaBody } }, async (req) => {
    const project = projectOf(ctxOf(req), req.params.project_id, true);
    const body = req.body as QuotaBody;
    const changes: Partial<QuotaSet> = {};
    for (const r of QUOTA_RESOURCES) {
      const v = body.quota[r];
      if (v === undefined) continue;
      const n = intOf(v);
      if (n < -1) throw badAttribute(r, `'${n}' should be greater than or equal to -1`);
      if (body.quota.check_limit === true && n >= 0) {
        const used = await usage(nb, project, r);
        if (used > n) {
          throw new NeutronError(400, 'InvalidQuotaValue', `Quota limit ${n} for ${r} must be greater than or equal to already used and reserved ${used}.`, { field: r });
        }
      }
      changes[r] = n;
    }
    return { quota: await quotas.set(project, changes) };
  });

  app.delete('/v2.0/quotas/:project_id', { schema: { ...tagged(tag, "Reset a project's quotas to the defaults (admin)"), params: ProjectParams } }, async (req, reply) => {
    const project = projectOf(ctxOf(req), req.params.project_id, true);
    await quotas.reset(project);
    return reply.code(204).send();
  });
}
