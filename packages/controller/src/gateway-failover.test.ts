import { systemClock } from '@dragonflow/base';
import { silentLogger } from '@dragonflow/core/host';
import { ChassisRegistry, LocalCache, MemoryDriver, NbApi, type ChassisRegistration, type NbDriver } from '@dragonflow/nb';
import { BehaviorSubject } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GatewayFailover } from './gateway-failover.js';

interface Node {
  readonly name: string;
  readonly reg: ChassisRegistration;
  readonly cache: LocalCache;
  readonly gw: GatewayFailover;
  readonly takeovers: string[];
  /** What this chassis' switch reports of its BFD sessions (peer chassis id → forwarding). */
  readonly bfd: BehaviorSubject<ReadonlyMap<string, boolean>>;
}

let driver: NbDriver;
let nb: NbApi;
let nodes: Node[] = [];

afterEach(async () => {
  for (const n of nodes) {
    n.gw.stop();
    await n.cache.stop();
    await n.reg.stop().catch(() => undefined);
  }
  nodes = [];
  await nb?.close();
});

/** A gateway chassis as its controller runs it: registered alive, its local cache, its GatewayFailover. */
async function start(name: string, bfd?: { stableMs: number }): Promise<Node> {
  const reg = await new ChassisRegistry(nb, { ttlMs: 60_000 }).register({ name, tunnelIp: `192.0.2.${nodes.length + 10}`, gateway: true });
  const cache = new LocalCache(driver, { chassisId: reg.chassis.id });
  await cache.start();
  const takeovers: string[] = [];
  const sessions = new BehaviorSubject<ReadonlyMap<string, boolean>>(new Map());
  const gw = new GatewayFailover({
    source: cache,
    holder: reg,
    chassisId: reg.chassis.id,
    clock: systemClock,
    log: silentLogger(),
    onTakeover: (r) => takeovers.push(r),
    ...(bfd ? { bfd: { forwarding$: sessions, stableMs: bfd.stableMs } } : {}),
  });
  gw.start();
  const node = { name, reg, cache, gw, takeovers, bfd: sessions };
  nodes.push(node);
  return node;
}

/** A chassis dies: its controller stops renewing and its liveness record goes (here at once, as lease expiry would). */
async function kill(n: Node): Promise<void> {
  n.gw.stop();
  await n.cache.stop();
  await n.reg.stop();
  nodes = nodes.filter((x) => x !== n);
}

async function routerWithGateway(chassisIds: string[], preempt = false): Promise<string> {
  const ext = await nb.create('logical_switch', { external: true, networkType: 'flat', physicalNetwork: 'public' });
  const sub = await nb.create('subnet', { networkId: ext.id, ipVersion: 4, cidr: '172.24.4.0/24', gatewayIp: '172.24.4.1' });
  const r = await nb.create('logical_router', { name: 'r1' });
  const gw = await nb.create('logical_port', { networkId: ext.id, macAddress: 'fa:16:3e:00:00:20', fixedIps: [{ subnetId: sub.id, ipAddress: '172.24.4.20' }], deviceOwner: 'network:router_gateway', deviceId: r.id });
  await nb.modify('logical_router', r.id, (x) => ({ ...x, externalGateway: { networkId: ext.id, portId: gw.id, enableSnat: true, fixedIps: gw.fixedIps, chassisIds, preempt } }));
  return r.id;
}

const holders = async (router: string): Promise<string[]> => (await nb.list('chassis_liveness')).filter((l) => l.activeGateways.includes(router)).map((l) => l.name).sort();

describe('GatewayFailover', () => {
  it('the first live gateway chassis holds the router; when it dies the next one takes over, once, and keeps it when the first comes back', async () => {
    driver = MemoryDriver.create();
    nb = await NbApi.open(driver);
    const a = await start('gw-a');
    const b = await start('gw-b');
    const c = await start('gw-c');
    const router = await routerWithGateway([a.reg.chassis.id, b.reg.chassis.id, c.reg.chassis.id]);
    await vi.waitFor(async () => expect(await holders(router)).toEqual(['gw-a']));
    // every candidate holds the router's topology (selective cache), and agrees on the active one
    for (const n of [a, b, c]) await vi.waitFor(() => expect(n.gw.report()).toEqual([expect.objectContaining({ routerId: router, active: 'gw-a' })]));

    await kill(a);
    await vi.waitFor(async () => expect(await holders(router)).toEqual(['gw-b']));
    expect(b.takeovers).toEqual([router]);
    expect(c.takeovers).toEqual([]);
    await vi.waitFor(() => expect(c.gw.report()[0]).toMatchObject({ active: 'gw-b', candidates: [{ chassis: 'gw-a', alive: false }, { chassis: 'gw-b', alive: true }, { chassis: 'gw-c', alive: true }] }));

    // gw-a comes back: no pre-emption
    const back = await start('gw-a');
    await vi.waitFor(() => expect(back.gw.report()[0]).toMatchObject({ active: 'gw-b', candidates: [{ chassis: 'gw-a', alive: true }, expect.anything(), expect.anything()] }));
    await new Promise((r) => setTimeout(r, 200));
    expect(await holders(router)).toEqual(['gw-b']);
    expect(back.takeovers).toEqual([]);

    // the holder dies: the first live one in order of preference takes over
    await kill(b);
    await vi.waitFor(async () => expect(await holders(router)).toEqual(['gw-a']));
    expect(back.takeovers).toEqual([router]);
    expect(c.takeovers).toEqual([]);
  });

  it('pre-emptive: nobody holds the router, and the preferred chassis is active again when it is back', async () => {
    driver = MemoryDriver.create();
    nb = await NbApi.open(driver);
    const a = await start('gw-a');
    const b = await start('gw-b');
    const router = await routerWithGateway([a.reg.chassis.id, b.reg.chassis.id], true);
    await vi.waitFor(() => expect(b.gw.report()[0]).toMatchObject({ active: 'gw-a', preempt: true }));
    await kill(a);
    await vi.waitFor(() => expect(b.gw.report()[0]).toMatchObject({ active: 'gw-b' }));
    const back = await start('gw-a');
    await vi.waitFor(() => expect(b.gw.report()[0]).toMatchObject({ active: 'gw-a' }));
    expect(back.gw.report()[0]).toMatchObject({ active: 'gw-a' });
    expect(await holders(router)).toEqual([]);
  });

  describe('with BFD', () => {
    /** Sets what n's switch reports of its session to each peer. */
    const sessions = (n: Node, peers: [Node, boolean][]): void => n.bfd.next(new Map(peers.map(([p, up]) => [p.reg.chassis.id, up])));
    const activeSeenBy = (n: Node): string | undefined => n.gw.report()[0]?.active;
    const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 300));

    async function threeChassis(stableMs = 0): Promise<{ a: Node; b: Node; c: Node; router: string }> {
      driver = MemoryDriver.create();
      nb = await NbApi.open(driver);
      const a = await start('gw-a', { stableMs });
      const b = await start('gw-b', { stableMs });
      const c = await start('gw-c', { stableMs });
      const router = await routerWithGateway([a.reg.chassis.id, b.reg.chassis.id, c.reg.chassis.id]);
      await vi.waitFor(async () => expect(await holders(router)).toEqual(['gw-a']));
      for (const n of [a, b, c]) await vi.waitFor(() => expect(activeSeenBy(n)).toBe('gw-a'));
      sessions(a, [[b, true], [c, true]]);
      sessions(b, [[a, true], [c, true]]);
      sessions(c, [[a, true], [b, true]]);
      return { a, b, c, router };
    }

    it('BFD to the active chassis down: the next candidate claims the router although its liveness record is still there, and the old one lets go', async () => {
      const { a, b, c, router } = await threeChassis();
      // a's switch dies: b and c see BFD to a go down; a's controller and lease live on (split brain: a still sees its peers up)
      sessions(c, [[a, false], [b, true]]);
      await settle();
      expect(await holders(router)).toEqual(['gw-a']); // c is not next: it does nothing
      sessions(b, [[a, false], [c, true]]);
      await vi.waitFor(async () => expect(await holders(router)).toEqual(['gw-b']));
      // the report (dfctl status) shows each peer's BFD session as this chassis sees it
      expect(b.gw.report()[0]!.candidates).toEqual([
        { chassis: 'gw-a', alive: true, bfd: 'down' },
        { chassis: 'gw-b', alive: true },
        { chassis: 'gw-c', alive: true, bfd: 'up' },
      ]);
      for (const n of [a, b, c]) await vi.waitFor(() => expect(activeSeenBy(n)).toBe('gw-b'));
      const rec = await nb.get('chassis_liveness', b.reg.chassis.id);
      expect(rec?.gatewayEpochs[router]).toBe(1);
      expect(b.takeovers).toEqual([router]);
      expect(c.takeovers).toEqual([]);
      expect(a.reg.activeGateways).toEqual([]);
    });

    it('does not flip-flop: BFD flapping faster than stableMs after the takeover, and the old holder seeing BFD down in turn, move nothing', async () => {
      const { a, b, c, router } = await threeChassis(800);
      await new Promise((r) => setTimeout(r, 900)); // the sessions are stable
      // the path between a and the others breaks: every side sees its sessions across it go down (a is still alive)
      sessions(a, [[b, false], [c, false]]);
      sessions(b, [[a, false], [c, true]]);
      sessions(c, [[a, false], [b, true]]);
      await vi.waitFor(async () => expect(await holders(router)).toEqual(['gw-b']));
      // the link flaps (up for less than stableMs): each side sees the other up, then down again, several times
      for (let i = 0; i < 3; i++) {
        sessions(a, [[b, true], [c, true]]);
        sessions(b, [[a, true], [c, true]]);
        await settle();
        sessions(a, [[b, false], [c, true]]);
        sessions(b, [[a, false], [c, true]]);
        await settle();
      }
      expect(await holders(router)).toEqual(['gw-b']);
      for (const n of [a, b, c]) expect(activeSeenBy(n)).toBe('gw-b');
      expect(a.takeovers).toEqual([]);
    });

    it('a session that goes down before it was up for stableMs does not count', async () => {
      const { b, c, a, router } = await threeChassis(60_000);
      sessions(b, [[a, false], [c, true]]);
      sessions(c, [[a, false], [b, true]]);
      await settle();
      expect(await holders(router)).toEqual(['gw-a']);
      for (const n of [a, b, c]) expect(activeSeenBy(n)).toBe('gw-a');
    });

    it('a session never seen up does not count, and without BFD configured only liveness moves the gateway', async () => {
      driver = MemoryDriver.create();
      nb = await NbApi.open(driver);
      const a = await start('gw-a', { stableMs: 0 });
      const b = await start('gw-b', { stableMs: 0 });
      const c = await start('gw-c');
      const router = await routerWithGateway([a.reg.chassis.id, b.reg.chassis.id, c.reg.chassis.id]);
      await vi.waitFor(async () => expect(await holders(router)).toEqual(['gw-a']));
      sessions(b, [[a, false]]);
      await settle();
      expect(await holders(router)).toEqual(['gw-a']);
      // c runs without BFD: what its switch would report is not read
      await kill(b);
      sessions(c, [[a, true]]);
      sessions(c, [[a, false]]);
      await settle();
      expect(await holders(router)).toEqual(['gw-a']);
      await kill(a);
      await vi.waitFor(async () => expect(await holders(router)).toEqual(['gw-c']));
    });
  });
});
