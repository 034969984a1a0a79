import { z } from 'zod';
import { baseFields, issue } from './base.js';
import { ipField, ipOrCidrField, macField, uniqueKeyField, uuidField } from './fields.js';

export const PORT_STATUSES = ['DOWN', 'BUILD', 'ACTIVE', 'ERROR'] as const;
export type PortStatus = (typeof PORT_STATUSES)[number];

/** Well-known device owners (Neutron's); any other string is allowed too. */
export const DeviceOwner = {
  ROUTER_INTERFACE: 'network:router_interface',
  ROUTER_GATEWAY: 'network:router_gateway',
  DHCP: 'network:dhcp',
  FLOATING_IP: 'network:floatingip',
  COMPUTE_PREFIX: 'compute:',
} as const;

export const fixedIpSchema = z.object({ subnetId: uuidField, ipAddress: ipField }).strict();
/** An extra (IP or CIDR, MAC) a port may send from; a null MAC means the port's own. */
/**
 * A Neutron `extra_dhcp_opt`: a DHCP option by dnsmasq name or number, sent to the
 * port's DHCP client when it asks for it (the DHCP app encodes the value by the
 * option's type; df-api refuses a value that does not fit).
 */
export const extraDhcpOptSchema = z
  .object({
    optName: z.string().min(1, 'must not be empty').max(64, 'must be at most 64 characters'),
    optValue: z.string().max(1024, 'must be at most 1024 characters'),
    ipVersion: z.union([z.literal(4), z.literal(6)]).default(4),
  })
  .strict();
export const addressPairSchema = z.object({ ipAddress: ipOrCidrField, macAddress: macField.nullable().default(null) }).strict();

/**
 * A port on a network: a VM NIC, a router interface, a DHCP or floating IP port.
 * One MAC per port (Neutron's model); extra MACs a VM uses go in allowedAddressPairs.
 * `chassisId` is the chassis the port is bound to (set by that chassis' controller).
 */
export const logicalPortSchema = z
  .object({
    ...baseFields,
    key: uniqueKeyField,
    networkId: uuidField,
    macAddress: macField,
    fixedIps: z.array(fixedIpSchema).default([]),
    chassisId: uuidField.nullable().default(null),
    /** Neutron binding:host_id, as given by the compute service. */
    bindingHost: z.string().max(255).default(''),
    deviceOwner: z.string().max(255).default(''),
    deviceId: z.string().max(255).default(''),
    status: z.enum(PORT_STATUSES).default('DOWN'),
    adminStateUp: z.boolean().default(true),
    portSecurityEnabled: z.boolean().default(true),
    allowedAddressPairs: z.array(addressPairSchema).default([]),
    securityGroupIds: z.array(uuidField).default([]),
    extraDhcpOpts: z.array(extraDhcpOptSchema).default([]),
    /** Neutron's dns_name (dns-integration): stored for DNS services, no DNS is served. */
    dnsName: z.string().max(255).default(''),
  })
  .strict()
  .superRefine((p, ctx) => {
    const seen = new Map<string, number>();
    p.fixedIps.forEach((f, i) => {
      const prev = seen.get(f.ipAddress);
      if (prev !== undefined) issue(ctx, ['fixedIps', i, 'ipAddress'], `${f.ipAddress} is listed twice (also fixedIps[${prev}])`);
      seen.set(f.ipAddress, i);
    });
    const groups = new Set<string>();
    p.securityGroupIds.forEach((g, i) => {
      if (groups.has(g)) issue(ctx, ['securityGroupIds', i], `security group ${g} is listed twice`);
      groups.add(g);
    });
    if (!p.portSecurityEnabled) {
      if (p.securityGroupIds.length > 0) issue(ctx, ['securityGroupIds'], 'must be empty when port security is disabled');
      if (p.allowedAddressPairs.length > 0) issue(ctx, ['allowedAddressPairs'], 'must be empty when port security is disabled');
    }
  });
