import { DfError } from '@dragonflow/base';
import { NbErrorCode } from '@dragonflow/nb';
import { describe, expect, it } from 'vitest';
import { fromNbError } from './errors.js';
import { neutronFieldName } from './field-names.js';

describe('northbound errors as Neutron errors', () => {
  it('names model fields as the Neutron attributes users sent', () => {
    expect(neutronFieldName('logical_port', 'fixedIps[0].ipAddress')).toBe('fixed_ips[0].ip_address');
    expect(neutronFieldName('logical_port', 'securityGroupIds[1]')).toBe('security_groups[1]');
    expect(neutronFieldName('logical_switch', 'segmentationId')).toBe('provider:segmentation_id');
    expect(neutronFieldName('logical_switch', 'external')).toBe('router:external');
    expect(neutronFieldName('logical_router', 'externalGateway.fixedIps[0].subnetId')).toBe('external_gateway_info.external_fixed_ips[0].subnet_id');
    expect(neutronFieldName('subnet', 'allocationPools[2].start')).toBe('allocation_pools[2].start');
  });

  it('maps codes to statuses and types', () => {
    const invalid = fromNbError(new DfError(NbErrorCode.INVALID, 'logical_port.fixedIps[0].ipAddress: 10.0.0.300 is not valid', { context: { table: 'logical_port', field: 'fixedIps[0].ipAddress' } }));
    expect(invalid).toMatchObject({ status: 400, type: 'HTTPBadRequest', message: 'Invalid input for fixed_ips[0].ip_address. Reason: 10.0.0.300 is not valid.' });
    expect(fromNbError(new DfError(NbErrorCode.NOT_FOUND, 'x', { context: { table: 'logical_switch', id: 'n1' } }))).toMatchObject({ status: 404, type: 'NetworkNotFound', message: 'Network n1 could not be found.' });
    const ip = fromNbError(new DfError(NbErrorCode.CONFLICT, 'logical_port p: IP address 10.0.0.5 on network n is already used by logical_port q', { context: { table: 'logical_port', field: 'fixedIps[0].ipAddress', reason: 'in-use' } }));
    expect(ip).toMatchObject({ status: 409, type: 'IpAddressInUse' });
    const inUse = fromNbError(new DfError(NbErrorCode.CONFLICT, 'subnet s is still used by logical_port p (fixedIps[0].subnetId)', { context: { table: 'subnet', id: 's', reason: 'in-use' } }));
    expect(inUse).toMatchObject({ status: 409, type: 'SubnetInUse' });
    expect(fromNbError(new DfError(NbErrorCode.CONFLICT, 'write conflict', { context: {} }))).toMatchObject({ status: 409, type: 'Conflict' });
    expect(fromNbError(new DfError(NbErrorCode.UNAVAILABLE, 'etcd is down'))).toMatchObject({ status: 503, type: 'ServiceUnavailable' });
    expect(fromNbError(new Error('boom'))).toBeUndefined();
  });
});
