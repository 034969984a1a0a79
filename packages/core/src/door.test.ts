import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * The app door is small on purpose (STYLE.md 14): a name added to the main entry
 * is an API every app may come to depend on, so this list changes deliberately.
 */
const DOOR_VALUES = [
  'APP_CONTEXT', 'APP_FLOWS', 'APP_OPTIONS', 'APP_TABLES', 'AppFlows', 'AppTables', 'AppZones', 'CLOCK', 'CORE_API_VERSION', 'CtState', 'DEFAULT_PUNT_LIMITS', 'DeviceOwner',
  'EthType', 'FIXED_REGISTERS', 'FLAG_FROM_PROVIDER', 'FLAG_FROM_TUNNEL', 'FLAG_NAT_DONE', 'FLAG_ROUTED', 'FlowModFlags', 'FlowRemovedReason', 'IpNetwork', 'IpProto',
  'FALLBACK_TUNNEL_BASE', 'Ipv4Address', 'Ipv6Address', 'LOGGER', 'METADATA_NETWORK_MASK', 'MacAddress', 'NAT_REDIRECT_TUNNEL_KEY', 'OFPVID_PRESENT', 'OfGroup', 'OfPort', 'PUNT_ORIGIN_MARK', 'PUNT_ORIGIN_TABLE_MASK', 'PUNT_SUPPRESS_PRIORITY',
  'PacketInReason', 'REG_DST_PORT', 'REG_FLAGS', 'REG_PUNT_ORIGIN', 'REG_ROUTER', 'REG_SRC_PORT', 'SCRATCH_REGISTERS', 'STAGES', 'TOPOLOGY', 'ZONE_BLOCKS', 'act', 'activeGatewayChassis', 'activeGatewayOf', 'arpReplyActions', 'defineApp', 'flow',
  'group', 'inject', 'injectable', 'inst', 'isAppDescriptor', 'isAutoAddressSubnet', 'isDhcpv6Stateful', 'isStage', 'match', 'meter', 'openflow', 'packet', 'puntLimitsOption', 'raFlagsOf',
];

describe('@dragonflow/core: two entries', () => {
  it('the main entry is the app API and nothing else', async () => {
    const door = await import('./index.js');
    expect(Object.keys(door).sort()).toEqual([...DOOR_VALUES].sort());
  });

  it('the host entry holds the runtime, reconciler, connection, loading and cookie layout, none of it in the main entry', async () => {
    const door = new Set(Object.keys(await import('./index.js')));
    const host = Object.keys(await import('./host.js'));
    for (const name of ['ControllerRuntime', 'AppHost', 'Reconciler', 'OfConnection', 'OfListener', 'LocalCacheTopology', 'CoreMetrics', 'loadApps', 'validateApps', 'makeCookie', 'allocatePipeline', 'switchChannel']) {
      expect(host).toContain(name);
    }
    expect(host.filter((n) => door.has(n))).toEqual([]);
  });

  it('both entries resolve from sources and from the build', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { exports: Record<string, Record<string, string>> };
    expect(Object.keys(pkg.exports)).toEqual(['.', './host']);
    for (const entry of Object.values(pkg.exports)) {
      const src = entry['@dragonflow/source']!;
      expect(existsSync(new URL(`../${src}`, import.meta.url))).toBe(true);
      // the build (tsc, rootDir src → outDir dist) puts each entry where the map says
      expect([entry['default'], entry['types']]).toEqual([src.replace(/^\.\/src\/(.*)\.ts$/, './dist/$1.js'), src.replace(/^\.\/src\/(.*)\.ts$/, './dist/$1.d.ts')]);
    }
  });
});
