import { IpNetwork, MacAddress, isValidIp, parseIp } from '@dragonflow/base';
import { DeviceOwner, type FixedIp, type LogicalPort, type LogicalSwitch, type NbTransaction, type Subnet, isAutoAddressSubnet } from '@dragonflow/nb';
import type { RequestContext } from '../auth.js';
import { NeutronError, badAttribute, conflict, notFound, policyNotAuthorized } from '../neutron/errors.js';
import { checkAddressPairCount, checkFixedIpCount } from '../neutron/limits.js';
import type { ListEntry } from '../neutron/query.js';
import { IdParams, ListQuery, PortCreate, PortUpdate, ShowQuery, collectionAnswer, createEnvelope, resourceAnswer, updateEnvelope } from '../neutron/schemas.js';
import { COLLECTIONS, portView } from '../neutron/views.js';
import { bindingOf } from './binding.js';
import { type Backend, canSeeNetwork, canSeePort, owns, projectFor, requireAdminFor } from '../services/backend.js';
import { checkDnsName } from '../services/dns.js';
import { usableBy } from '../services/rbac.js';
import { defaultSecurityGroupId, ensureDefaultSecurityGroup } from '../services/default-sg.js';
import { IpAllocator } from '../services/ipam.js';
import { chooseMac } from '../services/mac.js';
import { type ApiApp, checkRevision, createItems, ctxOf, ifMatchRevision, sendCreated, sendList, sendOne, tagged, updateItem } from './common.js';
import type { Attempt } from '../services/attempt.js';
import { mergeExtraDhcpOpts } from './extra-dhcp-opts.js';

/** Device owners of ports that routers and floating IPs manage: not changed or deleted through the port API. */
const SERVICE_OWNERS: readonly string[] = [DeviceOwner.ROUTER_INTERFACE, DeviceOwner.ROUTER_GATEWAY, DeviceOwner.FLOATING_IP];

/** Ports of network:* owners are the cloud's own (router, DHCP): no security groups by default. */
export function isTrustedOwner(deviceOwner: string): boolean {
  return deviceOwner.startsWith('network:');
}

type NbReadLike = Pick<NbTransaction, 'get' | 'lookup'>;

export async function visiblePort(tx: NbReadLike, ctx: RequestContext, id: string): Promise<{ port: LogicalPort; network: LogicalSwitch | undefined }> {
  const port = await tx.get('logical_port', id);
  if (!port) throw notFound('port', id);
  const network = await tx.get('logical_switch', port.networkId);
  if (!canSeePort(ctx, port, network)) throw notFound('port', id);
  return { port, network };
}

async function checkSecurityGroups(tx: NbReadLike, ctx: RequestContext, projectId: string, ids: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const stateful = new Set<boolean>();
  for (const id of ids) {
    const g = await tx.get('security_group', id);
    if (!g || (!ctx.isAdmin && g.projectId !== projectId)) throw notFound('security_group', id);
    if (!out.includes(id)) out.push(id);
    stateful.add(g.stateful);
  }
  // As Neutron: one port cannot be filtered statefully and statelessly at once.
  if (stateful.size > 1) {
    throw conflict('SecurityGroupConflict', 'Error Cannot apply both stateful and stateless security groups on the same port at the same time. while attempting the operation.', { field: 'security_groups' });
  }
  return out;
}

function checkAddressPairs(pairs: readonly { ip_address: string; mac_address?: string | null | undefined }[]): { ipAddress: string; macAddress: string | null }[] {
  const out: { ipAddress: string; macAddress: string | null }[] = [];
  const seen = new Set<string>();
  pairs.forEach((p, i) => {
    let ipText: string;
    try {
      ipText = p.ip_address.includes('/') ? IpNetwork.parse(p.ip_address, 'ip_address', false).toString() : parseIp(p.ip_address).toString();
    } catch {
      throw badAttribute(`allowed_address_pairs[${i}].ip_address`, `'${p.ip_address}' is not a valid IP address or CIDR`);
    }
    let mac: string | null = null;
    if (p.mac_address != null) {
      if (!MacAddress.isValid(p.mac_address) || MacAddress.parse(p.mac_address).isMulticast) {
        throw badAttribute(`allowed_address_pairs[${i}].mac_address`, `'${p.mac_address}' is not a valid unicast MAC address`);
      }
      mac = MacAddress.parse(p.mac_address).toString();
    }
    const identity = `${ipText}/${mac ?? ''}`;
    if (seen.has(identity)) {
      throw new NeutronError(400, 'DuplicateAddressPairInRequest', `Request contains duplicate address pair: mac_address ${mac ?? '(port MAC)'} ip_address ${ipText}.`, {
        field: `allowed_address_pairs[${i}]`,
      });
    }
    seen.add(identity);
    out.push({ ipAddress: ipText, macAddress: mac });
  });
  return out;
}

/** binding:profile is accepted only empty: nothing in the dataplane reads one. */
function checkProfile(profile: object | null | undefined): void {
  if (profile && Object.keys(profile).length > 0) {
    throw new NeutronError(400, 'HTTPBadRequest', `Invalid input for binding:profile. Reason: only an empty profile is supported, got keys ${Object.keys(profile).join(', ')}.`, { field: 'binding:profile' });
  }
}

function portSecurityConflict(hasGroups: boolean): NeutronError {
  return hasGroups
    ? conflict('PortSecurityPortHasSecurityGroup', 'Port has security group associated. Cannot disable port security or ip address until security group is removed', { field: 'security_groups' })
    : conflict('AddressPairAndPortSecurityRequired', 'Port Security must be enabled in order to have allowed address pairs on a port.', { field: 'allowed_address_pairs' });
}

async function createPort(tx: NbTransaction, backend: Backend, ctx: RequestContext, body: PortCreate, attempt: Attempt): Promise<LogicalPort> {
  checkFixedIpCount(backend.config.limits, body.fixed_ips);
  checkAddressPairCount(backend.config.limits, body.allowed_address_pairs);
  // The transaction reads these from the DB one by one (network, default group, the
  // subnets its checks look at): ask for them all at once, it keeps what it read.
  const subnets = await tx.lookup('subnet', 'network', body.network_id);
  const [network] = await Promise.all([
    tx.get('logical_switch', body.network_id),
    tx.get('security_group', defaultSecurityGroupId(body.project_id ?? body.tenant_id ?? ctx.projectId)),
    ...subnets.map((s) => tx.get('subnet', s.id)),
  ]);
  if (!network || !canSeeNetwork(ctx, network)) throw notFound('network', body.network_id);
  const networkOwner = owns(ctx, network);
  if (!networkOwner && !usableBy(ctx, network, 'shared')) throw policyNotAuthorized('create_port');
  requireAdminFor(ctx, 'create_port', body, ['binding:host_id']);
  checkProfile(body['binding:profile']);
  const deviceOwner = body.device_owner ?? '';
  // Neutron's policy: on a network it does not own (a shared one), a project may not
  // choose addresses, turn port security off, widen what the port may send, or pose as
  // a network:* port (the API itself trusts and manages those).
  if (!networkOwner) {
    if (body.mac_address !== undefined) throw policyNotAuthorized('create_port:mac_address');
    if (body.fixed_ips?.some((f) => f.ip_address !== undefined)) throw policyNotAuthorized('create_port:fixed_ips:ip_address');
    if (isTrustedOwner(deviceOwner)) throw policyNotAuthorized('create_port:device_owner');
    if (body.port_security_enabled !== undefined) throw policyNotAuthorized('create_port:port_security_enabled');
    if (body.allowed_address_pairs != null && body.allowed_address_pairs.length > 0) throw policyNotAuthorized('create_port:allowed_address_pairs');
  }
  const projectId = projectFor(ctx, body);
  const mac = await chooseMac(tx, network.id, backend.config.network.macPrefix, body.mac_address);
  const portSecurity = body.port_security_enabled ?? network.portSecurityEnabled;
  let groups: string[];
  if (body.security_groups === undefined) {
    groups = portSecurity && !isTrustedOwner(deviceOwner) && projectId !== '' ? [(await ensureDefaultSecurityGroup(tx, projectId)).id] : [];
  } else {
    groups = await checkSecurityGroups(tx, ctx, projectId, body.security_groups ?? []);
  }
  const pairs = checkAddressPairs(body.allowed_address_pairs ?? []);
  if (!portSecurity && groups.length > 0) {
    throw new NeutronError(400, 'PortSecurityAndIPRequiredForSecurityGroups', 'Port security must be enabled and port must have an IP address in order to use security groups.', {
      field: 'security_groups',
    });
  }
  if (!portSecurity && pairs.length > 0) throw portSecurityConflict(false);
  const fixedIps = await new IpAllocator(tx, network.id, attempt).allocate(body.fixed_ips, mac, 'fixed_ips', { deviceOwner });
  return tx.create('logical_port', {
    projectId,
    name: body.name ?? '',
    description: body.description ?? '',
    networkId: network.id,
    macAddress: mac,
    fixedIps,
    bindingHost: body['binding:host_id'] ?? '',
    deviceOwner,
    deviceId: body.device_id ?? '',
    adminStateUp: body.admin_state_up ?? true,
    portSecurityEnabled: portSecurity,
    allowedAddressPairs: pairs,
    securityGroupIds: groups,
    extraDhcpOpts: mergeExtraDhcpOpts([], body.extra_dhcp_opts),
    dnsName: checkDnsName('dns_name', body.dns_name) ?? '',
  });
}

/**
 * A port's new fixed IPs: explicit addresses are checked (its own current ones stay
 * valid); a subnet-only entry keeps an address the port already has on that subnet
 * and does not list explicitly, or allocates a new one. With `requests` undefined
 * (only the MAC changed) the port keeps its addresses. Either way its EUI-64
 * addresses follow `mac`, and an auto-address subnet the request leaves out is
 * dropped, as Neutron does.
 */
async function updatedFixedIps(tx: NbTransaction, port: LogicalPort, requests: PortUpdate['fixed_ips'], mac: string, attempt: Attempt): Promise<FixedIp[]> {
  const subnets = new Map((await tx.lookup('subnet', 'network', port.networkId)).map((s) => [s.id, s]));
  const auto = (subnetId: string | undefined): boolean => {
    const s = subnetId === undefined ? undefined : subnets.get(subnetId);
    return s !== undefined && isAutoAddressSubnet(s) && port.deviceOwner !== DeviceOwner.ROUTER_INTERFACE;
  };
  const wanted = requests ?? port.fixedIps.map((f) => ({ subnet_id: f.subnetId, ip_address: f.ipAddress }));
  const explicit = wanted.filter((r) => r.ip_address !== undefined && !auto(r.subnet_id)).map((r) => r.ip_address);
  const reusable = port.fixedIps.filter((f) => !auto(f.subnetId) && !explicit.some((e) => e !== undefined && safeCanonical(e) === f.ipAddress));
  // The port's own EUI-64 addresses stand for their subnet: recomputed from the MAC below.
  const ownAuto = new Set(port.fixedIps.filter((f) => auto(f.subnetId)).map((f) => f.ipAddress));
  const resolved = wanted.map((r) => {
    if (r.ip_address !== undefined && ownAuto.has(safeCanonical(r.ip_address))) return { subnet_id: port.fixedIps.find((f) => f.ipAddress === safeCanonical(r.ip_address!))!.subnetId };
    if (r.ip_address !== undefined || r.subnet_id === undefined) return r;
    const i = reusable.findIndex((f) => f.subnetId === r.subnet_id);
    if (i < 0) return r;
    const [keep] = reusable.splice(i, 1);
    return { subnet_id: r.subnet_id, ip_address: keep!.ipAddress };
  });
  const named = new Set(resolved.map((r) => r.subnet_id ?? subnetOfAddress(subnets, r.ip_address)));
  const skipAuto = new Set([...subnets.keys()].filter((id) => auto(id) && !named.has(id)));
  return new IpAllocator(tx, port.networkId, attempt, port.id).allocate(resolved, mac, 'fixed_ips', { deviceOwner: port.deviceOwner, skipAuto });
}

function subnetOfAddress(subnets: Map<string, Subnet>, ip: string | undefined): string | undefined {
  if (ip === undefined || !isValidIp(ip)) return undefined;
  const addr = parseIp(ip);
  return [...subnets.values()].find((s) => IpNetwork.parse(s.cidr).contains(addr))?.id;
}

function safeCanonical(text: string): string {
  try {
    return parseIp(text).toString();
  } catch {
    return text;
  }
}

async function updatePort(tx: NbTransaction, backend: Backend, ctx: RequestContext, id: string, body: PortUpdate, revision: number | undefined, attempt: Attempt): Promise<LogicalPort> {
  checkFixedIpCount(backend.config.limits, body.fixed_ips);
  checkAddressPairCount(backend.config.limits, body.allowed_address_pairs);
  const { port, network } = await visiblePort(tx, ctx, id);
  checkRevision(revision, port.version);
  // Neutron's policy: the port's project (or an admin) updates a port — not the owner
  // of the shared network it sits on; what only the network owner may do on create,
  // only the network owner may change later.
  if (!owns(ctx, port)) throw policyNotAuthorized('update_port');
  const networkOwner = network !== undefined && owns(ctx, network);
  if (!networkOwner) {
    if (body.port_security_enabled !== undefined) throw policyNotAuthorized('update_port:port_security_enabled');
    if (body.allowed_address_pairs !== undefined) throw policyNotAuthorized('update_port:allowed_address_pairs');
    if (body.device_owner !== undefined && isTrustedOwner(body.device_owner)) throw policyNotAuthorized('update_port:device_owner');
    if (body.fixed_ips !== undefined) throw policyNotAuthorized('update_port:fixed_ips');
  }
  requireAdminFor(ctx, 'update_port', body, ['binding:host_id']);
  checkProfile(body['binding:profile']);
  if (!ctx.isAdmin && body.mac_address !== undefined) throw policyNotAuthorized('update_port:mac_address');
  if (!networkOwner && body.fixed_ips?.some((f) => f.ip_address !== undefined)) throw policyNotAuthorized('update_port:fixed_ips:ip_address');
  if (SERVICE_OWNERS.includes(port.deviceOwner)) {
    const locked = (['fixed_ips', 'device_id', 'device_owner', 'mac_address'] as const).find((a) => body[a] !== undefined);
    if (locked) throw new NeutronError(400, 'BadRequest', `Bad port request: ${locked} of port ${id} is managed by its ${port.deviceOwner} owner ${port.deviceId}; change it through that resource.`, { field: locked });
  }
  if (body.device_owner !== undefined && SERVICE_OWNERS.includes(body.device_owner) && body.device_owner !== port.deviceOwner) {
    throw new NeutronError(400, 'BadRequest', `Bad port request: device_owner ${body.device_owner} is set by the router and floating IP APIs, not by a port update.`, { field: 'device_owner' });
  }
  let mac = port.macAddress;
  if (body.mac_address !== undefined && body.mac_address.toLowerCase() !== port.macAddress) {
    if (port.chassisId !== null) {
      throw conflict('PortBound', `Unable to complete operation on port ${id}, port is already bound, port type: ovs, old_mac ${port.macAddress}, new_mac ${body.mac_address}.`, { field: 'mac_address' });
    }
    mac = await chooseMac(tx, port.networkId, backend.config.network.macPrefix, body.mac_address);
  }
  const fixedIps = body.fixed_ips === undefined && mac === port.macAddress ? port.fixedIps : await updatedFixedIps(tx, port, body.fixed_ips, mac, attempt);
  for (const f of await tx.lookup('floating_ip', 'port', id)) {
    if (f.fixedIpAddress !== null && !fixedIps.some((x) => x.ipAddress === f.fixedIpAddress)) {
      throw conflict('PortInUse', `Fixed IP ${f.fixedIpAddress} of port ${id} has floating IP ${f.floatingIpAddress} associated; disassociate it before removing the address.`, { field: 'fixed_ips' });
    }
  }
  const portSecurity = body.port_security_enabled ?? port.portSecurityEnabled;
  const groups = body.security_groups === undefined ? port.securityGroupIds : await checkSecurityGroups(tx, ctx, port.projectId, body.security_groups ?? []);
  const pairs = body.allowed_address_pairs === undefined ? port.allowedAddressPairs : checkAddressPairs(body.allowed_address_pairs ?? []);
  if (!portSecurity && groups.length > 0) throw portSecurityConflict(true);
  if (!portSecurity && pairs.length > 0) throw portSecurityConflict(false);
  return tx.update('logical_port', {
    ...port,
    name: body.name ?? port.name,
    description: body.description ?? port.description,
    adminStateUp: body.admin_state_up ?? port.adminStateUp,
    macAddress: mac,
    fixedIps,
    deviceId: body.device_id ?? port.deviceId,
    deviceOwner: body.device_owner ?? port.deviceOwner,
    bindingHost: body['binding:host_id'] ?? port.bindingHost,
    portSecurityEnabled: portSecurity,
    securityGroupIds: groups,
    allowedAddressPairs: pairs,
    extraDhcpOpts: body.extra_dhcp_opts === undefined ? port.extraDhcpOpts : mergeExtraDhcpOpts(port.extraDhcpOpts, body.extra_dhcp_opts),
    dnsName: checkDnsName('dns_name', body.dns_name) ?? port.dnsName,
  });
}

async function deletePort(tx: NbTransaction, ctx: RequestContext, id: string, revision: number | undefined): Promise<void> {
  const { port, network } = await visiblePort(tx, ctx, id);
  if (!owns(ctx, port) && !(network && owns(ctx, network))) throw policyNotAuthorized('delete_port');
  checkRevision(revision, port.version);
  if (port.deviceOwner === DeviceOwner.ROUTER_INTERFACE || port.deviceOwner === DeviceOwner.ROUTER_GATEWAY) {
    if ((await tx.lookup('logical_router', 'port', id)).length > 0) {
      throw conflict('ServicePortInUse', `Port ${id} cannot be deleted directly via the port API: has device owner ${port.deviceOwner}.`);
    }
  }
  if (port.deviceOwner === DeviceOwner.FLOATING_IP && (await tx.list('floating_ip')).some((f) => f.floatingPortId === id)) {
    throw conflict('ServicePortInUse', `Port ${id} cannot be deleted directly via the port API: has device owner ${port.deviceOwner}.`);
  }
  // Floating IPs on the port lose their association, as in Neutron.
  for (const f of await tx.lookup('floating_ip', 'port', id)) {
    await tx.update('floating_ip', { ...f, portId: null, fixedIpAddress: null, routerId: null, status: 'DOWN' });
  }
  await tx.delete('logical_port', id);
}

export function registerPorts(app: ApiApp, backend: Backend): void {
  const { nb } = backend;
  const tag = 'ports';

  app.get('/v2.0/ports', { schema: { ...tagged(tag, 'List ports'), querystring: ListQuery, response: { 200: collectionAnswer('ports') } } }, async (req, reply) => {
    const ctx = ctxOf(req);
    const networks = new Map((await nb.list('logical_switch')).map((n) => [n.id, n]));
    const ports = await nb.list('logical_port', (p) => canSeePort(ctx, p, networks.get(p.networkId)));
    const entries: ListEntry[] = [];
    for (const p of ports) entries.push({ view: portView(p, ctx, await bindingOf(nb, p)), order: p.createdAt ?? '' });
    return sendList(req, reply, backend, 'ports', COLLECTIONS.ports, 'port', entries);
  });

  app.get('/v2.0/ports/:id', { schema: { ...tagged(tag, 'Show a port'), params: IdParams, querystring: ShowQuery, response: { 200: resourceAnswer('port') } } }, async (req, reply) => {
    const ctx = ctxOf(req);
    const { port } = await visiblePort(nb, ctx, req.params.id);
    return sendOne(req, reply, 'port', portView(port, ctx, await bindingOf(nb, port)));
  });

  app.post(
    '/v2.0/ports',
    { schema: { ...tagged(tag, 'Create a port (IPAM, MAC, default security group)'), body: createEnvelope('port', 'ports', PortCreate), response: { 201: resourceAnswer('port') } } },
    async (req, reply) => {
      const ctx = ctxOf(req);
      const { items, bulk } = createItems<PortCreate>(req.body, 'port', 'ports', backend.config.limits);
      const quota = backend.quotaCheck();
      const created = await backend.write(async (tx, attempt) => {
        const out: LogicalPort[] = [];
        for (const item of items) {
          const p = await createPort(tx, backend, ctx, item, attempt);
          await quota.enforce(tx, p.projectId, 'port');
          out.push(p);
        }
        return out;
      });
      const views = [];
      for (const p of created) views.push(portView(p, ctx, await bindingOf(nb, p)));
      return sendCreated(reply, 'port', 'ports', views, bulk);
    },
  );

  app.put('/v2.0/ports/:id', { schema: { ...tagged(tag, 'Update a port'), params: IdParams, body: updateEnvelope('port', PortUpdate), response: { 200: resourceAnswer('port') } } }, async (req, reply) => {
    const ctx = ctxOf(req);
    const body = updateItem<PortUpdate>(req.body, 'port');
    const revision = ifMatchRevision(req);
    const p = await backend.write((tx, attempt) => updatePort(tx, backend, ctx, req.params.id, body, revision, attempt));
    return sendOne(req, reply, 'port', portView(p, ctx, await bindingOf(nb, p)));
  });

  app.delete('/v2.0/ports/:id', { schema: { ...tagged(tag, 'Delete a port'), params: IdParams } }, async (req, reply) => {
    const ctx = ctxOf(req);
    const revision = ifMatchRevision(req);
    await backend.write((tx) => deletePort(tx, ctx, req.params.id, revision));
    return reply.code(204).send();
  });
}
