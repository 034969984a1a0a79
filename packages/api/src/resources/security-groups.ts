import { type NbTransaction, PROTOCOL_NUMBERS, type SecurityGroup, type SecurityGroupRule, ruleIdentity } from '@dragonflow/nb';
import type { RequestContext } from '../auth.js';
import { NeutronError, conflict, notFound } from '../neutron/errors.js';
import type { ListEntry } from '../neutron/query.js';
import {
  IdParams,
  ListQuery,
  SecurityGroupCreate,
  SecurityGroupRuleCreate,
  SecurityGroupUpdate,
  ShowQuery,
  collectionAnswer,
  createEnvelope,
  intOf,
  resourceAnswer,
  updateEnvelope,
} from '../neutron/schemas.js';
import { cidrAttr } from '../neutron/addresses.js';
import { COLLECTIONS, securityGroupRuleView, securityGroupView } from '../neutron/views.js';
import { type Backend, owns, projectFor } from '../services/backend.js';
import { defaultSecurityGroupId, egressRules, ensureDefaultSecurityGroup, unsavedDefaultGroup } from '../services/default-sg.js';
import { type ApiApp, checkRevision, createItems, ctxOf, ifMatchRevision, sendCreated, sendList, sendOne, tagged, updateItem } from './common.js';

const PORTED = new Set([6, 17, 132]);
const ICMP_V4 = 1;
const ICMP_V6 = 58;

export async function visibleGroup(tx: Pick<NbTransaction, 'get'>, ctx: RequestContext, id: string): Promise<SecurityGroup> {
  const g = await tx.get('security_group', id);
  if (!g || !owns(ctx, g)) throw notFound('security_group', id);
  return g;
}

/** A group as reads show it: the caller's default group is shown before it is saved. */
async function shownGroup(nb: Pick<NbTransaction, 'get'>, ctx: RequestContext, id: string): Promise<SecurityGroup> {
  if (id === defaultSecurityGroupId(ctx.projectId) && !(await nb.get('security_group', id))) return unsavedDefaultGroup(ctx.projectId);
  return visibleGroup(nb, ctx, id);
}

/** A group a write changes: the caller's default group is created first when it is not saved yet. */
async function groupForWrite(tx: NbTransaction, ctx: RequestContext, id: string): Promise<SecurityGroup> {
  if (id === defaultSecurityGroupId(ctx.projectId)) await ensureDefaultSecurityGroup(tx, ctx.projectId);
  return visibleGroup(tx, ctx, id);
}

/** The groups a caller sees, with its own default group (saved or not) among them. */
function withOwnDefault(groups: SecurityGroup[], ctx: RequestContext): SecurityGroup[] {
  const id = defaultSecurityGroupId(ctx.projectId);
  return groups.some((g) => g.id === id) ? groups : [unsavedDefaultGroup(ctx.projectId), ...groups];
}

function isDefault(g: SecurityGroup): boolean {
  return g.id === defaultSecurityGroupId(g.projectId);
}

/** Neutron's protocol spellings: a name, a number 0..255, 'any' or null. ICMP of an IPv6 rule is ipv6-icmp. */
function normalizeProtocol(protocol: string | number | null | undefined, ethertype: 'IPv4' | 'IPv6'): { text: string | null; number: number | null } {
  if (protocol === undefined || protocol === null) return { text: null, number: null };
  const raw = String(protocol).trim().toLowerCase();
  if (raw === 'any' || raw === '') return { text: null, number: null };
  let number: number;
  let text: string;
  if (/^\d{1,3}$/.test(raw) && Number(raw) <= 255) {
    number = Number(raw);
    text = raw;
  } else if (raw in PROTOCOL_NUMBERS) {
    number = PROTOCOL_NUMBERS[raw]!;
    text = raw;
  } else {
    throw new NeutronError(
      400,
      'SecurityGroupRuleInvalidProtocol',
      `Security group rule protocol ${String(protocol)} not supported. Only protocol values [${Object.keys(PROTOCOL_NUMBERS).join(', ')}] and integer representations [0 to 255] are supported.`,
      { field: 'protocol' },
    );
  }
  if (ethertype === 'IPv6' && number === ICMP_V4) return { text: 'ipv6-icmp', number: ICMP_V6 };
  if (ethertype === 'IPv4' && number === ICMP_V6) {
    throw new NeutronError(400, 'SecurityGroupEthertypeConflictWithProtocol', `Ethertype IPv4 is not supported by protocol ${text}.`, { field: 'protocol' });
  }
  return { text, number };
}

function checkPorts(proto: number | null, min: number | null, max: number | null): void {
  if (min === null && max === null) return;
  if (proto !== null && PORTED.has(proto)) {
    for (const [f, v] of [
      ['port_range_min', min],
      ['port_range_max', max],
    ] as const) {
      if (v !== null && (v < 1 || v > 65535)) throw new NeutronError(400, 'SecurityGroupInvalidPortValue', `Invalid value for port ${v}`, { field: f });
    }
    if (min === null || max === null || min > max) {
      throw new NeutronError(400, 'SecurityGroupInvalidPortRange', 'For TCP/UDP protocols, port_range_min must be <= port_range_max', { field: 'port_range_min' });
    }
    return;
  }
  if (proto === ICMP_V4 || proto === ICMP_V6) {
    for (const [f, v] of [
      ['port_range_min', min],
      ['port_range_max', max],
    ] as const) {
      if (v !== null && (v < 0 || v > 255)) throw new NeutronError(400, 'SecurityGroupInvalidIcmpValue', `Invalid value for ICMP ${f} (${f === 'port_range_min' ? 'type' : 'code'}): ${v}. It must be 0 to 255.`, { field: f });
    }
    if (min === null && max !== null) {
      throw new NeutronError(400, 'SecurityGroupMissingIcmpType', `ICMP code (port-range-max) ${max} is provided but ICMP type (port-range-min) is missing.`, { field: 'port_range_min' });
    }
    return;
  }
  throw new NeutronError(400, 'SecurityGroupInvalidProtocolForPortRange', `Invalid protocol ${proto ?? 'any'} for port range, only supported for TCP, UDP, SCTP and ICMP.`, { field: 'port_range_min' });
}

async function buildRule(tx: NbTransaction, ctx: RequestContext, group: SecurityGroup, body: SecurityGroupRuleCreate, id: string): Promise<SecurityGroupRule> {
  const ethertype = body.ethertype ?? 'IPv4';
  const remoteIp = body.remote_ip_prefix ?? null;
  const remoteGroup = body.remote_group_id ?? null;
  if (remoteIp !== null && remoteGroup !== null) {
    throw new NeutronError(400, 'SecurityGroupRemoteGroupAndRemoteIpPrefix', 'Only remote_ip_prefix or remote_group_id may be provided.', { field: 'remote_group_id' });
  }
  let prefix: string | null = null;
  if (remoteIp !== null) {
    const net = cidrAttr('remote_ip_prefix', remoteIp);
    if (`IPv${net.family}` !== ethertype) {
      throw new NeutronError(400, 'SecurityGroupRuleParameterConflict', `Conflicting value ethertype ${ethertype} for CIDR ${remoteIp}`, { field: 'remote_ip_prefix' });
    }
    prefix = net.toString();
  }
  if (remoteGroup !== null && remoteGroup !== group.id) {
    const rg = await tx.get('security_group', remoteGroup);
    if (!rg || !(ctx.isAdmin || rg.projectId === group.projectId)) throw notFound('security_group', remoteGroup);
  }
  const proto = normalizeProtocol(body.protocol, ethertype);
  const min = intOf(body.port_range_min) ?? null;
  const max = intOf(body.port_range_max) ?? null;
  checkPorts(proto.number, min, max);
  return {
    id,
    direction: body.direction,
    ethertype,
    protocol: proto.text,
    portRangeMin: min,
    portRangeMax: max,
    remoteIpPrefix: prefix,
    remoteGroupId: remoteGroup,
    description: body.description ?? '',
  };
}

function ruleOwner(groups: SecurityGroup[], ruleId: string): { group: SecurityGroup; rule: SecurityGroupRule } | undefined {
  for (const group of groups) {
    const rule = group.rules.find((r) => r.id === ruleId);
    if (rule) return { group, rule };
  }
  return undefined;
}

async function createGroup(tx: NbTransaction, ctx: RequestContext, body: SecurityGroupCreate, newId: () => string): Promise<SecurityGroup> {
  const projectId = projectFor(ctx, body);
  await ensureDefaultSecurityGroup(tx, projectId);
  if (body.name === 'default') throw conflict('SecurityGroupDefaultAlreadyExists', 'Default security group already exists.', { field: 'name' });
  return tx.create('security_group', {
    projectId,
    name: body.name ?? '',
    description: body.description ?? '',
    stateful: body.stateful ?? true,
    rules: egressRules(newId),
  });
}

async function updateGroup(tx: NbTransaction, ctx: RequestContext, id: string, body: SecurityGroupUpdate, revision: number | undefined): Promise<SecurityGroup> {
  const g = await groupForWrite(tx, ctx, id);
  checkRevision(revision, g.version);
  if (isDefault(g) && body.name !== undefined && body.name !== 'default') throw conflict('SecurityGroupCannotUpdateDefault', 'Updating default security group not allowed.', { field: 'name' });
  if (!isDefault(g) && body.name === 'default') throw conflict('SecurityGroupDefaultAlreadyExists', 'Default security group already exists.', { field: 'name' });
  if (body.stateful !== undefined && body.stateful !== g.stateful && (await tx.lookup('logical_port', 'securityGroup', id)).length > 0) {
    throw conflict('SecurityGroupInUse', `Security Group ${id} in use: stateful cannot change while ports use it.`, { field: 'stateful' });
  }
  return tx.update('security_group', { ...g, name: body.name ?? g.name, description: body.description ?? g.description, stateful: body.stateful ?? g.stateful });
}

async function deleteGroup(tx: NbTransaction, ctx: RequestContext, id: string, revision: number | undefined): Promise<void> {
  const g = await shownGroup(tx, ctx, id);
  checkRevision(revision, g.version);
  if (isDefault(g) && !ctx.isAdmin) throw conflict('SecurityGroupCannotRemoveDefault', 'Insufficient rights for removing default security group.');
  if (g.version === 0) return; // an unsaved default group: nothing to delete
  if ((await tx.lookup('logical_port', 'securityGroup', id)).length > 0) throw conflict('SecurityGroupInUse', `Security Group ${id} in use.`);
  // Rules of other groups that name this one as their remote go with it.
  for (const other of await tx.lookup('security_group', 'remoteGroup', id)) {
    if (other.id === id) continue;
    await tx.update('security_group', { ...other, rules: other.rules.filter((r) => r.remoteGroupId !== id) });
  }
  await tx.delete('security_group', id);
}

export function registerSecurityGroups(app: ApiApp, backend: Backend): void {
  const { nb } = backend;
  const newRuleId = (): string => globalThis.crypto.randomUUID();

  app.get('/v2.0/security-groups', { schema: { ...tagged('security-groups', 'List security groups'), querystring: ListQuery, response: { 200: collectionAnswer('security_groups') } } }, async (req, reply) => {
    const ctx = ctxOf(req);
    const entries: ListEntry[] = withOwnDefault(await nb.list('security_group', (g) => owns(ctx, g)), ctx).map((g) => ({ view: securityGroupView(g), order: g.createdAt ?? '' }));
    return sendList(req, reply, backend, 'security_groups', COLLECTIONS['security-groups'], 'security_group', entries);
  });

  app.get(
    '/v2.0/security-groups/:id',
    { schema: { ...tagged('security-groups', 'Show a security group'), params: IdParams, querystring: ShowQuery, response: { 200: resourceAnswer('security_group') } } },
    async (req, reply) => {
      const g = await shownGroup(nb, ctxOf(req), req.params.id);
      return sendOne(req, reply, 'security_group', securityGroupView(g));
    },
  );

  app.post(
    '/v2.0/security-groups',
    {
      schema: {
        ...tagged('security-groups', 'Create a security group (with egress rules)'),
        body: createEnvelope('security_group', 'security_groups', SecurityGroupCreate),
        response: { 201: resourceAnswer('security_group') },
      },
    },
    async (req, reply) => {
      const ctx = ctxOf(req);
      const { items, bulk } = createItems<SecurityGroupCreate>(req.body, 'security_group', 'security_groups', backend.config.limits);
      const quota = backend.quotaCheck();
      const created = await backend.write(async (tx) => {
        const out: SecurityGroup[] = [];
        for (const item of items) {
          const g = await createGroup(tx, ctx, item, newRuleId);
          await quota.enforce(tx, g.projectId, 'security_group');
          out.push(g);
        }
        return out;
      });
      return sendCreated(reply, 'security_group', 'security_groups', created.map(securityGroupView), bulk);
    },
  );

  app.put(
    '/v2.0/security-groups/:id',
    { schema: { ...tagged('security-groups', 'Update a security group'), params: IdParams, body: updateEnvelope('security_group', SecurityGroupUpdate), response: { 200: resourceAnswer('security_group') } } },
    async (req, reply) => {
      const ctx = ctxOf(req);
      const body = updateItem<SecurityGroupUpdate>(req.body, 'security_group');
      const revision = ifMatchRevision(req);
      const g = await backend.write((tx) => updateGroup(tx, ctx, req.params.id, body, revision));
      return sendOne(req, reply, 'security_group', securityGroupView(g));
    },
  );

  app.delete('/v2.0/security-groups/:id', { schema: { ...tagged('security-groups', 'Delete a security group'), params: IdParams } }, async (req, reply) => {
    const ctx = ctxOf(req);
    const revision = ifMatchRevision(req);
    await backend.write((tx) => deleteGroup(tx, ctx, req.params.id, revision));
    return reply.code(204).send();
  });

  // ---------------------------------------------------------------- rules

  app.get(
    '/v2.0/security-group-rules',
    { schema: { ...tagged('security-group-rules', 'List security group rules'), querystring: ListQuery, response: { 200: collectionAnswer('security_group_rules') } } },
    async (req, reply) => {
      const ctx = ctxOf(req);
      const entries: ListEntry[] = withOwnDefault(await nb.list('security_group', (g) => owns(ctx, g)), ctx).flatMap((g) =>
        g.rules.map((r, i) => ({ view: securityGroupRuleView(g, r), order: `${g.createdAt ?? ''}/${String(i).padStart(6, '0')}` })),
      );
      return sendList(req, reply, backend, 'security_group_rules', COLLECTIONS['security-group-rules'], 'security_group_rule', entries);
    },
  );

  app.get(
    '/v2.0/security-group-rules/:id',
    { schema: { ...tagged('security-group-rules', 'Show a security group rule'), params: IdParams, querystring: ShowQuery, response: { 200: resourceAnswer('security_group_rule') } } },
    async (req, reply) => {
      const ctx = ctxOf(req);
      const hit = ruleOwner(withOwnDefault(await nb.list('security_group', (g) => owns(ctx, g)), ctx), req.params.id);
      if (!hit) throw notFound('security_group_rule', req.params.id);
      return sendOne(req, reply, 'security_group_rule', securityGroupRuleView(hit.group, hit.rule));
    },
  );

  app.post(
    '/v2.0/security-group-rules',
    {
      schema: {
        ...tagged('security-group-rules', 'Add a rule to a security group'),
        body: createEnvelope('security_group_rule', 'security_group_rules', SecurityGroupRuleCreate),
        response: { 201: resourceAnswer('security_group_rule') },
      },
    },
    async (req, reply) => {
      const ctx = ctxOf(req);
      const { items, bulk } = createItems<SecurityGroupRuleCreate>(req.body, 'security_group_rule', 'security_group_rules', backend.config.limits);
      const quota = backend.quotaCheck();
      const created = await backend.write(async (tx) => {
        const out: { group: SecurityGroup; rule: SecurityGroupRule }[] = [];
        for (const item of items) {
          const g = await groupForWrite(tx, ctx, item.security_group_id);
          projectFor(ctx, item);
          const rule = await buildRule(tx, ctx, g, item, newRuleId());
          const same = g.rules.find((r) => ruleIdentity(r) === ruleIdentity(rule));
          if (same) throw conflict('SecurityGroupRuleExists', `Security group rule already exists. Rule id is ${same.id}.`);
          const updated = await tx.update('security_group', { ...g, rules: [...g.rules, rule] });
          await quota.enforce(tx, updated.projectId, 'security_group_rule');
          out.push({ group: updated, rule });
        }
        return out;
      });
      return sendCreated(
        reply,
        'security_group_rule',
        'security_group_rules',
        created.map((c) => securityGroupRuleView(c.group, c.rule)),
        bulk,
      );
    },
  );

  app.delete('/v2.0/security-group-rules/:id', { schema: { ...tagged('security-group-rules', 'Delete a security group rule'), params: IdParams } }, async (req, reply) => {
    const ctx = ctxOf(req);
    await backend.write(async (tx) => {
      const hit = ruleOwner(withOwnDefault((await tx.list('security_group')).filter((g) => owns(ctx, g)), ctx), req.params.id);
      if (!hit) throw notFound('security_group_rule', req.params.id);
      const fresh = await groupForWrite(tx, ctx, hit.group.id);
      await tx.update('security_group', { ...fresh, rules: fresh.rules.filter((r) => r.id !== req.params.id) });
    });
    return reply.code(204).send();
  });
}
