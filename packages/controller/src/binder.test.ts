import { ManualClock } from '@dragonflow/base';
import { APP_CONTEXT, defineApp, flow, inject, injectable, type AppContext } from '@dragonflow/core';
import { CoreMetrics, requestMessage, silentLogger, startChassisRuntime, validateApps, type ControllerRuntime, type LoadedApp, type SwitchChannel } from '@dragonflow/core/host';
import { MemoryDriver, NbApi, chassisIdFromName, type LogicalPort, type NbDriver } from '@dragonflow/nb';
import type { InterfaceState } from '@dragonflow/ovsdb';
import { OfPort, act, matchGet } from '@dragonflow/openflow';
import { FakeSwitch } from '@dragonflow/testing';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { PortBinder } from './binder.js';
import { ControllerMetrics } from './metrics.js';

const CHASSIS = 'compute-1';
const ME = chassisIdFromName(CHASSIS);

function iface(name: string, ifaceId: string | undefined, ofport: number | undefined, type = ''): InterfaceState {
  return {
    uuid: `u-${name}`,
    name,
    type,
    bridge: 'br-int',
    port: name,
    ofport,
    ifaceId,
    attachedMac: undefined,
    externalIds: ifaceId ? { 'iface-id': ifaceId } : {},
    options: {},
    macInUse: undefined,
    linkState: 'up',
    adminState: 'up',
    error: ofport === -1 ? 'could not open network device' : undefined,
    bfdStatus: {},
  };
}

const snapshot = (...states: InterfaceState[]): Map<string, InterfaceState> => new Map(states.map((s) => [s.name, s]));

/** A switch channel whose batches can be held back (barriers not answered) to prove ordering. */
function gatedChannel(inner: SwitchChannel) {
  let release: (() => void) | undefined;
  let gate: Promise<void> = Promise.resolve();
  const confirmed: { at: number; inPorts: number[] }[] = [];
  const channel: SwitchChannel = {
    get datapathId() {
      return inner.datapathId;
    },
    get messages$() {
      return inner.messages$;
    },
    dumpFlows: () => inner.dumpFlows(),
    dumpGroups: () => inner.dumpGroups(),
    async sendBatch(requests) {
      await gate;
      const r = await inner.sendBatch(requests);
      const inPorts = requests.map(requestMessage).flatMap((q) => {
        const inPort = q.type === 'flow_mod' && q.command === 'add' ? matchGet(q.match, 'in_port') : undefined;
        return inPort ? [Number(inPort.value)] : [];
      });
      confirmed.push({ at: performance.now(), inPorts });
      return r;
    },
  };
  return {
    channel,
    confirmed,
    hold(): void {
      gate = new Promise((r) => (release = r));
    },
    release(): void {
      release?.();
    },
  };
}

interface Rig {
  driver: NbDriver;
  nb: NbApi;
  binder: PortBinder;
  runtime: ControllerRuntime;
  sw: FakeSwitch;
  gated: ReturnType<typeof gatedChannel>;
  metrics: ControllerMetrics;
  networkId: string;
  subnetId: string;
  stop(): Promise<void>;
}

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.stop();
  rig = undefined;
});

async function start(driver: NbDriver = MemoryDriver.create(), extra: { apps?: LoadedApp[]; clock?: ManualClock } = {}): Promise<Rig> {
  const nb = await NbApi.open(driver);
  await nb.create('chassis', { id: ME, name: CHASSIS, tunnelIp: '192.0.2.1', tunnelTypes: ['vxlan'] });
  const net = await nb.create('logical_switch', { name: 'net1' });
  const sub = await nb.create('subnet', { networkId: net.id, cidr: '10.0.0.0/24', ipVersion: 4 });
  const registry = new Registry();
  const chassis = await startChassisRuntime({ driver, apps: extra.apps ?? [], chassisId: ME, metrics: new CoreMetrics(registry), ...(extra.clock ? { clock: extra.clock } : {}) });
  const { runtime } = chassis;
  const metrics = new ControllerMetrics(registry);
  const binder = new PortBinder({ nb: new NbApi(driver, { mirror: false }), chassisId: ME, chassisName: CHASSIS, hostname: 'compute-host-1', runtime, log: silentLogger(), metrics });
  binder.follow(chassis.cache);
  const sw = new FakeSwitch();
  const gated = gatedChannel(sw.connect());
  await runtime.attachSwitch(gated.channel);
  rig = {
    driver,
    nb,
    binder,
    runtime,
    sw,
    gated,
    metrics,
    networkId: net.id,
    subnetId: sub.id,
    async stop() {
      binder.stop();
      gated.release();
      await chassis.stop();
      await nb.close();
      await driver.close();
    },
  };
  return rig;
}

async function port(r: Rig, ip: string, extra: Partial<LogicalPort> = {}): Promise<LogicalPort> {
  return r.nb.create('logical_port', { networkId: r.networkId, macAddress: `fa:16:3e:00:00:${ip.split('.')[3]!.padStart(2, '0')}`, fixedIps: [{ subnetId: r.subnetId, ipAddress: ip }], ...extra });
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((res) => setTimeout(res, 5));
  }
}

/**
 * An app whose per-port flow outputs to group 7, which it desires only once
 * `groupReady`: until then the switch refuses the port's flow (OFPBAC_BAD_OUT_GROUP).
 */
@injectable()
class Grouped {
  groupReady = false;
  constructor(@inject(APP_CONTEXT) readonly ctx: AppContext) {}

  update(portId: string): void {
    const port = this.ctx.topology.get('logical_port', portId);
    if (!port || !this.ctx.topology.localBinding(portId)) return this.ctx.flows.remove(`port:${portId}`);
    this.ctx.flows.replace({ id: `port:${portId}`, key: port.key }, [flow(this.ctx.tables.ref('g'), { priority: 5, match: { eth_dst: port.macAddress }, actions: [act.group(this.ctx.flows.groupId(7))] })]);
  }

  setGroup(): void {
    if (this.groupReady) this.ctx.flows.replace('groups', [], [{ groupId: 7, groupType: 'all', buckets: [{ weight: 0, watchPort: OfPort.ANY, watchGroup: 0xffffffff, actions: [act.output(1)] }] }]);
  }

  resync(): void {
    for (const b of this.ctx.topology.localBindings()) this.update(b.portId);
    this.setGroup();
  }
}

const grouped = defineApp({
  name: 'grouped',
  coreApi: '^1.1.0',
  tables: { 'l2-lookup': [{ name: 'g', match: ['eth_dst'] }] },
  app: Grouped,
  resync: (app) => app.resync(),
  handlers: {
    localPortBound: (app, ev) => app.update(ev.port.id),
    localPortUpdated: (app, ev) => app.update(ev.port.id),
    localPortUnbound: (app, ev) => app.update(ev.port.id),
  },
});

const classifyOf = (r: Rig, ofport: number) => r.sw.flowStats().find((f) => Number(matchGet(f.match, 'in_port')?.value) === ofport);

describe('PortBinder', () => {
  it('binds a plugged port to this chassis and sets it ACTIVE once its flows are on the switch', async () => {
    const r = await start();
    const p = await port(r, '10.0.0.5');
    expect(r.binder.busy).toBe(false);
    r.binder.setInterfaces(snapshot(iface('tap1', p.id, 7)));
    expect(r.binder.busy).toBe(true); // binding, then waiting for the flows, then writing ACTIVE
    const active = await until('ACTIVE', async () => ((await r.nb.get('logical_port', p.id))?.status === 'ACTIVE' ? r.nb.get('logical_port', p.id) : undefined));
    expect(active).toMatchObject({ chassisId: ME, bindingHost: CHASSIS, status: 'ACTIVE' });
    await until('the binder done', async () => !r.binder.busy || undefined);
    expect(classifyOf(r, 7)).toBeDefined();
    expect(r.binder.report()).toMatchObject({ plugged: 1, active: 1, unknownIfaceIds: [] });
    expect(r.metrics.portUpSeconds.get()).toBeDefined();
  });

  it("keeps binding:host_id when it names this machine's hostname (Nova's host), replaces any other", async () => {
    const r = await start();
    const byHost = await port(r, '10.0.0.6', { bindingHost: 'compute-host-1' });
    const elsewhere = await port(r, '10.0.0.7', { bindingHost: 'compute-host-2' });
    r.binder.setInterfaces(snapshot(iface('tap1', byHost.id, 7), iface('tap2', elsewhere.id, 8)));
    for (const [p, host] of [[byHost, 'compute-host-1'], [elsewhere, CHASSIS]] as const) {
      const active = await until('ACTIVE', async () => ((await r.nb.get('logical_port', p.id))?.status === 'ACTIVE' ? r.nb.get('logical_port', p.id) : undefined));
      expect(active).toMatchObject({ chassisId: ME, bindingHost: host });
    }
  });

  it('never says ACTIVE before the barrier confirmed the port flows (ordering)', async () => {
    const r = await start();
    const p = await port(r, '10.0.0.6');
    const statusAt: { status: string; at: number }[] = [];
    const feed = r.driver.watch((await r.driver.currentRevision()) + 1, { tables: ['logical_port'] });
    void (async () => {
      for await (const b of feed) for (const e of b.events) if (e.id === p.id && e.value) statusAt.push({ status: (JSON.parse(e.value) as { status: string }).status, at: performance.now() });
    })();
    r.gated.hold();
    r.binder.setInterfaces(snapshot(iface('tap2', p.id, 8)));
    // bound in the NB (binding chassis set), but the switch has not confirmed: not ACTIVE
    await until('the binding write', async () => (await r.nb.get('logical_port', p.id))?.chassisId === ME);
    // Markers instead of a pause: the binder waits for the flows (all it does before the
    // barrier is done), and the feed has delivered every revision committed by then, so
    // an early ACTIVE write would be in statusAt now.
    await until('the binder waiting for the flows', () => r.binder.report().ports[0]?.state === 'waiting-for-flows' || undefined);
    const committed = await r.driver.currentRevision();
    await until(`the feed to deliver revision ${committed}`, () => feed.lastRevision >= committed || undefined);
    expect(statusAt.filter((s) => s.status === 'ACTIVE')).toEqual([]);
    expect((await r.nb.get('logical_port', p.id))?.status).toBe('DOWN');
    expect(classifyOf(r, 8)).toBeUndefined();
    r.gated.release();
    await until('ACTIVE', async () => statusAt.find((s) => s.status === 'ACTIVE'));
    feed.close();
    const confirmedAt = r.gated.confirmed.find((c) => c.inPorts.includes(8))!.at;
    const activeAt = statusAt.find((s) => s.status === 'ACTIVE')!.at;
    expect(confirmedAt).toBeLessThan(activeAt);
    expect(classifyOf(r, 8)).toBeDefined();
  });

  it('a bulk of plugged ports is bound in one NB transaction and set ACTIVE in another; a port deleted meanwhile does not hold the others back', async () => {
    const r = await start();
    const ports = [];
    for (let i = 0; i < 6; i++) ports.push(await port(r, `10.0.0.${10 + i}`));
    const statusWrites: { revision: number; ids: string[] }[] = [];
    const feed = r.driver.watch((await r.driver.currentRevision()) + 1, { tables: ['logical_port'] });
    void (async () => {
      for await (const b of feed) statusWrites.push({ revision: b.revision, ids: b.events.filter((e) => e.value && (JSON.parse(e.value) as { status: string }).status === 'ACTIVE').map((e) => e.id) });
    })();
    r.gated.hold();
    r.binder.setInterfaces(snapshot(...ports.map((p, i) => iface(`tap${i}`, p.id, 20 + i))));
    await until('the binders waiting for the flows', () => r.binder.report().ports.every((p) => p.state === 'waiting-for-flows') || undefined);
    const gone = ports[3]!;
    await r.nb.delete('logical_port', gone.id);
    r.gated.release();
    const others = ports.filter((p) => p !== gone);
    await until('the others ACTIVE', async () => (await Promise.all(others.map((p) => r.nb.get('logical_port', p.id)))).every((p) => p?.status === 'ACTIVE') || undefined);
    await until('the binder done', async () => !r.binder.busy || undefined);
    feed.close();
    // One revision wrote every ACTIVE (the ports' flows were confirmed by one barrier).
    expect(statusWrites.filter((w) => w.ids.length > 0).map((w) => w.ids.sort())).toEqual([others.map((p) => p.id).sort()]);
    expect(await r.nb.get('logical_port', gone.id)).toBeUndefined();
    expect(r.binder.report()).toMatchObject({ plugged: 6, active: 5 });
  });

  it('unplugged: drops the flows, clears the binding chassis, status DOWN', async () => {
    const r = await start();
    const p = await port(r, '10.0.0.7');
    r.binder.setInterfaces(snapshot(iface('tap3', p.id, 9)));
    await until('ACTIVE', async () => (await r.nb.get('logical_port', p.id))?.status === 'ACTIVE');
    r.binder.setInterfaces(snapshot());
    const down = await until('DOWN', async () => {
      const cur = await r.nb.get('logical_port', p.id);
      return cur?.status === 'DOWN' ? cur : undefined;
    });
    expect(down.chassisId).toBeNull();
    await r.runtime.settle();
    expect(classifyOf(r, 9)).toBeUndefined();
  });

  it('reports an iface-id that names no port, and binds it when the port is created', async () => {
    const r = await start();
    const id = '4a0fd3a2-8d2c-4a11-9b1e-000000000042';
    r.binder.setInterfaces(snapshot(iface('tap4', id, 10)));
    await until('the report', () => (r.binder.report().unknownIfaceIds.length === 1 ? true : undefined));
    expect(r.binder.report().unknownIfaceIds).toEqual([{ ifaceId: id, interfaceName: 'tap4' }]);
    expect(r.binder.report().ports[0]?.state).toBe('unknown-port');
    await port(r, '10.0.0.42', { id });
    const bound = await until('ACTIVE', async () => {
      const cur = await r.nb.get('logical_port', id);
      return cur?.status === 'ACTIVE' ? cur : undefined;
    });
    expect(bound.chassisId).toBe(ME);
    expect(r.binder.report().unknownIfaceIds).toEqual([]);
  });

  it('admin state down: no flows, status DOWN; back up: ACTIVE again', async () => {
    const r = await start();
    const p = await port(r, '10.0.0.8');
    r.binder.setInterfaces(snapshot(iface('tap5', p.id, 11)));
    await until('ACTIVE', async () => (await r.nb.get('logical_port', p.id))?.status === 'ACTIVE');
    await r.nb.modify('logical_port', p.id, (x) => ({ ...x, adminStateUp: false }));
    await until('DOWN', async () => (await r.nb.get('logical_port', p.id))?.status === 'DOWN');
    await r.runtime.settle();
    expect(classifyOf(r, 11)).toBeUndefined();
    await r.nb.modify('logical_port', p.id, (x) => ({ ...x, adminStateUp: true }));
    await until('ACTIVE again', async () => (await r.nb.get('logical_port', p.id))?.status === 'ACTIVE');
    expect(classifyOf(r, 11)).toBeDefined();
  });

  it('a port whose flows the switch refused is ERROR, not ACTIVE; ACTIVE once a retry installs them', async () => {
    const clock = new ManualClock();
    const r = await start(MemoryDriver.create(), { apps: validateApps([{ package: '(grouped)', descriptor: grouped }]), clock });
    const app = r.runtime.app('grouped').instance as Grouped;
    const p = await port(r, '10.0.0.12');
    r.binder.setInterfaces(snapshot(iface('tap7', p.id, 13)));
    const error = await until('ERROR', async () => {
      const cur = await r.nb.get('logical_port', p.id);
      return cur?.status === 'ERROR' ? cur : undefined;
    });
    expect(error.chassisId).toBe(ME);
    expect(r.binder.report().ports[0]).toMatchObject({ state: 'flows-failed', detail: expect.stringMatching(/grouped\/port:.*BAD_OUT_GROUP.*retrying/) });
    expect(r.binder.report().active).toBe(0);
    // the switch is in sync up to the port's revision all the same (the refusal does not hold it back)
    expect(r.runtime.reconciler.syncedRevision).toBeGreaterThanOrEqual((await r.driver.get('logical_port', p.id))!.modRevision - 1);
    expect(classifyOf(r, 13)).toBeDefined();
    // The ERROR write comes back to this controller as a port update (which re-desires the
    // port's flows): let it land first, so that what installs the flow below is the retry.
    await until('the cache to see ERROR', async () => app.ctx.topology.get('logical_port', p.id)?.status === 'ERROR');
    await r.runtime.settle();
    // the group appears; the reconciler's next retry (backoff on the runtime's clock) installs the flow
    app.groupReady = true;
    app.setGroup();
    await r.runtime.settle();
    expect((await r.nb.get('logical_port', p.id))?.status).toBe('ERROR');
    const [failure] = r.runtime.reconciler.failedOwners();
    expect(failure!.retryAt - clock.now()).toBeGreaterThanOrEqual(1_000);
    clock.advance(failure!.retryAt - clock.now());
    await until('ACTIVE', async () => (await r.nb.get('logical_port', p.id))?.status === 'ACTIVE');
    expect(r.binder.report()).toMatchObject({ active: 1, ports: [{ state: 'active' }] });
    expect(r.runtime.failedFlowsOfPort(p.id)).toEqual([]);
  });

  it('ignores plumbing and interfaces vswitchd could not open (reported)', async () => {
    const r = await start();
    const p = await port(r, '10.0.0.9');
    r.binder.setInterfaces(snapshot(iface('tun-vxlan', undefined, 1, 'vxlan'), iface('patch-br-ex', undefined, 2, 'patch'), iface('tapbad', p.id, -1)));
    expect(r.binder.report()).toMatchObject({ plugged: 0, failedInterfaces: [{ interfaceName: 'tapbad', ifaceId: p.id }] });
  });

  it('unbinds ports the NB says are here but which are not plugged (unplugged while the controller was down)', async () => {
    const r = await start();
    const p = await port(r, '10.0.0.10', { chassisId: ME, status: 'ACTIVE' });
    r.binder.setInterfaces(snapshot());
    r.binder.reconcileBoundPorts([(await r.nb.get('logical_port', p.id))!]);
    const cur = await until('DOWN', async () => {
      const x = await r.nb.get('logical_port', p.id);
      return x?.status === 'DOWN' ? x : undefined;
    });
    expect(cur.chassisId).toBeNull();
  });

  it('keeps retrying while the DB refuses writes, then binds', async () => {
    const inner = MemoryDriver.create();
    let failures = 3;
    const flaky: NbDriver = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'commit') {
          return async (ops: Parameters<NbDriver['commit']>[0]) => {
            if (ops.some((o) => o.table === 'logical_port' && o.type === 'put') && failures > 0 && rig?.binder) {
              failures--;
              throw Object.assign(new Error('the DB is unreachable'), { code: 'NB_UNAVAILABLE' });
            }
            return target.commit(ops);
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const r = await start(flaky);
    failures = 0;
    const p = await port(r, '10.0.0.11');
    failures = 2;
    r.binder.setInterfaces(snapshot(iface('tap6', p.id, 12)));
    await until('ACTIVE', async () => (await r.nb.get('logical_port', p.id))?.status === 'ACTIVE', 10_000);
    expect(failures).toBe(0);
    expect(await r.metrics.nbWriteFailures.get()).toMatchObject({ values: [{ value: 2 }] });
  });
});
