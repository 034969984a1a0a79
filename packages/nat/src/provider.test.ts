import { OFPVID_PRESENT, type LogicalSwitch } from '@dragonflow/core';
import { describe, expect, it } from 'vitest';
import { providerIngressFlow, providerOutput, providerSegment } from './provider.js';
import { redirectActions, redirectTunnelPort } from './redirect.js';

const net = (o: Partial<LogicalSwitch>): LogicalSwitch => ({ id: 'n1', name: 'public', key: 7, networkType: 'flat', segmentationId: null, physicalNetwork: 'public', external: true, ...o }) as LogicalSwitch;
const infra = { tunnels: { vxlan: 100, geneve: 101 }, providers: { public: 50, physnet1: 51 } };

describe('provider output and ingress', () => {
  it('flat: out of the physnet’s patch port; VLAN: tag pushed first; tunnelled or unmapped: none', () => {
    expect(providerOutput(net({}), infra)).toEqual([{ type: 'output', port: 50 }]);
    expect(providerOutput(net({ networkType: 'vlan', segmentationId: 120, physicalNetwork: 'physnet1' }), infra)).toEqual([
      { type: 'push_vlan', ethertype: 0x8100 },
      expect.objectContaining({ type: 'set_field', field: 'vlan_vid' }),
      { type: 'output', port: 51 },
    ]);
    expect(providerOutput(net({ networkType: 'vxlan', segmentationId: 5, physicalNetwork: null }), infra)).toBeUndefined();
    expect(providerOutput(net({ physicalNetwork: 'elsewhere' }), infra)).toBeUndefined();
    expect(providerSegment(net({ networkType: 'vlan', segmentationId: 120, physicalNetwork: 'physnet1' }))).toEqual({ kind: 'vlan', physnet: 'physnet1', vid: 120 });
  });

  it('ingress: in_port + untagged (flat) or the VLAN (popped) → the network, FROM_PROVIDER', () => {
    const table = { id: 3, app: 'x', name: 'classify', qualifiedName: 'x.classify', stage: 'classify', next: 4, miss: 'drop', match: null } as never;
    const flat = providerIngressFlow(table, net({}), infra, 4)!;
    expect(flat.match).toMatchObject({ in_port: { value: 50 }, vlan_vid: { value: 0 } });
    expect(flat.instructions).toContainEqual(expect.objectContaining({ type: 'goto_table', tableId: 4 }));
    const vlan = providerIngressFlow(table, net({ networkType: 'vlan', segmentationId: 120, physicalNetwork: 'physnet1' }), infra, 4)!;
    expect(JSON.stringify(vlan.match, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))).toContain(String(OFPVID_PRESENT | 120));
    expect(providerIngressFlow(table, net({ physicalNetwork: 'elsewhere' }), infra, 4)).toBeUndefined();
  });

  it('redirect: the first tunnel type both ends carry, key 0xFFFFFF, the gateway chassis as endpoint', () => {
    expect(redirectTunnelPort(infra, ['geneve', 'gre'])).toBe(101);
    expect(redirectTunnelPort(infra, ['gre'])).toBeUndefined();
    expect(redirectActions(100, '192.0.2.3')).toEqual([
      expect.objectContaining({ field: 'tunnel_id', value: 0xffffffn }),
      expect.objectContaining({ field: 'tun_ipv4_dst' }),
      { type: 'output', port: 100 },
    ]);
  });
});
