import { IpNetwork, parseIp } from '@dragonflow/base';
import { DeviceOwner, type LogicalPort, type LogicalRouter, type NbTransaction, type RouterPort, newId } from '@dragonflow/nb';
import type { RequestContext } from '../auth.js';
import { NeutronError, badAttribute, badRequest, conflict, ipAddressInUse, notFound, policyNotAuthorized } from '../neutron/errors.js';
import type { ListEntry } from '../neutron/query.js';
import {
  IdParams,
  ListQuery,
  RouterCreate,
  RouterInterfaceBody,
  RouterInterfaceInfo,
  RouterRoutesBody,
  RouterUpdate,
  ShowQuery,
  collectionAnswer,
  createEnvelope,
  resourceAnswer,
  updateEnvelope,
} from '../neutron/schemas.js';
import { cidrAttr, ipAttr } from '../neutron/addresses.js';
import { checkFixedIpCount } from '../neutron/limits.js';
import { COLLECTIONS, routerView } from '../neutron/views.js';
import { type Backend, canSeeNetwork, owns, projectFor, requireAdminFor } from '../services/backend.js';
import { usableBy } from '../services/rbac.js';
import { IpAllocator } from '../services/ipam.js';
import { chooseMac } from '../services/mac.js';
import { checkZoneHints, zoneNames } from '../services/zones.js';
import { placeGateway } from '../services/gateway-placement.js';
import { type ApiApp, checkRevision, createItems, ctxOf, ifMatchRevision, sendCreated, sendList, sendOne, tagged, updateItem } from './common.js';
import { visiblePort } from './ports.js';
import type { Attempt } from '../services/attempt.js';

type GatewayInfo = RouterUpdate['external_gateway_info'];
type Route = { destination: string; nexthop: string };

export async function visibleRouter(tx: Pick<NbTransaction, 'get'>, ctx: RequestContext, id: string): Promise<LogicalRouter> {
  const r = await tx.get('logical_router', id);
  if (!r || !owns(ctx, r)) throw notFound('router', id);
  return r;
}

/** Sets, changes or clears a router's external gateway (and its network:router_gateway port). */
async function applyGateway(tx: NbTransaction, backend: Backend, ctx: RequestContext, router: { id: string; ports: RouterPort[]; externalGateway: LogicalRouter['externalGateway'] }, info: GatewayInfo, attempt: Attempt, action: string): Promise<LogicalRouter['externalGateway']> {
  const current = router.externalGateway;
  if (info === undefined) return current;
  if (info === null || info.network_id === undefined) {
    if (info && (info.enable_snat !== undefined || info.external_fixed_ips !== undefined)) {
      throw badRequest('router', 'external_gateway_info needs network_id', 'external_gateway_info.network_id');
    }
    if (!current) return null;
    await requireNoFloatingIps(tx, router.id, current.networkId);
    await tx.delete('logical_port', current.portId);
    return null;
  }
  if (!ctx.isAdmin) {
    if (info.enable_snat !== undefined) throw policyNotAuthorized(`${action}:external_gateway_info:enable_snat`);
    if (info.external_fixed_ips !== undefined) throw policyNotAuthorized(`${action}:external_gateway_info:external_fixed_ips`);
  }
  const network = await tx.get('logical_switch', info.network_id);
  if (!network || !canSeeNetwork(ctx, network)) throw notFound('network', info.network_id);
  if (!usableBy(ctx, network, 'external')) throw badRequest('router', `Network ${network.id} is not an external network`, 'external_gateway_info.network_id');
  if (router.ports.some((p) => p.networkId === network.id)) {
    throw badRequest('router', `Router ${router.id} has an interface on network ${network.id}; it cannot also be its gateway network`, 'external_gateway_info.network_id');
  }
  checkFixedIpCount(backend.config.limits, info.external_fixed_ips, 'external_gateway_info.external_fixed_ips');
  const enableSnat = info.enable_snat ?? current?.enableSnat ?? true;
  const requests = info.external_fixed_ips;
  if (current && current.networkId === network.id) {
    // Kept where it is; a gateway set while no gateway chassis was alive is placed now.
    const placement = current.chassisIds.length > 0 ? undefined : await placeGateway(tx, router.id);
    if (requests === undefined && !placement) return { ...current, enableSnat };
    const port = await tx.require('logical_port', current.portId);
    const fixedIps = requests === undefined ? port.fixedIps : await new IpAllocator(tx, network.id, attempt, port.id).allocate(requests, port.macAddress, 'external_gateway_info.external_fixed_ips');
    if (fixedIps.length === 0 && requests !== undefined) throw badRequest('router', 'the gateway needs at least one IP address', 'external_gateway_info.external_fixed_ips');
    await tx.update('logical_port', { ...port, fixedIps, ...(placement ? { bindingHost: placement.host } : {}) });
    return { ...current, enableSnat, fixedIps, ...(placement ? { chassisIds: placement.chassisIds } : {}) };
  }
  if (current) {
    await requireNoFloatingIps(tx, router.id, current.networkId);
    await tx.delete('logical_port', current.portId);
  }
  const mac = await chooseMac(tx, network.id, backend.config.network.macPrefix, undefined);
  // An external network without a subnet gives a gateway port without addresses (as current Neutron).
  const fixedIps = await new IpAllocator(tx, network.id, attempt).allocate(requests, mac, 'external_gateway_info.external_fixed_ips');
  const placement = await placeGateway(tx, router.id);
  const port = await tx.create('logical_port', {
    projectId: '',
    networkId: network.id,
    macAddress: mac,
    fixedIps,
    deviceOwner: DeviceOwner.ROUTER_GATEWAY,
    deviceId: router.id,
    portSecurityEnabled: false,
    // Shows the active gateway chassis (binding:host_id); the port is bound to no br-int (chassisId stays null).
    bindingHost: placement.host,
  });
  return { networkId: network.id, portId: port.id, enableSnat, fixedIps, chassisIds: placement.chassisIds, preempt: false };
}

async function requireNoFloatingIps(tx: NbTransaction, routerId: string, networkId: string): Promise<void> {
  if ((await tx.lookup('floating_ip', 'router', routerId)).length > 0) {
    throw conflict('RouterExternalGatewayInUseByFloatingIp', `Gateway cannot be updated for router ${routerId}, since a gateway to external network ${networkId} is required by one or more floating IPs.`, {
      field: 'external_gateway_info',
    });
  }
}

/** Networks (CIDRs) directly connected to the router: interfaces and gateway subnets. */
async function connectedNetworks(tx: NbTransaction, ports: RouterPort[], gateway: LogicalRouter['externalGateway']): Promise<IpNetwork[]> {
  const nets = ports.map((p) => IpNetwork.parse(p.cidr));
  for (const f of gateway?.fixedIps ?? []) {
    const s = await tx.get('subnet', f.subnetId);
    if (s) nets.push(IpNetwork.parse(s.cidr));
  }
  return nets;
}

function routerIps(ports: RouterPort[], gateway: LogicalRouter['externalGateway']): Set<string> {
  return new Set([...ports.map((p) => p.ipAddress), ...(gateway?.fixedIps ?? []).map((f) => f.ipAddress)]);
}

function invalidRoutes(routes: Route[], why: string, field: string): NeutronError {
  return new NeutronError(400, 'InvalidRoutes', `Invalid format for routes: ${JSON.stringify(routes)}, ${why}`, { field });
}

/** Checks static routes: valid, unique, nexthop on a connected network and not the router itself. */
async function checkRoutes(tx: NbTransaction, backend: Backend, ports: RouterPort[], gateway: LogicalRouter['externalGateway'], routes: Route[], field = 'routes'): Promise<Route[]> {
  const out: Route[] = [];
  const seen = new Set<string>();
  const nets = await connectedNetworks(tx, ports, gateway);
  const own = routerIps(ports, gateway);
  for (const [i, r] of routes.entries()) {
    const dst = cidrAttr(`${field}[${i}].destination`, r.destination);
    const hop = ipAttr(`${field}[${i}].nexthop`, r.nexthop);
    if (dst.family !== hop.family) throw invalidRoutes([r], 'the destination and nexthop are of different IP versions', `${field}[${i}]`);
    if (!nets.some((n) => n.contains(hop))) throw invalidRoutes([r], 'the nexthop is not connected with router', `${field}[${i}].nexthop`);
    if (own.has(hop.toString())) throw invalidRoutes([r], 'the nexthop is used by router', `${field}[${i}].nexthop`);
    const route = { destination: dst.toString(), nexthop: hop.toString() };
    const identity = `${route.destination} ${route.nexthop}`;
    if (!seen.has(identity)) {
      seen.add(identity);
      out.push(route);
    }
  }
  if (out.length > backend.config.network.maxRoutes) {
    throw new NeutronError(400, 'RoutesExhausted', `Unable to complete operation: the number of routes exceeds the maximum ${backend.config.network.maxRoutes}.`, { field });
  }
  return out;
}

/**
 * dvr and l3-ha, answered truthfully: every df-controller routes for its own ports, so
 * a router is always distributed; the gateway (SNAT) is not highly available. Only an
 * admin may name either attribute (Neutron's policy), and only with that value.
 */
function checkRouterMode(ctx: RequestContext, action: string, body: { distributed?: boolean | undefined; ha?: boolean | undefined }): void {
  requireAdminFor(ctx, action, body, ['distributed', 'ha']);
  if (body.distributed === false) throw badRequest('router', 'Routers are always distributed here: every chassis routes for its own ports (distributed=False is not possible).', 'distributed');
  if (body.ha === true) throw badRequest('router', 'Highly available router gateways are not supported (ha=True is not possible).', 'ha');
}

async function createRouter(tx: NbTransaction, backend: Backend, ctx: RequestContext, body: RouterCreate, attempt: Attempt): Promise<LogicalRouter> {
  checkRouterMode(ctx, 'create_router', body);
  const projectId = projectFor(ctx, body);
  const id = newId();
  const gateway = await applyGateway(tx, backend, ctx, { id, ports: [], externalGateway: null }, body.external_gateway_info, attempt, 'create_router');
  return tx.create('logical_router', {
    id,
    projectId,
    name: body.name ?? '',
    description: body.description ?? '',
    adminStateUp: body.admin_state_up ?? true,
    externalGateway: gateway,
    availabilityZoneHints: await checkZoneHints(tx, body.availability_zone_hints),
  });
}

async function updateRouter(tx: NbTransaction, backend: Backend, ctx: RequestContext, id: string, body: RouterUpdate, revision: number | undefined, attempt: Attempt): Promise<LogicalRouter> {
  const r = await visibleRouter(tx, ctx, id);
  checkRevision(revision, r.version);
  checkRouterMode(ctx, 'update_router', body);
  const gateway = await applyGateway(tx, backend, ctx, r, body.external_gateway_info, attempt, 'update_router');
  const routes = body.routes === undefined ? r.routes : await checkRoutes(tx, backend, r.ports, gateway, body.routes ?? []);
  if (body.routes === undefined && gateway !== r.externalGateway) {
    // The gateway changed: existing routes must still reach their nexthops.
    await checkRoutes(tx, backend, r.ports, gateway, r.routes);
  }
  return tx.update('logical_router', {
    ...r,
    name: body.name ?? r.name,
    description: body.description ?? r.description,
    adminStateUp: body.admin_state_up ?? r.adminStateUp,
    externalGateway: gateway,
    routes,
  });
}

async function deleteRouter(tx: NbTransaction, ctx: RequestContext, id: string, revision: number | undefined): Promise<void> {
  const r = await visibleRouter(tx, ctx, id);
  checkRevision(revision, r.version);
  if (r.ports.length > 0) throw conflict('RouterInUse', `Router ${id} still has ports`);
  if ((await tx.lookup('floating_ip', 'router', id)).length > 0) throw conflict('RouterInUse', `Router ${id} cannot be deleted, as it is required by one or more floating IPs.`);
  await tx.delete('logical_router', id);
  if (r.externalGateway) await tx.delete('logical_port', r.externalGateway.portId);
}

/** A gateway without a gateway chassis does no NAT: say so where an operator looks. */
function warnUnplaced(log: { warn(o: object, msg: string): void }, r: LogicalRouter): void {
  if (r.externalGateway && r.externalGateway.chassisIds.length === 0) {
    log.warn({ router: r.id, network: r.externalGateway.networkId }, 'router gateway set, but no gateway chassis is alive: no centralized NAT for this router until one is (it is placed then)');
  }
}

function interfaceInfo(r: LogicalRouter, rp: RouterPort) {
  return { id: r.id, tenant_id: r.projectId, project_id: r.projectId, port_id: rp.portId, network_id: rp.networkId, subnet_id: rp.subnetId, subnet_ids: [rp.subnetId] };
}

/** Refuses a subnet whose CIDR overlaps one the router is already attached to. */
function checkOverlap(r: LogicalRouter, subnetId: string, cidr: string): void {
  const net = IpNetwork.parse(cidr);
  for (const p of r.ports) {
    if (p.subnetId === subnetId) throw badRequest('router', `Router already has a port on subnet ${subnetId}`, 'subnet_id');
    if (IpNetwork.parse(p.cidr).overlaps(net)) {
      throw badRequest('router', `Cidr ${cidr} of subnet ${subnetId} overlaps with cidr ${p.cidr} of subnet ${p.subnetId}`, 'subnet_id');
    }
  }
}

async function addInterface(tx: NbTransaction, backend: Backend, ctx: RequestContext, id: string, body: RouterInterfaceBody): Promise<ReturnType<typeof interfaceInfo>> {
  const r = await visibleRouter(tx, ctx, id);
  if (body.subnet_id !== undefined && body.port_id !== undefined) throw badRequest('router', 'Cannot specify both subnet-id and port-id', 'port_id');
  if (body.subnet_id === undefined && body.port_id === undefined) throw badRequest('router', 'Either subnet_id or port_id must be specified', 'subnet_id');
  let port: LogicalPort;
  let rp: RouterPort;
  if (body.subnet_id !== undefined) {
    const subnet = await tx.get('subnet', body.subnet_id);
    const network = subnet ? await tx.get('logical_switch', subnet.networkId) : undefined;
    if (!subnet || !network || !(ctx.isAdmin || subnet.projectId === r.projectId || usableBy(ctx, network, 'shared'))) throw notFound('subnet', body.subnet_id);
    // A shared network's subnet is visible, but its gateway address is its owner's to route.
    if (!ctx.isAdmin && subnet.projectId !== ctx.projectId) {
      throw badRequest('router', `Cannot add interface to router because subnet ${subnet.id} is not owned by project making the request.`, 'subnet_id');
    }
    if (subnet.gatewayIp === null) throw badRequest('router', `Subnet ${subnet.id} does not have a gateway IP`, 'subnet_id');
    if (r.externalGateway?.networkId === network.id) throw badRequest('router', `Subnet ${subnet.id} is on the router's gateway network ${network.id}`, 'subnet_id');
    checkOverlap(r, subnet.id, subnet.cidr);
    if ((await tx.lookup('logical_port', 'ip', `${network.id}/${subnet.gatewayIp}`)).length > 0) throw ipAddressInUse(network.id, subnet.gatewayIp);
    port = await tx.create('logical_port', {
      projectId: r.projectId,
      networkId: network.id,
      macAddress: await chooseMac(tx, network.id, backend.config.network.macPrefix, undefined),
      fixedIps: [{ subnetId: subnet.id, ipAddress: subnet.gatewayIp }],
      deviceOwner: DeviceOwner.ROUTER_INTERFACE,
      deviceId: r.id,
      portSecurityEnabled: network.portSecurityEnabled,
    });
    rp = { portId: port.id, networkId: network.id, subnetId: subnet.id, macAddress: port.macAddress, ipAddress: subnet.gatewayIp, cidr: subnet.cidr };
  } else {
    const found = await visiblePort(tx, ctx, body.port_id!);
    port = found.port;
    // The owner of a shared network sees the ports others have on it; they are not its to route.
    if (!ctx.isAdmin && port.projectId !== ctx.projectId) {
      throw badRequest('router', `Cannot add interface to router because port ${port.id} is not owned by project making the request.`, 'port_id');
    }
    if (port.deviceId !== '') {
      throw conflict('PortInUse', `Unable to complete operation on port ${port.id} for network ${port.networkId}. Port already has an attached device ${port.deviceId}.`, { field: 'port_id' });
    }
    if (port.fixedIps.length === 0) throw badRequest('router', `Router port ${port.id} must have at least one fixed IP`, 'port_id');
    if (port.fixedIps.length > 1) throw badRequest('router', `Router port ${port.id} must have exactly one fixed IP (it has ${port.fixedIps.length})`, 'port_id');
    if (r.externalGateway?.networkId === port.networkId) throw badRequest('router', `Port ${port.id} is on the router's gateway network ${port.networkId}`, 'port_id');
    const f = port.fixedIps[0]!;
    const subnet = await tx.require('subnet', f.subnetId);
    checkOverlap(r, subnet.id, subnet.cidr);
    port = await tx.update('logical_port', { ...port, deviceOwner: DeviceOwner.ROUTER_INTERFACE, deviceId: r.id, securityGroupIds: [], allowedAddressPairs: [] });
    rp = { portId: port.id, networkId: port.networkId, subnetId: subnet.id, macAddress: port.macAddress, ipAddress: f.ipAddress, cidr: subnet.cidr };
  }
  const updated = await tx.update('logical_router', { ...r, ports: [...r.ports, rp] });
  return interfaceInfo(updated, rp);
}

async function removeInterface(tx: NbTransaction, ctx: RequestContext, id: string, body: RouterInterfaceBody): Promise<ReturnType<typeof interfaceInfo>> {
  const r = await visibleRouter(tx, ctx, id);
  if (body.subnet_id === undefined && body.port_id === undefined) throw badRequest('router', 'Either subnet_id or port_id must be specified', 'subnet_id');
  let rp: RouterPort | undefined;
  if (body.port_id !== undefined) {
    rp = r.ports.find((p) => p.portId === body.port_id);
    if (!rp) throw new NeutronError(404, 'RouterInterfaceNotFound', `Router ${id} does not have an interface with id ${body.port_id}`, { field: 'port_id' });
    if (body.subnet_id !== undefined && rp.subnetId !== body.subnet_id) {
      throw conflict('SubnetMismatchForPort', `Subnet ${body.subnet_id} does not match the subnet of port ${body.port_id} (${rp.subnetId}).`, { field: 'subnet_id' });
    }
  } else {
    rp = r.ports.find((p) => p.subnetId === body.subnet_id);
    if (!rp) throw new NeutronError(404, 'RouterInterfaceNotFoundForSubnet', `Router ${id} has no interface on subnet ${body.subnet_id}`, { field: 'subnet_id' });
  }
  const removed = rp;
  // Floating IPs NATed by this router for ports on the subnet need the interface.
  for (const f of await tx.lookup('floating_ip', 'router', id)) {
    const target = f.portId ? await tx.get('logical_port', f.portId) : undefined;
    if (target?.fixedIps.some((x) => x.subnetId === removed.subnetId)) {
      throw conflict('RouterInterfaceInUseByFloatingIP', `Router interface for subnet ${removed.subnetId} on router ${id} cannot be deleted, as it is required by one or more floating IPs.`);
    }
  }
  const ports = r.ports.filter((p) => p.portId !== removed.portId);
  const net = IpNetwork.parse(removed.cidr);
  const needed = r.routes.find((rt) => net.contains(parseIp(rt.nexthop)) && !ports.some((p) => IpNetwork.parse(p.cidr).contains(parseIp(rt.nexthop))));
  if (needed) {
    throw conflict('RouterInterfaceInUseByRoute', `Router interface for subnet ${removed.subnetId} on router ${id} cannot be deleted, as it is required by one or more routes (${needed.destination} via ${needed.nexthop}).`);
  }
  const updated = await tx.update('logical_router', { ...r, ports });
  await tx.delete('logical_port', removed.portId);
  return interfaceInfo(updated, removed);
}

async function editRoutes(tx: NbTransaction, backend: Backend, ctx: RequestContext, id: string, routes: Route[], add: boolean): Promise<LogicalRouter> {
  const r = await visibleRouter(tx, ctx, id);
  let next: Route[];
  if (add) {
    const extra = await checkRoutes(tx, backend, r.ports, r.externalGateway, routes, 'router.routes');
    const have = new Set(r.routes.map((o) => `${o.destination} ${o.nexthop}`));
    next = [...r.routes, ...extra.filter((e) => !have.has(`${e.destination} ${e.nexthop}`))];
    if (next.length > backend.config.network.maxRoutes) {
      throw new NeutronError(400, 'RoutesExhausted', `Unable to complete operation: the number of routes exceeds the maximum ${backend.config.network.maxRoutes}.`, { field: 'router.routes' });
    }
  } else {
    const drop = routes.map((rt, i) => {
      try {
        return { destination: IpNetwork.parse(rt.destination, 'destination', false).toString(), nexthop: parseIp(rt.nexthop).toString() };
      } catch {
        throw badAttribute(`router.routes[${i}]`, `'${rt.destination} via ${rt.nexthop}' is not a valid route`);
      }
    });
    const dropped = new Set(drop.map((d) => `${d.destination} ${d.nexthop}`));
    next = r.routes.filter((o) => !dropped.has(`${o.destination} ${o.nexthop}`));
  }
  return tx.update('logical_router', { ...r, routes: next });
}

export function registerRouters(app: ApiApp, backend: Backend): void {
  const { nb } = backend;
  const tag = 'routers';

  app.get('/v2.0/routers', { schema: { ...tagged(tag, 'List routers'), querystring: ListQuery, response: { 200: collectionAnswer('routers') } } }, async (req, reply) => {
    const ctx = ctxOf(req);
    const zones = await zoneNames(nb);
    const entries: ListEntry[] = (await nb.list('logical_router', (r) => owns(ctx, r))).map((r) => ({ view: routerView(r, ctx, zones), order: r.createdAt ?? '' }));
    return sendList(req, reply, backend, 'routers', COLLECTIONS.routers, 'router', entries);
  });

  app.get('/v2.0/routers/:id', { schema: { ...tagged(tag, 'Show a router'), params: IdParams, querystring: ShowQuery, response: { 200: resourceAnswer('router') } } }, async (req, reply) => {
    const ctx = ctxOf(req);
    const r = await visibleRouter(nb, ctx, req.params.id);
    return sendOne(req, reply, 'router', routerView(r, ctx, await zoneNames(nb)));
  });

  app.post('/v2.0/routers', { schema: { ...tagged(tag, 'Create a router'), body: createEnvelope('router', 'routers', RouterCreate), response: { 201: resourceAnswer('router') } } }, async (req, reply) => {
    const ctx = ctxOf(req);
    const { items, bulk } = createItems<RouterCreate>(req.body, 'router', 'routers', backend.config.limits);
    const quota = backend.quotaCheck();
    const created = await backend.write(async (tx, attempt) => {
      const out: LogicalRouter[] = [];
      for (const item of items) {
        const r = await createRouter(tx, backend, ctx, item, attempt);
        await quota.enforce(tx, r.projectId, 'router');
        out.push(r);
      }
      return out;
    });
    const zones = await zoneNames(nb);
    for (const r of created) warnUnplaced(req.log, r);
    return sendCreated(reply, 'router', 'routers', created.map((r) => routerView(r, ctx, zones)), bulk);
  });

  app.put(
    '/v2.0/routers/:id',
    { schema: { ...tagged(tag, 'Update a router (gateway, routes)'), params: IdParams, body: updateEnvelope('router', RouterUpdate), response: { 200: resourceAnswer('router') } } },
    async (req, reply) => {
      const ctx = ctxOf(req);
      const body = updateItem<RouterUpdate>(req.body, 'router');
      const revision = ifMatchRevision(req);
      const r = await backend.write((tx, attempt) => updateRouter(tx, backend, ctx, req.params.id, body, revision, attempt));
      warnUnplaced(req.log, r);
      return sendOne(req, reply, 'router', routerView(r, ctx, await zoneNames(nb)));
    },
  );

  app.delete('/v2.0/routers/:id', { schema: { ...tagged(tag, 'Delete a router'), params: IdParams } }, async (req, reply) => {
    const ctx = ctxOf(req);
    const revision = ifMatchRevision(req);
    await backend.write((tx) => deleteRouter(tx, ctx, req.params.id, revision));
    return reply.code(204).send();
  });

  app.put(
    '/v2.0/routers/:id/add_router_interface',
    { schema: { ...tagged(tag, 'Attach a subnet (new port with its gateway IP) or a port'), params: IdParams, body: RouterInterfaceBody, response: { 200: RouterInterfaceInfo } } },
    async (req) => {
      const ctx = ctxOf(req);
      return backend.write((tx) => addInterface(tx, backend, ctx, req.params.id, req.body));
    },
  );

  app.put(
    '/v2.0/routers/:id/remove_router_interface',
    { schema: { ...tagged(tag, 'Detach a subnet or port (its port is deleted)'), params: IdParams, body: RouterInterfaceBody, response: { 200: RouterInterfaceInfo } } },
    async (req) => {
      const ctx = ctxOf(req);
      return backend.write((tx) => removeInterface(tx, ctx, req.params.id, req.body));
    },
  );

  for (const [path, add] of [
    ['add_extraroutes', true],
    ['remove_extraroutes', false],
  ] as const) {
    app.put(
      `/v2.0/routers/:id/${path}`,
      { schema: { ...tagged(tag, add ? 'Add static routes' : 'Remove static routes'), params: IdParams, body: RouterRoutesBody, response: { 200: resourceAnswer('router') } } },
      async (req, reply) => {
        const ctx = ctxOf(req);
        const r = await backend.write((tx) => editRoutes(tx, backend, ctx, req.params.id, req.body.router.routes, add));
        return sendOne(req, reply, 'router', routerView(r, ctx, await zoneNames(nb)));
      },
    );
  }
}
