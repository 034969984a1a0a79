import { badAttribute } from '../neutron/errors.js';

/*
 * dns-integration: dns_name on ports and floating IPs, dns_domain on networks and
 * floating IPs, checked as Neutron checks them and stored for an external DNS service
 * (df-api serves no DNS). A port's dns_assignment names each of its addresses.
 */

/** Neutron's default [DEFAULT] dns_domain, the domain of dns_assignment. */
export const DEFAULT_DNS_DOMAIN = 'openstacklocal.';

const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

function checkLabels(field: string, value: string): void {
  const name = value.endsWith('.') ? value.slice(0, -1) : value;
  if (value.length > 255) throw badAttribute(field, `'${value.slice(0, 40)}…' is longer than 255 characters`);
  const labels = name.split('.');
  const bad = labels.find((l) => !LABEL.test(l));
  if (bad !== undefined) throw badAttribute(field, `'${value}' is not a valid DNS name: the label '${bad}' must be 1 to 63 letters, digits or '-', not beginning or ending with '-'`);
  if (labels.length > 1 && /^\d+$/.test(labels[labels.length - 1]!)) throw badAttribute(field, `'${value}' is not a valid DNS name: its top-level domain is all digits`);
}

/** A host name or FQDN (or '' for none). */
export function checkDnsName(field: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return value;
  checkLabels(field, value);
  return value;
}

/** A domain (or '' for none). */
export function checkDnsDomain(field: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return value;
  checkLabels(field, value);
  if (!value.includes('.') || value === '.') throw badAttribute(field, `'${value}' is not a domain name with at least two labels`);
  return value;
}

/** The host name and FQDN of each of a port's addresses, as Neutron's dns_assignment. */
export function dnsAssignment(dnsName: string, fixedIps: readonly { ipAddress: string }[]): { hostname: string; ip_address: string; fqdn: string }[] {
  return fixedIps.map((f) => {
    const hostname = dnsName !== '' ? dnsName.split('.')[0]! : `host-${f.ipAddress.replace(/[.:]/g, '-')}`;
    const fqdn = dnsName.endsWith('.') ? dnsName : `${dnsName !== '' ? dnsName : hostname}.${DEFAULT_DNS_DOMAIN}`;
    return { hostname, ip_address: f.ipAddress, fqdn };
  });
}
