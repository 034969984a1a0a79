import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HealthReport } from '@dragonflow/controller';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { helpOf } from '../../test/help.js';
import { main } from '../main.js';
import { fetchHealth, formatHealth } from './status.js';

/** A report as df-controller's /healthz gives it. */
function report(over: Partial<HealthReport> = {}): HealthReport {
  return {
    status: 'ok',
    problems: [],
    chassis: { name: 'compute-1', id: 'c0ffee00-0000-4000-8000-000000000001', tunnelIp: '192.0.2.11', tunnelTypes: ['vxlan', 'geneve'], gateway: false },
    db: { where: 'etcd at http://192.0.2.1:2379', connected: true, cache: { phase: 'live', revision: 42, resyncs: 0, counts: {}, networks: 3 }, lastError: undefined },
    liveness: { alive: true, failures: 0 },
    ovsdb: { remote: 'unix:/var/run/openvswitch/db.sock', state: 'connected', lastError: undefined, setup: 'ok' },
    openflow: { listen: 'tcp:127.0.0.1:6653', controllerTarget: 'tcp:127.0.0.1:6653', connected: true, datapathId: '0000aabbccddeeff', role: 'equal' },
    ha: undefined,
    sync: { runtimeStarted: true, syncedRevision: 42, desiredFlows: 120, installedFlows: 120 },
    infraPorts: { tunnels: { vxlan: 1, geneve: 2 }, providers: {} },
    ports: { plugged: 4, active: 3, ports: [], unknownIfaceIds: [{ ifaceId: 'x', interfaceName: 'tapx' }], failedInterfaces: [] },
    apps: ['@dragonflow/app-l2', '@dragonflow/app-l3-proactive'],
    ...over,
  } as HealthReport;
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(console, 'log').mockImplementation((s: unknown) => void (out += `${String(s)}\n`));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    return { code: await main(args), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe('dfctl status', () => {
  it('sums a controller up in a line per part: DB, liveness, OVSDB, OpenFlow, apps, ports, flows, tunnels, problems', () => {
    const lines = formatHealth(report({ status: 'degraded', problems: ['OVSDB: connection refused'] }));
    expect(lines).toEqual([
      '  status    degraded',
      '  NB DB     connected (etcd at http://192.0.2.1:2379), cache live at revision 42, 3 networks',
      '  liveness  registered alive',
      '  OVSDB     connected (unix:/var/run/openvswitch/db.sock), setup ok',
      '  OpenFlow  connected, datapath 0000aabbccddeeff (listening on tcp:127.0.0.1:6653)',
      '  apps      @dragonflow/app-l2, @dragonflow/app-l3-proactive',
      '  ports     3 ACTIVE of 4 plugged, 1 unknown iface-id(s)',
      '  flows     120 installed, 120 desired, in sync up to revision 42',
      '  tunnels   vxlan, geneve from 192.0.2.11 (ports vxlan=1, geneve=2)',
      '  ! OVSDB: connection refused',
    ]);
    // a gateway chassis with two provider networks says so
    const gw = formatHealth(report({ chassis: { ...report().chassis, gateway: true }, infraPorts: { tunnels: {}, providers: { physnet1: 7, public: 8 } } }));
    expect(gw.slice(-3)).toEqual(['  tunnels   vxlan, geneve from 192.0.2.11', '  providers physnet1 (port 7), public (port 8)', '  role      gateway (external networks, SNAT)']);
    // with ha-fallback: where this chassis falls back to; on a fallback chassis, whom it serves and who is in fallback
    const stranded = formatHealth(report({ appStatus: { 'ha-fallback': { fallbackChassis: 'chassis-3', serves: [], servedPorts: 0, inFallback: [], fallbacks: 0 } } }));
    expect(stranded.slice(-1)).toEqual(['  fallback  punts go to chassis-3 while this controller is gone']);
    const fb = formatHealth(report({ appStatus: { 'ha-fallback': { fallbackChassis: null, serves: ['chassis-1', 'chassis-2'], servedPorts: 5, inFallback: ['chassis-1'], fallbacks: 2 } } }));
    expect(fb.slice(-2)).toEqual(['  fallback  no fallback chassis for this one', '            serves chassis-1, chassis-2 (5 ports); in fallback now: chassis-1 (2 fallback(s) since start)']);
    expect(formatHealth(report({ db: { where: 'memory at unix:/x', connected: false, cache: undefined, lastError: 'ECONNREFUSED' }, openflow: { listen: 'unix:/c', controllerTarget: 'unix:/c', connected: false, datapathId: undefined, role: 'unknown' } }))).toEqual(
      expect.arrayContaining(['  NB DB     DISCONNECTED (memory at unix:/x); last error: ECONNREFUSED', '  OpenFlow  NOT CONNECTED (listening on unix:/c)']),
    );
    // the active gateway chassis of each router it knows, the dead ones of the list marked, with the BFD session to each peer
    const gateways = formatHealth(
      report({
        gateways: [
          { routerId: 'r-1', routerName: 'r1', active: 'chassis-3', candidates: [{ chassis: 'chassis-2', alive: false, bfd: 'down' }, { chassis: 'chassis-3', alive: true }], preempt: false },
          { routerId: 'r-2', routerName: '', active: 'chassis-2', candidates: [{ chassis: 'chassis-2', alive: true }], preempt: true },
        ],
      }),
    );
    expect(gateways.slice(-2)).toEqual(['  gateway   router r1: active chassis-3 of chassis-2 (dead) [BFD down], chassis-3', '  gateway   router r-2: active chassis-2 of chassis-2, pre-emptive']);
  });

  it("shows a standby pair's role and generation, the last takeover and a step-down", () => {
    const ha = { activeSocket: 'unix:/run/df/br-int.active', socket: 'active' as const, role: 'master' as const, generationId: '3', since: 1000, takeovers: 1, lastTakeover: { detectedAt: 1000, masterAt: 1012, syncedAt: 1030, flowMods: 0 }, demoted: undefined };
    expect(formatHealth(report({ ha }))).toContain('  HA        master, generation 3 (standby pair, active socket unix:/run/df/br-int.active); 1 takeover(s), last: master 12 ms after the other died, 0 flow-mods');
    expect(formatHealth(report({ ha: { ...ha, role: 'slave', socket: 'standby', generationId: undefined, takeovers: 0, lastTakeover: undefined } }))).toContain('  HA        slave (standby pair, active socket unix:/run/df/br-int.active)');
    expect(formatHealth(report({ ha: { ...ha, role: 'slave', demoted: 'the switch refused our generation 3 as stale' } })).join('\n')).toMatch(/HA {8}slave, generation 3 .*; STEPPED DOWN: the switch refused our generation 3 as stale/);
    expect(formatHealth(report()).join('\n')).not.toMatch(/HA/);
  });

  describe('--management: a controller’s management endpoint', () => {
    let dir: string;
    let server: Server;
    let current = report();
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'df-status-'));
      server = createServer((req, res) => {
        if (req.url === '/healthz') {
          res.writeHead(current.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' });
          res.end(JSON.stringify(current));
        } else {
          res.writeHead(404);
          res.end();
        }
      });
      await new Promise<void>((resolve) => server.listen(join(dir, 'mgmt.sock'), resolve));
    });
    afterAll(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    });

    it('reads /healthz over a unix socket; exit status 0 when ok', async () => {
      current = report();
      expect((await fetchHealth(`unix:${join(dir, 'mgmt.sock')}`)).chassis.name).toBe('compute-1');
      const r = await run(['status', '--management', `unix:${join(dir, 'mgmt.sock')}`]);
      expect(r.code).toBe(0);
      expect(r.out).toContain(`df-controller compute-1 (unix:${join(dir, 'mgmt.sock')}): ok`);
      expect(r.out).toContain('  ports     3 ACTIVE of 4 plugged');
    });

    it('exit status 1 when the controller is not ok (it answers 503 with its report)', async () => {
      current = report({ status: 'degraded', problems: ['OpenFlow: the switch is not connected'] });
      const r = await run(['status', '--management', `unix:${join(dir, 'mgmt.sock')}`]);
      expect(r.code).toBe(1);
      expect(r.out).toContain('): degraded');
      expect(r.out).toContain('  ! OpenFlow: the switch is not connected');
    });

    it('--json prints the report', async () => {
      current = report();
      const r = await run(['status', '--management', `unix:${join(dir, 'mgmt.sock')}`, '--json']);
      expect(JSON.parse(r.out)).toEqual(JSON.parse(JSON.stringify(current)));
    });

    it('nobody there, a bad endpoint, or --sandbox with --management: a message that says so', async () => {
      const nobody = await run(['status', '--management', `unix:${join(dir, 'nobody.sock')}`]);
      expect(nobody.code).toBe(1);
      expect(nobody.err).toMatch(/no answer from the controller at unix:.*nobody\.sock \(is df-controller running with management\.listen there\?\)/);
      expect((await run(['status', '--management', 'ftp://x'])).err).toMatch(/expected unix:PATH, tcp:HOST:PORT or http:\/\/HOST:PORT/);
      expect((await run(['status', '--management', 'unix:/x', '--sandbox', '/y'])).err).toMatch(/either --sandbox or --management, not both/);
    });
  });

  it('--help says what it covers and what the exit status means', () => {
    const help = helpOf('status').replace(/\s+/g, ' ');
    for (const s of ['Usage: dfctl status [options]', '--sandbox <dir>', '--management <endpoint>', '--json', 'Exit status: 0 when everything is healthy, 1 when something is not', 'dfctl status --management unix:/run/dragonflow/df-controller.sock']) expect(help).toContain(s);
  });
});
