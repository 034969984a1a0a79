import { DeviceOwner, type LogicalSwitch, type NbTransaction, type Subnet } from '@dragonflow/nb';
import type { RequestContext } from '../auth.js';
import { badAttribute, conflict, invalidInput, notFound, policyNotAuthorized } from '../neutron/errors.js';
import type { ListEntry } from '../neutron/query.js';
import { IdParams, ListQuery, NetworkCreate, NetworkUpdate, ShowQuery, collectionAnswer, createEnvelope, intOf, resourceAnswer, updateEnvelope } from '../neutron/schemas.js';
import { COLLECTIONS, networkView } from '../neutron/views.js';
import { type Backend, canSeeNetwork, owns, projectFor, requireAdminFor } from '../services/backend.js';
import { checkDnsDomain } from '../services/dns.js';
import { grantsForFlags, sharedWith } from '../services/rbac.js';
import { chooseSegment, maxMtu } from '../services/segments.js';
import { checkZoneHints, zoneNames } from '../services/zones.js';
import { type ApiApp, checkRevision, createItems, ctxOf, ifMatchRevision, sendCreated, sendList, sendOne, tagged, updateItem } from './common.js';

const PROVIDER = ['provider:network_type', 'provider:physical_network', 'provider:segmentation_id'] as const;

/** A network the caller may see, else NetworkNotFound (others' networks do not exist for them). */
export async function visibleNetwork(tx: Pick<NbTransaction, 'get'>, ctx: RequestContext, id: string): Promise<LogicalSwitch> {
  const ls = await tx.get('logical_switch', id);
  if (!ls || !canSeeNetwork(ctx, ls)) throw notFound('network', id);
  return ls;
}

function checkMtu(backend: Backend, type: LogicalSwitch['networkType'], mtu: number): void {
  const max = maxMtu(backend.config, type);
  if (mtu < 68) throw badAttribute('mtu', `${mtu} is smaller than the minimum 68`);
  if (mtu > max) throw invalidInput(`Requested MTU is too big, maximum is ${max}`, 'mtu');
}

async function createNetwork(tx: NbTransaction, backend: Backend, ctx: RequestContext, body: NetworkCreate): Promise<LogicalSwitch> {
  requireAdminFor(ctx, 'create_network', body, [...PROVIDER, 'router:external', 'shared']);
  const projectId = projectFor(ctx, body);
  const segment = await chooseSegment(tx, backend.config, {
    networkType: body['provider:network_type'],
    physicalNetwork: body['provider:physical_network'],
    segmentationId: intOf(body['provider:segmentation_id']),
  });
  const mtu = body.mtu === undefined ? maxMtu(backend.config, segment.networkType) : intOf(body.mtu);
  checkMtu(backend, segment.networkType, mtu);
  const shared = body.shared ?? false;
  const external = body['router:external'] ?? false;
  return tx.create('logical_switch', {
    projectId,
    name: body.name ?? '',
    description: body.description ?? '',
    networkType: segment.networkType,
    physicalNetwork: segment.physicalNetwork,
    segmentationId: segment.segmentationId,
    mtu,
    external,
    shared,
    rbacPolicies: grantsForFlags({ projectId, shared: false, external: false, rbacPolicies: [] }, shared, external, new Date().toISOString()),
    availabilityZoneHints: await checkZoneHints(tx, body.availability_zone_hints),
    dnsDomain: checkDnsDomain('dns_domain', body.dns_domain) ?? '',
    adminStateUp: body.admin_state_up ?? true,
    portSecurityEnabled: body.port_security_enabled ?? true,
  });
}

async function updateNetwork(tx: NbTransaction, backend: Backend, ctx: RequestContext, id: string, body: NetworkUpdate, revision: number | undefined): Promise<LogicalSwitch> {
  const ls = await visibleNetwork(tx, ctx, id);
  if (!owns(ctx, ls)) throw policyNotAuthorized('update_network');
  checkRevision(revision, ls.version);
  requireAdminFor(ctx, 'update_network', body, ['router:external', 'shared']);
  const changed = PROVIDER.filter((a) => {
    const v = a === 'provider:segmentation_id' ? intOf(body[a]) : body[a];
    if (v === undefined) return false;
    const cur = a === 'provider:network_type' ? ls.networkType : a === 'provider:physical_network' ? ls.physicalNetwork : (ls.segmentationId ?? (ls.networkType === 'flat' ? null : ls.key));
    return v !== cur;
  });
  if (changed.length > 0) throw invalidInput(`Plugin does not support updating the following provider network attributes: ${changed.join(', ')}`, changed[0]);
  const mtu = body.mtu === undefined ? undefined : intOf(body.mtu);
  if (mtu !== undefined) checkMtu(backend, ls.networkType, mtu);
  if (body['router:external'] === false && ls.external) {
    const routers = await tx.lookup('logical_router', 'network', id);
    const gw = routers.find((r) => r.externalGateway?.networkId === id);
    if (gw) throw conflict('ExternalNetworkInUse', `External network ${id} cannot be updated to be no longer external, since it has existing gateway ports (router ${gw.id}).`, { field: 'router:external' });
    if ((await tx.lookup('floating_ip', 'floatingNetwork', id)).length > 0) {
      throw conflict('ExternalNetworkInUse', `External network ${id} cannot be updated to be no longer external, since it has floating IPs.`, { field: 'router:external' });
    }
  }
  const shared = body.shared ?? ls.shared;
  const external = body['router:external'] ?? ls.external;
  const rbacPolicies = grantsForFlags(ls, shared, external, new Date().toISOString());
  if (body.shared === false && ls.shared) {
    // Projects the network stays shared with by a grant of their own keep their ports.
    const after = { ...ls, shared: false, rbacPolicies };
    const others = (await tx.lookup('logical_port', 'network', id)).find((p) => p.projectId !== ls.projectId && p.projectId !== '' && !sharedWith(after, p.projectId));
    if (others) throw conflict('InvalidSharedSetting', `Unable to reconfigure sharing settings for network ${id}. Multiple tenants are using it.`, { field: 'shared' });
  }
  return tx.update('logical_switch', {
    ...ls,
    name: body.name ?? ls.name,
    description: body.description ?? ls.description,
    adminStateUp: body.admin_state_up ?? ls.adminStateUp,
    shared,
    external,
    rbacPolicies,
    portSecurityEnabled: body.port_security_enabled ?? ls.portSecurityEnabled,
    mtu: mtu ?? ls.mtu,
    dnsDomain: checkDnsDomain('dns_domain', body.dns_domain) ?? ls.dnsDomain,
  });
}

async function deleteNetwork(tx: NbTransaction, ctx: RequestContext, id: string, revision: number | undefined): Promise<void> {
  const ls = await visibleNetwork(tx, ctx, id);
  if (!owns(ctx, ls)) throw policyNotAuthorized('delete_network');
  checkRevision(revision, ls.version);
  const ports = await tx.lookup('logical_port', 'network', id);
  const inUse = ports.filter((p) => p.deviceOwner !== DeviceOwner.DHCP);
  if (inUse.length > 0) {
    throw conflict('NetworkInUse', `Unable to complete operation on network ${id}. There are one or more ports still in use on the network.`, { ports: inUse.slice(0, 10).map((p) => p.id) });
  }
  for (const p of ports) await tx.delete('logical_port', p.id);
  for (const s of await tx.lookup('subnet', 'network', id)) await tx.delete('subnet', s.id);
  await tx.delete('logical_switch', id);
}

export function registerNetworks(app: ApiApp, backend: Backend): void {
  const { nb } = backend;
  const tag = 'networks';

  /** A network's `subnets`, in creation order (the index's own order moves a subnet to the end when it is updated). */
  const byCreation = (subnets: Subnet[]): Subnet[] => subnets.sort((a, b) => (a.createdAt ?? '').localeCompare(b.createdAt ?? ''));
  const subnetIdsOf = async (networkId: string): Promise<string[]> => byCreation(await nb.subnetsByNetwork(networkId)).map((s) => s.id);
  const subnetIndex = async (): Promise<Map<string, string[]>> => {
    const m = new Map<string, string[]>();
    for (const s of byCreation(await nb.list('subnet'))) m.set(s.networkId, [...(m.get(s.networkId) ?? []), s.id]);
    return m;
  };

  app.get('/v2.0/networks', { schema: { ...tagged(tag, 'List networks'), querystring: ListQuery, response: { 200: collectionAnswer('networks') } } }, async (req, reply) => {
    const ctx = ctxOf(req);
    const subnets = await subnetIndex();
    const zones = await zoneNames(nb);
    const entries: ListEntry[] = (await nb.list('logical_switch', (ls) => canSeeNetwork(ctx, ls))).map((ls) => ({
      view: networkView(ls, subnets.get(ls.id) ?? [], ctx, zones),
      order: ls.createdAt ?? '',
    }));
    return sendList(req, reply, backend, 'networks', COLLECTIONS.networks, 'network', entries);
  });

  app.get('/v2.0/networks/:id', { schema: { ...tagged(tag, 'Show a network'), params: IdParams, querystring: ShowQuery, response: { 200: resourceAnswer('network') } } }, async (req, reply) => {
    const ctx = ctxOf(req);
    const ls = await visibleNetwork(nb, ctx, req.params.id);
    return sendOne(req, reply, 'network', networkView(ls, await subnetIdsOf(ls.id), ctx, await zoneNames(nb)));
  });

  app.post('/v2.0/networks', { schema: { ...tagged(tag, 'Create a network (or several: bulk)'), body: createEnvelope('network', 'networks', NetworkCreate), response: { 201: resourceAnswer('network') } } }, async (req, reply) => {
    const ctx = ctxOf(req);
    const { items, bulk } = createItems<NetworkCreate>(req.body, 'network', 'networks', backend.config.limits);
    const quota = backend.quotaCheck();
    const created = await backend.write(async (tx) => {
      const out: LogicalSwitch[] = [];
      for (const item of items) {
        const ls = await createNetwork(tx, backend, ctx, item);
        await quota.enforce(tx, ls.projectId, 'network');
        out.push(ls);
      }
      return out;
    });
    const zones = await zoneNames(nb);
    return sendCreated(reply, 'network', 'networks', created.map((ls) => networkView(ls, [], ctx, zones)), bulk);
  });

  app.put('/v2.0/networks/:id', { schema: { ...tagged(tag, 'Update a network'), params: IdParams, body: updateEnvelope('network', NetworkUpdate), response: { 200: resourceAnswer('network') } } }, async (req, reply) => {
    const ctx = ctxOf(req);
    const body = updateItem<NetworkUpdate>(req.body, 'network');
    const revision = ifMatchRevision(req);
    const ls = await backend.write((tx) => updateNetwork(tx, backend, ctx, req.params.id, body, revision));
    return sendOne(req, reply, 'network', networkView(ls, await subnetIdsOf(ls.id), ctx, await zoneNames(nb)));
  });

  app.delete('/v2.0/networks/:id', { schema: { ...tagged(tag, 'Delete a network (with its subnets and DHCP port)'), params: IdParams } }, async (req, reply) => {
    const ctx = ctxOf(req);
    const revision = ifMatchRevision(req);
    await backend.write((tx) => deleteNetwork(tx, ctx, req.params.id, revision));
    return reply.code(204).send();
  });
}
