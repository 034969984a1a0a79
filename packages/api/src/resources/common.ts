import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { RequestContext } from '../auth.js';
import type { ApiConfig } from '../config.js';
import { checkBulkCount } from '../neutron/limits.js';
import { NeutronError, type ResourceKind, notFound } from '../neutron/errors.js';
import { type CollectionSpec, type Dict, type ListEntry, type RawQuery, applyListQuery, parseListQuery, pick } from '../neutron/query.js';
import type { Backend } from '../services/backend.js';

export type ApiApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller, set by the auth hook on /v2.0 routes. */
    neutron: RequestContext | undefined;
  }
}

export function ctxOf(req: FastifyRequest): RequestContext {
  if (!req.neutron) throw new NeutronError(401, 'HTTPUnauthorized', 'Authentication required.');
  return req.neutron;
}

/** Base URL of links we hand out: the configured public URL, else what the client used. */
export function baseUrl(req: FastifyRequest, backend: Backend): string {
  if (backend.config.publicUrl) return backend.config.publicUrl.replace(/\/+$/, '');
  return `${req.protocol}://${req.host}`;
}

/** The items of a create body: `{member: {...}}` or bulk `{collection: [...]}`. */
export function createItems<T>(body: unknown, member: string, collection: string, limits: ApiConfig['limits']): { items: T[]; bulk: boolean } {
  const b = (body ?? {}) as Record<string, unknown>;
  const one = b[member];
  const many = b[collection];
  if (one !== undefined && many !== undefined) throw new NeutronError(400, 'HTTPBadRequest', `Send either '${member}' or '${collection}' in the request body, not both.`);
  if (one !== undefined) return { items: [one as T], bulk: false };
  if (Array.isArray(many)) {
    checkBulkCount(limits, collection, many.length);
    return { items: many as T[], bulk: true };
  }
  throw new NeutronError(400, 'HTTPBadRequest', `Resource body required: expected '${member}' (or '${collection}' for a bulk create) in the request body.`);
}

export function updateItem<T>(body: unknown, member: string): T {
  const b = (body ?? {}) as Record<string, unknown>;
  if (b[member] === undefined) throw new NeutronError(400, 'HTTPBadRequest', `Resource body required: expected '${member}' in the request body.`);
  return b[member] as T;
}

/** The version an `If-Match: revision_number=N` header asks for (revision-if-match). */
export function ifMatchRevision(req: FastifyRequest): number | undefined {
  const h = req.headers['if-match'];
  if (h === undefined) return undefined;
  const m = /^revision_number=(\d+)$/.exec(String(h).trim());
  if (!m) throw new NeutronError(400, 'HTTPBadRequest', `Invalid input for If-Match. Reason: '${String(h)}' is not revision_number=N.`, { field: 'If-Match' });
  return Number(m[1]);
}

export function checkRevision(expected: number | undefined, actual: number): void {
  if (expected !== undefined && expected !== actual) {
    throw new NeutronError(412, 'RevisionNumberConstraintFailed', `Constrained to ${expected}, but current revision is ${actual}`);
  }
}

/**
 * A list answer. `options.key` names the body's collection when it differs from the
 * URL's (network_ip_availabilities); `options.query` replaces the request's query
 * when a handler already applied some parameters itself.
 */
export function sendList(req: FastifyRequest, reply: FastifyReply, backend: Backend, collection: string, spec: CollectionSpec, kind: ResourceKind, entries: ListEntry[], options: { key?: string; query?: RawQuery } = {}): FastifyReply {
  const raw = options.query ?? (req.query as RawQuery);
  const key = options.key ?? collection;
  const q = parseListQuery(raw, spec);
  const listing = applyListQuery(entries, q, { url: `${baseUrl(req, backend)}/v2.0/${collection}`, raw }, (id) => notFound(kind, id));
  const body: Dict = { [key]: listing.items };
  if (listing.links.length > 0) body[`${key}_links`] = listing.links;
  return reply.send(body);
}

export function sendOne(req: FastifyRequest, reply: FastifyReply, member: string, view: Dict, status = 200): FastifyReply {
  const raw = req.query as RawQuery;
  const f = raw['fields'];
  const fields = f === undefined ? null : (Array.isArray(f) ? f : [f]).flatMap((s) => s.split(',')).filter(Boolean);
  return reply.code(status).send({ [member]: pick(view, fields) });
}

/** A create answer: `{member: view}`, or `{collection: [views]}` for a bulk create. */
export function sendCreated(reply: FastifyReply, member: string, collection: string, views: Dict[], bulk: boolean): FastifyReply {
  return reply.code(201).send(bulk ? { [collection]: views } : { [member]: views[0] });
}

/** Standard list/show answer documentation and error answers for the OpenAPI description. */
export function tagged(tag: string, summary: string): { tags: string[]; summary: string } {
  return { tags: [tag], summary };
}
