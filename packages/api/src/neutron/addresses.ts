import { type IpAddress, IpNetwork, parseIp } from '@dragonflow/base';
import { badAttribute } from './errors.js';

/*
 * Addresses of a request, parsed once at the edge: a malformed one is a 400 that
 * names the attribute, in Neutron's words.
 */

/** An IP address attribute. */
export function ipAttr(field: string, text: string): IpAddress {
  try {
    return parseIp(text, field);
  } catch {
    throw badAttribute(field, `'${text}' is not a valid IP address`);
  }
}

/** A CIDR attribute; host bits may be set (they are cleared). */
export function cidrAttr(field: string, text: string): IpNetwork {
  try {
    return IpNetwork.parse(text, field, false);
  } catch {
    throw badAttribute(field, `'${text}' is not a valid IP subnet`);
  }
}
