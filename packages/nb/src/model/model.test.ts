import type { DfError} from '@dragonflow/base';
import { isDfError } from '@dragonflow/base';
import { describe, expect, it } from 'vitest';
import { decodeObject, encodeObject } from './codec.js';
import { chassisIdFromName, uuidV5 } from './ids.js';
import { portAllowedPairs, portMac, segmentIdOf, subnetCidr } from './accessors.js';
import { parseObject } from './validate.js';
import { hasFastProperties, haveSameMap } from '../../test/v8.js';

const ID = '11111111-2222-4333-8444-555555555555';
const NET = '22222222-2222-4333-8444-555555555555';
const SUB = '33333333-2222-4333-8444-555555555555';

function invalid(fn: () => unknown): DfError {
  try {
    fn();
  } catch (e) {
    if (isDfError(e, 'NB_INVALID')) return e;
    throw e;
  }
  throw new Error('expected NB_INVALID');
}

describe('model validation', () => {
  it('fills defaults and normalizes a port', () => {
    const p = parseObject('logical_port', {
      id: ID.toUpperCase(),
      key: 7,
      networkId: NET,
      macAddress: 'FA:16:3E:00:00:01',
      fixedIps: [{ subnetId: SUB, ipAddress: 'fd00:0:0::5' }],
    });
    expect(p.id).toBe(ID);
    expect(p.macAddress).toBe('fa:16:3e:00:00:01');
    expect(p.fixedIps[0]!.ipAddress).toBe('fd00::5');
    expect(p.status).toBe('DOWN');
    expect(p.portSecurityEnabled).toBe(true);
    expect(p.chassisId).toBeNull();
  });

  it('names the field of a bad MAC, IP, CIDR and UUID', () => {
    let e = invalid(() => parseObject('logical_port', { id: ID, key: 1, networkId: NET, macAddress: 'fa:16:3e:00:01' }));
    expect(e.context['field']).toBe('macAddress');
    expect(e.message).toMatch(/logical_port\.macAddress: 'fa:16:3e:00:01' is not a MAC address/);
    e = invalid(() => parseObject('logical_port', { id: ID, key: 1, networkId: NET, macAddress: 'fa:16:3e:00:00:01', fixedIps: [{ subnetId: SUB, ipAddress: '10.0.0.300' }] }));
    expect(e.context['field']).toBe('fixedIps[0].ipAddress');
    e = invalid(() => parseObject('subnet', { id: ID, networkId: NET, ipVersion: 4, cidr: '10.0.0.5/24' }));
    expect(e.context['field']).toBe('cidr');
    expect(e.message).toMatch(/did you mean '10\.0\.0\.0\/24'/);
    e = invalid(() => parseObject('subnet', { id: 'nope', networkId: NET, ipVersion: 4, cidr: '10.0.0.0/24' }));
    expect(e.context['field']).toBe('id');
    e = invalid(() => parseObject('logical_port', { id: ID, key: 1, networkId: NET, macAddress: '01:00:5e:00:00:01' }));
    expect(e.message).toMatch(/multicast/);
  });

  it('refuses unknown and missing fields', () => {
    let e = invalid(() => parseObject('logical_switch', { id: ID, key: 1, colour: 'blue' }));
    expect(e.context['field']).toBe('colour');
    expect(e.message).toMatch(/unknown field colour/);
    e = invalid(() => parseObject('subnet', { id: ID, networkId: NET, cidr: '10.0.0.0/24' }));
    expect(e.context['field']).toBe('ipVersion');
  });

  it('checks subnet consistency: gateway, pools, version, routes', () => {
    const base = { id: ID, networkId: NET, ipVersion: 4, cidr: '10.0.0.0/24' };
    expect(invalid(() => parseObject('subnet', { ...base, gatewayIp: '10.0.1.1' })).context['field']).toBe('gatewayIp');
    expect(invalid(() => parseObject('subnet', { ...base, gatewayIp: '10.0.0.255' })).message).toMatch(/broadcast/);
    expect(invalid(() => parseObject('subnet', { ...base, ipVersion: 6 })).context['field']).toBe('cidr');
    expect(
      invalid(() =>
        parseObject('subnet', {
          ...base,
          allocationPools: [
            { start: '10.0.0.10', end: '10.0.0.20' },
            { start: '10.0.0.15', end: '10.0.0.30' },
          ],
        }),
      ).context['field'],
    ).toBe('allocationPools[1]');
    // a pool inside an earlier, longer one, listed out of order: the later-listed pool is named
    expect(
      invalid(() =>
        parseObject('subnet', {
          ...base,
          allocationPools: [
            { start: '10.0.0.100', end: '10.0.0.110' },
            { start: '10.0.0.2', end: '10.0.0.200' },
            { start: '10.0.0.210', end: '10.0.0.220' },
          ],
        }),
      ).message,
    ).toMatch(/pool 10\.0\.0\.2-10\.0\.0\.200 overlaps allocationPools\[0\]/);
    // many single-address pools are checked by sorting, not pairwise (a /16 with 20 000 pools)
    const singles = Array.from({ length: 20_000 }, (_, i) => `10.1.${Math.floor(i / 254)}.${(i % 254) + 1}`).map((ip) => ({ start: ip, end: ip }));
    expect(parseObject('subnet', { ...base, cidr: '10.1.0.0/16', allocationPools: singles }).allocationPools).toHaveLength(20_000);
    expect(invalid(() => parseObject('subnet', { ...base, gatewayIp: '10.0.0.1', allocationPools: [{ start: '10.0.0.1', end: '10.0.0.9' }] })).message).toMatch(/contains the gateway/);
    expect(invalid(() => parseObject('subnet', { ...base, allocationPools: [{ start: '10.0.0.9', end: '10.0.0.2' }] })).message).toMatch(/after end/);
    expect(invalid(() => parseObject('subnet', { ...base, hostRoutes: [{ destination: 'fd00::/64', nexthop: '10.0.0.1' }] })).context['field']).toBe('hostRoutes[0].destination');
    const ok = parseObject('subnet', { ...base, gatewayIp: '10.0.0.1', allocationPools: [{ start: '10.0.0.2', end: '10.0.0.254' }], dnsNameservers: ['8.8.8.8'] });
    expect(ok.enableDhcp).toBe(true);
  });

  it('checks segmentation per network type', () => {
    const base = { id: ID, key: 3 };
    expect(parseObject('logical_switch', base).networkType).toBe('vxlan');
    expect(invalid(() => parseObject('logical_switch', { ...base, networkType: 'vlan', physicalNetwork: 'phys' })).context['field']).toBe('segmentationId');
    expect(invalid(() => parseObject('logical_switch', { ...base, networkType: 'vlan', segmentationId: 4095, physicalNetwork: 'phys' })).message).toMatch(/1\.\.4094/);
    expect(invalid(() => parseObject('logical_switch', { ...base, networkType: 'flat' })).context['field']).toBe('physicalNetwork');
    expect(invalid(() => parseObject('logical_switch', { ...base, networkType: 'vxlan', physicalNetwork: 'phys' })).context['field']).toBe('physicalNetwork');
    expect(invalid(() => parseObject('logical_switch', { ...base, mtu: 20 })).context['field']).toBe('mtu');
    expect(segmentIdOf(parseObject('logical_switch', base))).toBe(3);
    expect(segmentIdOf(parseObject('logical_switch', { ...base, networkType: 'geneve', segmentationId: 99 }))).toBe(99);
    // the reserved band (HA fallback punts, NAT redirect) on every tunnel type; GRE goes on above it, VLAN ids never reach it
    for (const networkType of ['vxlan', 'geneve', 'gre']) {
      for (const segmentationId of [0xf00000, 0xf12345, 0xffffff]) {
        expect(invalid(() => parseObject('logical_switch', { ...base, networkType, segmentationId })).context['field'], `${networkType} ${segmentationId}`).toBe('segmentationId');
      }
    }
    expect(invalid(() => parseObject('logical_switch', { ...base, networkType: 'gre', segmentationId: 0xf00001 })).message).toMatch(/HA fallback/);
    expect(parseObject('logical_switch', { ...base, networkType: 'gre', segmentationId: 0x1000000 }).segmentationId).toBe(0x1000000);
    expect(parseObject('logical_switch', { ...base, networkType: 'vxlan', segmentationId: 0xefffff }).segmentationId).toBe(0xefffff);
  });

  it('checks port security, duplicate IPs and address pairs', () => {
    const base = { id: ID, key: 1, networkId: NET, macAddress: 'fa:16:3e:00:00:01' };
    expect(invalid(() => parseObject('logical_port', { ...base, portSecurityEnabled: false, securityGroupIds: [SUB] })).context['field']).toBe('securityGroupIds');
    expect(
      invalid(() =>
        parseObject('logical_port', {
          ...base,
          fixedIps: [
            { subnetId: SUB, ipAddress: '10.0.0.5' },
            { subnetId: SUB, ipAddress: '10.0.0.5' },
          ],
        }),
      ).context['field'],
    ).toBe('fixedIps[1].ipAddress');
    const p = parseObject('logical_port', { ...base, allowedAddressPairs: [{ ipAddress: '10.1.0.0/16' }, { ipAddress: '10.2.0.1', macAddress: 'fa:16:3e:00:00:09' }] });
    const pairs = portAllowedPairs(p);
    expect(pairs[0]!.network.toString()).toBe('10.1.0.0/16');
    expect(pairs[0]!.mac.toString()).toBe('fa:16:3e:00:00:01');
    expect(pairs[1]!.network.toString()).toBe('10.2.0.1/32');
    expect(portMac(p).toString()).toBe('fa:16:3e:00:00:01');
  });

  it('checks security group rules', () => {
    const rule = { id: SUB, direction: 'ingress' };
    const g = (r: object) => parseObject('security_group', { id: ID, key: 1, rules: [{ ...rule, ...r }] });
    expect(g({ protocol: 'TCP', portRangeMin: 22, portRangeMax: 22 }).rules[0]!.protocol).toBe('tcp');
    expect(invalid(() => g({ protocol: 'tcp', portRangeMin: 80, portRangeMax: 22 })).context['field']).toBe('rules[0].portRangeMin');
    expect(invalid(() => g({ protocol: 'tcp', portRangeMin: 80 })).context['field']).toBe('rules[0].portRangeMax');
    expect(invalid(() => g({ protocol: 'gre', portRangeMin: 1, portRangeMax: 2 })).message).toMatch(/only apply/);
    expect(invalid(() => g({ protocol: 'icmp', portRangeMin: 300 })).context['field']).toBe('rules[0].portRangeMin');
    expect(invalid(() => g({ protocol: 'bogus' })).context['field']).toBe('rules[0].protocol');
    expect(invalid(() => g({ remoteIpPrefix: 'fd00::/64' })).context['field']).toBe('rules[0].remoteIpPrefix');
    expect(g({ remoteIpPrefix: '10.0.0.7/24' }).rules[0]!.remoteIpPrefix).toBe('10.0.0.0/24');
    expect(invalid(() => parseObject('security_group', { id: ID, key: 1, rules: [rule, { ...rule, id: NET }] })).message).toMatch(/duplicates rules\[0\]/);
  });

  it('checks router ports do not overlap and hold their IP', () => {
    const rp = { portId: SUB, networkId: NET, subnetId: SUB, macAddress: 'fa:16:3e:00:00:01', ipAddress: '10.0.0.1', cidr: '10.0.0.0/24' };
    expect(invalid(() => parseObject('logical_router', { id: ID, key: 1, ports: [{ ...rp, ipAddress: '10.0.1.1' }] })).context['field']).toBe('ports[0].ipAddress');
    expect(invalid(() => parseObject('logical_router', { id: ID, key: 1, ports: [rp, { ...rp, portId: NET, ipAddress: '10.0.0.129', cidr: '10.0.0.128/25' }] })).context['field']).toBe('ports[1].cidr');
  });

  it('encodes stable JSON with a schema version and decodes it', () => {
    const s = { ...parseObject('subnet', { id: ID, networkId: NET, ipVersion: 4, cidr: '10.0.0.0/24' }), version: 4 };
    const json = encodeObject('subnet', s);
    expect(JSON.parse(json)._schema).toBe(1);
    expect(json).not.toContain('"version"');
    expect(Object.keys(JSON.parse(json))).toEqual([...Object.keys(JSON.parse(json))].sort());
    expect(encodeObject('subnet', { ...s, name: '' })).toBe(json);
    const back = decodeObject('subnet', json, 4);
    expect(back).toEqual(s);
    expect(subnetCidr(back).prefixLength).toBe(24);
    expect(() => decodeObject('subnet', json.replace('"_schema":1', '"_schema":99'), 1)).toThrow(/schema version 99/);
  });

  it('decodes into compact objects: fast properties, one hidden class per table', () => {
    const port = (ip: string) => ({ ...parseObject('logical_port', { id: ID, key: 7, networkId: NET, macAddress: 'fa:16:3e:00:00:01', fixedIps: [{ subnetId: SUB, ipAddress: ip }] }), version: 1 });
    const a = decodeObject('logical_port', encodeObject('logical_port', port('10.0.0.5')), 3);
    const b = decodeObject('logical_port', encodeObject('logical_port', port('10.0.0.6')), 1);
    expect(hasFastProperties(a)).toBe(true);
    expect(haveSameMap(a, b)).toBe(true);
    expect(a).toEqual({ ...port('10.0.0.5'), version: 3 });
    expect(a).not.toHaveProperty('_schema');
  });

  it('derives stable name-based chassis ids (RFC 4122 v5)', () => {
    // Known vector: uuid5(NAMESPACE_DNS, "python.org") = 886313e1-3b8a-5372-9b90-0c9aee199e5d
    expect(uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'python.org')).toBe('886313e1-3b8a-5372-9b90-0c9aee199e5d');
    expect(chassisIdFromName('compute-1')).toBe(chassisIdFromName('compute-1'));
    expect(chassisIdFromName('compute-1')).not.toBe(chassisIdFromName('compute-2'));
  });
});
