import { isDfError } from '@dragonflow/base';
import type { LogicalPort } from '@dragonflow/core';
import { describe, expect, it } from 'vitest';
import { isChecked, portFacts } from '../src/index.js';

const port = (extra: Partial<LogicalPort>): LogicalPort =>
  ({
    id: 'p1',
    key: 7,
    macAddress: 'fa:16:3e:00:00:01',
    fixedIps: [{ subnetId: 's1', ipAddress: '10.0.0.11' }],
    allowedAddressPairs: [],
    portSecurityEnabled: true,
    deviceOwner: 'compute:nova',
    ...extra,
  }) as LogicalPort;

describe('portsec facts: what a port may send, from the model', () => {
  it('its MAC, fixed IPs and link-local address; pairs bound to their MAC or the port’s, listed once', () => {
    const f = portFacts(
      port({
        allowedAddressPairs: [
          { ipAddress: '10.0.0.100', macAddress: null },
          { ipAddress: '10.0.0.100', macAddress: 'fa:16:3e:00:00:01' },
          { ipAddress: '192.168.5.7/24', macAddress: 'fa:16:3e:00:00:aa' },
        ],
      }),
    );
    expect(f.macs.map(String)).toEqual(['fa:16:3e:00:00:01', 'fa:16:3e:00:00:aa']);
    // A CIDR with host bits set names its network (Neutron accepts it).
    expect(f.v4.map((b) => `${b.network} ${b.mac}`)).toEqual(['10.0.0.11/32 fa:16:3e:00:00:01', '10.0.0.100/32 fa:16:3e:00:00:01', '192.168.5.0/24 fa:16:3e:00:00:aa']);
    expect(f.v6.map((b) => `${b.network} ${b.mac}`)).toEqual(['fe80::f816:3eff:fe00:1/128 fa:16:3e:00:00:01']);
  });

  it('a model the switch cannot check is a DfError naming the port', () => {
    try {
      portFacts(port({ macAddress: 'not-a-mac' }));
      expect.unreachable();
    } catch (err) {
      expect(isDfError(err) && err.code).toBe('PORTSEC_BAD_ADDRESS');
      expect(String(err)).toContain('port p1');
    }
  });

  it('checked: port security on and not a network:* port', () => {
    expect(isChecked(port({}))).toBe(true);
    expect(isChecked(port({ portSecurityEnabled: false }))).toBe(false);
    expect(isChecked(port({ deviceOwner: 'network:router_interface' }))).toBe(false);
    expect(isChecked(port({ deviceOwner: '' }))).toBe(true);
  });
});
