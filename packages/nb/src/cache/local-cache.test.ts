import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, filter } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NbApi } from '../api/nb-api.js';
import type { ChangeFeed, NbDriver } from '../db/driver.js';
import { MemoryClientDriver } from '../db/memory/client.js';
import { MemoryDriver } from '../db/memory/driver.js';
import { MemoryServer } from '../db/memory/server.js';
import { MemoryStore } from '../db/memory/store.js';
import { chassisIdFromName } from '../model/ids.js';
import { ChassisRegistry } from '../chassis/registry.js';
import type { NbChange } from './events.js';
import { LocalCache } from './local-cache.js';

const HERE = chassisIdFromName('compute-1');
const THERE = chassisIdFromName('compute-2');

let store: MemoryStore;
let nb: NbApi;
let caches: LocalCache[];

beforeEach(async () => {
  store = new MemoryStore();
  nb = await NbApi.open(new MemoryDriver(store));
  caches = [];
  await nb.create('chassis', { id: HERE, name: 'compute-1', tunnelIp: '192.0.2.1' });
  await nb.create('chassis', { id: THERE, name: 'compute-2', tunnelIp: '192.0.2.2' });
});
afterEach(async () => {
  for (const c of caches) await c.stop();
  await nb.close();
  store.close();
});

async function cacheOn(driver: NbDriver = new MemoryDriver(store), selective = true): Promise<{ cache: LocalCache; log: NbChange[] }> {
  const cache = new LocalCache(driver, { chassisId: HERE, selective });
  caches.push(cache);
  const log: NbChange[] = [];
  cache.updates$.subscribe((u) => log.push(...u.changes));
  await cache.start();
  return { cache, log };
}

async function settled(cache: LocalCache): Promise<void> {
  const want = nb.lastCommitRevision;
  await firstValueFrom(cache.state$.pipe(filter((s) => s.revision >= want)));
}

let macSeq = 0;
const mac = (): string => `fa:16:3e:01:${(++macSeq >> 8).toString(16).padStart(2, '0')}:${(macSeq & 0xff).toString(16).padStart(2, '0')}`;

async function network(i: number) {
  const ls = await nb.create('logical_switch', { name: `net${i}` });
  const subnet = await nb.create('subnet', { networkId: ls.id, ipVersion: 4, cidr: `10.${i}.0.0/24`, gatewayIp: `10.${i}.0.1` });
  return { ls: await nb.require('logical_switch', ls.id), subnet };
}

async function port(net: { ls: { id: string }; subnet: { id: string } }, host: string | null, ip: string, extra: object = {}) {
  return nb.create('logical_port', { networkId: net.ls.id, macAddress: mac(), fixedIps: [{ subnetId: net.subnet.id, ipAddress: ip }], chassisId: host, ...extra });
}

describe('LocalCache selective topology', () => {
  it('holds only the networks of its bound ports, their routers, ports, groups and floating IPs', async () => {
    const [n1, n2, n3] = [await network(1), await network(2), await network(3)];
    const web = await nb.create('security_group', { name: 'web' });
    const db = await nb.create('security_group', { name: 'db', rules: [{ id: '00000000-0000-4000-8000-000000000001', direction: 'ingress', remoteGroupId: web.id }] });
    const other = await nb.create('security_group', { name: 'other' });
    const mine = await port(n1, HERE, '10.1.0.5', { securityGroupIds: [db.id] });
    const neighbour = await port(n1, THERE, '10.1.0.6', { securityGroupIds: [other.id] });
    await port(n2, THERE, '10.2.0.5');
    await port(n3, THERE, '10.3.0.5');
    const r = await nb.create('logical_router', { name: 'r' });
    const rif = await port(n1, null, '10.1.0.1', { deviceOwner: 'network:router_interface', deviceId: r.id });
    await nb.update('logical_router', { ...r, ports: [{ portId: rif.id, networkId: n1.ls.id, subnetId: n1.subnet.id, macAddress: rif.macAddress, ipAddress: '10.1.0.1', cidr: '10.1.0.0/24' }] });
    const r2 = await nb.create('logical_router', { name: 'elsewhere' });
    const ext = await nb.create('logical_switch', { external: true });
    const extSub = await nb.create('subnet', { networkId: ext.id, ipVersion: 4, cidr: '172.24.4.0/24' });
    const fport = await nb.create('logical_port', { networkId: ext.id, macAddress: mac(), fixedIps: [{ subnetId: extSub.id, ipAddress: '172.24.4.10' }] });
    const fip = await nb.create('floating_ip', { floatingNetworkId: ext.id, floatingIpAddress: '172.24.4.10', floatingPortId: fport.id, portId: mine.id, fixedIpAddress: '10.1.0.5' });

    const { cache } = await cacheOn();
    expect(new Set(cache.all('logical_switch').map((n) => n.id))).toEqual(new Set([n1.ls.id]));
    expect(cache.all('subnet').map((s) => s.id)).toEqual([n1.subnet.id]);
    expect(new Set(cache.all('logical_port').map((p) => p.id))).toEqual(new Set([mine.id, neighbour.id, rif.id]));
    expect(cache.all('logical_router').map((x) => x.id)).toEqual([r.id]);
    expect(cache.get('logical_router', r2.id)).toBeUndefined();
    // The port's group and the remote group its rule names; not the neighbour's group.
    expect(new Set(cache.all('security_group').map((g) => g.name))).toEqual(new Set(['db', 'web']));
    expect(cache.all('floating_ip').map((f) => f.id)).toEqual([fip.id]);
    expect(cache.all('chassis')).toHaveLength(2);
    expect(cache.localPorts().map((p) => p.id)).toEqual([mine.id]);
    expect(cache.lookup('logical_port', 'ip', `${n1.ls.id}/10.1.0.6`)[0]?.id).toBe(neighbour.id);
    expect(cache.lookup('logical_port', 'key', String(mine.key))[0]?.id).toBe(mine.id);
    expect(cache.state.phase).toBe('live');
    expect(cache.state.networks).toBe(1);
  });

  it('widens when a port is bound here and narrows when it leaves', async () => {
    const [n1, n2] = [await network(1), await network(2)];
    await port(n1, HERE, '10.1.0.5');
    const p2a = await port(n2, THERE, '10.2.0.5');
    const moving = await port(n2, null, '10.2.0.6');
    const { cache, log } = await cacheOn();
    expect(cache.get('logical_switch', n2.ls.id)).toBeUndefined();
    log.length = 0;

    const bound = await nb.modify('logical_port', moving.id, (p) => ({ ...p, chassisId: HERE }));
    await settled(cache);
    const summary = log.map((c) => `${c.kind} ${c.table} ${c.cause}`);
    // Parents first: the chassis of the network's other port (a tunnel peer now), the network, its subnet, then the ports.
    expect(summary).toEqual([
      'created chassis scope',
      'created logical_switch scope',
      'created subnet scope',
      expect.stringMatching(/^created logical_port (db|scope)$/),
      expect.stringMatching(/^created logical_port (db|scope)$/),
    ]);
    expect(log.find((c) => c.id === moving.id)?.cause).toBe('db');
    expect(log.find((c) => c.id === p2a.id)?.cause).toBe('scope');
    expect(cache.get('logical_port', moving.id)?.version).toBe(bound.version);
    expect(cache.state.networks).toBe(2);

    log.length = 0;
    await nb.modify('logical_port', moving.id, (p) => ({ ...p, chassisId: null }));
    await settled(cache);
    expect(log.map((c) => `${c.kind} ${c.table} ${c.cause}`)).toEqual([
      expect.stringMatching(/^deleted logical_port (db|scope)$/),
      expect.stringMatching(/^deleted logical_port (db|scope)$/),
      'deleted subnet scope',
      'deleted logical_switch scope',
      'deleted chassis scope',
    ]);
    expect(cache.get('logical_switch', n2.ls.id)).toBeUndefined();
    expect(cache.get('chassis', THERE)).toBeUndefined();
    expect(cache.all('logical_port')).toHaveLength(1);
  });

  it('takes a change out of its scope as a revision with no change (known to the DB, not held), and one in scope as the whole frozen object', async () => {
    const [n1, n2] = [await network(1), await network(2)];
    await port(n1, HERE, '10.1.0.5');
    const { cache } = await cacheOn();
    const updates: { revision: number; changes: number }[] = [];
    cache.updates$.subscribe((u) => updates.push({ revision: u.revision, changes: u.changes.length }));
    const elsewhere = await port(n2, THERE, '10.2.0.7');
    await settled(cache);
    expect(updates).toEqual([{ revision: nb.lastCommitRevision, changes: 0 }]);
    expect(cache.inDb('logical_port', elsewhere.id)).toBe(true);
    expect(cache.get('logical_port', elsewhere.id)).toBeUndefined();
    // Bound here later: it enters with its network, as the object the DB has (version, no stored-layout field).
    const bound = await nb.modify('logical_port', elsewhere.id, (p) => ({ ...p, chassisId: HERE }));
    const near = await port(n1, THERE, '10.1.0.8');
    await settled(cache);
    for (const held of [cache.get('logical_port', bound.id), cache.get('logical_port', near.id)]) {
      expect(held).toBeDefined();
      expect(Object.isFrozen(held)).toBe(true);
      expect(Object.isFrozen(held!.fixedIps)).toBe(true);
      expect(held).not.toHaveProperty('_schema');
    }
    expect(cache.get('logical_port', bound.id)?.version).toBe(bound.version);
    expect(cache.get('logical_port', near.id)).toEqual(await nb.require('logical_port', near.id));
  });

  it('publishes one ordered stream: each revision once, in order, its changes before the state says it', async () => {
    const n1 = await network(1);
    await port(n1, HERE, '10.1.0.5');
    const { cache } = await cacheOn();
    const start = cache.revision;
    const seen: { revision: number; changes: string[]; stateRevision: number }[] = [];
    cache.updates$.subscribe((u) => seen.push({ revision: u.revision, changes: u.changes.map((c) => `${c.kind} ${c.table}`), stateRevision: cache.state.revision }));
    const outside = await nb.create('logical_switch', { name: 'elsewhere' });
    const reached = cache.waitFor(nb.lastCommitRevision + 1);
    await nb.modify('logical_switch', n1.ls.id, (ls) => ({ ...ls, mtu: 1400 }));
    await reached;
    const revisions = seen.map((s) => s.revision);
    expect(revisions[0]).toBeGreaterThan(start);
    for (let i = 1; i < revisions.length; i++) expect(revisions[i]).toBeGreaterThan(revisions[i - 1]!);
    expect(cache.revision).toBe(nb.lastCommitRevision);
    expect(revisions.at(-1)).toBe(nb.lastCommitRevision);
    // The commit outside this chassis' scope is a step of its own, with no change.
    expect(seen.find((s) => s.revision === nb.lastCommitRevision - 1)).toMatchObject({ changes: [] });
    expect(cache.get('logical_switch', outside.id)).toBeUndefined();
    expect(seen.at(-1)!.changes).toEqual(['updated logical_switch']);
    // Whoever follows the stream has revision R's changes before the state says R.
    for (const s of seen) expect(s.stateRevision).toBeLessThan(s.revision);
    expect(cache.state.revision).toBe(cache.revision);
  });

  it('emits updates with old and new, and the changes of one commit in a safe order', async () => {
    const n1 = await network(1);
    await port(n1, HERE, '10.1.0.5');
    const r = await nb.create('logical_router', {});
    const { cache, log } = await cacheOn();
    log.length = 0;
    const batches: string[][] = [];
    cache.updates$.pipe(filter((b) => b.changes.length > 0)).subscribe((b) => batches.push(b.changes.map((c) => `${c.kind} ${c.table}`)));
    await nb.transaction(async (tx) => {
      const router = await tx.require('logical_router', r.id);
      const rif = await tx.create('logical_port', { networkId: n1.ls.id, macAddress: mac(), fixedIps: [{ subnetId: n1.subnet.id, ipAddress: '10.1.0.1' }] });
      await tx.update('logical_router', {
        ...router,
        ports: [{ portId: rif.id, networkId: n1.ls.id, subnetId: n1.subnet.id, macAddress: rif.macAddress, ipAddress: '10.1.0.1', cidr: '10.1.0.0/24' }],
      });
    });
    await settled(cache);
    // The router enters scope with this commit (its first interface on a local network).
    expect(batches).toEqual([['created logical_port', 'created logical_router']]);
    log.length = 0;
    await nb.modify('logical_switch', n1.ls.id, (ls) => ({ ...ls, mtu: 1400 }));
    await settled(cache);
    expect(log).toHaveLength(1);
    const u = log[0]!;
    expect(u.kind).toBe('updated');
    if (u.kind === 'updated' && u.table === 'logical_switch') {
      expect(u.old.mtu).toBe(1450);
      expect(u.new.mtu).toBe(1400);
    }
    expect(() => {
      (cache.get('logical_switch', n1.ls.id) as { mtu: number }).mtu = 1;
    }).toThrow();
  });

  it("holds the other networks of its networks' routers (one hop), and lets go when the interface goes", async () => {
    const [n1, n2, n3] = [await network(1), await network(2), await network(3)];
    await port(n1, HERE, '10.1.0.5');
    const far = await port(n2, THERE, '10.2.0.5');
    await port(n3, THERE, '10.3.0.5');
    const iface = async (r: { id: string }, n: typeof n1, ip: string) => {
      const rif = await port(n, null, ip, { deviceOwner: 'network:router_interface', deviceId: r.id });
      return { portId: rif.id, networkId: n.ls.id, subnetId: n.subnet.id, macAddress: rif.macAddress, ipAddress: ip, cidr: n.subnet.cidr };
    };
    const r = await nb.create('logical_router', { name: 'r' });
    const r2 = await nb.create('logical_router', { name: 'r2' });
    const r2ports = [await iface(r2, n2, '10.2.0.254'), await iface(r2, n3, '10.3.0.1')];
    await nb.modify('logical_router', r2.id, (x) => ({ ...x, ports: r2ports }));
    const { cache } = await cacheOn();
    expect(cache.get('logical_switch', n2.ls.id)).toBeUndefined();

    const rp1 = await iface(r, n1, '10.1.0.1');
    const rp2 = await iface(r, n2, '10.2.0.1');
    await nb.modify('logical_router', r.id, (x) => ({ ...x, ports: [rp1, rp2] }));
    await settled(cache);
    expect(new Set(cache.all('logical_switch').map((n) => n.id))).toEqual(new Set([n1.ls.id, n2.ls.id]));
    expect(cache.lookup('logical_port', 'ip', `${n2.ls.id}/10.2.0.5`)[0]?.id).toBe(far.id);
    // r2 is on n2, so it is held; its other network n3 is two hops away and is not.
    expect(new Set(cache.all('logical_router').map((x) => x.id))).toEqual(new Set([r.id, r2.id]));
    expect(cache.get('logical_switch', n3.ls.id)).toBeUndefined();

    await nb.modify('logical_router', r.id, (x) => ({ ...x, ports: [rp1] }));
    await settled(cache);
    expect(cache.get('logical_switch', n2.ls.id)).toBeUndefined();
    expect(cache.get('logical_port', far.id)).toBeUndefined();
  });

  it('holds the chassis it may send to — its own, its held ports\' and its held routers\' gateway chassis — with their liveness, not the others', async () => {
    const FAR = chassisIdFromName('compute-far');
    const GW = chassisIdFromName('network-1');
    await nb.create('chassis', { id: GW, name: 'network-1', tunnelIp: '192.0.2.9', gateway: true });
    const far = await new ChassisRegistry(nb, { ttlMs: 60_000 }).register({ name: 'compute-far', tunnelIp: '192.0.2.8' });
    try {
      const [n1, n2] = [await network(1), await network(2)];
      await port(n1, HERE, '10.1.0.5');
      await port(n2, FAR, '10.2.0.5');
      const ext = await nb.create('logical_switch', { external: true, networkType: 'flat', physicalNetwork: 'public' });
      const extSub = await nb.create('subnet', { networkId: ext.id, ipVersion: 4, cidr: '172.24.4.0/24', gatewayIp: '172.24.4.1' });
      const r = await nb.create('logical_router', { name: 'r' });
      const rif = await port(n1, null, '10.1.0.1', { deviceOwner: 'network:router_interface', deviceId: r.id });
      const gw = await nb.create('logical_port', { networkId: ext.id, macAddress: mac(), fixedIps: [{ subnetId: extSub.id, ipAddress: '172.24.4.20' }], deviceOwner: 'network:router_gateway', deviceId: r.id });
      await nb.modify('logical_router', r.id, (x) => ({
        ...x,
        ports: [{ portId: rif.id, networkId: n1.ls.id, subnetId: n1.subnet.id, macAddress: rif.macAddress, ipAddress: '10.1.0.1', cidr: '10.1.0.0/24' }],
        externalGateway: { networkId: ext.id, portId: gw.id, enableSnat: true, fixedIps: gw.fixedIps, chassisIds: [GW], preempt: false },
      }));
      const { cache, log } = await cacheOn();
      expect(new Set(cache.all('chassis').map((c) => c.id))).toEqual(new Set([HERE, GW]));
      expect(cache.get('chassis_liveness', FAR)).toBeUndefined();
      expect(cache.inDb('chassis', FAR)).toBe(true);

      // A port of the far chassis on a network held here: it is a tunnel peer now, with its liveness.
      log.length = 0;
      const p = await port(n1, FAR, '10.1.0.7');
      await settled(cache);
      expect(log.map((c) => `${c.kind} ${c.table} ${c.cause}`)).toEqual(['created chassis scope', 'created chassis_liveness scope', 'created logical_port db']);
      expect(cache.get('chassis', FAR)?.name).toBe('compute-far');
      expect(cache.get('chassis_liveness', FAR)?.id).toBe(FAR);
      // ... and goes with it.
      log.length = 0;
      await nb.delete('logical_port', p.id);
      await settled(cache);
      expect(log.map((c) => `${c.kind} ${c.table} ${c.cause}`)).toEqual(['deleted logical_port db', 'deleted chassis_liveness scope', 'deleted chassis scope']);

      // allChassis: every chassis and liveness record (apps choosing among all chassis).
      const all = new LocalCache(new MemoryDriver(store), { chassisId: HERE, allChassis: true });
      caches.push(all);
      await all.start();
      expect(new Set(all.all('chassis').map((c) => c.id))).toEqual(new Set([HERE, THERE, GW, FAR]));
      expect(all.get('chassis_liveness', FAR)?.id).toBe(FAR);
    } finally {
      await far.stop();
    }
  });

  it('holds the router, all its networks and their ports while this chassis is one of its gateway chassis (no local port needed), and lets go when it is no longer one', async () => {
    const [n1, n2] = [await network(1), await network(2)];
    const vm1 = await port(n1, THERE, '10.1.0.5');
    const vm2 = await port(n2, THERE, '10.2.0.5');
    const ext = await nb.create('logical_switch', { external: true, networkType: 'flat', physicalNetwork: 'public' });
    const extSub = await nb.create('subnet', { networkId: ext.id, ipVersion: 4, cidr: '172.24.4.0/24', gatewayIp: '172.24.4.1' });
    const r = await nb.create('logical_router', { name: 'r' });
    const ports: { portId: string; networkId: string; subnetId: string; macAddress: string; ipAddress: string; cidr: string }[] = [];
    for (const [n, ip] of [[n1, '10.1.0.1'], [n2, '10.2.0.1']] as const) {
      const rif = await port(n, null, ip, { deviceOwner: 'network:router_interface', deviceId: r.id });
      ports.push({ portId: rif.id, networkId: n.ls.id, subnetId: n.subnet.id, macAddress: rif.macAddress, ipAddress: ip, cidr: n.subnet.cidr });
    }
    const gw = await nb.create('logical_port', { networkId: ext.id, macAddress: mac(), fixedIps: [{ subnetId: extSub.id, ipAddress: '172.24.4.20' }], deviceOwner: 'network:router_gateway', deviceId: r.id });
    const gateway = { networkId: ext.id, portId: gw.id, enableSnat: true, fixedIps: gw.fixedIps, chassisIds: [THERE], preempt: false };
    await nb.modify('logical_router', r.id, (x) => ({ ...x, ports, externalGateway: gateway }));
    const { cache } = await cacheOn();
    // Placed on the other chassis only: nothing here.
    expect(cache.get('logical_router', r.id)).toBeUndefined();

    // This chassis is the next one in the list: it may take over (docs/ha.md), so it holds the router already.
    await nb.modify('logical_router', r.id, (x) => ({ ...x, externalGateway: { ...gateway, chassisIds: [THERE, HERE] } }));
    await settled(cache);
    expect(cache.get('logical_router', r.id)?.id).toBe(r.id);
    expect(new Set(cache.all('logical_switch').map((n) => n.id))).toEqual(new Set([n1.ls.id, n2.ls.id, ext.id]));
    expect(new Set([vm1.id, vm2.id, gw.id].map((id) => cache.get('logical_port', id)?.id))).toEqual(new Set([vm1.id, vm2.id, gw.id]));
    expect(cache.get('subnet', extSub.id)?.gatewayIp).toBe('172.24.4.1');

    await nb.modify('logical_router', r.id, (x) => ({ ...x, externalGateway: { ...gateway, chassisIds: [THERE] } }));
    await settled(cache);
    expect(cache.get('logical_router', r.id)).toBeUndefined();
    expect(cache.all('logical_switch')).toEqual([]);
  });

  it('holds the member ports of a remote group on networks it does not hold, while a held rule names the group', async () => {
    const [n1, n2] = [await network(1), await network(2)];
    const web = await nb.create('security_group', { name: 'web' });
    const db = await nb.create('security_group', { name: 'db' });
    await port(n1, HERE, '10.1.0.5', { securityGroupIds: [db.id] });
    const member = await port(n2, THERE, '10.2.0.7', { securityGroupIds: [web.id] });
    const bystander = await port(n2, THERE, '10.2.0.8');
    const { cache, log } = await cacheOn();
    expect(cache.get('logical_port', member.id)).toBeUndefined();

    const rule = { id: '00000000-0000-4000-8000-000000000002', direction: 'ingress' as const, ethertype: 'IPv4' as const, protocol: null, portRangeMin: null, portRangeMax: null, remoteIpPrefix: null, remoteGroupId: web.id, description: '' };
    await nb.modify('security_group', db.id, (g) => ({ ...g, rules: [rule] }));
    await settled(cache);
    // the member port alone: not its network, not the other ports of its network
    expect(cache.get('logical_port', member.id)?.fixedIps[0]?.ipAddress).toBe('10.2.0.7');
    expect(log.find((c) => c.id === member.id)).toMatchObject({ kind: 'created', cause: 'scope' });
    expect(cache.get('logical_port', bystander.id)).toBeUndefined();
    expect(cache.get('logical_switch', n2.ls.id)).toBeUndefined();
    expect(cache.state.networks).toBe(1);

    // its changes follow (a new address), and a port joining the group comes in too
    await nb.modify('logical_port', member.id, (p) => ({ ...p, fixedIps: [{ subnetId: n2.subnet.id, ipAddress: '10.2.0.9' }] }));
    await nb.modify('logical_port', bystander.id, (p) => ({ ...p, securityGroupIds: [web.id] }));
    await settled(cache);
    expect(cache.get('logical_port', member.id)?.fixedIps[0]?.ipAddress).toBe('10.2.0.9');
    expect(cache.get('logical_port', bystander.id)).toBeDefined();

    // the rule goes: so do the members
    log.length = 0;
    await nb.modify('security_group', db.id, (g) => ({ ...g, rules: [] }));
    await settled(cache);
    expect(cache.get('logical_port', member.id)).toBeUndefined();
    expect(cache.get('logical_port', bystander.id)).toBeUndefined();
    expect(log.filter((c) => c.table === 'logical_port').map((c) => `${c.kind} ${c.cause}`)).toEqual(['deleted scope', 'deleted scope']);
    expect(cache.get('security_group', web.id)).toBeUndefined();
  });

  it('holds everything when not selective', async () => {
    const [n1, n2] = [await network(1), await network(2)];
    await port(n1, THERE, '10.1.0.5');
    await port(n2, THERE, '10.2.0.5');
    const { cache } = await cacheOn(new MemoryDriver(store), false);
    expect(cache.size('logical_port')).toBe(2);
    expect(cache.size('logical_switch')).toBe(2);
  });
});

describe('LocalCache and DB faults', () => {
  it('keeps serving and loses nothing across a dropped connection', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'df-cache-'));
    const token = 'local-cache-test-admin-token';
    const server = await MemoryServer.start({ store, listen: [`unix:${join(dir, 'nb.sock')}`], grants: [{ token, role: 'admin' }] });
    const client = await MemoryClientDriver.connect({ endpoint: server.endpoints[0]!, token });
    try {
      const n1 = await network(1);
      await port(n1, HERE, '10.1.0.5');
      const { cache, log } = await cacheOn(client);
      log.length = 0;
      const phases: string[] = [];
      cache.state$.subscribe((s) => phases.push(s.phase));
      server.dropConnections();
      const made = [];
      for (let i = 10; i < 30; i++) made.push(await port(n1, THERE, `10.1.0.${i}`));
      expect(cache.get('logical_switch', n1.ls.id)).toBeDefined(); // still serving
      await settled(cache);
      // The first port on the other chassis brings that chassis in (a tunnel peer).
      expect(log.map((c) => c.id)).toEqual([THERE, ...made.map((p) => p.id)]);
      expect(phases).toContain('degraded');
      expect(cache.state.phase).toBe('live');
    } finally {
      await client.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reloads and reports the differences when the feed cannot resume', async () => {
    const n1 = await network(1);
    const p1 = await port(n1, HERE, '10.1.0.5');
    const p2 = await port(n1, THERE, '10.1.0.6');
    let gate: Promise<void> = Promise.resolve();
    let open = (): void => undefined;
    const inner = new MemoryDriver(store);
    const gated = Object.create(inner) as MemoryDriver;
    gated.watch = (from, options) => {
      const feed: ChangeFeed = inner.watch(from, options);
      return {
        get lastRevision() {
          return feed.lastRevision;
        },
        close: () => feed.close(),
        async *[Symbol.asyncIterator]() {
          await gate;
          yield* feed;
        },
      };
    };
    gate = new Promise((r) => (open = r));
    const { cache, log } = await cacheOn(gated);
    log.length = 0;
    await nb.delete('logical_port', p2.id);
    const p3 = await port(n1, THERE, '10.1.0.7');
    await nb.modify('logical_port', p1.id, (p) => ({ ...p, name: 'renamed' }));
    store.compact(store.revision + 1);
    open();
    await settled(cache);
    expect(cache.state.resyncs).toBe(1);
    expect(log.map((c) => `${c.kind} ${c.id} ${c.cause}`).sort()).toEqual([`created ${p3.id} resync`, `deleted ${p2.id} resync`, `updated ${p1.id} resync`].sort());
    expect(cache.get('logical_port', p1.id)?.name).toBe('renamed');
  });
});
