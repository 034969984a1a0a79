/**
 * The app runtime and reconciler against a real Open vSwitch (userspace datapath):
 * the third-party example app is loaded by package name from a controller config,
 * gets its tables, installs its flows (which then mirror packets traced through the
 * real switch), removes them when its ports go away; and a controller restart with
 * unchanged state sends zero flow-mods — proven by Open vSwitch itself: a flow
 * monitor (`ovs-ofctl monitor … watch:`) sees no flow change and flow durations
 * keep counting. Needs root and Open vSwitch (./scripts/setup); never skips.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '@dragonflow/base';
import { loadControllerConfig } from '@dragonflow/controller/config';
import { CoreMetrics, cookieSlot, loadApps, startChassisRuntime, type ChassisRuntime, type ControllerRuntime, type LoadedApp } from '@dragonflow/core/host';
import { MemoryDriver, NbApi, chassisIdFromName } from '@dragonflow/nb';
import { encodeEthernet, ethernet, icmpEchoRequest, ipv4 } from '@dragonflow/packet';
import { requireBinary, sleep, spawnDaemon, stopPid, waitFor } from '@dragonflow/sandbox';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startOvsBridge, traceOutputs, type OvsBridge } from '../fakeswitch/ovs-bridge.js';

const here = dirname(fileURLToPath(import.meta.url));
const DPID = 0xdf0017e0n;
const CHASSIS = 'runtime-ovs';
const PORTS = {
  vm1: { id: '0a000001-0000-4000-8000-000000000001', ofport: 1, mac: 'fa:16:3e:0a:00:01', ip: '10.10.0.1' },
  vm2: { id: '0a000002-0000-4000-8000-000000000002', ofport: 2, mac: 'fa:16:3e:0a:00:02', ip: '10.10.0.2' },
  tap: { id: '0a000009-0000-4000-8000-000000000009', ofport: 3, mac: 'fa:16:3e:0a:00:09', ip: '10.10.0.9' },
};

let b: OvsBridge;
let driver: MemoryDriver;
let nb: NbApi;
let apps: LoadedApp[];
let runtime: ControllerRuntime | undefined;
let chassis: ChassisRuntime | undefined;
let metrics: CoreMetrics;

/** A controller process, in-process: the NB local cache + runtime + the switch connection. */
async function startController(): Promise<void> {
  metrics = new CoreMetrics();
  chassis = await startChassisRuntime({
    driver,
    apps,
    chassisId: chassisIdFromName(CHASSIS),
    metrics,
    clock: new ManualClock(),
    beforeStart: (parts) => {
      for (const p of Object.values(PORTS)) parts.runtime.bindPort({ kind: 'bound', portId: p.id, ofport: p.ofport, interfaceName: `p${p.ofport}` });
    },
  });
  runtime = chassis.runtime;
  await runtime.attachSwitch(b.channel);
  await runtime.waitForRevision(await driver.currentRevision());
  await runtime.settle();
}

async function stopController(): Promise<void> {
  await chassis?.stop();
  runtime = undefined;
  chassis = undefined;
}

/** Flows on the real switch whose cookie names the example app. */
async function mirrorFlows() {
  const slot = runtime!.pipeline.app('port-mirror').slot;
  return (await b.channel.dumpFlows()).filter((f) => cookieSlot(f.cookie) === slot);
}

async function traceFrom(port: (typeof PORTS)[keyof typeof PORTS], to: (typeof PORTS)[keyof typeof PORTS]): Promise<number[]> {
  const frame = ethernet({ src: port.mac, dst: to.mac, payload: ipv4({ src: port.ip, dst: to.ip, payload: icmpEchoRequest({ id: 1, seq: 1 }) }) });
  return (await traceOutputs(b, `in_port=${port.ofport}`, encodeEthernet(frame))).outputs;
}

beforeAll(async () => {
  requireBinary('ovs-ofctl');
  // OpenFlow 1.0 too, for ovs-ofctl's flow monitor; our connection negotiates 1.3.
  b = await startOvsBridge({ ports: 3, dpid: DPID, prefix: 'rt', protocols: 'OpenFlow10,OpenFlow13' });
  driver = MemoryDriver.create();
  nb = await NbApi.open(driver);
  const chassisId = chassisIdFromName(CHASSIS);
  await nb.create('chassis', { id: chassisId, name: CHASSIS, tunnelIp: '192.0.2.10', tunnelTypes: ['vxlan'] });
  const net = await nb.create('logical_switch', { name: 'net1' });
  const sub = await nb.create('subnet', { networkId: net.id, cidr: '10.10.0.0/24', ipVersion: 4 });
  for (const p of Object.values(PORTS)) {
    await nb.create('logical_port', { id: p.id, networkId: net.id, macAddress: p.mac, fixedIps: [{ subnetId: sub.id, ipAddress: p.ip }], chassisId });
  }
  const { config, baseDir } = loadControllerConfig(join(here, 'controller.yaml'));
  apps = await loadApps(config.apps, { baseDir, conditions: ['@dragonflow/source', 'import', 'default'] });
}, 120_000);

afterAll(async () => {
  await stopController();
  await nb?.close();
  await driver?.close();
  const problems = await b?.cleanup.run();
  expect(problems ?? []).toEqual([]);
});

describe('the runtime on a real Open vSwitch', () => {
  test('the example app is loaded by its package name from the config and gets its tables', async () => {
    expect(apps.map((a) => [a.package, a.descriptor.name])).toEqual([['@acme/dragonflow-port-mirror', 'port-mirror']]);
    await startController();
    const app = runtime!.pipeline.app('port-mirror');
    expect(app.slot).toBe(1);
    expect(app.tables.map((t) => `${t.stage}/${t.name}`)).toEqual(['ingress-security/from-port', 'egress-security/to-port']);
  });

  test('its flows are on the switch, in its tables, and mirror what vm1 sends', async () => {
    const flows = await mirrorFlows();
    expect(flows.map((f) => runtime!.pipeline.tableById(f.tableId)!.qualifiedName).sort()).toEqual(['port-mirror.from-port', 'port-mirror.to-port']);
    expect(await traceFrom(PORTS.vm1, PORTS.vm2)).toEqual([PORTS.tap.ofport]);
    expect(await traceFrom(PORTS.vm2, PORTS.vm1)).toEqual([]);
    // the core's flows are there too (classify, dispatch, every table's miss flow)
    expect((await b.channel.dumpFlows()).length).toBe(runtime!.reconciler.desiredCount);
  });

  test('a controller restart with unchanged state sends zero flow-mods (OVS sees no flow change)', async () => {
    const monitorLog = join(b.ovs.dir, 'flow-monitor.log');
    const monitor = spawnDaemon('ovs-ofctl', ['monitor', `unix:${b.ovs.mgmtSocket(b.bridge)}`, 'watch:'], { env: b.ovs.env, logFile: monitorLog });
    try {
      // the monitor is ready once it printed its first reply
      await waitFor(() => existsSync(monitorLog) && readFileSync(monitorLog, 'utf8').length > 0, { what: 'the flow monitor\'s first reply', timeoutMs: 20_000, pid: monitor });
      const before = await b.channel.dumpFlows();
      await stopController();
      // the switch loses its controller (fail_mode=secure keeps the flows) and reconnects
      b.conn.close();
      await b.reconnect();
      // Only a lower bound on time: at least 1.2 s pass between the two dumps (load only
      // adds to it), so a flow kept through the restart is over 1 s older in the second.
      await sleep(1200);
      await startController();
      expect(runtime!.reconciler.totals).toEqual({ adds: 0, modifies: 0, deletes: 0, groupMods: 0, batches: 0 });
      const after = await b.channel.dumpFlows();
      expect(after.length).toBe(before.length);
      const age = (f: (typeof before)[number]) => f.durationSec + f.durationNsec / 1e9;
      const key = (f: (typeof before)[number]) => `${f.tableId}/${f.priority}/${f.cookie}`;
      const beforeAge = new Map(before.map((f) => [key(f), age(f)]));
      for (const f of after) expect(age(f), `flow ${key(f)} was re-created`).toBeGreaterThan(beforeAge.get(key(f))! + 1);
      const events = () =>
        readFileSync(monitorLog, 'utf8')
          .split('\n')
          .filter((l) => /event=(ADDED|DELETED|MODIFIED)/.test(l));
      // A marker proves the absence instead of a pause: one flow added and deleted outside
      // our pipeline after the restart. The monitor reports flow changes in the order the
      // switch made them, so once the marker's two events are in the log, any change the
      // restart made is there too, before them.
      const probe = { cookie: 0x5eedn, cookieMask: 0n, tableId: 200, idleTimeout: 0, hardTimeout: 0, priority: 1, bufferId: 0xffffffff, outPort: 0xffffffff, outGroup: 0xffffffff, flags: 0, match: {}, instructions: [] };
      await b.channel.sendBatch([{ type: 'flow_mod', command: 'add', ...probe }]);
      await b.channel.sendBatch([{ type: 'flow_mod', command: 'delete_strict', ...probe }]);
      await waitFor(() => events().some((l) => /event=DELETED.*cookie=0x5eed/.test(l)), { what: 'the marker flow\'s DELETED event in the flow monitor', timeoutMs: 20_000, pid: monitor });
      expect(events().map((l) => /event=(\w+)/.exec(l)![1])).toEqual(['ADDED', 'DELETED']);
      // and the restarted controller still works
      expect(await traceFrom(PORTS.vm1, PORTS.vm2)).toEqual([PORTS.tap.ofport]);
    } finally {
      await stopPid(monitor);
    }
  });

  test('unplugging the tap port removes exactly the app\'s flows from the switch', async () => {
    const total = (await b.channel.dumpFlows()).length;
    runtime!.bindPort({ kind: 'unbound', portId: PORTS.tap.id });
    await runtime!.settle();
    expect(await mirrorFlows()).toEqual([]);
    // the tap's own classify and dispatch flows went too; nothing else did
    expect((await b.channel.dumpFlows()).length).toBe(total - 4);
    expect(await traceFrom(PORTS.vm1, PORTS.vm2)).toEqual([]);
    expect(runtime!.reconciler.totals.deletes).toBe(4);
    expect((await metrics.switchErrors.get()).values.reduce((n, v) => n + v.value, 0)).toBe(0);
  });
});
