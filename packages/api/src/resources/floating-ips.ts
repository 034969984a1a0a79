import { parseIp } from '@dragonflow/base';
import { DeviceOwner, type FixedIp, type FloatingIp, type LogicalPort, type NbTransaction, newId } from '@dragonflow/nb';
import type { RequestContext } from '../auth.js';
import { NeutronError, badRequest, conflict, notFound, policyNotAuthorized } from '../neutron/errors.js';
import type { ListEntry } from '../neutron/query.js';
import { FloatingIpCreate, FloatingIpUpdate, IdParams, ListQuery, ShowQuery, collectionAnswer, createEnvelope, resourceAnswer, updateEnvelope } from '../neutron/schemas.js';
import { ipAttr } from '../neutron/addresses.js';
import { COLLECTIONS, floatingIpView } from '../neutron/views.js';
import { type Backend, canSeeNetwork, owns, projectFor } from '../services/backend.js';
import { checkDnsDomain, checkDnsName } from '../services/dns.js';
import { usableBy } from '../services/rbac.js';
import { IpAllocator, type IpRequest } from '../services/ipam.js';
import { chooseMac } from '../services/mac.js';
import { type ApiApp, checkRevision, createItems, ctxOf, ifMatchRevision, sendCreated, sendList, sendOne, tagged, updateItem } from './common.js';
import type { Attempt } from '../services/attempt.js';

export async function visibleFloatingIp(tx: Pick<NbTransaction, 'get'>, ctx: RequestContext, id: string): Promise<FloatingIp> {
  const f = await tx.get('floating_ip', id);
  if (!f || !owns(ctx, f)) throw notFound('floatingip', id);
  return f;
}

interface Association {
  portId: string | null;
  fixedIpAddress: string | null;
  routerId: string | null;
}

/**
 * Resolves a floating IP's association: the port (owned by the floating IP's
 * project), the fixed IP (given, or the port's only IPv4 address) and the router
 * that NATs it (one with its gateway on the floating network and an interface on
 * the fixed IP's subnet).
 */
async function associate(tx: NbTransaction, ctx: RequestContext, fip: { id: string; projectId: string; floatingNetworkId: string; floatingIpAddress: string }, portId: string | null, fixedIp: string | null | undefined): Promise<Association> {
  if (portId === null) {
    if (fixedIp != null) throw badRequest('floatingip', 'fixed_ip_address cannot be given without port_id', 'fixed_ip_address');
    return { portId: null, fixedIpAddress: null, routerId: null };
  }
  const port = await tx.get('logical_port', portId);
  if (!port || !(ctx.isAdmin || port.projectId === fip.projectId)) throw notFound('port', portId);
  if (port.deviceOwner.startsWith('network:')) throw badRequest('floatingip', `Port ${portId} has owner ${port.deviceOwner} and cannot have a floating IP.`, 'port_id');
  let fixed: string;
  if (fixedIp != null) {
    const canonical = ipAttr('fixed_ip_address', fixedIp).toString();
    if (!port.fixedIps.some((f) => f.ipAddress === canonical)) throw badRequest('floatingip', `Port ${portId} does not have fixed ip ${fixedIp}.`, 'fixed_ip_address');
    fixed = canonical;
  } else {
    const v4 = port.fixedIps.filter((f) => parseIp(f.ipAddress).family === 4);
    if (v4.length === 0) throw badRequest('floatingip', `Port ${portId} does not have any IPv4 address to associate a floating IP with.`, 'port_id');
    if (v4.length > 1) throw badRequest('floatingip', `Port ${portId} has multiple fixed IPv4 addresses. Must provide a specific IPv4 address when assigning a floating IP`, 'fixed_ip_address');
    fixed = v4[0]!.ipAddress;
  }
  if (parseIp(fixed).family !== 4) throw badRequest('floatingip', `Fixed IP ${fixed} is not an IPv4 address; floating IPs are IPv4.`, 'fixed_ip_address');
  const taken = (await tx.lookup('floating_ip', 'port', portId)).find((f) => f.id !== fip.id && f.fixedIpAddress === fixed);
  if (taken) {
    throw conflict(
      'FloatingIPPortAlreadyAssociated',
      `Cannot associate floating IP ${fip.floatingIpAddress} (${fip.id}) with port ${portId} using fixed IP ${fixed}, as that fixed IP already has a floating IP on external network ${taken.floatingNetworkId}.`,
      { field: 'port_id' },
    );
  }
  const subnetId = port.fixedIps.find((f) => f.ipAddress === fixed)!.subnetId;
  const routers = (await tx.lookup('logical_router', 'network', port.networkId))
    .filter((r) => r.externalGateway?.networkId === fip.floatingNetworkId && r.ports.some((p) => p.subnetId === subnetId))
    .sort((a, b) => Number(b.projectId === fip.projectId) - Number(a.projectId === fip.projectId) || a.id.localeCompare(b.id));
  const router = routers[0];
  if (!router) {
    throw new NeutronError(404, 'ExternalGatewayForFloatingIPNotFound', `External network ${fip.floatingNetworkId} is not reachable from subnet ${subnetId}.  Therefore, cannot associate Port ${portId} with a Floating IP.`, {
      field: 'port_id',
    });
  }
  return { portId, fixedIpAddress: fixed, routerId: router.id };
}

/**
 * ACTIVE while associated, DOWN otherwise, as Neutron's OVN driver reports it: the
 * NAT flows follow the association on every chassis at once (the dnat app), so no
 * single controller owns a "programmed" report, and the openstack CLI's waiters
 * expect ACTIVE right after an association.
 */
function statusOf(assoc: Association): FloatingIp['status'] {
  return assoc.portId === null ? 'DOWN' : 'ACTIVE';
}

async function createFloatingIp(tx: NbTransaction, backend: Backend, ctx: RequestContext, body: FloatingIpCreate, attempt: Attempt): Promise<FloatingIp> {
  if (!ctx.isAdmin && body.floating_ip_address !== undefined) throw policyNotAuthorized('create_floatingip:floating_ip_address');
  const projectId = projectFor(ctx, body);
  const network = await tx.get('logical_switch', body.floating_network_id);
  if (!network || !canSeeNetwork(ctx, network)) throw notFound('network', body.floating_network_id);
  if (!usableBy(ctx, network, 'external')) throw badRequest('floatingip', `Network ${network.id} is not a valid external network.`, 'floating_network_id');
  const id = newId();
  const mac = await chooseMac(tx, network.id, backend.config.network.macPrefix, undefined);
  const ipam = new IpAllocator(tx, network.id, attempt);
  let address: FixedIp | undefined;
  if (body.floating_ip_address !== undefined || body.subnet_id) {
    const request: IpRequest = { ...(body.floating_ip_address !== undefined ? { ip_address: body.floating_ip_address } : {}), ...(body.subnet_id ? { subnet_id: body.subnet_id } : {}) };
    [address] = await ipam.allocate([request], mac, 'floating_ip_address');
  } else {
    const v4 = (await ipam.subnets()).filter((s) => s.ipVersion === 4);
    if (v4.length === 0) throw badRequest('floatingip', `External network ${network.id} has no IPv4 subnet to allocate a floating IP from.`, 'floating_network_id');
    for (const s of v4) {
      const ip = await ipam.next(s);
      if (ip !== undefined) {
        address = { subnetId: s.id, ipAddress: ip };
        break;
      }
    }
  }
  if (!address) throw new NeutronError(409, 'IpAddressGenerationFailure', `No more IP addresses available on network ${network.id}.`, { field: 'floating_network_id' });
  if (parseIp(address.ipAddress).family !== 4) throw badRequest('floatingip', `${address.ipAddress} is not an IPv4 address.`, 'floating_ip_address');
  const port = await tx.create('logical_port', {
    projectId: '',
    networkId: network.id,
    macAddress: mac,
    fixedIps: [address],
    deviceOwner: DeviceOwner.FLOATING_IP,
    deviceId: id,
    portSecurityEnabled: false,
  });
  const base = { id, projectId, floatingNetworkId: network.id, floatingIpAddress: address.ipAddress };
  const assoc = await associate(tx, ctx, base, body.port_id ?? null, body.fixed_ip_address);
  const dns = { dnsName: checkDnsName('dns_name', body.dns_name) ?? '', dnsDomain: checkDnsDomain('dns_domain', body.dns_domain) ?? '' };
  return tx.create('floating_ip', { ...base, description: body.description ?? '', floatingPortId: port.id, ...assoc, ...dns, status: statusOf(assoc) });
}

async function updateFloatingIp(tx: NbTransaction, ctx: RequestContext, id: string, body: FloatingIpUpdate, revision: number | undefined): Promise<FloatingIp> {
  const f = await visibleFloatingIp(tx, ctx, id);
  checkRevision(revision, f.version);
  let assoc: Association = { portId: f.portId, fixedIpAddress: f.fixedIpAddress, routerId: f.routerId };
  if (body.port_id !== undefined) {
    assoc = await associate(tx, ctx, f, body.port_id, body.fixed_ip_address);
  } else if (body.fixed_ip_address !== undefined) {
    if (f.portId === null) throw badRequest('floatingip', 'fixed_ip_address cannot be given without port_id', 'fixed_ip_address');
    assoc = await associate(tx, ctx, f, f.portId, body.fixed_ip_address);
  }
  return tx.update('floating_ip', { ...f, ...assoc, description: body.description ?? f.description, status: statusOf(assoc) });
}

async function deleteFloatingIp(tx: NbTransaction, ctx: RequestContext, id: string, revision: number | undefined): Promise<void> {
  const f = await visibleFloatingIp(tx, ctx, id);
  checkRevision(revision, f.version);
  await tx.delete('floating_ip', id);
  if (f.floatingPortId !== null && (await tx.get('logical_port', f.floatingPortId))) await tx.delete('logical_port', f.floatingPortId);
}

export function registerFloatingIps(app: ApiApp, backend: Backend): void {
  const { nb } = backend;
  const tag = 'floatingips';

  const view = async (f: FloatingIp) => floatingIpView(f, f.portId ? ((await nb.get('logical_port', f.portId)) as LogicalPort | undefined) : undefined);

  app.get('/v2.0/floatingips', { schema: { ...tagged(tag, 'List floating IPs'), querystring: ListQuery, response: { 200: collectionAnswer('floatingips') } } }, async (req, reply) => {
    const ctx = ctxOf(req);
    const entries: ListEntry[] = [];
    for (const f of await nb.list('floating_ip', (x) => owns(ctx, x))) entries.push({ view: await view(f), order: f.createdAt ?? '' });
    return sendList(req, reply, backend, 'floatingips', COLLECTIONS.floatingips, 'floatingip', entries);
  });

  app.get('/v2.0/floatingips/:id', { schema: { ...tagged(tag, 'Show a floating IP'), params: IdParams, querystring: ShowQuery, response: { 200: resourceAnswer('floatingip') } } }, async (req, reply) => {
    const f = await visibleFloatingIp(nb, ctxOf(req), req.params.id);
    return sendOne(req, reply, 'floatingip', await view(f));
  });

  app.post(
    '/v2.0/floatingips',
    { schema: { ...tagged(tag, 'Allocate a floating IP (optionally associated to a port)'), body: createEnvelope('floatingip', 'floatingips', FloatingIpCreate), response: { 201: resourceAnswer('floatingip') } } },
    async (req, reply) => {
      const ctx = ctxOf(req);
      const { items, bulk } = createItems<FloatingIpCreate>(req.body, 'floatingip', 'floatingips', backend.config.limits);
      const quota = backend.quotaCheck();
      const created = await backend.write(async (tx, attempt) => {
        const out: FloatingIp[] = [];
        for (const item of items) {
          const f = await createFloatingIp(tx, backend, ctx, item, attempt);
          await quota.enforce(tx, f.projectId, 'floatingip');
          out.push(f);
        }
        return out;
      });
      const views = [];
      for (const f of created) views.push(await view(f));
      return sendCreated(reply, 'floatingip', 'floatingips', views, bulk);
    },
  );

  app.put(
    '/v2.0/floatingips/:id',
    { schema: { ...tagged(tag, 'Associate (port_id) or disassociate (port_id: null) a floating IP'), params: IdParams, body: updateEnvelope('floatingip', FloatingIpUpdate), response: { 200: resourceAnswer('floatingip') } } },
    async (req, reply) => {
      const ctx = ctxOf(req);
      const body = updateItem<FloatingIpUpdate>(req.body, 'floatingip');
      const revision = ifMatchRevision(req);
      const f = await backend.write((tx) => updateFloatingIp(tx, ctx, req.params.id, body, revision));
      return sendOne(req, reply, 'floatingip', await view(f));
    },
  );

  app.delete('/v2.0/floatingips/:id', { schema: { ...tagged(tag, 'Release a floating IP'), params: IdParams } }, async (req, reply) => {
    const ctx = ctxOf(req);
    const revision = ifMatchRevision(req);
    await backend.write((tx) => deleteFloatingIp(tx, ctx, req.params.id, revision));
    return reply.code(204).send();
  });
}
