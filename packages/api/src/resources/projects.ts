import { Type } from 'typebox';
import type { RequestContext } from '../auth.js';
import { NeutronError } from '../neutron/errors.js';
import type { Backend } from '../services/backend.js';
import { QUOTA_TABLE } from '../services/quotas.js';
import { type ApiApp, baseUrl, ctxOf, tagged } from './common.js';

const PROJECT_RE = /^[A-Za-z0-9_.:@-]{1,255}$/;
const OWNED_TABLES = ['logical_switch', 'subnet', 'logical_port', 'logical_router', 'floating_ip', 'security_group'] as const;

function projectView(id: string, base: string) {
  return { id, name: id, domain_id: 'default', description: '', enabled: true, is_domain: false, parent_id: 'default', tags: [], options: {}, links: { self: `${base}/projects/${id}` } };
}

function identityNotFound(id: string): NeutronError {
  // Keystone's error shape is {"error": {...}}; clients only look at the status here.
  return new NeutronError(404, 'HTTPNotFound', `Could not find project: ${id}.`);
}

function visible(ctx: RequestContext, id: string): boolean {
  return ctx.isAdmin || id === ctx.projectId;
}

/**
 * A Keystone-shaped project lookup (`GET /projects/{id}`, `GET /projects?name=`) for
 * clients used without Keystone. The openstack CLI resolves a project name through
 * the identity service before `quota set PROJECT`; with `--os-auth-type none` every
 * service is this endpoint, so df-api answers it. df-api has no project registry: a
 * project is any well-formed id; the list holds the projects that own something or
 * have quotas. Admins see every project, others their own.
 */
export function registerProjects(app: ApiApp, backend: Backend): void {
  const { nb } = backend;
  const tag = 'identity';

  app.get('/projects/:id', { schema: { ...tagged(tag, 'A project (Keystone-shaped, for clients without Keystone)'), params: Type.Object({ id: Type.String({ maxLength: 255 }) }) } }, async (req) => {
    const ctx = ctxOf(req);
    const id = req.params.id;
    if (!PROJECT_RE.test(id) || !visible(ctx, id)) throw identityNotFound(id);
    return { project: projectView(id, baseUrl(req, backend)) };
  });

  app.get('/projects', { schema: { ...tagged(tag, 'Projects (Keystone-shaped, for clients without Keystone)'), querystring: Type.Object({}, { additionalProperties: true }) } }, async (req) => {
    const ctx = ctxOf(req);
    const q = req.query as Record<string, string | string[] | undefined>;
    const names = q['name'] === undefined ? undefined : Array.isArray(q['name']) ? q['name'] : [q['name']];
    const ids = new Set<string>([ctx.projectId]);
    if (ctx.isAdmin) {
      for (const table of OWNED_TABLES) for (const o of await nb.list(table)) if (o.projectId !== '') ids.add(o.projectId);
      for (const r of (await nb.driver.list(QUOTA_TABLE)).records) ids.add(r.id);
    }
    const base = baseUrl(req, backend);
    const projects = [...ids]
      .filter((id) => visible(ctx, id) && (names === undefined || names.includes(id)))
      .sort()
      .map((id) => projectView(id, base));
    return { projects, links: { self: `${base}/projects`, next: null, previous: null } };
  });
}
