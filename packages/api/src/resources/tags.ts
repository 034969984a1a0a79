import type { NbTransaction } from '@dragonflow/nb';
import { Type } from 'typebox';
import type { RequestContext } from '../auth.js';
import { NeutronError, type ResourceKind, badAttribute, policyNotAuthorized } from '../neutron/errors.js';
import { type Backend, owns } from '../services/backend.js';
import { ensureDefaultSecurityGroup, defaultSecurityGroupId, unsavedDefaultGroup } from '../services/default-sg.js';
import { type ApiApp, ctxOf, tagged } from './common.js';
import { visibleFloatingIp } from './floating-ips.js';
import { visibleNetwork } from './networks.js';
import { visiblePort } from './ports.js';
import { visibleRouter } from './routers.js';
import { visibleGroup } from './security-groups.js';
import { visibleSubnet } from './subnets.js';

/*
 * standard-attr-tag: labels on networks, subnets, ports, routers, security groups and
 * floating IPs, set with /v2.0/COLLECTION/ID/tags[/TAG] and matched by the list
 * filters tags, tags-any, not-tags and not-tags-any (neutron/query.ts).
 */

type Tx = Pick<NbTransaction, 'get' | 'lookup'>;
type TaggedTable = 'logical_switch' | 'subnet' | 'logical_port' | 'logical_router' | 'security_group' | 'floating_ip';

interface Collection {
  collection: string;
  kind: ResourceKind;
  table: TaggedTable;
  /** The object when the caller may see it, else the resource's NotFound. */
  visible(tx: Tx, ctx: RequestContext, id: string): Promise<{ id: string; projectId: string; tags?: string[] | undefined }>;
}

const COLLECTIONS: readonly Collection[] = [
  { collection: 'networks', kind: 'network', table: 'logical_switch', visible: visibleNetwork },
  { collection: 'subnets', kind: 'subnet', table: 'subnet', visible: visibleSubnet },
  { collection: 'ports', kind: 'port', table: 'logical_port', visible: async (tx, ctx, id) => (await visiblePort(tx, ctx, id)).port },
  { collection: 'routers', kind: 'router', table: 'logical_router', visible: visibleRouter },
  {
    collection: 'security-groups',
    kind: 'security_group',
    table: 'security_group',
    // The caller's default group exists for it before it is saved (created on first write).
    visible: async (tx, ctx, id) => (id === defaultSecurityGroupId(ctx.projectId) && !(await tx.get('security_group', id)) ? unsavedDefaultGroup(ctx.projectId) : visibleGroup(tx, ctx, id)),
  },
  { collection: 'floatingips', kind: 'floatingip', table: 'floating_ip', visible: visibleFloatingIp },
];

/** Neutron's limit on one tag. */
const MAX_TAG_LENGTH = 255;
/** More than any client uses; keeps one object's stored size bounded. */
const MAX_TAGS = 1000;

function checkTag(tag: string): string {
  if (tag.length === 0 || tag.length > MAX_TAG_LENGTH) throw badAttribute('tags', `'${tag.slice(0, 40)}' is not a string of 1 to ${MAX_TAG_LENGTH} characters`);
  return tag;
}

function tagNotFound(tag: string, kind: ResourceKind, id: string): NeutronError {
  return new NeutronError(404, 'TagNotFound', `Tag ${tag} could not be found.`, { tag, kind, id });
}

const TagsBody = Type.Object({ tags: Type.Array(Type.String()) }, { additionalProperties: false });
const TagParams = Type.Object({ id: Type.String(), tag: Type.String() });
const IdOnly = Type.Object({ id: Type.String() });

export function registerTags(app: ApiApp, backend: Backend): void {
  const { nb } = backend;

  for (const c of COLLECTIONS) {
    const doc = (summary: string) => tagged('tags', `${summary} (${c.collection})`);

    /** Reads the tags of an object the caller may see. */
    const read = async (ctx: RequestContext, id: string): Promise<string[]> => (await c.visible(nb, ctx, id)).tags ?? [];

    /** Rewrites the tags of an object the caller owns; `change` gets the current tags. */
    const write = (ctx: RequestContext, id: string, change: (tags: string[]) => string[]): Promise<string[]> =>
      backend.write(async (tx) => {
        if (c.table === 'security_group' && id === defaultSecurityGroupId(ctx.projectId)) await ensureDefaultSecurityGroup(tx, ctx.projectId);
        const seen = await c.visible(tx, ctx, id);
        // Shared and external networks are visible to all, changeable by their project only.
        if (!owns(ctx, seen)) throw policyNotAuthorized(`update_${c.kind}:tags`);
        const next = change(seen.tags ?? []);
        if (next.length > MAX_TAGS) throw badAttribute('tags', `more than ${MAX_TAGS} tags`);
        // The object as read in this transaction (the update is checked against its version).
        const obj = await tx.require(c.table, id);
        // The six tables share the base fields, tags among them; TypeScript cannot pair a union table with its object type.
        await tx.update(c.table, { ...obj, tags: next } as never);
        return next;
      });

    const base = `/v2.0/${c.collection}/:id/tags`;
    app.get(base, { schema: { ...doc('List the tags of a resource'), params: IdOnly } }, async (req) => ({ tags: await read(ctxOf(req), req.params.id) }));

    app.get(`${base}/:tag`, { schema: { ...doc('Check that a resource has a tag'), params: TagParams } }, async (req, reply) => {
      const tags = await read(ctxOf(req), req.params.id);
      if (!tags.includes(req.params.tag)) throw tagNotFound(req.params.tag, c.kind, req.params.id);
      return reply.code(204).send();
    });

    app.put(base, { schema: { ...doc('Replace all tags of a resource'), params: IdOnly, body: TagsBody } }, async (req) => {
      const wanted = [...new Set(req.body.tags.map(checkTag))];
      return { tags: await write(ctxOf(req), req.params.id, () => wanted) };
    });

    app.put(`${base}/:tag`, { schema: { ...doc('Add a tag to a resource'), params: TagParams } }, async (req, reply) => {
      const tag = checkTag(req.params.tag);
      await write(ctxOf(req), req.params.id, (tags) => (tags.includes(tag) ? tags : [...tags, tag]));
      return reply.code(201).send();
    });

    app.delete(base, { schema: { ...doc('Remove all tags of a resource'), params: IdOnly } }, async (req, reply) => {
      await write(ctxOf(req), req.params.id, () => []);
      return reply.code(204).send();
    });

    app.delete(`${base}/:tag`, { schema: { ...doc('Remove a tag from a resource'), params: TagParams } }, async (req, reply) => {
      const { id, tag } = req.params;
      await write(ctxOf(req), id, (tags) => {
        if (!tags.includes(tag)) throw tagNotFound(tag, c.kind, id);
        return tags.filter((t) => t !== tag);
      });
      return reply.code(204).send();
    });
  }
}
