import {
  APP_CONTEXT,
  APP_OPTIONS,
  APP_TABLES,
  REG_DST_PORT,
  defineApp,
  flow,
  inject,
  injectable,
  type AppContext,
  type AppAdoptableFlows,
  type AppPacketIn,
  type AppFlowRemoved,
} from '@dragonflow/core';
import { COOKIE_KIND_MASK, cookieKindName, cookieTag, validateApps } from '@dragonflow/core/host';
import { OfPort, act } from '@dragonflow/openflow';
import { encodeEthernet, ethernet, icmpEchoRequest, ipv4, type EthernetFrame } from '@dragonflow/packet';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './harness.js';
import { miniL2, type MiniL2 } from '../../test/apps.js';

const MAC1 = 'fa:16:3e:00:00:01';
const MAC2 = 'fa:16:3e:00:00:02';
const MAC3 = 'fa:16:3e:00:00:03';

const ping = (src: string, dst: string, dstIp: string, ttl = 64): EthernetFrame =>
  ethernet({ src, dst, payload: ipv4({ src: '10.0.0.1', dst: dstIp, ttl, payload: icmpEchoRequest({ id: 1, seq: 1 }) }) });

/** A reactive app: its table punts; on a packet-in it installs an exact flow with an idle timeout and sends the packet on. */
@injectable()
class Reactive {
  readonly seen: AppPacketIn[] = [];
  readonly removed: AppFlowRemoved[] = [];
  constructor(@inject(APP_CONTEXT) private readonly ctx: AppContext) {}

  /** The exact flow to `dst`, as the packet-in handler installs it. */
  flowTo(dst: string) {
    const punt = this.ctx.tables.ref('punt');
    return flow(punt, { priority: 100, match: { eth_type: 0x0800, ipv4_dst: dst }, actions: [act.decNwTtl()], goto: this.ctx.tables.next('punt'), idleTimeout: 30 });
  }

  desire(dst: string): void {
    this.ctx.flows.replace(`flow:${dst}`, [this.flowTo(dst)]);
  }

  async onPacketIn(ev: AppPacketIn): Promise<void> {
    this.seen.push(ev);
    const p = ev.frame?.payload;
    if (p?.kind !== 'ipv4') return;
    const punt = this.ctx.tables.ref('punt');
    await this.ctx.flows.installNow(
      `flow:${p.dst.toString()}`,
      [flow(punt, { priority: 100, match: { eth_type: 0x0800, ipv4_dst: p.dst }, actions: [act.decNwTtl()], goto: this.ctx.tables.next('punt'), idleTimeout: 30 })],
      { data: ev.data, inPort: ev.inPort },
    );
  }
}

const reactive = defineApp({
  name: 'reactive',
  coreApi: '^1.0.0',
  tables: { l3: [{ name: 'punt', match: ['eth_type', 'ipv4_dst'], miss: 'controller' }] },
  app: Reactive,
  resync: () => undefined,
  handlers: {
    packetIn: (app, ev) => app.onPacketIn(ev),
    flowRemoved: (app, ev) => void app.removed.push(ev),
  },
});

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

async function twoPorts(apps = [miniL2] as Parameters<typeof startHarness>[0]['apps']) {
  h = await startHarness({ apps });
  const net = await h.network('net1');
  const sub = await h.subnet(net, '10.0.0.0/24');
  const p1 = await h.port(sub, '10.0.0.1', MAC1);
  const p2 = await h.port(sub, '10.0.0.2', MAC2);
  await h.plug(p1, 1);
  await h.plug(p2, 2);
  return { h, net, sub, p1, p2 };
}

describe('the runtime on a FakeSwitch', () => {
  it('switches a packet from vm1 to vm2 through classify, the app and dispatch', async () => {
    const { h } = await twoPorts();
    const t = h.trace(ping(MAC1, MAC2, '10.0.0.2'), 1);
    expect(t.ports).toEqual([2]);
    expect(t.hops.map((hop) => `${hop.tableName}:${hop.flow?.app}`)).toEqual(['core.classify:core', 'mini-l2.lookup:mini-l2', 'core.dispatch:core']);
    expect(t.hops[1]!.flow!.owner).toMatch(/^port:/);
    // an unknown in_port has no network: dropped in classify
    expect(h.trace(ping(MAC1, MAC2, '10.0.0.2'), 9).ports).toEqual([]);
    // an unknown destination misses the app's table (the core's miss flow continues) and is dropped at dispatch
    const miss = h.trace(ping(MAC1, MAC3, '10.0.0.3'), 1);
    expect(miss.ports).toEqual([]);
    expect(miss.hops.map((hop) => [hop.tableName, hop.flow?.priority, hop.flow?.owner])).toEqual([
      ['core.classify', 100, expect.stringMatching(/^port:/)],
      ['mini-l2.lookup', 0, 'pipeline'],
      ['core.dispatch', 0, 'pipeline'],
    ]);
    expect(await h.metrics.handlerErrors.get().then((m) => m.values.length)).toBe(0);
  });

  it('removes the flows of an unplugged port', async () => {
    const { h, p2 } = await twoPorts();
    const before = h.fakeSwitch.flowCount();
    await h.unplug(p2);
    expect(h.trace(ping(MAC1, MAC2, '10.0.0.2'), 1).ports).toEqual([]);
    expect(h.fakeSwitch.flowCount()).toBe(before - 3);
    expect(h.runtime.reconciler.ownersOf('mini-l2')).toHaveLength(1);
  });

  it('a controller restart with unchanged state sends zero flow-mods and keeps flow ages', async () => {
    const { h } = await twoPorts();
    h.clock.advance(5_000);
    const flows = h.fakeSwitch.flowStats();
    h.fakeSwitch.resetStats();
    await h.restart();
    expect(h.fakeSwitch.stats.flowMods).toBe(0);
    expect(h.fakeSwitch.flowStats()).toEqual(flows);
    expect(h.fakeSwitch.flowStats().every((f) => f.durationSec >= 5)).toBe(true);
    expect(h.trace(ping(MAC1, MAC2, '10.0.0.2'), 1).ports).toEqual([2]);
  });

  it('after a cookie layout change a restart rewrites each flow once (ADD, same match), then sends nothing', async () => {
    const { h } = await twoPorts();
    // The switch holds flows from a controller of the previous layout: no owner kind in the cookie.
    const keyed = h.fakeSwitch.flowStats().filter((f) => (f.cookie & COOKIE_KIND_MASK) !== 0n);
    expect(keyed.length).toBeGreaterThanOrEqual(6); // classify, lookup and dispatch of two ports
    const old = h.fakeSwitch.connect();
    await old.sendBatch(
      keyed.map((f) => ({
        type: 'flow_mod' as const,
        command: 'add' as const,
        cookie: f.cookie & ~COOKIE_KIND_MASK,
        cookieMask: 0n,
        tableId: f.tableId,
        idleTimeout: f.idleTimeout,
        hardTimeout: f.hardTimeout,
        priority: f.priority,
        bufferId: 0xffffffff,
        outPort: OfPort.ANY,
        outGroup: 0xffffffff,
        flags: f.flags,
        match: f.match,
        instructions: f.instructions,
      })),
    );
    const total = h.fakeSwitch.flowCount();
    h.fakeSwitch.resetStats();
    await h.restart();
    expect(h.fakeSwitch.stats).toMatchObject({ flowMods: keyed.length, adds: keyed.length, modifies: 0, deletes: 0 });
    expect(h.fakeSwitch.flowCount()).toBe(total);
    expect(h.trace(ping(MAC1, MAC2, '10.0.0.2'), 1).ports).toEqual([2]);
    h.fakeSwitch.resetStats();
    await h.restart();
    expect(h.fakeSwitch.stats.flowMods).toBe(0);
  });

  it('fixes only what differs on reconnect, and removes flows nobody desires', async () => {
    const { h } = await twoPorts();
    const conn = h.fakeSwitch.connect(); // a stray flow appears behind the controller's back
    await conn.sendBatch([{ type: 'flow_mod', command: 'add', cookie: 0x55n, cookieMask: 0n, tableId: 3, idleTimeout: 0, hardTimeout: 0, priority: 7, bufferId: 0xffffffff, outPort: OfPort.ANY, outGroup: 0xffffffff, flags: 0, match: {}, instructions: [] }]);
    h.fakeSwitch.resetStats();
    await h.runtime.attachSwitch(h.fakeSwitch.connect());
    await h.settle();
    expect(h.fakeSwitch.stats).toMatchObject({ flowMods: 1, deletes: 1, adds: 0 });
    expect(h.fakeSwitch.flowsIn(3).some((f) => f.cookie === 0x55n)).toBe(false);
  });

  it('contains a throwing handler: counted, app resynced, other apps unaffected', async () => {
    const { h, sub } = await twoPorts();
    (h.runtime.app('mini-l2').instance as MiniL2).failNext = true;
    const p3 = await h.port(sub, '10.0.0.3', MAC3);
    await h.plug(p3, 3);
    expect(await h.metrics.handlerErrors.get().then((m) => m.values.find((v) => v.labels['app'] === 'mini-l2')?.value)).toBe(1);
    // the resync recomputed the flows the failed handler should have installed
    expect(h.trace(ping(MAC1, MAC3, '10.0.0.3'), 1).ports).toEqual([3]);
    // core's classify for the new port was never affected
    expect(h.trace(ping(MAC3, MAC1, '10.0.0.1'), 3).ports).toEqual([1]);
  });

  it('builds each app in its own child container, with the providers it registers', async () => {
    const GREETING = Symbol('greeting');
    const COUNTER = Symbol('counter');
    const NAMED = Symbol('named');
    @injectable()
    class Counter {
      n = 0;
    }
    @injectable()
    class WithProviders {
      constructor(
        @inject(GREETING) readonly greeting: string,
        @inject(COUNTER) readonly counter: Counter,
        @inject(NAMED) readonly named: string,
        @inject(APP_OPTIONS) readonly options: unknown,
      ) {
        counter.n++;
      }
    }
    const providers = [
      { provide: GREETING, useValue: 'hello' },
      { provide: COUNTER, useClass: Counter },
      // a factory resolves from the app's own container: its context and its other providers
      { provide: NAMED, useFactory: (resolve: <T>(t: symbol) => T) => `${resolve<AppContext>(APP_CONTEXT).name}:${resolve<string>(GREETING)}` },
    ];
    const one = defineApp({ name: 'one', coreApi: '^1.0.0', app: WithProviders, providers, resync: () => undefined });
    const two = defineApp({ name: 'two', coreApi: '^1.0.0', app: WithProviders, providers: [...providers.slice(1), { provide: GREETING, useValue: 'hi' }], resync: () => undefined });
    h = await startHarness({ apps: [one, two] });
    const a = h.runtime.app('one').instance as WithProviders;
    const b = h.runtime.app('two').instance as WithProviders;
    expect([a.greeting, a.named, b.greeting, b.named]).toEqual(['hello', 'one:hello', 'hi', 'two:hi']);
    // one Counter per app container, not shared
    expect(a.counter).not.toBe(b.counter);
    expect([a.counter.n, b.counter.n]).toEqual([1, 1]);
    expect(h.runtime.app('one').container.resolve(COUNTER)).toBe(a.counter);
  });

  it('refuses a flow with an undeclared match field (Faucet-style) and a flow in a foreign table', async () => {
    h = await startHarness({ apps: [miniL2] });
    const ctx = h.runtime.app('mini-l2').ctx;
    const lookup = ctx.tables.ref('lookup');
    expect(() => ctx.flows.replace('x', [flow(lookup, { priority: 5, match: { in_port: 1 } })])).toThrow(/table mini-l2.lookup does not declare match field 'in_port'/);
    expect(() => ctx.flows.replace('x', [flow(0, { priority: 5, match: { in_port: 1 } })])).toThrow(/flow for table 0 \(core.classify\), which the app does not own/);
    expect(() => ctx.flows.replace('x', [{ table: lookup.id, priority: 0, match: {}, instructions: [] }])).toThrow(/miss flow, which the core installs/);
  });

  it('reports two owners desiring one flow, and hands it over when the first lets go', async () => {
    const { h } = await twoPorts();
    const ctx = h.runtime.app('mini-l2').ctx;
    const lookup = ctx.tables.ref('lookup');
    const f = flow(lookup, { priority: 9, match: { eth_dst: MAC3 }, actions: [act.setField(REG_DST_PORT, 2)], goto: ctx.tables.next('lookup') });
    ctx.flows.replace('a', [f]);
    ctx.flows.replace('b', [f]);
    const conflicts = (await h.metrics.conflicts.get()).values.reduce((n, v) => n + v.value, 0);
    expect(conflicts).toBe(1);
    ctx.flows.remove('a');
    await h.settle();
    expect(h.runtime.reconciler.ownerOfFlow(lookup.id, 9, f.match)).toEqual({ app: 'mini-l2', owner: 'b' });
    expect(h.trace(ping(MAC1, MAC3, '10.0.0.3'), 1).ports).toEqual([2]);
  });

  it('catches up after a disconnection: changes made while the switch was away are applied on reconnect', async () => {
    const { h, p2 } = await twoPorts();
    h.runtime.detachSwitch();
    h.fakeSwitch.disconnect();
    await h.unplug(p2); // nothing can be sent now
    expect(h.trace(ping(MAC1, MAC2, '10.0.0.2'), 1).ports).toEqual([2]);
    h.fakeSwitch.resetStats();
    await h.runtime.attachSwitch(h.fakeSwitch.connect());
    await h.settle();
    expect(h.trace(ping(MAC1, MAC2, '10.0.0.2'), 1).ports).toEqual([]);
    // only the unplugged port's flows went: its classify, lookup and dispatch flows
    expect(h.fakeSwitch.stats).toMatchObject({ flowMods: 3, deletes: 3, adds: 0 });
  });

  it('tells apps about ports bound to other chassis, and when one moves here', async () => {
    const seen: string[] = [];
    const watcher = defineApp({
      name: 'watcher',
      coreApi: '^1.0.0',
      app: class {},
      resync: () => undefined,
      handlers: { remotePortChanged: (_app, ev) => void seen.push(`${ev.kind} ${ev.port.macAddress} on ${ev.chassisId === h!.chassisId ? 'here' : 'remote'}`) },
    });
    const { h: hh, sub } = await twoPorts([miniL2, watcher]);
    const other = await hh.addChassis('chassis-2', { tunnelIp: '192.0.2.2' });
    const remote = await hh.port(sub, '10.0.0.7', 'fa:16:3e:00:00:07', { chassisId: other.id });
    await hh.settle();
    await hh.nb.modify('logical_port', remote.id, (p) => ({ ...p, name: 'renamed' }));
    await hh.settle();
    await hh.plug(remote, 7); // the VM migrated here
    expect(seen).toEqual(['added fa:16:3e:00:00:07 on remote', 'updated fa:16:3e:00:00:07 on remote', 'removed fa:16:3e:00:00:07 on remote']);
  });

  it('hands an update of bookkeeping fields alone (a port status) only to the apps that asked for those', async () => {
    const seen: Record<string, string[]> = { plain: [], bookkeeping: [] };
    const watcherOf = (name: 'plain' | 'bookkeeping') =>
      defineApp({
        name,
        coreApi: '^1.4.0',
        app: class {},
        watches: ['logical_port'],
        ...(name === 'bookkeeping' ? { bookkeepingChanges: true } : {}),
        resync: () => undefined,
        handlers: {
          modelChanged: (_app, ev) => void (ev.kind === 'updated' && seen[name]!.push(`model ${(ev.new as { status: string }).status}`)),
          localPortUpdated: (_app, ev) => void seen[name]!.push(`local ${ev.port.status}`),
          remotePortChanged: (_app, ev) => void (ev.kind === 'updated' && seen[name]!.push(`remote ${ev.port.status}`)),
        },
      });
    const { h: hh, sub, p1 } = await twoPorts([miniL2, watcherOf('plain'), watcherOf('bookkeeping')]);
    const other = await hh.addChassis('chassis-2', { tunnelIp: '192.0.2.2' });
    const remote = await hh.port(sub, '10.0.0.7', 'fa:16:3e:00:00:07', { chassisId: other.id });
    await hh.settle();
    for (const k of Object.keys(seen)) seen[k]!.length = 0;
    await hh.nb.modify('logical_port', p1.id, (p) => ({ ...p, status: 'ACTIVE', bindingHost: 'compute-1' }));
    await hh.nb.modify('logical_port', remote.id, (p) => ({ ...p, status: 'ACTIVE' }));
    await hh.settle();
    expect(seen).toEqual({ plain: [], bookkeeping: ['model ACTIVE', 'local ACTIVE', 'model ACTIVE', 'remote ACTIVE'] });
    expect(await hh.metrics.bookkeepingUpdates.get().then((m) => m.values[0]?.value)).toBe(2);
    // The port's flows are those of its model, whatever its status.
    expect(hh.trace(ping(MAC2, MAC1, '10.0.0.1'), 2).ports).toEqual([1]);
    // Anything else in the same write reaches every app.
    await hh.nb.modify('logical_port', p1.id, (p) => ({ ...p, status: 'DOWN', name: 'renamed' }));
    await hh.settle();
    expect(seen.plain).toEqual(['model DOWN', 'local DOWN']);
  });

  it('builds each app in its own child container, with its providers and options', async () => {
    const GREETING = Symbol('greeting');
    const NAMER = Symbol('namer');
    @injectable()
    class Namer {
      constructor(@inject(APP_OPTIONS) readonly options: { prefix: string }) {}
      name(s: string): string {
        return `${this.options.prefix}${s}`;
      }
    }
    @injectable()
    class Greeter {
      constructor(
        @inject(GREETING) readonly greeting: string,
        @inject(NAMER) readonly namer: Namer,
        @inject(APP_TABLES) readonly tables: AppContext['tables'],
      ) {}
    }
    const schema = { safeParse: (v: unknown) => ({ success: true as const, data: v as { prefix: string } }) };
    const make = (name: string) =>
      defineApp({ name, coreApi: '^1.0.0', options: schema, providers: [{ provide: GREETING, useFactory: () => `hello from ${name}` }, { provide: NAMER, useClass: Namer }], app: Greeter, resync: () => undefined });
    h = await startHarness({ apps: [{ descriptor: make('one'), options: { prefix: '1-' } }, { descriptor: make('two'), options: { prefix: '2-' } }] });
    const one = h.runtime.app('one').instance as Greeter;
    const two = h.runtime.app('two').instance as Greeter;
    expect([one.greeting, two.greeting]).toEqual(['hello from one', 'hello from two']);
    expect([one.namer.name('x'), two.namer.name('x')]).toEqual(['1-x', '2-x']);
    expect(one.tables.app).toBe('one');
    expect(one.namer).not.toBe(two.namer);
  });

  it('names the owner of a flow by its cookie even when a port and a network have the same key', async () => {
    const punts = defineApp({
      name: 'punts',
      coreApi: '^1.0.0',
      tables: { services: [{ name: 'p', match: ['eth_dst'] }] },
      app: class {},
      resync: () => undefined,
      handlers: { packetIn: (_app, ev) => void seen.push(ev) },
    });
    const seen: AppPacketIn[] = [];
    const { h, net, p1 } = await twoPorts([punts, miniL2]);
    // Keys come from one counter per NB table: the first port and the first network both have key 1.
    expect(p1.key).toBe(net.key);
    const ctx = h.runtime.app('punts').ctx;
    const p = ctx.tables.ref('p');
    ctx.flows.replace({ id: `port:${p1.id}`, key: p1.key }, [flow(p, { priority: 10, match: { eth_dst: MAC2 }, actions: [act.toController()] })]);
    ctx.flows.replace({ id: `network:${net.id}`, key: net.key }, [flow(p, { priority: 10, match: { eth_dst: MAC3 }, actions: [act.toController()] })]);
    await h.settle();
    const cookies = h.fakeSwitch.flowsIn(p.id).filter((f) => f.priority === 10).map((f) => f.cookie);
    expect(new Set(cookies).size).toBe(2);
    expect(cookies.map((c) => cookieKindName(c)).sort()).toEqual(['network', 'port']);
    await h.inject(ping(MAC1, MAC2, '10.0.0.2'), 1);
    await h.inject(ping(MAC1, MAC3, '10.0.0.3'), 1);
    expect(seen.map((e) => e.owner)).toEqual([`port:${p1.id}`, `network:${net.id}`]);
    for (const c of cookies) expect(h.runtime.reconciler.ownerOfCookie(c)?.app).toBe('punts');
    // the trace names them too
    expect(h.trace(ping(MAC1, MAC3, '10.0.0.3'), 1).hops.find((hop) => hop.tableName === 'punts.p')?.flow?.owner).toBe(`network:${net.id}`);
  });

  it('a keyed owner whose text does not name its kind says it; a bad kind or key is refused', async () => {
    const { h, p1 } = await twoPorts();
    const ctx = h.runtime.app('mini-l2').ctx;
    const lookup = ctx.tables.ref('lookup');
    const f = flow(lookup, { priority: 9, match: { eth_dst: MAC3 }, actions: [act.setField(REG_DST_PORT, 2)], goto: ctx.tables.next('lookup') });
    ctx.flows.replace({ id: `mirror:${p1.id}`, key: p1.key, kind: 'port' }, [f]);
    await h.settle();
    const installed = h.fakeSwitch.flowsIn(lookup.id).find((x) => x.priority === 9)!;
    expect([cookieKindName(installed.cookie), cookieTag(installed.cookie)]).toEqual(['port', p1.key]);
    expect(() => ctx.flows.replace({ id: 'x', key: 1, kind: 'hash' as never }, [f])).toThrow(/has kind 'hash'/);
    expect(() => ctx.flows.replace({ id: 'x', key: -1 }, [f])).toThrow(/has key -1/);
    expect(() => ctx.flows.replace({ id: 'x', key: 1, kind: 'toString' as never }, [f])).toThrow(/has kind 'toString'/);
    // an owner text whose prefix names a member of Object.prototype is a keyed owner of kind 'object'
    ctx.flows.replace({ id: `constructor:${p1.id}`, key: p1.key }, [flow(lookup, { priority: 8, match: { eth_dst: MAC3 }, actions: [act.setField(REG_DST_PORT, 2)], goto: ctx.tables.next('lookup') })]);
    await h.settle();
    const keyed = h.fakeSwitch.flowsIn(lookup.id).find((x) => x.priority === 8)!;
    expect([cookieKindName(keyed.cookie), cookieTag(keyed.cookie)]).toEqual(['object', p1.key]);
  });

  it('reports the NB revision the switch is in sync with', async () => {
    const { h, sub } = await twoPorts();
    const p3 = await h.port(sub, '10.0.0.3', MAC3);
    const rev = await h.driver.currentRevision();
    await h.runtime.waitForRevision(rev);
    expect(h.runtime.reconciler.syncedRevision).toBeGreaterThanOrEqual(rev);
    expect(p3.id).toBeTruthy();
  });
});

describe('flows the switch refuses', () => {
  /** An app whose port flow sends to group 7: the FakeSwitch refuses it (OFPBAC_BAD_OUT_GROUP) until the group exists. */
  const grp = defineApp({
    name: 'grp',
    coreApi: '^1.0.0',
    tables: { 'l2-lookup': [{ name: 'g', match: ['eth_dst'] }] },
    app: class {},
    resync: () => undefined,
  });
  const group7 = [{ groupId: 7, groupType: 'all' as const, buckets: [{ weight: 0, watchPort: OfPort.ANY, watchGroup: 0xffffffff, actions: [act.output(2)] }] }];

  async function refused() {
    const { h, p1 } = await twoPorts([grp, miniL2]);
    const events: string[] = [];
    h.runtime.ownerFailures$.subscribe((e) => events.push(e.kind === 'failed' ? `failed ${e.failure.owner} ×${e.failure.attempts}` : `recovered ${e.owner}`));
    const ctx = h.runtime.app('grp').ctx;
    const toGroup = flow(ctx.tables.ref('g'), { priority: 5, match: { eth_dst: MAC3 }, actions: [act.group(ctx.flows.groupId(7))] });
    ctx.flows.replace({ id: `port:${p1.id}`, key: p1.key }, [toGroup]);
    await h.settle();
    return { h, p1, ctx, toGroup, events };
  }

  it('makes the owner failed, visible per owner and per port; the synced revision still advances', async () => {
    const { h, p1, events } = await refused();
    expect(h.runtime.reconciler.syncedRevision).toBeGreaterThanOrEqual(await h.driver.currentRevision());
    const failed = h.runtime.reconciler.failedOwners();
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ app: 'grp', owner: `port:${p1.id}`, kind: 1, tag: p1.key, refused: 1, attempts: 1 });
    expect(failed[0]!.errors[0]).toMatch(/BAD_OUT_GROUP/);
    expect(h.runtime.reconciler.failureOf('grp', `port:${p1.id}`)).toMatchObject({ refused: 1 });
    expect(h.runtime.failedFlowsOfPort(p1.id).map((f) => f.owner)).toEqual([`port:${p1.id}`]);
    expect(events).toEqual([`failed port:${p1.id} ×1`]);
    expect((await h.metrics.failedOwners.get()).values[0]?.value).toBe(1);
    // the other owners of the port are fine: it is still switched
    expect(h.trace(ping(MAC1, MAC2, '10.0.0.2'), 1).ports).toEqual([2]);
  });

  it('retries with backoff on the injected clock; installed once it can be: recovered', async () => {
    const { h, p1, ctx, events } = await refused();
    h.fakeSwitch.resetStats();
    h.clock.advance(999);
    await h.settle();
    expect(h.fakeSwitch.stats.flowMods).toBe(0);
    h.clock.advance(1);
    await h.settle();
    expect(h.fakeSwitch.stats).toMatchObject({ flowMods: 1, errors: 1 });
    expect(h.runtime.reconciler.failedOwners()[0]).toMatchObject({ attempts: 2 });
    // the group appears; the next retry (2 s later: backoff doubled) installs the flow
    ctx.flows.replace('groups', [], group7);
    await h.settle();
    expect(h.runtime.reconciler.failedOwners()).toHaveLength(1);
    h.clock.advance(2_000);
    await h.settle();
    expect(h.runtime.reconciler.failedOwners()).toEqual([]);
    expect(h.runtime.failedFlowsOfPort(p1.id)).toEqual([]);
    expect(events).toEqual([`failed port:${p1.id} ×1`, `failed port:${p1.id} ×2`, `recovered port:${p1.id}`]);
    expect(h.trace(ping(MAC1, MAC3, '10.0.0.3'), 1).ports).toEqual([2]);
    expect((await h.metrics.failedOwners.get()).values[0]?.value).toBe(0);
  });

  it("retries at once on the owner's next change, and forgets refusals nobody desires any more", async () => {
    const { h, p1, ctx, toGroup, events } = await refused();
    ctx.flows.replace('groups', [], group7);
    await h.settle();
    ctx.flows.replace({ id: `port:${p1.id}`, key: p1.key }, [toGroup]); // same flows: a change of the owner all the same
    await h.settle();
    expect(h.runtime.reconciler.failedOwners()).toEqual([]);
    expect(events.at(-1)).toBe(`recovered port:${p1.id}`);
    // another owner's flow is refused (no group 8), then that owner stops desiring it: nothing left failed
    ctx.flows.replace(`port:x`, [flow(ctx.tables.ref('g'), { priority: 6, match: { eth_dst: MAC2 }, actions: [act.group(ctx.flows.groupId(8))] })]);
    await h.settle();
    expect(h.runtime.reconciler.failedOwners().map((f) => f.owner)).toEqual(['port:x']);
    ctx.flows.remove('port:x');
    await h.settle();
    expect(h.runtime.reconciler.failedOwners()).toEqual([]);
  });
});

describe('reactive apps', () => {
  it('gets packet-ins of its own table only, installs the exact flow, then sends the first packet on through the pipeline', async () => {
    const { h } = await twoPorts([miniL2, reactive]);
    const app = h.runtime.app('reactive').instance as Reactive;
    // first packet: punted by the reactive table (nothing else goes to the controller)
    const first = await h.inject(ping(MAC1, MAC2, '10.0.0.2'), 1);
    expect(first.packetIns).toHaveLength(1);
    expect(app.seen).toHaveLength(1);
    expect(app.seen[0]).toMatchObject({ tableName: 'punt', inPort: 1 });
    // the packet-out went through the new flow: left on port 2 with TTL 63
    const out = h.fakeSwitch.delivered.filter((d) => d.port === 2);
    expect(out).toHaveLength(1);
    expect(out[0]!.frame.payload.kind === 'ipv4' && out[0]!.frame.payload.ttl).toBe(63);
    // later packets never reach the controller
    const second = await h.inject(ping(MAC1, MAC2, '10.0.0.2'), 1);
    expect(second.packetIns).toHaveLength(0);
    expect(second.ports).toEqual([2]);
    expect(app.seen).toHaveLength(1);
  });

  it('installNow calls made in one tick share one batch and one barrier; each caller\'s flow-mod precedes its packet-out', async () => {
    const { h } = await twoPorts([miniL2, reactive]);
    const ctx = h.runtime.app('reactive').ctx;
    const punt = ctx.tables.ref('punt');
    h.fakeSwitch.resetStats();
    const delivered = h.fakeSwitch.delivered.length;
    // Three punted packets handled in one tick, as an app does with a burst of packet-ins.
    const calls = ['10.0.0.2', '10.0.0.7', '10.0.0.9'].map((dst) => {
      const frame = ping(MAC1, MAC2, dst);
      return ctx.flows.installNow(
        `flow:${dst}`,
        [flow(punt, { priority: 100, match: { eth_type: 0x0800, ipv4_dst: dst }, actions: [act.decNwTtl()], goto: ctx.tables.next('punt'), idleTimeout: 30 })],
        { data: encodeEthernet(frame), inPort: 1 },
      );
    });
    // and a plain packet-out in the same tick, after them
    const out = ctx.flows.packetOut({ data: encodeEthernet(ping(MAC1, MAC2, '10.0.0.2')), inPort: 1 });
    await Promise.all([...calls, out]);
    expect(h.fakeSwitch.stats).toMatchObject({ flowMods: 3, adds: 3, packetOuts: 4, barriers: 1 });
    expect(await h.metrics.batches.get().then((m) => m.values[0]?.value)).toBeGreaterThan(0);
    // Every packet-out ran through the pipeline after its own flow was in: routed (TTL 63) out of port 2, none punted.
    const sent = h.fakeSwitch.delivered.slice(delivered);
    expect(sent.map((d) => [d.port, d.frame.payload.kind === 'ipv4' ? `${d.frame.payload.dst.toString()} ttl ${d.frame.payload.ttl}` : '?'])).toEqual([
      [2, '10.0.0.2 ttl 63'],
      [2, '10.0.0.7 ttl 63'],
      [2, '10.0.0.9 ttl 63'],
      [2, '10.0.0.2 ttl 63'],
    ]);
    expect((h.runtime.app('reactive').instance as Reactive).seen).toHaveLength(0);
  });

  it('drops an idle reactive flow from the desired state when the switch removes it', async () => {
    const { h } = await twoPorts([miniL2, reactive]);
    const app = h.runtime.app('reactive').instance as Reactive;
    await h.inject(ping(MAC1, MAC2, '10.0.0.2'), 1);
    expect(h.runtime.reconciler.ownersOf('reactive')).toEqual(['flow:10.0.0.2']);
    h.clock.advance(31_000);
    await h.settle();
    expect(app.removed).toMatchObject([{ owner: 'flow:10.0.0.2', reason: 0 }]);
    expect(h.runtime.reconciler.ownersOf('reactive')).toEqual([]);
    // nothing re-installs it: the next packet is punted again
    expect((await h.inject(ping(MAC1, MAC2, '10.0.0.2'), 1)).packetIns).toHaveLength(1);
  });

  it('after a restart, installed timeout flows of its adoptTables are offered to the app: those it re-desires stay untouched, the others are deleted after its handler', async () => {
    const offered: AppAdoptableFlows[] = [];
    const adopting = defineApp({
      ...reactive,
      adoptTables: ['punt'],
      handlers: {
        ...reactive.handlers,
        adoptFlows: (app, ev) => {
          offered.push(ev);
          // keep the flow to 10.0.0.2, as the app would desire it now
          for (const f of ev.flows) {
            const dst = f.match.ipv4_dst?.value.toString();
            if (dst === '10.0.0.2') app.desire(dst);
          }
        },
      },
    });
    const { h } = await twoPorts([miniL2, adopting]);
    await h.inject(ping(MAC1, MAC2, '10.0.0.2'), 1);
    await h.inject(ping(MAC1, MAC2, '10.0.0.9'), 1);
    h.clock.advance(3_000);
    const punt = h.runtime.pipeline.app('reactive').tables[0]!.id;
    const kept = h.fakeSwitch.flowsIn(punt).find((f) => f.priority === 100 && f.match.ipv4_dst?.value.toString() === '10.0.0.2')!;
    h.fakeSwitch.resetStats();
    await h.restart();
    expect(offered).toHaveLength(1);
    expect(offered[0]!.flows.map((f) => [f.tableName, f.idleTimeout, f.match.ipv4_dst?.value.toString()]).sort()).toEqual([
      ['punt', 30, '10.0.0.2'],
      ['punt', 30, '10.0.0.9'],
    ]);
    expect(h.fakeSwitch.stats).toMatchObject({ flowMods: 1, deletes: 1, adds: 0, modifies: 0 });
    expect(h.runtime.reconciler.ownersOf('reactive')).toEqual(['flow:10.0.0.2']);
    // untouched: same flow object on the switch, its age and counters kept
    expect(h.fakeSwitch.flowsIn(punt).find((f) => f.priority === 100)).toBe(kept);
    // the one not taken back is punted again
    expect((await h.inject(ping(MAC1, MAC2, '10.0.0.9'), 1)).packetIns).toHaveLength(1);
    expect((await h.inject(ping(MAC1, MAC2, '10.0.0.2'), 1)).packetIns).toHaveLength(0);
  });

  it('without adoptTables, timeout flows nobody desires after a restart are deleted (the app is not asked)', async () => {
    const { h } = await twoPorts([miniL2, reactive]);
    await h.inject(ping(MAC1, MAC2, '10.0.0.2'), 1);
    h.fakeSwitch.resetStats();
    await h.restart();
    expect(h.fakeSwitch.stats).toMatchObject({ flowMods: 1, deletes: 1 });
  });

  it('refuses adoptTables naming a table the app does not have', () => {
    expect(() => validateApps([{ package: 'x', descriptor: defineApp({ ...reactive, adoptTables: ['nope'] }) }])).toThrow(/adoptTables names 'nope', which is not one of its tables \(punt\)/);
  });

  it('bounds the packet-in buffer per app: drops and counts the overflow', async () => {
    const slow = defineApp({
      name: 'slow',
      coreApi: '^1.0.0',
      packetInBuffer: 2,
      tables: { l3: [{ name: 'punt', miss: 'controller' }] },
      app: class {},
      resync: () => undefined,
      handlers: { packetIn: () => new Promise<void>((r) => setTimeout(r, 5)) },
    });
    const { h } = await twoPorts([miniL2, slow]);
    for (let i = 0; i < 10; i++) h.fakeSwitch.inject(ping(MAC1, MAC2, '10.0.0.2'), 1);
    await h.runtime.settle();
    const dropped = (await h.metrics.packetInsDropped.get()).values.find((v) => v.labels['app'] === 'slow')?.value;
    const delivered = (await h.metrics.packetIns.get()).values.find((v) => v.labels['app'] === 'slow')?.value;
    expect(dropped).toBeGreaterThanOrEqual(7);
    expect((dropped ?? 0) + (delivered ?? 0)).toBe(10);
  });

  it('never sees packets another app punts', async () => {
    const punter = defineApp({ name: 'punter', coreApi: '^1.0.0', tables: { services: [{ name: 'p', miss: 'controller' }] }, app: class {}, resync: () => undefined });
    const { h } = await twoPorts([punter, miniL2, reactive]);
    await h.inject(ping(MAC1, MAC2, '10.0.0.2'), 1);
    expect((h.runtime.app('reactive').instance as Reactive).seen).toHaveLength(0);
    void encodeEthernet;
  });
});
