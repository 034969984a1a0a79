import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDfError } from '@dragonflow/base';
import { describe, expect, it } from 'vitest';
import { checkRunnable, loadControllerConfig, parseControllerConfig } from './config.js';
import { listenerOptions } from './daemon.js';

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
management:
  listen: unix:/run/df/controller.sock
logLevel: debug
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
    expect(c.chassis).toEqual({ name: 'compute-1', tunnelIp: '192.0.2.11', tunnelTypes: ['vxlan', 'geneve'], gateway: false, availabilityZone: 'nova', livenessTtlMs: 10_000, gatewayBfd: { enabled: true, minTxMs: 100, minRxMs: 100, stableMs: 2000 } });
    expect(c.db).toEqual({ driver: 'etcd', endpoints: ['http://192.0.2.1:2379'] });
    expect(c.bridge).toEqual({ integration: 'br-int', datapathType: 'netdev', mappings: { physnet1: 'br-phys' } });
    expect(c.apps).toEqual([
      { package: '@dragonflow/app-l2', options: undefined },
      { package: '@acme/df-port-mirror', options: { port: 3 } },
    ]);
    expect(c.logLevel).toBe('debug');
    expect(c.management.listen).toBe('unix:/run/df/controller.sock');
  });

  it('fills defaults for a minimal file (JSON works too)', () => {
    const c = parseControllerConfig('{"apps": ["@acme/x"]}', 'ctl.json');
    expect(c.db.driver).toBe('memory');
    expect(c.openflow.listen).toBe('unix:/var/run/dragonflow/openflow/br-int.sock');
    expect(c.bridge.integration).toBe('br-int');
    expect(c.chassis.tunnelTypes).toEqual([]);
    expect(c.management.listen).toBe('tcp:127.0.0.1:9100');
    expect(parseControllerConfig('management: { listen: null }', 'x.yaml').management.listen).toBeNull();
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
    fails('management: { listen: 9100 }', /management\.listen: /);
    fails('management: { listen: "http://x" }', /management\.listen: must be tcp:HOST:PORT or unix:PATH/);
    fails('db: { driver: memory, endpoints: [http://x:1] }', /db\.endpoints\[0\]: 'http:\/\/x:1' must be unix:\/PATH or tcp:HOST:PORT/);
    fails('db: { driver: redis, endpoints: [http://x:1] }', /db\.endpoints\[0\]: 'http:\/\/x:1' must be redis:\/\/HOST:PORT\[\/DB\] or unix:\/PATH/);
    fails('db: { driver: memory, prefix: /x }', /db\.prefix: only applies to the etcd and redis drivers/);
    fails('chassis: { livenessTtlMs: 10 }', /chassis\.livenessTtlMs: must be at least 1000/);
    fails('chassis: { gatewayBfd: { minRxMs: 5 } }', /chassis\.gatewayBfd\.minRxMs: must be at least 10/);
    fails('chassis: { gatewayBfd: { minTxMs: 100.5 } }', /chassis\.gatewayBfd\.minTxMs: must be an integer/);
    fails('chassis: { gatewayBfd: { enable: true } }', /chassis\.gatewayBfd.*enable/);
    fails('logLevel: loud', /logLevel: /);
    fails('chasis: { name: x }', /\(top level\): unknown key\(s\) 'chasis'/);
    fails('chassis: [1, 2', /^ctl\.yaml:1:\d+: not valid YAML\/JSON/);
  });

  it('accepts every DB endpoint form the drivers understand', () => {
    for (const [driver, e] of [
      ['memory', 'unix:/run/df/nb.sock'],
      ['memory', 'tcp:127.0.0.1:7000'],
      ['etcd', 'http://127.0.0.1:2379'],
      ['etcd', 'unix:/run/df/etcd.sock:0'],
      ['redis', 'redis://127.0.0.1:6379/2'],
      ['redis', 'unix:/run/df/redis.sock'],
    ]) {
      const token = driver === 'memory' ? ', tokenFile: /etc/df/nb.token' : '';
      expect(parseControllerConfig(`db: { driver: ${driver}, endpoints: ['${e}']${token} }`, 'x.yaml').db.endpoints).toEqual([e]);
    }
  });

  it('takes an ssl: controller target (TLS through a proxy in front of the socket)', () => {
    expect(parseControllerConfig("bridge: { controllerTarget: 'ssl:192.0.2.10:6653' }", 'x.yaml').bridge.controllerTarget).toBe('ssl:192.0.2.10:6653');
  });

  it('ptcp:PORT without an address listens on loopback only', () => {
    expect(listenerOptions('ptcp:6653')).toEqual({ tcp: { host: '127.0.0.1', port: 6653 } });
    expect(listenerOptions('ptcp:6653:192.0.2.1')).toEqual({ tcp: { host: '192.0.2.1', port: 6653 } });
    expect(listenerOptions('punix:/run/df/of.sock')).toEqual({ unixPath: '/run/df/of.sock' });
  });

  it('a served memory DB needs the token file; etcd and redis take none', () => {
    expect(() => parseControllerConfig("db: { driver: memory, endpoints: ['unix:/run/df/nb.sock'] }", 'x.yaml')).toThrow(/db\.tokenFile: is required with a memory endpoint/);
    expect(() => parseControllerConfig("db: { driver: redis, endpoints: ['redis://h:1'], tokenFile: /t }", 'x.yaml')).toThrow(/db\.tokenFile: only applies to the memory driver/);
  });

  it('running needs a tunnel IP and a tunnel type, named by file and key', () => {
    expect(() => checkRunnable(parseControllerConfig('{}', 'ctl.yaml'), 'ctl.yaml')).toThrow(/^ctl\.yaml: chassis\.tunnelIp: is required to run df-controller/);
    const noTypes = parseControllerConfig('chassis: { tunnelIp: 10.0.0.1 }', 'ctl.yaml');
    expect(() => checkRunnable(noTypes, 'ctl.yaml')).toThrow(/^ctl\.yaml: chassis\.tunnelTypes: df-controller needs at least one tunnel type/);
    expect(() => checkRunnable(parseControllerConfig(FULL, 'ctl.yaml'), 'ctl.yaml')).not.toThrow();
  });

  it('loads from a file and resolves apps from its directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'df-config-'));
    const file = join(dir, 'controller.yaml');
    writeFileSync(file, FULL);
    const loaded = loadControllerConfig(file);
    expect(loaded.baseDir).toBe(dir);
    expect(loaded.config.chassis.name).toBe('compute-1');
    expect(() => loadControllerConfig(join(dir, 'missing.yaml'))).toThrow(/missing\.yaml: cannot read the config file \(ENOENT\)/);
    writeFileSync(file, FULL + 'appsFrom: ../apps\n');
    expect(loadControllerConfig(file).baseDir).toBe(join(dir, '..', 'apps'));
  });

  it('takes a standby pair (ha) and names what is wrong with one', () => {
    const base = `chassis: { name: c1, tunnelIp: 192.0.2.11, tunnelTypes: [vxlan] }\nopenflow: { listen: unix:/run/df/a.sock }\n`;
    const c = parseControllerConfig(`${base}ha: { activeSocket: unix:/run/df/br-int.active, peerTargets: [unix:/run/df/b.sock] }\n`, 'ctl.yaml');
    expect(c.ha).toEqual({ activeSocket: 'unix:/run/df/br-int.active', peerTargets: ['unix:/run/df/b.sock'] });
    expect(parseControllerConfig(base, 'ctl.yaml').ha).toBeUndefined();
    fails(`${base}ha: { activeSocket: unix:/run/df/x, peerTargets: [unix:/run/df/a.sock] }\n`, /ctl\.yaml: ha\.peerTargets\[0\]: 'unix:\/run\/df\/a\.sock' is this controller's own target/);
    fails(`${base}ha: { activeSocket: /run/df/x, peerTargets: [unix:/run/df/b.sock] }\n`, /ha\.activeSocket: must be unix:\/ABSOLUTE\/PATH/);
    fails(`${base}ha: { activeSocket: unix:/run/df/x, peerTargets: [] }\n`, /ha\.peerTargets: must name the other controller/);
    fails(`${base}ha: { activeSocket: unix:/run/df/x }\n`, /ha\.peerTargets/);
    fails(`${base}ha: { activeSocket: unix:/run/df/a.sock, peerTargets: [unix:/run/df/b.sock] }\n`, /ha\.activeSocket: must not be the OpenFlow socket/);
    fails(`${base}ha: { activeSocket: unix:/run/df/x, peerTargets: [unix:/b], standby: true }\n`, /ha: unknown key\(s\) 'standby'/);
  });
});
