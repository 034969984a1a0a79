import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiConfig } from './config.js';
import { NeutronError, policyNotAuthorized } from './neutron/errors.js';

/** Who is asking: the project (tenant) a request acts for and whether it is an admin. */
export interface RequestContext {
  readonly projectId: string;
  readonly roles: readonly string[];
  readonly isAdmin: boolean;
  /** May only read (Keystone's `reader` without `member`, or X-Roles: reader): every write is a 403. */
  readonly readOnly?: boolean;
}

type Headers = Record<string, string | string[] | undefined>;

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

const PROJECT_RE = /^[A-Za-z0-9_.:@-]{1,255}$/;

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * The configured token equal to `token`. Digests of equal length are compared with
 * timingSafeEqual, and every entry is compared (no early exit), so the answer time
 * tells nothing about how much of a token was right.
 */
function findToken(tokens: ApiConfig['auth']['tokens'], token: string): ApiConfig['auth']['tokens'][number] | undefined {
  const asked = digest(token);
  let found: ApiConfig['auth']['tokens'][number] | undefined;
  for (const t of tokens) {
    if (timingSafeEqual(digest(t.token), asked) && found === undefined) found = t;
  }
  return found;
}

/**
 * Resolves the caller of a request.
 *
 * - `noauth`: without `X-Project-Id` (or `X-Tenant-Id`) the caller is the admin of
 *   `auth.defaultProject` (a member when `auth.adminByDefault` is false): that is
 *   the stock CLI with `--os-auth-type none`. With a project header the caller is a
 *   member of that project. `X-Roles` (comma separated) overrides the roles in
 *   both cases; `admin` among them makes an admin.
 * - `token`: `X-Auth-Token` must be one of `auth.tokens`; it names the project and roles.
 *   Missing or unknown tokens get 401.
 * - `keystone`: not here, see KeystoneAuth (keystone/auth.ts).
 *
 * A caller whose roles hold `reader` but neither `member` nor `admin` may only read.
 */
export function authenticate(auth: ApiConfig['auth'], headers: Headers): RequestContext {
  if (auth.mode === 'keystone') throw new NeutronError(500, 'HTTPInternalServerError', 'keystone mode authenticates with KeystoneAuth, not authenticate()');
  if (auth.mode === 'token') {
    const token = header(headers, 'x-auth-token');
    if (!token) throw new NeutronError(401, 'HTTPUnauthorized', 'Authentication required: send a token in X-Auth-Token.');
    const entry = findToken(auth.tokens, token);
    if (!entry) throw new NeutronError(401, 'HTTPUnauthorized', 'The token in X-Auth-Token is not valid.');
    return { projectId: entry.project, roles: entry.roles, isAdmin: entry.roles.includes('admin'), readOnly: isReaderOnly(entry.roles) };
  }
  const asked = header(headers, 'x-project-id') ?? header(headers, 'x-tenant-id');
  const project = asked ?? auth.defaultProject;
  if (!PROJECT_RE.test(project)) {
    throw new NeutronError(400, 'HTTPBadRequest', `Invalid input for X-Project-Id. Reason: '${project}' may only hold letters, digits and _ . : @ - (1..255).`, { field: 'X-Project-Id' });
  }
  const rolesHeader = header(headers, 'x-roles');
  const defaultRoles = asked === undefined && auth.adminByDefault ? ['admin'] : ['member'];
  const roles = rolesHeader === undefined ? defaultRoles : rolesHeader.split(',').map((r) => r.trim()).filter(Boolean);
  return { projectId: project, roles, isAdmin: roles.includes('admin'), readOnly: isReaderOnly(roles) };
}

function isReaderOnly(roles: readonly string[]): boolean {
  return roles.includes('reader') && !roles.includes('member') && !roles.includes('admin');
}

const READS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Neutron's policy name for a write on a route: POST /v2.0/networks is
 * create_network, PUT /v2.0/routers/:id/add_router_interface is add_router_interface.
 */
export function policyAction(method: string, route: string): string {
  const parts = route.split('/').filter((p) => p !== '' && p !== 'v2.0');
  const collection = parts.find((p) => !p.startsWith(':')) ?? 'resource';
  const last = parts[parts.length - 1]!;
  if (parts.length > 2 && !last.startsWith(':')) return last.replace(/-/g, '_');
  const member = collection.replace(/-/g, '_').replace(/ies$/, 'y').replace(/s$/, '');
  const verb = method === 'POST' ? 'create' : method === 'DELETE' ? 'delete' : 'update';
  return `${verb}_${member}`;
}

/** Refuses a write by a read-only caller with Neutron's 403 policy error. */
export function checkWriteAllowed(ctx: RequestContext, method: string, route: string): void {
  if (ctx.readOnly && !READS.has(method)) throw policyNotAuthorized(policyAction(method, route));
}
