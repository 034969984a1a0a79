import { systemClock } from '@dragonflow/base';
import { silentLogger } from '@dragonflow/core/host';
import { ChassisRegistry, LocalCache, MemoryDriver, NbApi, type ChassisRegistration, type NbDriver } from '@dragonflow/nb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GatewayFailover } from './gateway-failover.js';

interface Node {
  readonly name: string;
  readonly reg: ChassisRegistration;
  readonly cache: LocalCache;
  readonly gw: GatewayFailover;
  readonly takeovers: string[];
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
async function start(name: string): Promise<Node> {
  const reg = await new ChassisRegistry(nb, { ttlMs: 60_000 }).register({ name, tunnelIp: `192.0.2.${nodes.length + 10}`, gateway: true });
  const cache = new LocalCache(driver, { chassisId: reg.chassis.id });
  await cache.start();
  const takeovers: string[] = [];
  const gw = new GatewayFailover({ source: cache, holder: reg, chassisId: reg.chassis.id, clock: systemClock, log: silentLogger(), onTakeover: (r) => takeovers.push(r) });
  gw.start();
  const node = { name, reg, cache, gw, takeovers };
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
});
