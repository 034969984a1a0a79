import { type Static, type TSchema, Type } from 'typebox';

/*
 * Request bodies and answers of the Neutron v2.0 API, as JSON Schema (TypeBox).
 * Bodies are validated against them (unknown attributes are refused, as Neutron
 * does); answers are documented by them in the OpenAPI description. Semantic checks
 * (CIDR math, IP in subnet, references) happen in the handlers and name the field.
 */

const Name = Type.String({ maxLength: 255 });
const Description = Type.String({ maxLength: 255 });
const Uuid = Type.String({ format: 'uuid' });
const ProjectId = Type.String({ maxLength: 255 });
const IpText = Type.String({ maxLength: 64, description: 'an IPv4 or IPv6 address' });
const CidrText = Type.String({ maxLength: 64, description: 'a CIDR, e.g. 10.0.0.0/24' });

/** An integer; numeric strings are accepted too, as Neutron converts them (the CLI sends --provider-segment as a string). */
const IntLike = Type.Union([Type.Integer(), Type.String({ pattern: '^\\s*-?[0-9]{1,10}\\s*$' })], { title: 'integer' });

/** The integer an IntLike value stands for. */
export function intOf(v: number | string): number;
export function intOf(v: number | string | null | undefined): number | null | undefined;
export function intOf(v: number | string | null | undefined): number | null | undefined {
  return typeof v === 'string' ? Number(v.trim()) : v;
}

function Nullable<T extends TSchema>(t: T) {
  return Type.Union([t, Type.Null()]);
}

function object<P extends Record<string, TSchema>>(props: P, description?: string) {
  return Type.Object(props, { additionalProperties: false, ...(description ? { description } : {}) });
}

const ownership = {
  tenant_id: Type.Optional(ProjectId),
  project_id: Type.Optional(ProjectId),
};

// ---------------------------------------------------------------- networks

export const NetworkCreate = object({
  name: Type.Optional(Name),
  description: Type.Optional(Description),
  admin_state_up: Type.Optional(Type.Boolean()),
  shared: Type.Optional(Type.Boolean()),
  'router:external': Type.Optional(Type.Boolean()),
  port_security_enabled: Type.Optional(Type.Boolean()),
  mtu: Type.Optional(IntLike),
  'provider:network_type': Type.Optional(Type.String({ maxLength: 32 })),
  'provider:physical_network': Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
  'provider:segmentation_id': Type.Optional(Nullable(IntLike)),
  availability_zone_hints: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { maxItems: 64 })),
  dns_domain: Type.Optional(Type.String({ maxLength: 255 })),
  ...ownership,
});
export type NetworkCreate = Static<typeof NetworkCreate>;

export const NetworkUpdate = object({
  name: Type.Optional(Name),
  description: Type.Optional(Description),
  admin_state_up: Type.Optional(Type.Boolean()),
  shared: Type.Optional(Type.Boolean()),
  'router:external': Type.Optional(Type.Boolean()),
  port_security_enabled: Type.Optional(Type.Boolean()),
  mtu: Type.Optional(IntLike),
  'provider:network_type': Type.Optional(Type.String({ maxLength: 32 })),
  'provider:physical_network': Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
  'provider:segmentation_id': Type.Optional(Nullable(IntLike)),
  dns_domain: Type.Optional(Type.String({ maxLength: 255 })),
});
export type NetworkUpdate = Static<typeof NetworkUpdate>;

// ---------------------------------------------------------------- subnets

const AllocationPool = object({ start: IpText, end: IpText });
const HostRoute = object({ destination: CidrText, nexthop: IpText });
const Ipv6Mode = Nullable(Type.Union([Type.Literal('slaac'), Type.Literal('dhcpv6-stateful'), Type.Literal('dhcpv6-stateless')]));

export const SubnetCreate = object({
  network_id: Uuid,
  ip_version: Type.Union([Type.Literal(4), Type.Literal(6), Type.Literal('4'), Type.Literal('6')]),
  cidr: CidrText,
  name: Type.Optional(Name),
  description: Type.Optional(Description),
  gateway_ip: Type.Optional(Nullable(IpText)),
  enable_dhcp: Type.Optional(Type.Boolean()),
  dns_nameservers: Type.Optional(Type.Array(IpText)),
  host_routes: Type.Optional(Type.Array(HostRoute)),
  allocation_pools: Type.Optional(Type.Array(AllocationPool)),
  ipv6_address_mode: Type.Optional(Ipv6Mode),
  ipv6_ra_mode: Type.Optional(Ipv6Mode),
  subnetpool_id: Type.Optional(Type.Null({ description: 'subnet pools are not supported; only null is accepted' })),
  ...ownership,
});
export type SubnetCreate = Static<typeof SubnetCreate>;

export const SubnetUpdate = object({
  name: Type.Optional(Name),
  description: Type.Optional(Description),
  gateway_ip: Type.Optional(Nullable(IpText)),
  enable_dhcp: Type.Optional(Type.Boolean()),
  dns_nameservers: Type.Optional(Type.Array(IpText)),
  host_routes: Type.Optional(Type.Array(HostRoute)),
  allocation_pools: Type.Optional(Type.Array(AllocationPool)),
});
export type SubnetUpdate = Static<typeof SubnetUpdate>;

// ---------------------------------------------------------------- ports

const FixedIpRequest = object({ subnet_id: Type.Optional(Uuid), ip_address: Type.Optional(IpText) });
const AddressPair = object({ ip_address: Type.String({ maxLength: 64 }), mac_address: Type.Optional(Nullable(Type.String({ maxLength: 32 }))) });
const ExtraDhcpOpt = object({
  opt_name: Type.String({ minLength: 1, maxLength: 64 }),
  opt_value: Type.Optional(Nullable(Type.String({ maxLength: 1024 }))),
  ip_version: Type.Optional(Nullable(Type.Union([Type.Integer(), Type.String({ maxLength: 2 })]))),
});

const portCommon = {
  name: Type.Optional(Name),
  description: Type.Optional(Description),
  admin_state_up: Type.Optional(Type.Boolean()),
  mac_address: Type.Optional(Type.String({ maxLength: 32 })),
  fixed_ips: Type.Optional(Type.Array(FixedIpRequest)),
  device_id: Type.Optional(Type.String({ maxLength: 255 })),
  device_owner: Type.Optional(Type.String({ maxLength: 255 })),
  security_groups: Type.Optional(Nullable(Type.Array(Uuid))),
  port_security_enabled: Type.Optional(Type.Boolean()),
  allowed_address_pairs: Type.Optional(Nullable(Type.Array(AddressPair))),
  extra_dhcp_opts: Type.Optional(Nullable(Type.Array(ExtraDhcpOpt, { maxItems: 64 }))),
  'binding:host_id': Type.Optional(Type.String({ maxLength: 255 })),
  'binding:vnic_type': Type.Optional(Type.Literal('normal', { description: 'only normal (OVS) ports are supported' })),
  'binding:profile': Type.Optional(Nullable(Type.Object({}, { additionalProperties: true, description: 'only an empty profile is accepted' }))),
  dns_name: Type.Optional(Type.String({ maxLength: 255 })),
};

export const PortCreate = object({ network_id: Uuid, ...portCommon, ...ownership });
export type PortCreate = Static<typeof PortCreate>;
export const PortUpdate = object(portCommon);
export type PortUpdate = Static<typeof PortUpdate>;

// ---------------------------------------------------------------- routers

const ExternalFixedIp = object({ subnet_id: Type.Optional(Uuid), ip_address: Type.Optional(IpText) });
const ExternalGatewayInfo = Nullable(
  object({
    network_id: Type.Optional(Uuid),
    enable_snat: Type.Optional(Type.Boolean()),
    external_fixed_ips: Type.Optional(Type.Array(ExternalFixedIp)),
  }),
);
const Route = object({ destination: CidrText, nexthop: IpText });

export const RouterCreate = object({
  name: Type.Optional(Name),
  description: Type.Optional(Description),
  admin_state_up: Type.Optional(Type.Boolean()),
  external_gateway_info: Type.Optional(ExternalGatewayInfo),
  distributed: Type.Optional(Type.Boolean()),
  ha: Type.Optional(Type.Boolean()),
  availability_zone_hints: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { maxItems: 64 })),
  ...ownership,
});
export type RouterCreate = Static<typeof RouterCreate>;

export const RouterUpdate = object({
  name: Type.Optional(Name),
  description: Type.Optional(Description),
  admin_state_up: Type.Optional(Type.Boolean()),
  external_gateway_info: Type.Optional(ExternalGatewayInfo),
  routes: Type.Optional(Nullable(Type.Array(Route))),
  distributed: Type.Optional(Type.Boolean()),
  ha: Type.Optional(Type.Boolean()),
});
export type RouterUpdate = Static<typeof RouterUpdate>;

export const RouterInterfaceBody = object({ subnet_id: Type.Optional(Uuid), port_id: Type.Optional(Uuid) });
export type RouterInterfaceBody = Static<typeof RouterInterfaceBody>;

export const RouterRoutesBody = object({ router: object({ routes: Type.Array(Route) }) });
export type RouterRoutesBody = Static<typeof RouterRoutesBody>;

export const RouterInterfaceInfo = Type.Object({
  id: Type.String({ description: 'the router' }),
  subnet_id: Type.String(),
  subnet_ids: Type.Array(Type.String()),
  port_id: Type.String(),
  network_id: Type.String(),
  tenant_id: Type.String(),
  project_id: Type.String(),
});

// ---------------------------------------------------------------- floating IPs

export const FloatingIpCreate = object({
  floating_network_id: Uuid,
  floating_ip_address: Type.Optional(IpText),
  subnet_id: Type.Optional(Nullable(Uuid)),
  port_id: Type.Optional(Nullable(Uuid)),
  fixed_ip_address: Type.Optional(Nullable(IpText)),
  description: Type.Optional(Description),
  dns_name: Type.Optional(Type.String({ maxLength: 255 })),
  dns_domain: Type.Optional(Type.String({ maxLength: 255 })),
  ...ownership,
});
export type FloatingIpCreate = Static<typeof FloatingIpCreate>;

export const FloatingIpUpdate = object({
  port_id: Type.Optional(Nullable(Uuid)),
  fixed_ip_address: Type.Optional(Nullable(IpText)),
  description: Type.Optional(Description),
});
export type FloatingIpUpdate = Static<typeof FloatingIpUpdate>;

// ---------------------------------------------------------------- security groups

export const SecurityGroupCreate = object({
  name: Type.Optional(Name),
  description: Type.Optional(Description),
  stateful: Type.Optional(Type.Boolean()),
  ...ownership,
});
export type SecurityGroupCreate = Static<typeof SecurityGroupCreate>;

export const SecurityGroupUpdate = object({
  name: Type.Optional(Name),
  description: Type.Optional(Description),
  stateful: Type.Optional(Type.Boolean()),
});
export type SecurityGroupUpdate = Static<typeof SecurityGroupUpdate>;

export const SecurityGroupRuleCreate = object({
  security_group_id: Uuid,
  direction: Type.Union([Type.Literal('ingress'), Type.Literal('egress')]),
  ethertype: Type.Optional(Type.Union([Type.Literal('IPv4'), Type.Literal('IPv6')])),
  protocol: Type.Optional(Nullable(Type.Union([Type.String({ maxLength: 32 }), Type.Integer()]))),
  port_range_min: Type.Optional(Nullable(IntLike)),
  port_range_max: Type.Optional(Nullable(IntLike)),
  remote_ip_prefix: Type.Optional(Nullable(CidrText)),
  remote_group_id: Type.Optional(Nullable(Uuid)),
  remote_address_group_id: Type.Optional(Type.Null({ description: 'address groups are not supported; only null is accepted' })),
  description: Type.Optional(Description),
  ...ownership,
});
export type SecurityGroupRuleCreate = Static<typeof SecurityGroupRuleCreate>;

// ---------------------------------------------------------------- envelopes

/** `{"network": {...}}` or, for bulk create, `{"networks": [{...}, ...]}`. */
export function createEnvelope(member: string, collection: string, item: TSchema) {
  return Type.Object(
    {
      [member]: Type.Optional(item),
      [collection]: Type.Optional(Type.Array(item, { minItems: 1 })),
    },
    { additionalProperties: false },
  );
}

export function updateEnvelope(member: string, item: TSchema) {
  return Type.Object({ [member]: item }, { additionalProperties: false });
}

/** Answers: documented loosely (fields= may trim them), extra attributes allowed. */
export function resourceAnswer(member: string) {
  return Type.Object({ [member]: Type.Object({}, { additionalProperties: true }) });
}

export function collectionAnswer(collection: string) {
  return Type.Object({
    [collection]: Type.Array(Type.Object({}, { additionalProperties: true })),
    [`${collection}_links`]: Type.Optional(Type.Array(Type.Object({ rel: Type.String(), href: Type.String() }))),
  });
}

/** The list parameters every collection takes (attribute filters are any other parameter). */
export const ListQuery = Type.Object(
  {
    fields: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())], { description: 'attributes to return (repeatable)' })),
    limit: Type.Optional(Type.String({ description: 'page size' })),
    marker: Type.Optional(Type.String({ description: 'id of the last item of the previous page' })),
    page_reverse: Type.Optional(Type.String({ description: 'True: the page before the marker' })),
    sort_key: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
    sort_dir: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
  },
  { additionalProperties: Type.Union([Type.String(), Type.Array(Type.String())]) },
);

export const ShowQuery = Type.Object(
  { fields: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])) },
  { additionalProperties: Type.Union([Type.String(), Type.Array(Type.String())]) },
);

export const IdParams = Type.Object({ id: Type.String() });
