/**
 * Meters and groups as desired state, against a real Open vSwitch (userspace
 * datapath): an app polices what enters on port 1 with a meter and sends it on
 * through a fast-failover group (port 2, else port 3). Open vSwitch's own tools
 * (`ovs-ofctl dump-meters / dump-groups`, meter and group stats durations) show
 * what is installed; a controller restart sends zero group, meter and flow mods; a
 * change of a band or of the buckets sends exactly the modify; removing the owner
 * deletes the flow first, then the group, then the meter. Needs root and Open
 * vSwitch (./scripts/setup); never skips.
 */
import { ManualClock } from '@dragonflow/base';
import { defineApp, flow, group, meter, type AppContext } from '@dragonflow/core';
import { ControllerRuntime, CoreMetrics, LocalCacheTopology, requestMessage, validateApps, type LoadedApp, type SwitchChannel } from '@dragonflow/core/host';
import { act } from '@dragonflow/openflow';
import { LocalCache, MemoryDriver, NbApi, chassisIdFromName } from '@dragonflow/nb';
import { encodeEthernet, ethernet, icmpEchoRequest, ipv4 } from '@dragonflow/packet';
import { requireBinary, sleep } from '@dragonflow/sandbox';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startOvsBridge, traceOutputs, type OvsBridge } from '../fakeswitch/ovs-bridge.js';

const DPID = 0xdf00_3e7en;
const CHASSIS = 'meters-groups-ovs';
const OWNER = 'police:port1';
/** Logical ports bound to the bridge's ports 1..3 (classify admits packets of bound ports only). */
const PORTS = [1, 2, 3].map((n) => ({ id: `0b00000${n}-0000-4000-8000-00000000000${n}`, ofport: n, mac: `fa:16:3e:0b:00:0${n}`, ip: `10.11.0.${n}` }));

/** What the app desires: its meter's rate and the order of its failover ports. Tests change it, as a model change would. */
const state = { rate: 100, ports: [2, 3] };

function desired(ctx: AppContext) {
  const police = flow(ctx.tables.ref('police'), { priority: 10, match: { in_port: 1 }, meter: ctx.flows.meterId(1), actions: [act.group(ctx.flows.groupId(5))] });
  const limit = meter.pktps(1, { rate: state.rate, burst: 20 });
  const failover = group.ff(
    5,
    state.ports.map((p) => ({ watchPort: p, actions: [act.output(p)] })),
  );
  return { flows: [police], objects: [limit, failover] };
}

const policer = defineApp({
  name: 'policer',
  coreApi: '^1.0.0',
  tables: { 'ingress-security': [{ name: 'police', match: ['in_port'] }] },
  app: class {},
  resync: (_app, ctx) => {
    const d = desired(ctx);
    ctx.flows.replace(OWNER, d.flows, d.objects);
  },
});

/** The switch channel, recording what the reconciler sends through it (in order). */
function recording(channel: SwitchChannel, sent: string[]): SwitchChannel {
  return {
    get datapathId() {
      return channel.datapathId;
    },
    messages$: channel.messages$,
    dumpFlows: () => channel.dumpFlows(),
    dumpGroups: () => channel.dumpGroups(),
    dumpMeters: () => channel.dumpMeters!(),
    sendBatch(requests) {
      for (const r of requests) {
        const m = requestMessage(r);
        if (m.type === 'flow_mod') sent.push(`flow ${m.command} ${m.tableId}/${m.priority}`);
        else if (m.type === 'group_mod') sent.push(`group ${m.command} ${m.groupId}`);
        else if (m.type === 'meter_mod') sent.push(`meter ${m.command} ${m.meterId}`);
      }
      return channel.sendBatch(requests);
    },
  };
}

let b: OvsBridge;
let driver: MemoryDriver;
let apps: LoadedApp[];
let runtime: ControllerRuntime | undefined;
let topology: LocalCacheTopology | undefined;
let metrics: CoreMetrics;
let sent: string[] = [];

async function startController(): Promise<void> {
  topology = new LocalCacheTopology(new LocalCache(driver, { chassisId: chassisIdFromName(CHASSIS) }));
  metrics = new CoreMetrics();
  runtime = new ControllerRuntime({ apps, topology, chassisId: chassisIdFromName(CHASSIS), metrics, clock: new ManualClock() });
  for (const p of PORTS) runtime.bindPort({ kind: 'bound', portId: p.id, ofport: p.ofport, interfaceName: `p${p.ofport}` });
  await topology.start();
  await runtime.start();
  sent = [];
  await runtime.attachSwitch(recording(b.channel, sent));
  await runtime.waitForRevision(await driver.currentRevision());
  await runtime.settle();
}

async function stopController(): Promise<void> {
  await runtime?.stop();
  await topology?.stop();
  runtime = undefined;
  topology = undefined;
}

const ofctl = (cmd: string) => b.ovs.ofctl('-O', 'OpenFlow13', cmd, `unix:${b.ovs.mgmtSocket(b.bridge)}`);
const ids = () => ({ meter: runtime!.app('policer').ctx.flows.meterId(1), group: runtime!.app('policer').ctx.flows.groupId(5) });
const switchErrors = async () => (await metrics.switchErrors.get()).values.reduce((n, v) => n + v.value, 0);

/** `duration=…s` of our group and `duration:…s` of our meter, as Open vSwitch counts them (they restart when re-created). */
async function ages(): Promise<{ group: number; meter: number }> {
  const groupStats = await ofctl('dump-group-stats');
  const meterStats = await ofctl('meter-stats');
  const group = new RegExp(`group_id=${ids().group},duration=([\\d.]+)s`).exec(groupStats)?.[1];
  const meter = new RegExp(`meter:${ids().meter} flow_count:\\d+ packet_in_count:\\d+ byte_in_count:\\d+ duration:([\\d.]+)s`).exec(meterStats)?.[1];
  if (group === undefined || meter === undefined) throw new Error(`no stats for our group or meter:\n${groupStats}\n${meterStats}`);
  return { group: Number(group), meter: Number(meter) };
}

/** Sets a bridge port's link up or down (`ovs-ofctl mod-port`) and waits until a traced packet shows the failover group followed it. */
async function setPort(port: number, up: boolean, expectOut: number[]): Promise<void> {
  await b.ovs.ofctl('-O', 'OpenFlow13', 'mod-port', `unix:${b.ovs.mgmtSocket(b.bridge)}`, String(port), up ? 'up' : 'down');
  // Polls until the trace follows (returns at once when it does); 20 s bounds a broken run only.
  let t = await trace();
  for (const deadline = Date.now() + 20_000; JSON.stringify(t.outputs) !== JSON.stringify(expectOut) && Date.now() < deadline; ) {
    await sleep(100);
    t = await trace();
  }
  expect(t.outputs, t.text).toEqual(expectOut);
}

async function trace(): Promise<{ outputs: number[]; text: string }> {
  const [from, to] = PORTS;
  const frame = ethernet({ src: from!.mac, dst: to!.mac, payload: ipv4({ src: from!.ip, dst: to!.ip, payload: icmpEchoRequest({ id: 1, seq: 1 }) }) });
  return traceOutputs(b, 'in_port=1', encodeEthernet(frame));
}

beforeAll(async () => {
  requireBinary('ovs-ofctl');
  b = await startOvsBridge({ ports: 3, dpid: DPID, prefix: 'mg' });
  driver = MemoryDriver.create();
  const nb = await NbApi.open(driver);
  const chassisId = chassisIdFromName(CHASSIS);
  await nb.create('chassis', { id: chassisId, name: CHASSIS, tunnelIp: '192.0.2.11', tunnelTypes: ['vxlan'] });
  const net = await nb.create('logical_switch', { name: 'net1' });
  const sub = await nb.create('subnet', { networkId: net.id, cidr: '10.11.0.0/24', ipVersion: 4 });
  for (const p of PORTS) await nb.create('logical_port', { id: p.id, networkId: net.id, macAddress: p.mac, fixedIps: [{ subnetId: sub.id, ipAddress: p.ip }], chassisId });
  await nb.close();
  apps = validateApps([{ package: '@acme/policer', descriptor: policer, options: {} }]);
}, 120_000);

afterAll(async () => {
  await stopController();
  await driver?.close();
  const problems = await b?.cleanup.run();
  expect(problems ?? []).toEqual([]);
});

describe('meters and groups on a real Open vSwitch', () => {
  test('the meter and the failover group are installed before the flow that uses them', async () => {
    await startController();
    const { meter: meterId, group: groupId } = ids();
    const police = runtime!.pipeline.app('policer').tables[0]!.id;
    // the core's flows (classify, dispatch, miss flows) go too; ours is the metered one
    expect(sent.filter((s) => !s.startsWith('flow') || s.endsWith(` ${police}/10`))).toEqual([`meter add ${meterId}`, `group add ${groupId}`, `flow add ${police}/10`]);
    expect(await ofctl('dump-meters')).toContain(`meter=${meterId} pktps burst bands=\ntype=drop rate=100 burst_size=20`);
    const groups = await ofctl('dump-groups');
    expect(groups).toContain(`group_id=${groupId},type=ff,bucket=watch_port:2,actions=output:2,bucket=watch_port:3,actions=output:3`);
    const flows = await ofctl('dump-flows');
    expect(flows).toMatch(new RegExp(`table=${police},.*priority=10,in_port=1 actions=meter:${meterId},group:${groupId}`));
    expect(await switchErrors()).toBe(0);
    // the packet goes through the group: out of its first live port, and the switch fails over alone
    await setPort(2, true, [2]);
    await setPort(3, true, [2]);
    await setPort(2, false, [3]);
    await setPort(2, true, [2]);
  });

  test('a controller restart sends zero group, meter and flow mods (OVS keeps counting their age)', async () => {
    // Old enough that one re-created by the restart, younger than the restart, is told apart
    // from one kept, which ages by at least the time between the two reads.
    await sleep(1100);
    const before = await ages();
    const readBefore = Date.now();
    await stopController();
    b.conn.close();
    await b.reconnect();
    await startController();
    expect(sent).toEqual([]);
    expect(runtime!.reconciler.totals).toEqual({ adds: 0, modifies: 0, deletes: 0, groupMods: 0, batches: 0 });
    expect(runtime!.reconciler.meterMods).toBe(0);
    const passed = (Date.now() - readBefore) / 1000;
    const after = await ages();
    // (OVS shows durations to the millisecond: 10 ms of rounding slack)
    expect(after.group).toBeGreaterThanOrEqual(before.group + passed - 0.01);
    expect(after.meter).toBeGreaterThanOrEqual(before.meter + passed - 0.01);
  });

  test('a new band rate is one meter modify; new bucket order is one group modify; nothing else', async () => {
    const { meter: meterId, group: groupId } = ids();
    const ctx = runtime!.app('policer').ctx;
    state.rate = 250;
    let d = desired(ctx);
    ctx.flows.replace(OWNER, d.flows, d.objects);
    await runtime!.settle();
    expect(sent).toEqual([`meter modify ${meterId}`]);
    expect(await ofctl('dump-meters')).toContain('type=drop rate=250 burst_size=20');
    sent.length = 0;
    state.ports = [3, 2];
    d = desired(ctx);
    ctx.flows.replace(OWNER, d.flows, d.objects);
    await runtime!.settle();
    expect(sent).toEqual([`group modify ${groupId}`]);
    expect(await ofctl('dump-groups')).toContain(`group_id=${groupId},type=ff,bucket=watch_port:3,actions=output:3,bucket=watch_port:2,actions=output:2`);
    const t = await trace();
    expect(t.outputs, t.text).toEqual([3]);
    expect(await switchErrors()).toBe(0);
  });

  test('removing the owner deletes the flow, then the group, then the meter', async () => {
    sent.length = 0;
    const { meter: meterId, group: groupId } = ids();
    const police = runtime!.pipeline.app('policer').tables[0]!.id;
    runtime!.app('policer').ctx.flows.remove(OWNER);
    await runtime!.settle();
    expect(sent).toEqual([`flow delete_strict ${police}/10`, `group delete ${groupId}`, `meter delete ${meterId}`]);
    expect(await ofctl('dump-meters')).not.toContain(`meter=${meterId}`);
    expect(await ofctl('dump-groups')).not.toContain(`group_id=${groupId}`);
    expect(await ofctl('dump-flows')).not.toContain(`meter:${meterId}`);
    expect(await switchErrors()).toBe(0);
  });
});
