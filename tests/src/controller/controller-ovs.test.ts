/**
 * df-controller (the daemon's Controller, in this process) against a real Open
 * vSwitch chassis of the sandbox topology and a memory NB DB served on a unix
 * socket: it keeps the switch setup without rewriting what is already right,
 * registers the chassis alive, binds and unbinds VM ports by iface-id (ACTIVE only
 * after the switch confirmed the port's flows — proven by holding the barrier),
 * reports and later binds an unknown iface-id, restores the flows when
 * ovs-vswitchd restarts, and after its own restart sends zero flow-mods while
 * catching up on a VM unplugged while it was down. Needs root and Open vSwitch
 * (./scripts/setup); never skips.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Controller, parseControllerConfig, type HealthReport } from '@dragonflow/controller';
import { loadApps, silentLogger, type LoadedApp, type SwitchChannel } from '@dragonflow/core/host';
import { MemoryDriver, MemoryServer, NbApi, chassisIdFromName, type LogicalPort } from '@dragonflow/nb';
import { OPEN_VSWITCH_DB } from '@dragonflow/ovsdb';
import { Sandbox, type Chassis } from '@dragonflow/sandbox';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROOT } from '../sandbox-cli/df-cli.js';

const CHASSIS = 'chassis-1';
const ME = chassisIdFromName(CHASSIS);

let sb: Sandbox;
let chassis: Chassis;
let driver: MemoryDriver;
let server: MemoryServer;
let nb: NbApi;
let apps: LoadedApp[];
let controller: Controller | undefined;
let networkId = '';
let subnetId = '';
let controllerRowBefore = '';
const gate = { held: false, release: (): void => undefined, wait: Promise.resolve(), waiting: 0, confirmed: [] as { at: number; requests: number }[] };

function hold(): void {
  gate.held = true;
  gate.waiting = 0;
  gate.wait = new Promise((r) => (gate.release = () => ((gate.held = false), r())));
}

/** Every batch waits while the gate is held: its flows are not on the switch, its barrier not answered. */
function gated(inner: SwitchChannel): SwitchChannel {
  return {
    get datapathId() {
      return inner.datapathId;
    },
    get messages$() {
      return inner.messages$;
    },
    dumpFlows: () => inner.dumpFlows(),
    dumpGroups: () => inner.dumpGroups(),
    async sendBatch(requests) {
      if (gate.held) gate.waiting++;
      await gate.wait;
      const r = await inner.sendBatch(requests);
      gate.confirmed.push({ at: performance.now(), requests: requests.length });
      return r;
    },
  };
}

function config(): string {
  const st = chassis.state;
  return `
chassis: { name: ${CHASSIS}, tunnelIp: ${st.tunnelIp}, tunnelTypes: [vxlan], livenessTtlMs: 3000 }
db: { driver: memory, endpoints: ['unix:${join(sb.dir, 'nb.sock')}'], tokenFile: '${join(sb.dir, 'nb-controller.token')}' }
ovsdb: { endpoint: '${st.ovsdbRemote}' }
openflow: { listen: '${st.controllerTarget}' }
bridge: { integration: br-int, datapathType: netdev, mappings: { physnet1: br-ex } }
apps: ['@dragonflow/app-l2']
management: { listen: 'unix:${join(st.dir, 'mgmt.sock')}' }
`;
}

async function startController(): Promise<Controller> {
  const c = new Controller({ config: parseControllerConfig(config(), 'controller.yaml'), file: 'controller.yaml', baseDir: ROOT, log: silentLogger(), apps, wrapChannel: gated, processMetrics: false });
  await c.start();
  controller = c;
  await c.whenRunning(30_000);
  await until('the controller to be healthy', () => (c.health().status === 'ok' ? true : undefined), 30_000);
  return c;
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}; health: ${JSON.stringify(controller?.health().problems)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The Controller rows (uuid and target): a rewrite would give new uuids and make vswitchd reconnect. */
async function controllerRowUuids(): Promise<string> {
  const client = await chassis.connectOvsdb();
  try {
    const [r] = await client.transact(OPEN_VSWITCH_DB, [{ op: 'select', table: 'Controller', where: [], columns: ['_uuid', 'target'] }]);
    return JSON.stringify(r?.rows ?? []);
  } finally {
    await client.close();
  }
}

/** The flows of br-int without their counters and ages, sorted. */
async function flows(): Promise<string[]> {
  const out = await chassis.ofctl('dump-flows', 'br-int');
  return out
    .split('\n')
    .filter((l) => l.includes('cookie='))
    .map((l) => l.replace(/(duration|n_packets|n_bytes|idle_age|hard_age)=[^,]*, ?/g, '').trim())
    .sort();
}

const flowsFor = async (ofport: number): Promise<string[]> => (await flows()).filter((f) => f.includes(`in_port=${ofport} `) || f.includes(`in_port=${ofport},`) || f.endsWith(`output:${ofport}`));

async function newPort(ip: string, id?: string): Promise<LogicalPort> {
  return nb.create('logical_port', { ...(id ? { id } : {}), networkId, macAddress: `fa:16:3e:10:00:${ip.split('.')[3]!.padStart(2, '0')}`, fixedIps: [{ subnetId, ipAddress: ip }], deviceOwner: 'compute:nova' });
}

async function portNow(id: string): Promise<LogicalPort | undefined> {
  return nb.get('logical_port', id);
}

beforeAll(async () => {
  sb = await Sandbox.create();
  chassis = await sb.createChassis(1, { tunnelTypes: ['vxlan'] });
  driver = MemoryDriver.create();
  // The controller connects with the controller role, as it does to df-api's served DB.
  const token = randomBytes(24).toString('hex');
  writeFileSync(join(sb.dir, 'nb-controller.token'), token, { mode: 0o600 });
  server = await MemoryServer.start({ store: driver.store, listen: [`unix:${join(sb.dir, 'nb.sock')}`], grants: [{ role: 'controller', token, chassis: CHASSIS }] });
  nb = await NbApi.open(driver);
  const net = await nb.create('logical_switch', { name: 'net1', networkType: 'vxlan', segmentationId: 5001 });
  networkId = net.id;
  subnetId = (await nb.create('subnet', { networkId, cidr: '10.40.0.0/24', ipVersion: 4, gatewayIp: '10.40.0.1' })).id;
  apps = await loadApps([{ package: '@dragonflow/app-l2' }], { baseDir: ROOT + 'tests', conditions: ['@dragonflow/source', 'import', 'default'] });
  controllerRowBefore = await controllerRowUuids();
}, 120_000);

afterAll(async () => {
  gate.release();
  await controller?.stop();
  await nb?.close();
  await server?.close();
  await driver?.close();
  await sb?.destroy();
});

describe('df-controller on a real Open vSwitch', () => {
  test('starts: switch setup kept as it was (identical controller row untouched), chassis registered alive, infra ports found', async () => {
    const c = await startController();
    const h: HealthReport = c.health();
    expect(h.ovsdb.setup).toBe('ok');
    expect(h.openflow.connected).toBe(true);
    expect(await controllerRowUuids()).toBe(controllerRowBefore);
    expect(h.infraPorts).toEqual({ tunnels: { vxlan: await chassis.ofport('tun-vxlan') }, providers: { physnet1: await chassis.ofport('patch-br-ex') } });
    expect(await nb.get('chassis', ME)).toMatchObject({ name: CHASSIS, tunnelIp: chassis.tunnelIp, tunnelTypes: ['vxlan'], bridgeMappings: { physnet1: 'br-ex' } });
    expect(await driver.get('chassis_liveness', ME)).toBeDefined();
    // the pipeline's miss flows and the L2 app's network-independent flows are on the switch
    expect((await flows()).length).toBe(c.runtime!.reconciler.desiredCount);
  });

  test('a plugged VM port is bound here and ACTIVE, with its flows on the switch', async () => {
    const p = await newPort('10.40.0.11');
    const t0 = performance.now();
    const vm = await sb.createVm(1, { name: 'vm1', ip: '10.40.0.11/24', mac: p.macAddress, gateway: '10.40.0.1', portId: p.id });
    const bound = await until('ACTIVE', async () => ((await portNow(p.id))?.status === 'ACTIVE' ? portNow(p.id) : undefined));
    const ms = performance.now() - t0;
    expect(bound).toMatchObject({ chassisId: ME, bindingHost: CHASSIS, status: 'ACTIVE' });
    expect((await flowsFor(await vm.ofport())).length).toBeGreaterThan(0);
    expect(controller!.health().ports).toMatchObject({ plugged: 1, active: 1 });
    console.log(`plug (VM created and added to br-int) → ACTIVE: ${ms.toFixed(0)} ms`);
  });

  test('ACTIVE only after the switch confirmed the flows: with the barrier held the port stays DOWN', async () => {
    const p = await newPort('10.40.0.12');
    const seen: { status: string; at: number }[] = [];
    const feed = driver.watch((await driver.currentRevision()) + 1, { tables: ['logical_port'] });
    void (async () => {
      for await (const b of feed) for (const e of b.events) if (e.id === p.id && e.value) seen.push({ status: (JSON.parse(e.value) as { status: string }).status, at: performance.now() });
    })();
    hold();
    const vm = await sb.createVm(1, { name: 'vm2', ip: '10.40.0.12/24', mac: p.macAddress, portId: p.id });
    const ofport = await vm.ofport();
    await until('the binding write', async () => (await portNow(p.id))?.chassisId === ME);
    // The port's flows are in a batch the switch has not confirmed: the controller has done all it can before the barrier.
    await until('a batch held at the gate', () => gate.waiting > 0 || undefined);
    // Markers instead of a pause: the binder says it waits for the flows (it has done
    // all it does before the barrier), and the feed has delivered every write committed
    // by then, so a wrong early ACTIVE write would be in `seen` now.
    await until('the binder waiting for the port\'s flows', () => controller!.health().ports?.ports.find((x) => x.portId === p.id)?.state === 'waiting-for-flows' || undefined);
    const committed = await driver.currentRevision();
    // (lastRevision also passes revisions of other tables, which the feed filters out)
    await until(`the feed to deliver revision ${committed}`, () => feed.lastRevision >= committed || undefined);
    expect(seen.filter((s) => s.status === 'ACTIVE')).toEqual([]);
    expect((await portNow(p.id))?.status).toBe('DOWN');
    expect(await flowsFor(ofport)).toEqual([]);
    const releasedAt = performance.now();
    gate.release();
    await until('ACTIVE', () => seen.find((s) => s.status === 'ACTIVE'));
    feed.close();
    const active = seen.find((s) => s.status === 'ACTIVE')!;
    expect(seen.filter((s) => s.status === 'ACTIVE' && s.at < releasedAt)).toEqual([]);
    const firstConfirmedAfterRelease = gate.confirmed.find((c) => c.at >= releasedAt)!;
    expect(firstConfirmedAfterRelease.at).toBeLessThan(active.at);
    expect((await flowsFor(ofport)).length).toBeGreaterThan(0);
  });

  test('an iface-id naming no port is reported, then bound as soon as the port is created', async () => {
    const id = randomUUID();
    await sb.createVm(1, { name: 'vm3', ip: '10.40.0.13/24', mac: 'fa:16:3e:10:00:13', portId: id });
    await until('the report', () => (controller!.health().ports?.unknownIfaceIds.some((u) => u.ifaceId === id) ? true : undefined));
    expect(controller!.health().ports!.ports.find((p) => p.portId === id)?.state).toBe('unknown-port');
    await newPort('10.40.0.13', id);
    await until('ACTIVE', async () => (await portNow(id))?.status === 'ACTIVE');
    expect(controller!.health().ports!.unknownIfaceIds).toEqual([]);
  });

  test('unplugged: DOWN, no binding chassis, its flows removed', async () => {
    const vm = sb.vm('vm3');
    const ofport = await vm.ofport();
    await sb.deleteVm('vm3');
    const p = await until('DOWN', async () => {
      const cur = await portNow(vm.state.portId);
      return cur?.status === 'DOWN' ? cur : undefined;
    });
    expect(p.chassisId).toBeNull();
    await until('its flows gone', async () => ((await flowsFor(ofport)).length === 0 ? true : undefined));
  });

  test('ovs-vswitchd restarted: every flow is restored', async () => {
    const before = await flows();
    expect(before.length).toBeGreaterThan(10);
    const ovs = chassis.ovs;
    await ovs.stopVswitchd();
    await ovs.startVswitchd();
    await until('the flows back', async () => (JSON.stringify(await flows()) === JSON.stringify(before) ? true : undefined), 30_000);
    await until('healthy', () => (controller!.health().status === 'ok' ? true : undefined), 30_000);
    expect((await portNow(sb.vm('vm1').state.portId))?.status).toBe('ACTIVE');
  });

  test('restarted with nothing changed: zero flow-mods; a VM unplugged meanwhile is unbound', async () => {
    await controller!.stop();
    controller = undefined;
    const withVm2 = await flows();
    const vm2 = sb.vm('vm2');
    const vm2Port = vm2.state.portId;
    // flows stay while the controller is away (fail_mode=secure)
    expect(await flows()).toEqual(withVm2);
    const c = await startController();
    expect(c.runtime!.reconciler.totals).toEqual({ adds: 0, modifies: 0, deletes: 0, groupMods: 0, batches: 0 });
    expect(await flows()).toEqual(withVm2);
    expect((await portNow(vm2Port))?.status).toBe('ACTIVE');
    // now unplug vm2 while the controller is down, and start it again
    await c.stop();
    controller = undefined;
    const ofport = await vm2.ofport();
    await sb.deleteVm('vm2');
    await startController();
    const p = await until('vm2 DOWN', async () => {
      const cur = await portNow(vm2Port);
      return cur?.status === 'DOWN' ? cur : undefined;
    });
    expect(p.chassisId).toBeNull();
    await until('vm2 flows gone', async () => ((await flowsFor(ofport)).length === 0 ? true : undefined));
    expect((await portNow(sb.vm('vm1').state.portId))?.status).toBe('ACTIVE');
  });
});
