import { Type } from 'typebox';
import { NeutronError } from '../neutron/errors.js';
import type { Backend } from '../services/backend.js';
import { type ApiApp, baseUrl, tagged } from './common.js';

interface Extension {
  alias: string;
  name: string;
  description: string;
}

/** The Neutron extensions df-api implements (and nothing it does not). */
export const EXTENSIONS: readonly Extension[] = [
  { alias: 'allowed-address-pairs', name: 'Allowed Address Pairs', description: 'Provides allowed address pairs' },
  { alias: 'availability_zone', name: 'Availability Zone', description: 'The availability zone extension.' },
  { alias: 'binding', name: 'Port Binding', description: 'Expose port bindings of a virtual port to external application' },
  { alias: 'dns-integration', name: 'DNS Integration', description: 'Provides integration with DNS.' },
  { alias: 'dvr', name: 'Distributed Virtual Router', description: 'Enables configuration of Distributed Virtual Routers.' },
  { alias: 'external-net', name: 'Neutron external network', description: 'Adds external network attribute to network resource.' },
  { alias: 'ext-gw-mode', name: 'Neutron L3 Configurable external gateway mode', description: 'Extension of the router abstraction for specifying whether SNAT should occur on the external gateway' },
  { alias: 'extra_dhcp_opt', name: 'Neutron Extra DHCP options', description: 'Extra options configuration for DHCP. For example PXE boot options to DHCP clients can be specified (e.g. tftp-server, server-ip-address, bootfile-name)' },
  { alias: 'extraroute', name: 'Neutron Extra Route', description: 'Extra routes configuration for L3 router' },
  { alias: 'extraroute-atomic', name: 'Atomically add/remove extra routes', description: 'Edit extra routes of a router on server side by atomically adding/removing extra routes' },
  { alias: 'filter-validation', name: 'Filter parameters validation', description: 'Provides validation on filter parameters.' },
  { alias: 'fip-port-details', name: 'Floating IP Port Details Extension', description: 'Add port_details attribute to Floating IP resource' },
  { alias: 'ip-substring-filtering', name: 'IP address substring filtering', description: 'Provides IP address substring filtering when listing ports' },
  { alias: 'l2_adjacency', name: 'L2 Adjacency', description: 'Display whether a network is known to be L2 adjacent' },
  { alias: 'l3-ha', name: 'HA Router extension', description: 'Adds HA capability to routers.' },
  { alias: 'net-mtu', name: 'Network MTU', description: 'Provides MTU attribute for a network resource.' },
  { alias: 'net-mtu-writable', name: 'Network MTU (writable)', description: 'Provides a writable MTU attribute for a network resource.' },
  { alias: 'network-ip-availability', name: 'Network IP Availability', description: 'Provides IP availability data for each network and subnet.' },
  { alias: 'network_availability_zone', name: 'Network Availability Zone', description: 'Availability zone support for network.' },
  { alias: 'pagination', name: 'Pagination support', description: 'Extension that indicates that pagination is enabled.' },
  { alias: 'port-security', name: 'Port Security', description: 'Provides port security' },
  { alias: 'port-security-groups-filtering', name: 'Port filtering on security groups', description: 'Provides security groups filtering when listing ports' },
  { alias: 'project-id', name: 'project_id field enabled', description: 'Extension that indicates that project_id field is enabled.' },
  { alias: 'provider', name: 'Provider Network', description: 'Expose mapping of virtual networks to physical networks' },
  { alias: 'quotas', name: 'Quota management support', description: 'Expose functions for quotas management per project' },
  { alias: 'quota_details', name: 'Quota details management support', description: 'Expose functions for quotas usage statistics per project' },
  { alias: 'quota-check-limit', name: 'Quota engine limit check', description: 'Support for checking the resource usage before applying a new quota limit' },
  { alias: 'rbac-policies', name: 'RBAC Policies', description: 'Allows creation and modification of policies that control tenant access to resources.' },
  { alias: 'revision-if-match', name: 'If-Match constraints based on revision_number', description: "Extension indicating that If-Match based on revision_number is supported." },
  { alias: 'router', name: 'Neutron L3 Router', description: 'Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway.' },
  { alias: 'router_availability_zone', name: 'Router Availability Zone', description: 'Availability zone support for router.' },
  { alias: 'security-group', name: 'security-group', description: 'The security groups extension.' },
  { alias: 'sorting', name: 'Sorting support', description: 'Extension that indicates that sorting is enabled.' },
  { alias: 'standard-attr-description', name: 'standard-attr-description', description: 'Extension to add descriptions to standard attributes' },
  { alias: 'standard-attr-revisions', name: 'Resource revision numbers', description: 'This extension will display the revision number of neutron resources.' },
  { alias: 'standard-attr-tag', name: 'Tag support for resources with standard attribute: subnet, trunk, network_segment_range, router, network, policy, subnetpool, port, security_group, floatingip', description: 'Enables to set tag on resources with standard attribute.' },
  { alias: 'standard-attr-timestamp', name: 'Resource timestamps', description: 'Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.' },
  { alias: 'stateful-security-group', name: 'Stateful security group', description: 'Indicates if the security group is stateful or not' },
];

const UPDATED = '2024-01-01T00:00:00-00:00';

function extensionView(e: Extension) {
  return { alias: e.alias, name: e.name, description: e.description, updated: UPDATED, links: [] };
}

/** The collections under /v2.0, as Neutron lists them. */
const RESOURCES = [
  ['network', 'networks'],
  ['subnet', 'subnets'],
  ['port', 'ports'],
  ['router', 'routers'],
  ['floatingip', 'floatingips'],
  ['security_group', 'security-groups'],
  ['security_group_rule', 'security-group-rules'],
] as const;

export function registerDiscovery(app: ApiApp, backend: Backend): void {
  app.get('/', { schema: { ...tagged('discovery', 'API versions (no authentication)') } }, async (req) => {
    const base = baseUrl(req, backend);
    return { versions: [{ id: 'v2.0', status: 'CURRENT', links: [{ href: `${base}/v2.0/`, rel: 'self' }] }] };
  });

  const index = async (req: Parameters<typeof baseUrl>[0]) => {
    const base = baseUrl(req, backend);
    return { resources: RESOURCES.map(([name, collection]) => ({ name, collection, links: [{ href: `${base}/v2.0/${collection}`, rel: 'self' }] })) };
  };
  app.get('/v2.0', { schema: { ...tagged('discovery', 'The resources of v2.0') } }, index);

  app.get('/v2.0/extensions', { schema: { ...tagged('discovery', 'Implemented extensions'), querystring: Type.Object({}, { additionalProperties: true }) } }, async (req) => {
    // Clients look extensions up by name after a 404 on the alias (openstacksdk's find).
    const q = req.query as Record<string, string | string[] | undefined>;
    const wanted = (k: string): string[] => {
      const v = q[k];
      return v === undefined ? [] : Array.isArray(v) ? v : [v];
    };
    const names = wanted('name');
    const aliases = wanted('alias');
    const list = EXTENSIONS.filter((e) => (names.length === 0 || names.includes(e.name)) && (aliases.length === 0 || aliases.includes(e.alias)));
    return { extensions: list.map(extensionView) };
  });

  app.get('/v2.0/extensions/:alias', { schema: { ...tagged('discovery', 'One extension by alias'), params: Type.Object({ alias: Type.String() }) } }, async (req) => {
    const e = EXTENSIONS.find((x) => x.alias === req.params.alias);
    if (!e) throw new NeutronError(404, 'HTTPNotFound', `Extension with alias ${req.params.alias} does not exist`);
    return { extension: extensionView(e) };
  });
}
