import type { FloatingIp, LogicalPort, LogicalRouter, LogicalSwitch, SecurityGroup, SecurityGroupRule, Subnet } from '@dragonflow/nb';
import { segmentIdOf } from '@dragonflow/nb';
import type { RequestContext } from '../auth.js';
import { dnsAssignment } from '../services/dns.js';
import { sharedWith } from '../services/rbac.js';
import { zonesOf } from '../services/zones.js';
import type { CollectionSpec, Dict } from './query.js';

/*
 * Northbound objects as Neutron answers them. Every resource carries the standard
 * attributes (project_id and tenant_id, description, tags, created_at, updated_at,
 * revision_number); admin-only attributes (provider:*, binding:host_id/vif_*) are
 * shown to admins only, as Neutron's default policy does.
 */

/** Neutron timestamps have no fraction: 2024-05-01T10:00:00Z. */
export function timestamp(iso: string | undefined): string | null {
  if (!iso) return null;
  return iso.replace(/\.\d+Z$/, 'Z');
}

function standard(o: { id: string; projectId: string; description: string; tags?: string[] | undefined; createdAt?: string | undefined; updatedAt?: string | undefined; version: number }): Dict {
  return {
    id: o.id,
    tenant_id: o.projectId,
    project_id: o.projectId,
    description: o.description,
    // Objects stored before tags existed have none.
    tags: o.tags ?? [],
    created_at: timestamp(o.createdAt),
    updated_at: timestamp(o.updatedAt),
    revision_number: o.version,
  };
}

export function networkView(ls: LogicalSwitch, subnetIds: string[], ctx: RequestContext, zones: readonly string[]): Dict {
  const v: Dict = {
    ...standard(ls),
    name: ls.name,
    status: 'ACTIVE',
    admin_state_up: ls.adminStateUp,
    // Shared for this caller: with everyone, or with its project by a grant.
    shared: sharedWith(ls, ctx.projectId),
    'router:external': ls.external,
    mtu: ls.mtu,
    port_security_enabled: ls.portSecurityEnabled,
    subnets: subnetIds,
    l2_adjacency: true,
    availability_zone_hints: ls.availabilityZoneHints ?? [],
    dns_domain: ls.dnsDomain ?? '',
    availability_zones: zonesOf(ls.availabilityZoneHints, zones),
  };
  if (ctx.isAdmin) {
    v['provider:network_type'] = ls.networkType;
    v['provider:physical_network'] = ls.physicalNetwork;
    v['provider:segmentation_id'] = segmentIdOf(ls);
  }
  return v;
}

export function subnetView(s: Subnet): Dict {
  return {
    ...standard(s),
    name: s.name,
    network_id: s.networkId,
    ip_version: s.ipVersion,
    cidr: s.cidr,
    gateway_ip: s.gatewayIp,
    enable_dhcp: s.enableDhcp,
    dns_nameservers: s.dnsNameservers,
    host_routes: s.hostRoutes.map((r) => ({ destination: r.destination, nexthop: r.nexthop })),
    allocation_pools: s.allocationPools.map((p) => ({ start: p.start, end: p.end })),
    ipv6_address_mode: s.ipv6AddressMode,
    ipv6_ra_mode: s.ipv6RaMode,
    subnetpool_id: null,
    service_types: [],
    segment_id: null,
  };
}

/** How a port's binding looks: unbound, bound to a known chassis (and its switch), or asked for an unknown host. */
export type BindingState = 'unbound' | 'failed' | { readonly chassis: string; readonly bridge: string; readonly datapathType: string };

export function portView(p: LogicalPort, ctx: RequestContext, binding: BindingState): Dict {
  const v: Dict = {
    ...standard(p),
    name: p.name,
    network_id: p.networkId,
    mac_address: p.macAddress,
    admin_state_up: p.adminStateUp,
    status: p.status,
    device_id: p.deviceId,
    device_owner: p.deviceOwner,
    fixed_ips: p.fixedIps.map((f) => ({ subnet_id: f.subnetId, ip_address: f.ipAddress })),
    allowed_address_pairs: p.allowedAddressPairs.map((a) => ({ ip_address: a.ipAddress, mac_address: a.macAddress ?? p.macAddress })),
    security_groups: p.securityGroupIds,
    port_security_enabled: p.portSecurityEnabled,
    extra_dhcp_opts: p.extraDhcpOpts.map((o) => ({ opt_name: o.optName, opt_value: o.optValue, ip_version: o.ipVersion })),
    'binding:vnic_type': 'normal',
    dns_name: p.dnsName ?? '',
    dns_assignment: dnsAssignment(p.dnsName ?? '', p.fixedIps),
  };
  if (ctx.isAdmin) {
    v['binding:host_id'] = p.bindingHost;
    v['binding:vif_type'] = typeof binding === 'object' ? 'ovs' : binding === 'failed' ? 'binding_failed' : 'unbound';
    // What Nova's os-vif OVS plugin reads: the integration bridge to plug the tap into,
    // its datapath (netdev: a vhost-user or userspace datapath), no hybrid (iptables) bridge
    // since the flows filter (port_filter).
    v['binding:vif_details'] =
      typeof binding === 'object' ? { port_filter: true, connectivity: 'l2', bridge_name: binding.bridge, datapath_type: binding.datapathType, ovs_hybrid_plug: false } : {};
    v['binding:profile'] = {};
  }
  return v;
}

export function routerView(r: LogicalRouter, ctx: RequestContext, zones: readonly string[]): Dict {
  const gw = r.externalGateway;
  const v: Dict = {
    ...standard(r),
    name: r.name,
    status: 'ACTIVE',
    admin_state_up: r.adminStateUp,
    external_gateway_info: gw
      ? {
          network_id: gw.networkId,
          enable_snat: gw.enableSnat,
          external_fixed_ips: gw.fixedIps.map((f) => ({ subnet_id: f.subnetId, ip_address: f.ipAddress })),
        }
      : null,
    routes: r.routes.map((rt) => ({ destination: rt.destination, nexthop: rt.nexthop })),
    availability_zone_hints: r.availabilityZoneHints ?? [],
    availability_zones: zonesOf(r.availabilityZoneHints, zones),
  };
  if (ctx.isAdmin) {
    // dvr and l3-ha (admin-only attributes, as Neutron's policy): every chassis routes
    // for its own ports; the gateway is not highly available.
    v['distributed'] = true;
    v['ha'] = false;
  }
  return v;
}

export function floatingIpView(f: FloatingIp, port: LogicalPort | undefined): Dict {
  return {
    ...standard(f),
    floating_ip_address: f.floatingIpAddress,
    floating_network_id: f.floatingNetworkId,
    router_id: f.routerId,
    port_id: f.portId,
    fixed_ip_address: f.fixedIpAddress,
    status: f.status,
    dns_name: f.dnsName ?? '',
    dns_domain: f.dnsDomain ?? '',
    port_details: port
      ? {
          name: port.name,
          network_id: port.networkId,
          mac_address: port.macAddress,
          admin_state_up: port.adminStateUp,
          status: port.status,
          device_id: port.deviceId,
          device_owner: port.deviceOwner,
        }
      : null,
  };
}

export function securityGroupRuleView(g: SecurityGroup, r: SecurityGroupRule): Dict {
  return {
    id: r.id,
    tenant_id: g.projectId,
    project_id: g.projectId,
    security_group_id: g.id,
    direction: r.direction,
    ethertype: r.ethertype,
    protocol: r.protocol,
    port_range_min: r.portRangeMin,
    port_range_max: r.portRangeMax,
    remote_ip_prefix: r.remoteIpPrefix,
    normalized_cidr: r.remoteIpPrefix,
    remote_group_id: r.remoteGroupId,
    remote_address_group_id: null,
    description: r.description,
    tags: [],
    // Rules are part of their group in the model: they share its timestamps.
    created_at: timestamp(g.createdAt),
    updated_at: timestamp(g.createdAt),
    revision_number: 0,
  };
}

export function securityGroupView(g: SecurityGroup): Dict {
  return {
    ...standard(g),
    name: g.name,
    stateful: g.stateful,
    shared: false,
    security_group_rules: g.rules.map((r) => securityGroupRuleView(g, r)),
  };
}

const STANDARD = ['id', 'tenant_id', 'project_id', 'description', 'created_at', 'updated_at', 'revision_number'];

function spec(filterable: string[], sortable: string[] = filterable): CollectionSpec {
  return { filterable: new Set([...STANDARD, ...filterable]), sortable: new Set([...STANDARD, ...sortable]) };
}

/** Attributes each collection can be filtered and sorted on. */
export const COLLECTIONS = {
  networks: spec(
    ['name', 'status', 'admin_state_up', 'shared', 'router:external', 'mtu', 'port_security_enabled', 'subnets', 'provider:network_type', 'provider:physical_network', 'provider:segmentation_id', 'dns_domain', 'availability_zone_hints'],
    ['name', 'status', 'admin_state_up', 'shared', 'router:external', 'mtu', 'port_security_enabled', 'provider:network_type', 'provider:physical_network', 'provider:segmentation_id'],
  ),
  subnets: spec(['name', 'network_id', 'ip_version', 'cidr', 'gateway_ip', 'enable_dhcp', 'ipv6_address_mode', 'ipv6_ra_mode', 'subnetpool_id', 'segment_id', 'dns_nameservers']),
  ports: spec(
    ['name', 'network_id', 'mac_address', 'admin_state_up', 'status', 'device_id', 'device_owner', 'fixed_ips', 'security_groups', 'port_security_enabled', 'binding:host_id', 'binding:vnic_type', 'binding:vif_type', 'dns_name'],
    ['name', 'network_id', 'mac_address', 'admin_state_up', 'status', 'device_id', 'device_owner', 'port_security_enabled', 'binding:host_id'],
  ),
  routers: spec(['name', 'status', 'admin_state_up', 'distributed', 'ha']),
  floatingips: spec(['floating_ip_address', 'floating_network_id', 'router_id', 'port_id', 'fixed_ip_address', 'status', 'dns_name', 'dns_domain']),
  'security-groups': spec(['name', 'stateful', 'shared']),
  'security-group-rules': spec(['security_group_id', 'direction', 'ethertype', 'protocol', 'port_range_min', 'port_range_max', 'remote_ip_prefix', 'remote_group_id', 'normalized_cidr']),
} as const satisfies Record<string, CollectionSpec>;
