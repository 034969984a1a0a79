import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadApiConfig, parseApiConfig, parseApiConfigText } from './config.js';

describe('df-api config', () => {
  it('has safe single-machine defaults', () => {
    const c = parseApiConfig({});
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 9696 });
    expect(c.db).toEqual({ driver: 'memory', file: null, serve: [], grants: [], socketMode: '600', tls: null, maxFrameBytes: 8 * 1024 * 1024, maxConnections: 128, endpoints: [], prefix: null });
    expect(c.auth).toMatchObject({ mode: 'noauth', defaultProject: 'admin', adminByDefault: true });
    expect(c.network).toMatchObject({ tenantNetworkType: 'vxlan', vxlanRanges: [{ min: 1, max: 65535 }], vlanRanges: [{ physicalNetwork: '*', min: null, max: null }], physicalMtu: 1500, macPrefix: 'fa:16:3e' });
    expect(c.bodyLimit).toBe(1024 * 1024);
  });

  it('parses Neutron-style ranges and is idempotent', () => {
    const c = parseApiConfig({ network: { vxlanRanges: ['10:20'], vlanRanges: ['physnet1:100:199', 'physnet2'] } });
    expect(c.network.vxlanRanges).toEqual([{ min: 10, max: 20 }]);
    expect(c.network.vlanRanges).toEqual([
      { physicalNetwork: 'physnet1', min: 100, max: 199 },
      { physicalNetwork: 'physnet2', min: null, max: null },
    ]);
    expect(parseApiConfig(c)).toEqual(c);
  });

  it('names the file, the key and the reason', () => {
    const bad: [unknown, string][] = [
      [{ listen: { port: 70000 } }, 'app.yaml: listen.port: must be 0..65535'],
      [{ db: { driver: 'etcd' } }, 'app.yaml: db.endpoints: at least one endpoint is required for the etcd driver'],
      [{ db: { driver: 'memory', endpoints: ['http://x:1'] } }, 'app.yaml: db.endpoints: the memory driver takes no endpoints (use serve to share it)'],
      [{ db: { serve: ['udp:1'] } }, 'app.yaml: db.serve[0]: must be unix:/PATH or tcp:HOST:PORT'],
      [{ db: { serve: ['unix:/run/nb.sock'] } }, 'app.yaml: db.grants: serving the memory DB needs at least one grant (role and tokenFile); without one nobody could connect'],
      [{ db: { serve: ['unix:/run/nb.sock'], grants: [{ role: 'reader', tokenFile: '/t' }] } }, 'app.yaml: db.grants[0].role: Invalid option: expected one of "admin"|"controller"'],
      [{ auth: { mode: 'token' } }, 'app.yaml: auth.tokens: at least one token is required in token mode'],
      [{ auth: { tokens: [{ token: 'short', project: 'p' }] } }, 'app.yaml: auth.tokens[0].token: must be at least 8 characters'],
      [{ network: { vlanRanges: ['physnet1:100'] } }, "app.yaml: network.vlanRanges[0]: 'physnet1:100' is not PHYSNET:MIN:MAX with 1 <= MIN <= MAX <= 4094, PHYSNET or *"],
      [{ network: { vxlanRanges: ['15000000:15728640'] } }, "app.yaml: network.vxlanRanges[0]: '15000000:15728640' overlaps 15728640:16777215, the tunnel keys reserved for the HA fallback's punts and centralized NAT's redirect"],
      [{ network: { greRanges: ['16000000:20000000'] } }, "app.yaml: network.greRanges[0]: '16000000:20000000' overlaps 15728640:16777215"],
      [{ network: { macPrefix: 'fb:16' } }, 'app.yaml: network.macPrefix: must start with a unicast octet (lowest bit 0)'],
      [{ network: { tenantNetworkType: 'vlan' } }, 'app.yaml: network.vlanRanges: needs a PHYSNET:MIN:MAX range when tenantNetworkType is vlan'],
      [{ colour: 'red' }, "app.yaml: (top level): unknown key(s) 'colour'"],
    ];
    for (const [raw, message] of bad) expect(() => parseApiConfig(raw, 'app.yaml'), JSON.stringify(raw)).toThrow(message);
  });

  it('reads YAML files and reports syntax errors with the line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'df-api-config-'));
    try {
      const good = join(dir, 'good.yaml');
      writeFileSync(good, 'listen:\n  port: 19696\nauth:\n  mode: token\n  tokens:\n    - { token: abcdefgh1, project: demo, roles: [admin] }\n');
      const c = loadApiConfig(good);
      expect(c.listen.port).toBe(19696);
      expect(c.auth.tokens[0]).toEqual({ token: 'abcdefgh1', project: 'demo', roles: ['admin'] });
      expect(() => parseApiConfigText('listen: [1,\n', 'broken.yaml')).toThrow(/^broken\.yaml:2:1: not valid YAML\/JSON/);
      expect(() => loadApiConfig(join(dir, 'missing.yaml'))).toThrow(/missing\.yaml: cannot read the config file \(ENOENT\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
