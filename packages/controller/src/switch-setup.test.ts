import type { InterfaceState } from '@dragonflow/ovsdb';
import { describe, expect, it } from 'vitest';
import { controllerTargetFor, infraPortsFrom, sameInfraPorts } from './switch-setup.js';

function iface(name: string, type: string, ofport: number | undefined): InterfaceState {
  return { uuid: name, name, type, bridge: 'br-int', port: name, ofport, ifaceId: undefined, attachedMac: undefined, externalIds: {}, options: {}, macInUse: undefined, linkState: undefined, adminState: undefined, error: undefined, bfdStatus: {} };
}

describe('switch setup helpers', () => {
  it('derives the controller target br-int connects to from the listen address', () => {
    expect(controllerTargetFor('unix:/run/df/of.sock')).toBe('unix:/run/df/of.sock');
    expect(controllerTargetFor('punix:/run/df/of.sock')).toBe('unix:/run/df/of.sock');
    expect(controllerTargetFor('tcp:127.0.0.1:6653')).toBe('tcp:127.0.0.1:6653');
    expect(controllerTargetFor('tcp:0.0.0.0:6653')).toBe('tcp:127.0.0.1:6653');
    expect(controllerTargetFor('ptcp:6653')).toBe('tcp:127.0.0.1:6653');
    expect(controllerTargetFor('ptcp:6653:192.0.2.1')).toBe('tcp:192.0.2.1:6653');
  });

  it('finds the tunnel and provider patch ofports for the runtime', () => {
    const ifaces = new Map(
      [iface('tun-vxlan', 'vxlan', 4), iface('tun-geneve', 'geneve', undefined), iface('tun-gre', 'gre', 6), iface('patch-br-ex', 'patch', 7), iface('patch-br-other', 'patch', 8), iface('tap1', '', 9)].map((i) => [i.name, i]),
    );
    const ports = infraPortsFrom(ifaces, { integrationBridge: 'br-int', tunnelTypes: ['vxlan', 'geneve'], mappings: { physnet1: 'br-ex', physnet2: 'br-missing' } });
    // geneve has no ofport yet, gre is not configured, physnet2's bridge has no patch
    expect(ports).toEqual({ tunnels: { vxlan: 4 }, providers: { physnet1: 7 } });
    expect(sameInfraPorts(ports, { tunnels: { vxlan: 4 }, providers: { physnet1: 7 } })).toBe(true);
    expect(sameInfraPorts(ports, { tunnels: { vxlan: 5 }, providers: { physnet1: 7 } })).toBe(false);
  });
});
