import { parseIp } from '@dragonflow/base';
import type { LogicalPort, LogicalSwitch, Subnet } from '@dragonflow/nb';
import { notFound, policyNotAuthorized } from '../neutron/errors.js';
import type { CollectionSpec, Dict, ListEntry } from '../neutron/query.js';
import { IdParams, ListQuery, ShowQuery } from '../neutron/schemas.js';
import type { Backend } from '../services/backend.js';
import { type Pool, subnetPools } from '../services/ipam.js';
import { type ApiApp, ctxOf, sendList, sendOne, tagged } from './common.js';

/*
 * network-ip-availability: per network and subnet, how many addresses the allocation
 * pools hold (total_ips) and how many of them ports use (used_ips). Admin only, as
 * Neutron's default policy. An IPv6 pool's size beyond 2^53 is answered as the
 * nearest JSON number (Neutron's clients read it as a float too).
 */

function poolSize(p: Pool): bigint {
  return p.end.toBigInt() - p.start.toBigInt() + 1n;
}

function inPools(pools: readonly Pool[], ip: string): boolean {
  const v = parseIp(ip).toBigInt();
  return pools.some((p) => p.start.family === parseIp(ip).family && v >= p.start.toBigInt() && v <= p.end.toBigInt());
}

function subnetAvailability(s: Subnet, ports: readonly LogicalPort[]): Dict & { total: bigint; used: number } {
  const pools = subnetPools(s);
  const total = pools.reduce((n, p) => n + poolSize(p), 0n);
  // Addresses inside the pools only: the gateway and addresses set outside them do not use the pools up.
  const used = ports.reduce((n, p) => n + p.fixedIps.filter((f) => f.subnetId === s.id && inPools(pools, f.ipAddress)).length, 0);
  return { subnet_id: s.id, subnet_name: s.name, cidr: s.cidr, ip_version: s.ipVersion, total_ips: Number(total), used_ips: used, total, used };
}

function availabilityView(ls: LogicalSwitch, subnets: readonly Subnet[], ports: readonly LogicalPort[]): Dict {
  const per = subnets.map((s) => subnetAvailability(s, ports));
  const total = per.reduce((n, s) => n + s.total, 0n);
  const used = per.reduce((n, s) => n + s.used, 0);
  return {
    network_id: ls.id,
    network_name: ls.name,
    tenant_id: ls.projectId,
    project_id: ls.projectId,
    total_ips: Number(total),
    used_ips: used,
    subnet_ip_availability: per.map(({ total: _t, used: _u, ...view }) => view),
  };
}

const SPEC: CollectionSpec = {
  filterable: new Set(['network_id', 'network_name', 'tenant_id', 'project_id']),
  sortable: new Set(['network_id', 'network_name', 'tenant_id', 'project_id', 'total_ips', 'used_ips']),
};

export function registerIpAvailability(app: ApiApp, backend: Backend): void {
  const { nb } = backend;
  const tag = 'network-ip-availability';

  const view = async (ls: LogicalSwitch): Promise<Dict> => availabilityView(ls, await nb.subnetsByNetwork(ls.id), await nb.lookup('logical_port', 'network', ls.id));

  app.get('/v2.0/network-ip-availabilities', { schema: { ...tagged(tag, 'IP availability of every network (admin)'), querystring: ListQuery } }, async (req, reply) => {
    if (!ctxOf(req).isAdmin) throw policyNotAuthorized('get_network_ip_availability');
    // ip_version filters the networks that have a subnet of that version, as Neutron does.
    const q = req.query as Record<string, string | string[] | undefined>;
    const versions = q['ip_version'] === undefined ? null : [q['ip_version']].flat();
    const entries: ListEntry[] = [];
    for (const ls of await nb.list('logical_switch')) {
      const v = await view(ls);
      if (versions && !(v['subnet_ip_availability'] as { ip_version: number }[]).some((s) => versions.includes(String(s.ip_version)))) continue;
      entries.push({ view: v, order: ls.createdAt ?? '' });
    }
    const { ip_version: _v, ...rest } = q;
    return sendList(req, reply, backend, 'network-ip-availabilities', SPEC, 'network', entries, { key: 'network_ip_availabilities', query: rest });
  });

  app.get('/v2.0/network-ip-availabilities/:id', { schema: { ...tagged(tag, 'IP availability of one network (admin)'), params: IdParams, querystring: ShowQuery } }, async (req, reply) => {
    if (!ctxOf(req).isAdmin) throw policyNotAuthorized('get_network_ip_availability');
    const ls = await nb.get('logical_switch', req.params.id);
    if (!ls) throw notFound('network', req.params.id);
    return sendOne(req, reply, 'network_ip_availability', await view(ls));
  });
}
