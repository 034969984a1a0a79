/**
 * Northbound model field names → Neutron attribute names, so an error raised by the
 * model (`fixedIps[0].ipAddress`) names the attribute the user sent
 * (`fixed_ips[0].ip_address`).
 */
const SPECIAL: Record<string, Record<string, string>> = {
  logical_switch: {
    external: 'router:external',
    networkType: 'provider:network_type',
    segmentationId: 'provider:segmentation_id',
    physicalNetwork: 'provider:physical_network',
  },
  logical_port: {
    securityGroupIds: 'security_groups',
    bindingHost: 'binding:host_id',
    chassisId: 'binding:host_id',
  },
  logical_router: {
    externalGateway: 'external_gateway_info',
    ports: 'interfaces',
  },
  security_group: {
    rules: 'security_group_rules',
  },
};

function snake(s: string): string {
  return s.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}

export function neutronFieldName(table: string, field: string): string {
  const special = SPECIAL[table] ?? {};
  const [head, ...rest] = field.split('.');
  const m = /^([A-Za-z]+)(.*)$/.exec(head ?? '');
  const first = m ? (special[m[1]!] ?? snake(m[1]!)) + m[2]! : (head ?? '');
  const tail = rest.map((p) => p.replace(/^([A-Za-z]+)/, (w) => snake(w)));
  return [first, ...tail].join('.').replace('external_gateway_info.fixed_ips', 'external_gateway_info.external_fixed_ips');
}
