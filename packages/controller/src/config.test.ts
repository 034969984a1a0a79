import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDfError } from '@dragonflow/base';
import { describe, expect, it } from 'vitest';
import { loadControllerConfig, parseControllerConfig } from './config.js';

const FULL = `
chassis:
  name: compute-1
  tunnelIp: 192.0.2.11
  tunnelTypes: [vxlan, geneve]
db:
  driver: etcd
  endpoints: [http://192.0.2.1:2379]
ovsdb:
  endpoint: unix:/run/openvswitch/db.sock
openflow:
  listen: tcp:127.0.0.1:6653
bridge:
  integration: br-int
  datapathType: netdev
  mappings: { physnet1: br-phys }
apps:
  - '@dragonflow/app-l2'
  - package: '@acme/df-port-mirror'
    options: { port: 3 }
logLevel: debug
metricsPort: 9100
`;

function fails(text: string, re: RegExp, file = 'ctl.yaml'): void {
  try {
    parseControllerConfig(text, file);
    expect.unreachable('config was accepted');
  } catch (e) {
    expect(isDfError(e, 'CONFIG_INVALID')).toBe(true);
    expect((e as Error).message).toMatch(re);
  }
}

describe('controller config', () => {
  it('reads every section', () => {
    const c = parseControllerConfig(FULL, 'ctl.yaml');
    expect(c.chassis).toEqual({ name: 'compute-1', tunnelIp: '192.0.2.11', tunnelTypes: ['vxlan', 'geneve'] });
    expect(c.db).toEqual({ driver: 'etcd', endpoints: ['http://192.0.2.1:2379'] });
    expect(c.bridge).toEqual({ integration: 'br-int', datapathType: 'netdev', mappings: { physnet1: 'br-phys' } });
    expect(c.apps).toEqual([
      { package: '@dragonflow/app-l2', options: undefined },
      { package: '@acme/df-port-mirror', options: { port: 3 } },
    ]);
    expect(c.logLevel).toBe('debug');
  });

  it('fills defaults for a minimal file (JSON works too)', () => {
    const c = parseControllerConfig('{"apps": ["@acme/x"]}', 'ctl.json');
    expect(c.db.driver).toBe('memory');
    expect(c.openflow.listen).toBe('tcp:127.0.0.1:6653');
    expect(c.bridge.integration).toBe('br-int');
    expect(c.chassis.tunnelTypes).toEqual([]);
    expect(c.metricsPort).toBe(9100);
  });

  it('names the file, the key and the reason', () => {
    fails('chassis: { tunnelIp: 10.0.0.300 }', /^ctl\.yaml: chassis\.tunnelIp: must be an IPv4 or IPv6 address/);
    fails('chassis: { tunnelTypes: [vxlan] }', /chassis\.tunnelIp: is required when tunnelTypes is set \(vxlan\)/);
    fails('chassis: { tunnelIp: 10.0.0.1, tunnelTypes: [ipip] }', /chassis\.tunnelTypes\[0\]: /);
    fails('db: { driver: etcd }', /db\.endpoints: at least one endpoint is required for the etcd driver/);
    fails('db: { driver: cassandra }', /db\.driver: /);
    fails('openflow: { listen: "6653" }', /openflow\.listen: must be tcp:HOST:PORT/);
    fails('bridge: { mappings: { physnet1: br-int } }', /bridge\.mappings\.physnet1: must not be the integration bridge/);
    fails('bridge: { integration: a-very-long-bridge-name }', /bridge\.integration: must be at most 15 characters/);
    fails('apps: [Not A Package]', /apps\[0\]: /);
    fails('apps: ["@acme/x", "@acme/x"]', /apps\[1\]: package '@acme\/x' is listed twice/);
    fails('metricsPort: 70000', /metricsPort: must be 1\.\.65535/);
    fails('logLevel: loud', /logLevel: /);
    fails('chasis: { name: x }', /\(top level\): unknown key\(s\) 'chasis'/);
    fails('chassis: [1, 2', /^ctl\.yaml:1:\d+: not valid YAML\/JSON/);
  });

  it('loads from a file and resolves apps from its directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'df-config-'));
    const file = join(dir, 'controller.yaml');
    writeFileSync(file, FULL);
    const loaded = loadControllerConfig(file);
    expect(loaded.baseDir).toBe(dir);
    expect(loaded.config.chassis.name).toBe('compute-1');
    expect(() => loadControllerConfig(join(dir, 'missing.yaml'))).toThrow(/missing\.yaml: cannot read the config file \(ENOENT\)/);
  });
});
