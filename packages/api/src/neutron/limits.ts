import type { ApiConfig } from '../config.js';
import { NeutronError } from './errors.js';

/*
 * Neutron's per-request limits (config `limits`). They are checked first, before any
 * DB work, so an oversized request costs a length comparison; every refusal is a 400
 * that names the attribute and the limit.
 */

type Limits = ApiConfig['limits'];

export function checkFixedIpCount(limits: Limits, list: readonly unknown[] | null | undefined, field = 'fixed_ips'): void {
  const n = list?.length ?? 0;
  if (n > limits.maxFixedIpsPerPort) {
    throw new NeutronError(400, 'InvalidInput', `Invalid input for operation: Exceeded maximum amount of fixed ips per port: ${field} has ${n}, the limit is ${limits.maxFixedIpsPerPort}.`, {
      field,
      limit: limits.maxFixedIpsPerPort,
    });
  }
}

export function checkAddressPairCount(limits: Limits, list: readonly unknown[] | null | undefined): void {
  const n = list?.length ?? 0;
  if (n > limits.maxAllowedAddressPairs) {
    throw new NeutronError(400, 'AllowedAddressPairExhausted', `The number of allowed address pair exceeds the maximum ${limits.maxAllowedAddressPairs} (allowed_address_pairs has ${n}).`, {
      field: 'allowed_address_pairs',
      limit: limits.maxAllowedAddressPairs,
    });
  }
}

/** DNS servers, host routes and allocation pools of a subnet (`subnet`: its id, or its CIDR while it is created). */
export function checkSubnetCounts(limits: Limits, subnet: string, body: { dns_nameservers?: readonly unknown[] | undefined; host_routes?: readonly unknown[] | undefined; allocation_pools?: readonly unknown[] | undefined }): void {
  const dns = body.dns_nameservers?.length ?? 0;
  if (dns > limits.maxDnsNameservers) {
    throw new NeutronError(400, 'DNSNameServersExhausted', `Unable to complete operation for ${subnet}. The number of DNS nameservers exceeds the limit ${limits.maxDnsNameservers} (dns_nameservers has ${dns}).`, {
      field: 'dns_nameservers',
      limit: limits.maxDnsNameservers,
    });
  }
  const routes = body.host_routes?.length ?? 0;
  if (routes > limits.maxSubnetHostRoutes) {
    throw new NeutronError(400, 'HostRoutesExhausted', `Unable to complete operation for ${subnet}. The number of host routes exceeds the limit ${limits.maxSubnetHostRoutes} (host_routes has ${routes}).`, {
      field: 'host_routes',
      limit: limits.maxSubnetHostRoutes,
    });
  }
  const pools = body.allocation_pools?.length ?? 0;
  if (pools > limits.maxAllocationPools) {
    throw new NeutronError(400, 'InvalidInput', `Invalid input for operation: allocation_pools has ${pools} pools, the limit is ${limits.maxAllocationPools}.`, {
      field: 'allocation_pools',
      limit: limits.maxAllocationPools,
    });
  }
}

export function checkBulkCount(limits: Limits, collection: string, n: number): void {
  if (n > limits.maxBulkCreate) {
    throw new NeutronError(400, 'HTTPBadRequest', `Invalid input for ${collection}. Reason: a bulk create takes at most ${limits.maxBulkCreate} items, got ${n}.`, {
      field: collection,
      limit: limits.maxBulkCreate,
    });
  }
}
