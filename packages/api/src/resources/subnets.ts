import { IpNetwork, MacAddress, compareIp, parseIp } from '@dragonflow/base';
import { DeviceOwner, type NbTransaction, type Subnet, eui64Address, isAutoAddressSubnet, isNetworkOrBroadcast } from '@dragonflow/nb';
import type { RequestContext } from '../auth.js';
import { NeutronError, badAttribute, conflict, invalidInput, notFound, policyNotAuthorized } from '../neutron/errors.js';
import type { ListEntry } from '../neutron/query.js';
import { IdParams, ListQuery, ShowQuery, SubnetCreate, SubnetUpdate, collectionAnswer, createEnvelope, resourceAnswer, updateEnvelope } from '../neutron/schemas.js';
import { cidrAttr, ipAttr } from '../neutron/addresses.js';
import { checkSubnetCounts } from '../neutron/limits.js';
import { COLLECTIONS, subnetView } from '../neutron/views.js';
import { type Backend, canSeeNetwork, owns, projectFor } from '../services/backend.js';
import { syncDhcpPort } from '../services/dhcp.js';
import { defaultPools } from '../services/ipam.js';
import { type ApiApp, checkRevision, createItems, ctxOf, ifMatchRevision, sendCreated, sendList, sendOne, tagged, updateItem } from './common.js';
import { visibleNetwork } from './networks.js';
import type { Attempt } from '../services/attempt.js';

function strictCidr(field: string, text: string): IpNetwork {
  const net = cidrAttr(field, text);
  if (!net.address.equals(parseIp(text.slice(0, text.indexOf('/'))))) {
    throw badAttribute(field, `'${text}' isn't a recommended CIDR, '${net.toString()}' should be specified instead`);
  }
  return net;
}

/** Ranges no subnet with DHCP may use (Neutron: netaddr's is_multicast, is_loopback, is_link_local). */
const DHCP_REFUSED: { kind: string; range: IpNetwork }[] = [
  { kind: 'Multicast', range: IpNetwork.parse('224.0.0.0/4') },
  { kind: 'Multicast', range: IpNetwork.parse('ff00::/8') },
  { kind: 'Loopback', range: IpNetwork.parse('127.0.0.0/8') },
  { kind: 'Loopback', range: IpNetwork.parse('::1/128') },
  { kind: 'Link-local', range: IpNetwork.parse('169.254.0.0/16') },
  { kind: 'Link-local', range: IpNetwork.parse('fe80::/10') },
];

/** A CIDR a subnet may have at all: not /0 (every address, as Neutron refuses). */
function checkPrefix(net: IpNetwork): void {
  if (net.prefixLength === 0) throw invalidInput('0 is not allowed as CIDR prefix length', 'cidr');
}

/** A CIDR DHCP can serve, as Neutron checks it when DHCP is (turned) on. */
function checkDhcpCidr(net: IpNetwork): void {
  const hit = DHCP_REFUSED.find((r) => r.range.family === net.family && r.range.contains(net.first));
  if (hit) throw invalidInput(`${hit.kind} IP subnet is not supported if enable_dhcp is True.`, 'cidr');
}

/** Gateway, pools, DNS servers and host routes, checked against the CIDR (create and update). */
interface SubnetShape {
  gatewayIp: string | null;
  allocationPools: { start: string; end: string }[];
  dnsNameservers: string[];
  hostRoutes: { destination: string; nexthop: string }[];
}

function checkGateway(net: IpNetwork, text: string | null): string | null {
  if (text === null) return null;
  const gw = ipAttr('gateway_ip', text);
  if (!net.contains(gw)) throw invalidInput(`Gateway IP ${text} is outside subnet ${net.toString()}.`, 'gateway_ip');
  if (isNetworkOrBroadcast(net, gw)) {
    throw invalidInput(`Gateway IP ${text} is the network or broadcast address of ${net.toString()}.`, 'gateway_ip');
  }
  return gw.toString();
}

function checkPools(net: IpNetwork, gateway: string | null, pools: { start: string; end: string }[] | undefined): { start: string; end: string }[] {
  if (pools === undefined) return defaultPools(net, gateway === null ? null : parseIp(gateway)).map((p) => ({ start: p.start.toString(), end: p.end.toString() }));
  const parsed = pools.map((p, i) => {
    const start = ipAttr(`allocation_pools[${i}].start`, p.start);
    const end = ipAttr(`allocation_pools[${i}].end`, p.end);
    if (!net.contains(start) || !net.contains(end) || isNetworkOrBroadcast(net, start) || isNetworkOrBroadcast(net, end)) {
      throw new NeutronError(400, 'OutOfBoundsAllocationPool', `The allocation pool ${p.start}-${p.end} spans beyond the subnet cidr ${net.toString()}.`, { field: `allocation_pools[${i}]` });
    }
    if (compareIp(start, end) > 0) throw new NeutronError(400, 'InvalidAllocationPool', `The allocation pool ${p.start}-${p.end} is not valid.`, { field: `allocation_pools[${i}]` });
    return { start, end, i };
  });
  // Sorted by start, pools overlap only if one starts before its predecessor ends: n·log n.
  const sorted = [...parsed].sort((a, b) => compareIp(a.start, b.start) || a.i - b.i);
  for (let k = 1; k < sorted.length; k++) {
    const a = sorted[k - 1]!;
    const b = sorted[k]!;
    if (compareIp(b.start, a.end) <= 0) {
      const [first, second] = a.i < b.i ? [a, b] : [b, a];
      throw new NeutronError(400, 'OverlappingAllocationPools', `Found overlapping allocation pools: ${first.start}-${first.end} and ${second.start}-${second.end} for subnet ${net.toString()}.`, {
        field: `allocation_pools[${second.i}]`,
      });
    }
  }
  if (gateway !== null) {
    const gw = parseIp(gateway);
    const hit = parsed.find((a) => compareIp(a.start, gw) <= 0 && compareIp(gw, a.end) <= 0);
    if (hit) throw conflict('GatewayConflictWithAllocationPools', `Gateway ip ${gateway} conflicts with allocation pool ${hit.start}-${hit.end}`, { field: 'gateway_ip' });
  }
  return parsed.map((p) => ({ start: p.start.toString(), end: p.end.toString() }));
}

function checkDns(version: 4 | 6, list: string[] | undefined): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  (list ?? []).forEach((s, i) => {
    const addr = ipAttr(`dns_nameservers[${i}]`, s);
    if (addr.family !== version) throw invalidInput(`dns_nameserver '${s}' does not match the ip_version '${version}'`, `dns_nameservers[${i}]`);
    const a = addr.toString();
    if (seen.has(a)) throw badAttribute(`dns_nameservers[${i}]`, `Duplicate nameserver '${s}'`);
    seen.add(a);
    out.push(a);
  });
  return out;
}

function checkRoutes(version: 4 | 6, list: { destination: string; nexthop: string }[] | undefined): { destination: string; nexthop: string }[] {
  const out: { destination: string; nexthop: string }[] = [];
  const seen = new Set<string>();
  (list ?? []).forEach((r, i) => {
    const dst = strictCidr(`host_routes[${i}].destination`, r.destination);
    const hop = ipAttr(`host_routes[${i}].nexthop`, r.nexthop);
    if (dst.family !== version || hop.family !== version) throw invalidInput(`host route ${r.destination} via ${r.nexthop} is not IPv${version}.`, `host_routes[${i}]`);
    const route = { destination: dst.toString(), nexthop: hop.toString() };
    const identity = `${route.destination} ${route.nexthop}`;
    if (seen.has(identity)) throw badAttribute(`host_routes[${i}]`, `Duplicate hostroute '${r.destination} via ${r.nexthop}'`);
    seen.add(identity);
    out.push(route);
  });
  return out;
}

async function createSubnet(tx: NbTransaction, backend: Backend, ctx: RequestContext, input: SubnetCreate, attempt: Attempt): Promise<Subnet> {
  checkSubnetCounts(backend.config.limits, input.cidr, input);
  const body = { ...input, ip_version: Number(input.ip_version) as 4 | 6 };
  const network = await visibleNetwork(tx, ctx, body.network_id);
  if (!owns(ctx, network)) throw policyNotAuthorized('create_subnet');
  const projectId = projectFor(ctx, body);
  const net = strictCidr('cidr', body.cidr);
  if (net.family !== body.ip_version) throw invalidInput(`cidr ${body.cidr} is an IPv${net.family} network but ip_version is ${body.ip_version}.`, 'cidr');
  checkPrefix(net);
  if (body.enable_dhcp ?? true) checkDhcpCidr(net);
  const maxPrefix = net.family === 4 ? 30 : 126;
  if (net.prefixLength > maxPrefix) throw invalidInput(`the prefix length of ${body.cidr} must be at most ${maxPrefix} to leave room for hosts.`, 'cidr');
  const addrMode = body.ipv6_address_mode ?? null;
  const raMode = body.ipv6_ra_mode ?? null;
  if (net.family === 4 && (addrMode !== null || raMode !== null)) {
    throw invalidInput(`${addrMode !== null ? 'ipv6_address_mode' : 'ipv6_ra_mode'} is not valid when ip_version is 4.`, addrMode !== null ? 'ipv6_address_mode' : 'ipv6_ra_mode');
  }
  if ((addrMode !== null || raMode !== null) && body.enable_dhcp === false) {
    throw invalidInput('ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False', addrMode !== null ? 'ipv6_address_mode' : 'ipv6_ra_mode');
  }
  if (addrMode !== null && raMode !== null && addrMode !== raMode) {
    throw invalidInput(`ipv6_ra_mode set to '${raMode}' with ipv6_address_mode set to '${addrMode}' is not valid. If both attributes are set, they must be the same value.`, 'ipv6_ra_mode');
  }
  if (isAutoAddressSubnet({ ipVersion: body.ip_version, ipv6AddressMode: addrMode, ipv6RaMode: raMode }) && net.prefixLength !== 64) {
    throw invalidInput(`Invalid CIDR ${body.cidr} for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64`, 'cidr');
  }
  for (const other of await tx.lookup('subnet', 'network', network.id)) {
    if (IpNetwork.parse(other.cidr).overlaps(net)) {
      throw invalidInput(`Requested subnet with cidr: ${net.toString()} for network: ${network.id} overlaps with another subnet.`, 'cidr');
    }
  }
  const gatewayIp = checkGateway(net, body.gateway_ip === undefined ? net.at(1n).toString() : body.gateway_ip);
  const shape: SubnetShape = {
    gatewayIp,
    allocationPools: checkPools(net, gatewayIp, body.allocation_pools),
    dnsNameservers: checkDns(body.ip_version, body.dns_nameservers),
    hostRoutes: checkRoutes(body.ip_version, body.host_routes),
  };
  if (shape.allocationPools.length === 0) throw invalidInput(`subnet ${net.toString()} has no addresses to allocate.`, 'allocation_pools');
  const subnet = await tx.create('subnet', {
    projectId,
    name: body.name ?? '',
    description: body.description ?? '',
    networkId: network.id,
    ipVersion: body.ip_version,
    cidr: net.toString(),
    enableDhcp: body.enable_dhcp ?? true,
    ipv6AddressMode: addrMode,
    ipv6RaMode: raMode,
    ...shape,
  });
  if (isAutoAddressSubnet(subnet)) await addAutoAddresses(tx, subnet);
  if (subnet.enableDhcp) await syncDhcpPort(tx, network.id, backend.config.network.macPrefix, attempt);
  return subnet;
}

/**
 * A new auto-address subnet gives every port already on the network (but router
 * interfaces, which take the gateway address) its EUI-64 address there, as Neutron
 * does: the VMs configure it from the next router advertisement anyway.
 */
async function addAutoAddresses(tx: NbTransaction, subnet: Subnet): Promise<void> {
  const prefix = IpNetwork.parse(subnet.cidr);
  for (const p of await tx.lookup('logical_port', 'network', subnet.networkId)) {
    if (p.deviceOwner === DeviceOwner.ROUTER_INTERFACE) continue;
    const ip = eui64Address(prefix, MacAddress.parse(p.macAddress)).toString();
    if ((await tx.lookup('logical_port', 'ip', `${subnet.networkId}/${ip}`)).length > 0) continue;
    await tx.update('logical_port', { ...p, fixedIps: [...p.fixedIps, { subnetId: subnet.id, ipAddress: ip }] });
  }
}

async function visibleSubnet(tx: Pick<NbTransaction, 'get'>, ctx: RequestContext, id: string): Promise<Subnet> {
  const s = await tx.get('subnet', id);
  if (!s) throw notFound('subnet', id);
  if (owns(ctx, s)) return s;
  const network = await tx.get('logical_switch', s.networkId);
  if (!network || !canSeeNetwork(ctx, network)) throw notFound('subnet', id);
  return s;
}

async function updateSubnet(tx: NbTransaction, backend: Backend, ctx: RequestContext, id: string, body: SubnetUpdate, revision: number | undefined, attempt: Attempt): Promise<Subnet> {
  checkSubnetCounts(backend.config.limits, id, body);
  const s = await visibleSubnet(tx, ctx, id);
  if (!owns(ctx, s)) throw policyNotAuthorized('update_subnet');
  checkRevision(revision, s.version);
  const net = IpNetwork.parse(s.cidr);
  if (body.enable_dhcp === true && !s.enableDhcp) checkDhcpCidr(net);
  if (body.enable_dhcp === false && (s.ipv6AddressMode !== null || s.ipv6RaMode !== null)) throw invalidInput('Cannot disable enable_dhcp with ipv6 attributes set', 'enable_dhcp');
  const gatewayIp = body.gateway_ip === undefined ? s.gatewayIp : checkGateway(net, body.gateway_ip);
  if (gatewayIp !== s.gatewayIp) {
    const ports = await tx.lookup('logical_port', 'subnet', id);
    const router = ports.find((p) => p.deviceOwner === DeviceOwner.ROUTER_INTERFACE && p.fixedIps.some((f) => f.subnetId === id && f.ipAddress === s.gatewayIp));
    if (router) throw conflict('GatewayIpInUse', `Gateway ip ${s.gatewayIp} of subnet ${id} is used by router interface port ${router.id}. Unable to update.`, { field: 'gateway_ip' });
    const holder = gatewayIp === null ? undefined : ports.find((p) => p.fixedIps.some((f) => f.ipAddress === gatewayIp));
    if (holder) throw conflict('GatewayIpInUse', `Gateway ip ${gatewayIp} already in use by port ${holder.id}. Unable to update.`, { field: 'gateway_ip' });
  }
  const pools =
    body.allocation_pools !== undefined
      ? checkPools(net, gatewayIp, body.allocation_pools)
      : gatewayIp !== s.gatewayIp && s.allocationPools.length > 0
        ? checkPools(net, gatewayIp, s.allocationPools)
        : s.allocationPools;
  const updated = await tx.update('subnet', {
    ...s,
    name: body.name ?? s.name,
    description: body.description ?? s.description,
    gatewayIp,
    allocationPools: pools,
    dnsNameservers: body.dns_nameservers === undefined ? s.dnsNameservers : checkDns(s.ipVersion, body.dns_nameservers),
    hostRoutes: body.host_routes === undefined ? s.hostRoutes : checkRoutes(s.ipVersion, body.host_routes),
    enableDhcp: body.enable_dhcp ?? s.enableDhcp,
  });
  if (updated.enableDhcp !== s.enableDhcp) await syncDhcpPort(tx, s.networkId, backend.config.network.macPrefix, attempt);
  return updated;
}

async function deleteSubnet(tx: NbTransaction, backend: Backend, ctx: RequestContext, id: string, revision: number | undefined, attempt: Attempt): Promise<void> {
  const s = await visibleSubnet(tx, ctx, id);
  if (!owns(ctx, s)) throw policyNotAuthorized('delete_subnet');
  checkRevision(revision, s.version);
  const users = (await tx.lookup('logical_port', 'subnet', id)).filter((p) => p.deviceOwner !== DeviceOwner.DHCP);
  if (users.length > 0) {
    const router = users.find((p) => p.deviceOwner === DeviceOwner.ROUTER_INTERFACE || p.deviceOwner === DeviceOwner.ROUTER_GATEWAY);
    const why = router ? `Subnet is used by router ${router.deviceId} (port ${router.id}).` : 'One or more ports have an IP allocation from this subnet.';
    throw conflict('SubnetInUse', `Unable to complete operation on subnet ${id}: ${why}`, { ports: users.slice(0, 10).map((p) => p.id) });
  }
  await tx.delete('subnet', id);
  await syncDhcpPort(tx, s.networkId, backend.config.network.macPrefix, attempt);
}

export function registerSubnets(app: ApiApp, backend: Backend): void {
  const { nb } = backend;
  const tag = 'subnets';

  app.get('/v2.0/subnets', { schema: { ...tagged(tag, 'List subnets'), querystring: ListQuery, response: { 200: collectionAnswer('subnets') } } }, async (req, reply) => {
    const ctx = ctxOf(req);
    const networks = new Map((await nb.list('logical_switch')).map((n) => [n.id, n]));
    const entries: ListEntry[] = (await nb.list('subnet'))
      .filter((s) => {
        const n = networks.get(s.networkId);
        return owns(ctx, s) || (n !== undefined && canSeeNetwork(ctx, n));
      })
      .map((s) => ({ view: subnetView(s), order: s.createdAt ?? '' }));
    return sendList(req, reply, backend, 'subnets', COLLECTIONS.subnets, 'subnet', entries);
  });

  app.get('/v2.0/subnets/:id', { schema: { ...tagged(tag, 'Show a subnet'), params: IdParams, querystring: ShowQuery, response: { 200: resourceAnswer('subnet') } } }, async (req, reply) => {
    const s = await visibleSubnet(nb, ctxOf(req), req.params.id);
    return sendOne(req, reply, 'subnet', subnetView(s));
  });

  app.post(
    '/v2.0/subnets',
    { schema: { ...tagged(tag, 'Create a subnet (and the network DHCP port when DHCP is on)'), body: createEnvelope('subnet', 'subnets', SubnetCreate), response: { 201: resourceAnswer('subnet') } } },
    async (req, reply) => {
      const ctx = ctxOf(req);
      const { items, bulk } = createItems<SubnetCreate>(req.body, 'subnet', 'subnets', backend.config.limits);
      const quota = backend.quotaCheck();
      const created = await backend.write(async (tx, attempt) => {
        const out: Subnet[] = [];
        for (const item of items) {
          const s = await createSubnet(tx, backend, ctx, item, attempt);
          await quota.enforce(tx, s.projectId, 'subnet');
          out.push(s);
        }
        return out;
      });
      return sendCreated(reply, 'subnet', 'subnets', created.map(subnetView), bulk);
    },
  );

  app.put('/v2.0/subnets/:id', { schema: { ...tagged(tag, 'Update a subnet'), params: IdParams, body: updateEnvelope('subnet', SubnetUpdate), response: { 200: resourceAnswer('subnet') } } }, async (req, reply) => {
    const ctx = ctxOf(req);
    const body = updateItem<SubnetUpdate>(req.body, 'subnet');
    const revision = ifMatchRevision(req);
    const s = await backend.write((tx, attempt) => updateSubnet(tx, backend, ctx, req.params.id, body, revision, attempt));
    return sendOne(req, reply, 'subnet', subnetView(s));
  });

  app.delete('/v2.0/subnets/:id', { schema: { ...tagged(tag, 'Delete a subnet'), params: IdParams } }, async (req, reply) => {
    const ctx = ctxOf(req);
    const revision = ifMatchRevision(req);
    await backend.write((tx, attempt) => deleteSubnet(tx, backend, ctx, req.params.id, revision, attempt));
    return reply.code(204).send();
  });
}

export { visibleSubnet };
