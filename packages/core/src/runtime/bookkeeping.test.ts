import { describe, expect, it } from 'vitest';
import { onlyBookkeepingChanged } from './bookkeeping.js';

const port = { id: 'p1', version: 3, updatedAt: 't1', status: 'DOWN', bindingHost: '', macAddress: 'fa:16:3e:00:00:01', fixedIps: [{ subnetId: 's1', ipAddress: '10.0.0.5' }], securityGroupIds: ['g1'] };

describe('onlyBookkeepingChanged', () => {
  it('is true for a port whose status, binding host, version or update time alone changed', () => {
    expect(onlyBookkeepingChanged('logical_port', port, { ...port, version: 4, updatedAt: 't2', status: 'ACTIVE', bindingHost: 'compute-1' })).toBe(true);
    // A copy, not the same object: compared by value.
    expect(onlyBookkeepingChanged('logical_port', port, structuredClone(port))).toBe(true);
  });

  it('is false when any other field changed, also deep inside a list', () => {
    expect(onlyBookkeepingChanged('logical_port', port, { ...port, status: 'ACTIVE', macAddress: 'fa:16:3e:00:00:02' })).toBe(false);
    expect(onlyBookkeepingChanged('logical_port', port, { ...port, fixedIps: [{ subnetId: 's1', ipAddress: '10.0.0.6' }] })).toBe(false);
    expect(onlyBookkeepingChanged('logical_port', port, { ...port, securityGroupIds: [] })).toBe(false);
    const { securityGroupIds: _, ...without } = port;
    expect(onlyBookkeepingChanged('logical_port', port, without)).toBe(false);
    expect(onlyBookkeepingChanged('logical_port', without, port)).toBe(false);
  });

  it('a status is bookkeeping only on ports; creates and deletes never are', () => {
    const router = { id: 'r1', version: 1, status: 'a' };
    expect(onlyBookkeepingChanged('logical_router', router, { ...router, status: 'b' })).toBe(false);
    expect(onlyBookkeepingChanged('logical_router', router, { ...router, version: 2 })).toBe(true);
    expect(onlyBookkeepingChanged('logical_port', undefined, port)).toBe(false);
    expect(onlyBookkeepingChanged('logical_port', port, undefined)).toBe(false);
  });
});
