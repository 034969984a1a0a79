import type { ApiConfig } from './config.js';
import { NeutronError } from './neutron/errors.js';

/** Who is asking: the project (tenant) a request acts for and whether it is an admin. */
export interface RequestContext {
  readonly projectId: string;
  readonly roles: readonly string[];
  readonly isAdmin: boolean;
}

type Headers = Record<string, string | string[] | undefined>;

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

const PROJECT_RE = /^[A-Za-z0-9_.:@-]{1,255}$/;

/**
 * Resolves the caller of a request.
 *
 * - `noauth`: the project comes from `X-Project-Id` (or `X-Tenant-Id`), else
 *   `auth.defaultProject`; roles from `X-Roles` (comma separated, admin when it holds
 *   `admin`), else admin when `auth.adminByDefault`. This is how the stock CLI with
 *   `--os-auth-type none` becomes the admin of the default project.
 * - `token`: `X-Auth-Token` must be one of `auth.tokens`; it names the project and roles.
 *   Missing or unknown tokens get 401.
 */
export function authenticate(auth: ApiConfig['auth'], headers: Headers): RequestContext {
  if (auth.mode === 'token') {
    const token = header(headers, 'x-auth-token');
    if (!token) throw new NeutronError(401, 'HTTPUnauthorized', 'Authentication required: send a token in X-Auth-Token.');
    const entry = auth.tokens.find((t) => t.token === token);
    if (!entry) throw new NeutronError(401, 'HTTPUnauthorized', 'The token in X-Auth-Token is not valid.');
    return { projectId: entry.project, roles: entry.roles, isAdmin: entry.roles.includes('admin') };
  }
  const project = header(headers, 'x-project-id') ?? header(headers, 'x-tenant-id') ?? auth.defaultProject;
  if (!PROJECT_RE.test(project)) {
    throw new NeutronError(400, 'HTTPBadRequest', `Invalid input for X-Project-Id. Reason: '${project}' may only hold letters, digits and _ . : @ - (1..255).`);
  }
  const rolesHeader = header(headers, 'x-roles');
  const roles = rolesHeader === undefined ? (auth.adminByDefault ? ['admin'] : ['member']) : rolesHeader.split(',').map((r) => r.trim()).filter(Boolean);
  return { projectId: project, roles, isAdmin: roles.includes('admin') };
}
