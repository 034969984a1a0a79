import { type DfError, isDfError } from '@dragonflow/base';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryDriver } from '../db/memory/driver.js';
import { NbApi } from './nb-api.js';

async function rejection(p: Promise<unknown>, code: string): Promise<DfError> {
  try {
    await p;
  } catch (e) {
    if (isDfError(e, code)) return e;
    throw e;
  }
  throw new Error(`expected ${code}`);
}

let driver: MemoryDriver;
let nb: NbApi;

beforeEach(async () => {
  driver = MemoryDriver.create();
  nb = await NbApi.open(driver);
});
afterEach(async () => {
  await nb.close();
  await driver.close();
});

let macSeq = 0;
const mac = (): string => `fa:16:3e:00:${(++macSeq >> 8).toString(16).padStart(2, '0')}:${(macSeq & 0xff).toString(16).padStart(2, '0')}`;

async function network(cidr = '10.0.0.0/24', extra: object = {}) {
  const ls = await nb.create('logical_switch', { name: 'net', projectId: 'p1', ...extra });
  const subnet = await nb.create('subnet', { networkId: ls.id, ipVersion: 4, cidr, gatewayIp: cidr.replace(/0\/\d+$/, '1'), projectId: 'p1' });
  return { ls, subnet };
}

describe('NbApi CRUD', () => {
  it('creates objects with ids, keys, versions and timestamps, and reads them back', async () => {
    const { ls, subnet } = await network();
    expect(ls.version).toBe(1);
    expect(ls.key).toBeGreaterThan(0);
    expect(ls.createdAt).toBeDefined();
    const port = await nb.create('logical_port', { networkId: ls.id, macAddress: mac(), fixedIps: [{ subnetId: subnet.id, ipAddress: '10.0.0.5' }] });
    expect(await nb.get('logical_port', port.id)).toEqual(port);
    expect((await nb.portsByNetwork(ls.id)).map((p) => p.id)).toEqual([port.id]);
    expect((await nb.subnetsByNetwork(ls.id)).map((s) => s.id)).toEqual([subnet.id]);
    expect((await nb.portByIp(ls.id, '10.0.0.5'))?.id).toBe(port.id);
    expect(await nb.ipsInUse(subnet.id)).toEqual([{ subnetId: subnet.id, ipAddress: '10.0.0.5' }]);
    // The network was touched by the subnet create (serializes overlapping subnet creates).
    expect((await nb.require('logical_switch', ls.id)).version).toBe(2);
  });

  it('updates with compare-and-swap and never overwrites silently', async () => {
    const { ls } = await network();
    const fresh = await nb.require('logical_switch', ls.id);
    const a = await nb.update('logical_switch', { ...fresh, name: 'a' });
    expect(a.version).toBe(fresh.version + 1);
    const e = await rejection(nb.update('logical_switch', { ...fresh, name: 'b' }), 'NB_CONFLICT');
    expect(e.message).toMatch(/you have version 2, it is at version 3/);
    expect((await nb.require('logical_switch', ls.id)).name).toBe('a');
  });

  it('retries read-modify-write under contention without losing an update', async () => {
    const { ls } = await network();
    await Promise.all(Array.from({ length: 20 }, (_, i) => nb.modify('logical_switch', ls.id, (cur) => ({ ...cur, description: `${cur.description}${i},` }))));
    const final = await nb.require('logical_switch', ls.id);
    expect(final.description.split(',').filter(Boolean).sort((x, y) => Number(x) - Number(y))).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
  });

  it('reports not-found and invalid input naming the field', async () => {
    await rejection(nb.update('logical_switch', { id: '99999999-2222-4333-8444-555555555555', version: 1 } as never), 'NB_NOT_FOUND');
    await rejection(nb.delete('logical_port', '99999999-2222-4333-8444-555555555555'), 'NB_NOT_FOUND');
    const e = await rejection(nb.create('logical_switch', { mtu: 10 }), 'NB_INVALID');
    expect(e.context['field']).toBe('mtu');
  });

  it('keeps immutable fields and keys', async () => {
    const { subnet } = await network();
    const e = await rejection(nb.update('subnet', { ...subnet, cidr: '10.9.0.0/24', gatewayIp: null }), 'NB_INVALID');
    expect(e.context['field']).toBe('cidr');
    const ls = await nb.create('logical_switch', {});
    expect((await rejection(nb.update('logical_switch', { ...ls, key: ls.key + 1 }), 'NB_INVALID')).context['field']).toBe('key');
  });

  it('gives distinct keys to concurrent creates', async () => {
    const made = await Promise.all(Array.from({ length: 50 }, () => nb.create('logical_switch', {})));
    expect(new Set(made.map((m) => m.key)).size).toBe(50);
  });
});

describe('NbApi referential integrity', () => {
  it('refuses references to missing objects, naming the field', async () => {
    const e = await rejection(nb.create('logical_port', { networkId: '99999999-2222-4333-8444-555555555555', macAddress: mac() }), 'NB_INVALID');
    expect(e.context['field']).toBe('networkId');
    expect(e.message).toMatch(/logical_switch 99999999-.* does not exist/);
  });

  it('checks fixed IPs against their subnet', async () => {
    const { ls, subnet } = await network();
    const other = await network('10.1.0.0/24');
    let e = await rejection(nb.create('logical_port', { networkId: ls.id, macAddress: mac(), fixedIps: [{ subnetId: subnet.id, ipAddress: '10.0.1.5' }] }), 'NB_INVALID');
    expect(e.context['field']).toBe('fixedIps[0].ipAddress');
    expect(e.message).toMatch(/outside subnet 10\.0\.0\.0\/24/);
    e = await rejection(nb.create('logical_port', { networkId: ls.id, macAddress: mac(), fixedIps: [{ subnetId: other.subnet.id, ipAddress: '10.1.0.5' }] }), 'NB_INVALID');
    expect(e.context['field']).toBe('fixedIps[0].subnetId');
    e = await rejection(nb.create('logical_port', { networkId: ls.id, macAddress: mac(), fixedIps: [{ subnetId: subnet.id, ipAddress: '10.0.0.255' }] }), 'NB_INVALID');
    expect(e.message).toMatch(/broadcast/);
  });

  it('refuses to delete what is still used, and allows it once unused', async () => {
    const { ls, subnet } = await network();
    const port = await nb.create('logical_port', { networkId: ls.id, macAddress: mac(), fixedIps: [{ subnetId: subnet.id, ipAddress: '10.0.0.5' }] });
    const e = await rejection(nb.delete('logical_switch', ls.id), 'NB_CONFLICT');
    expect(e.context['reason']).toBe('in-use');
    expect(e.message).toMatch(/still used by (subnet|logical_port)/);
    await rejection(nb.delete('subnet', subnet.id), 'NB_CONFLICT');
    await nb.delete('logical_port', port.id);
    await nb.delete('subnet', subnet.id);
    await nb.delete('logical_switch', ls.id);
    expect(await nb.get('logical_switch', ls.id)).toBeUndefined();
    // Claims and guards are released: the same IP can be used again on a new network.
    expect((await driver.list('_claim')).records).toEqual([]);
    expect((await driver.list('_guard')).records).toEqual([]);
  });

  it('never leaves a port on a deleted network under concurrent create and delete', async () => {
    for (let round = 0; round < 20; round++) {
      const ls = await nb.create('logical_switch', {});
      const results = await Promise.allSettled([nb.create('logical_port', { networkId: ls.id, macAddress: mac() }), nb.delete('logical_switch', ls.id)]);
      const portMade = results[0].status === 'fulfilled';
      const netGone = results[1].status === 'fulfilled';
      expect(portMade && netGone).toBe(false);
      const dangling = (await driver.list('logical_port')).records.filter((r) => JSON.parse(r.value).networkId === ls.id);
      if (netGone) expect(dangling).toEqual([]);
      for (const r of dangling) await nb.delete('logical_port', r.id);
      if (!netGone) await nb.delete('logical_switch', ls.id);
    }
  });
});

describe('NbApi uniqueness', () => {
  it('refuses a duplicate IP or MAC on one network, naming the owner', async () => {
    const { ls, subnet } = await network();
    const a = await nb.create('logical_port', { networkId: ls.id, macAddress: 'fa:16:3e:aa:00:01', fixedIps: [{ subnetId: subnet.id, ipAddress: '10.0.0.5' }] });
    let e = await rejection(nb.create('logical_port', { networkId: ls.id, macAddress: mac(), fixedIps: [{ subnetId: subnet.id, ipAddress: '10.0.0.5' }] }), 'NB_CONFLICT');
    expect(e.message).toMatch(new RegExp(`IP address 10\\.0\\.0\\.5 .* is already used by logical_port ${a.id}`));
    expect(e.context['field']).toBe('fixedIps[0].ipAddress');
    e = await rejection(nb.create('logical_port', { networkId: ls.id, macAddress: 'FA:16:3E:AA:00:01' }), 'NB_CONFLICT');
    expect(e.context['field']).toBe('macAddress');
    // The same IP on another network is fine.
    const other = await network();
    await nb.create('logical_port', { networkId: other.ls.id, macAddress: mac(), fixedIps: [{ subnetId: other.subnet.id, ipAddress: '10.0.0.5' }] });
  });

  it('gives an IP to exactly one of many concurrent writers', async () => {
    const { ls, subnet } = await network();
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => nb.create('logical_port', { networkId: ls.id, macAddress: mac(), fixedIps: [{ subnetId: subnet.id, ipAddress: '10.0.0.9' }] })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(isDfError(r.reason, 'NB_CONFLICT')).toBe(true);
  });

  it('lets IPAM-style transactions pick distinct free addresses concurrently', async () => {
    const { ls, subnet } = await network();
    const created = await Promise.all(
      Array.from({ length: 30 }, () =>
        nb.transaction(async (tx) => {
          const used = new Set((await tx.lookup('logical_port', 'subnet', subnet.id)).flatMap((p) => p.fixedIps.map((f) => f.ipAddress)));
          let n = 2;
          while (used.has(`10.0.0.${n}`)) n++;
          return tx.create('logical_port', { networkId: ls.id, macAddress: mac(), fixedIps: [{ subnetId: subnet.id, ipAddress: `10.0.0.${n}` }] });
        }),
      ),
    );
    expect(new Set(created.map((p) => p.fixedIps[0]!.ipAddress)).size).toBe(30);
  });

  it('moves an IP between ports in one transaction', async () => {
    const { ls, subnet } = await network();
    const a = await nb.create('logical_port', { networkId: ls.id, macAddress: mac(), fixedIps: [{ subnetId: subnet.id, ipAddress: '10.0.0.5' }] });
    const b = await nb.create('logical_port', { networkId: ls.id, macAddress: mac(), fixedIps: [{ subnetId: subnet.id, ipAddress: '10.0.0.6' }] });
    await nb.transaction(async (tx) => {
      await tx.update('logical_port', { ...a, fixedIps: [] });
      await tx.update('logical_port', { ...b, fixedIps: [{ subnetId: subnet.id, ipAddress: '10.0.0.5' }] });
    });
    expect((await nb.portByIp(ls.id, '10.0.0.5'))?.id).toBe(b.id);
    // 10.0.0.6 was released
    await nb.create('logical_port', { networkId: ls.id, macAddress: mac(), fixedIps: [{ subnetId: subnet.id, ipAddress: '10.0.0.6' }] });
  });

  it('refuses overlapping subnets on a network, also when created concurrently', async () => {
    const ls = await nb.create('logical_switch', {});
    await nb.create('subnet', { networkId: ls.id, ipVersion: 4, cidr: '10.0.0.0/24' });
    const e = await rejection(nb.create('subnet', { networkId: ls.id, ipVersion: 4, cidr: '10.0.0.128/25' }), 'NB_INVALID');
    expect(e.context['field']).toBe('cidr');
    const ls2 = await nb.create('logical_switch', {});
    const r = await Promise.allSettled(['10.5.0.0/16', '10.5.1.0/24', '10.5.2.0/24'].map((cidr) => nb.create('subnet', { networkId: ls2.id, ipVersion: 4, cidr })));
    const made = r.filter((x) => x.status === 'fulfilled').map((x) => (x as PromiseFulfilledResult<{ cidr: string }>).value.cidr);
    // Never both the /16 and a /24 inside it.
    expect(made.includes('10.5.0.0/16') && made.length > 1).toBe(false);
  });

  it('refuses two networks on one segment', async () => {
    await nb.create('logical_switch', { networkType: 'vlan', segmentationId: 100, physicalNetwork: 'physnet1' });
    const e = await rejection(nb.create('logical_switch', { networkType: 'vlan', segmentationId: 100, physicalNetwork: 'physnet1' }), 'NB_CONFLICT');
    expect(e.message).toMatch(/vlan segment physnet1:100/);
    await nb.create('logical_switch', { networkType: 'vlan', segmentationId: 100, physicalNetwork: 'physnet2' });
  });
});

describe('NbApi atomic multi-object writes', () => {
  async function routerInterface(routerId: string, ls: { id: string }, subnet: { id: string; cidr: string; gatewayIp: string | null }, macAddress = mac()) {
    return nb.transaction(async (tx) => {
      const router = await tx.require('logical_router', routerId);
      const port = await tx.create('logical_port', {
        networkId: ls.id,
        macAddress,
        fixedIps: [{ subnetId: subnet.id, ipAddress: subnet.gatewayIp! }],
        deviceOwner: 'network:router_interface',
        deviceId: routerId,
      });
      return tx.update('logical_router', {
        ...router,
        ports: [...router.ports, { portId: port.id, networkId: ls.id, subnetId: subnet.id, macAddress: port.macAddress, ipAddress: subnet.gatewayIp!, cidr: subnet.cidr }],
      });
    });
  }

  it('adds a router interface as router update + port create, all or nothing', async () => {
    const a = await network('10.0.0.0/24');
    const b = await network('10.0.0.0/16'.replace('10.0.0.0/16', '10.0.0.0/23'));
    const router = await nb.create('logical_router', { name: 'r1' });
    const r1 = await routerInterface(router.id, a.ls, a.subnet);
    expect(r1.ports).toHaveLength(1);
    expect((await nb.routersByNetwork(a.ls.id)).map((r) => r.id)).toEqual([router.id]);
    const portsBefore = (await driver.list('logical_port')).records.length;
    // b's 10.0.0.0/23 overlaps a's subnet on the router: the router update fails, so the port is not created either.
    const e = await rejection(routerInterface(router.id, b.ls, { ...b.subnet, gatewayIp: '10.0.0.1' }), 'NB_INVALID');
    expect(e.context['field']).toBe('ports[1].cidr');
    expect((await driver.list('logical_port')).records.length).toBe(portsBefore);
    // The interface port cannot be deleted while the router uses it.
    const rport = (await nb.portsByDevice(router.id, 'network:router_interface'))[0]!;
    expect((await rejection(nb.delete('logical_port', rport.id), 'NB_CONFLICT')).message).toMatch(/still used by logical_router/);
    // Removing the interface: router update + port delete in one transaction.
    await nb.transaction(async (tx) => {
      const r = await tx.require('logical_router', router.id);
      await tx.update('logical_router', { ...r, ports: r.ports.filter((p) => p.portId !== rport.id) });
      await tx.delete('logical_port', rport.id);
    });
    expect(await nb.get('logical_port', rport.id)).toBeUndefined();
  });

  it('checks router ports match their logical port', async () => {
    const a = await network();
    const router = await nb.create('logical_router', {});
    const port = await nb.create('logical_port', { networkId: a.ls.id, macAddress: mac(), fixedIps: [{ subnetId: a.subnet.id, ipAddress: '10.0.0.1' }] });
    const e = await rejection(
      nb.update('logical_router', { ...router, ports: [{ portId: port.id, networkId: a.ls.id, subnetId: a.subnet.id, macAddress: 'fa:16:3e:99:99:99', ipAddress: '10.0.0.1', cidr: '10.0.0.0/24' }] }),
      'NB_INVALID',
    );
    expect(e.context['field']).toBe('ports[0].macAddress');
  });

  it('associates a floating IP once per fixed IP and checks the external network', async () => {
    const ext = await network('172.24.4.0/24', { external: true });
    const int = await network('10.0.0.0/24');
    const vm = await nb.create('logical_port', { networkId: int.ls.id, macAddress: mac(), fixedIps: [{ subnetId: int.subnet.id, ipAddress: '10.0.0.5' }] });
    const fport = await nb.create('logical_port', { networkId: ext.ls.id, macAddress: mac(), fixedIps: [{ subnetId: ext.subnet.id, ipAddress: '172.24.4.10' }], deviceOwner: 'network:floatingip' });
    const fip = await nb.create('floating_ip', { floatingNetworkId: ext.ls.id, floatingIpAddress: '172.24.4.10', floatingPortId: fport.id, portId: vm.id, fixedIpAddress: '10.0.0.5' });
    expect((await nb.floatingIpsByPort(vm.id)).map((f) => f.id)).toEqual([fip.id]);
    const e = await rejection(nb.create('floating_ip', { floatingNetworkId: int.ls.id, floatingIpAddress: '10.0.0.99' }), 'NB_INVALID');
    expect(e.context['field']).toBe('floatingNetworkId');
    const e2 = await rejection(nb.create('floating_ip', { floatingNetworkId: ext.ls.id, floatingIpAddress: '172.24.4.11', portId: vm.id, fixedIpAddress: '10.0.0.5' }), 'NB_CONFLICT');
    expect(e2.message).toMatch(/already has a floating IP/);
    // Deleting the VM port needs the floating IP disassociated in the same transaction.
    await rejection(nb.delete('logical_port', vm.id), 'NB_CONFLICT');
    await nb.transaction(async (tx) => {
      const f = await tx.require('floating_ip', fip.id);
      await tx.update('floating_ip', { ...f, portId: null, fixedIpAddress: null });
      await tx.delete('logical_port', vm.id);
    });
  });

  it('writes nothing when a transaction function throws', async () => {
    const before = await driver.currentRevision();
    await expect(
      nb.transaction(async (tx) => {
        await tx.create('logical_switch', {});
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await driver.currentRevision()).toBe(before);
  });
});

describe('NbApi with a stale view', () => {
  /** A driver whose change feed can be held back, to make a view deterministically stale. */
  function gatedDriver(inner: MemoryDriver): { driver: MemoryDriver; hold(): void; release(): void } {
    let gate: Promise<void> = Promise.resolve();
    let open: () => void = () => undefined;
    const driver = Object.create(inner) as MemoryDriver;
    driver.watch = (from, options) => {
      const feed = inner.watch(from, options);
      return {
        get lastRevision() {
          return feed.lastRevision;
        },
        close: () => feed.close(),
        async *[Symbol.asyncIterator]() {
          for await (const b of feed) {
            await gate;
            yield b;
          }
        },
      };
    };
    return {
      driver,
      hold: () => {
        gate = new Promise((r) => (open = r));
      },
      release: () => open(),
    };
  }

  it('does not delete a network whose new port its view has not seen yet', async () => {
    const { ls } = await network();
    const gated = gatedDriver(driver);
    const deleter = await NbApi.open(gated.driver);
    try {
      await deleter.require('logical_switch', ls.id);
      gated.hold();
      await nb.create('logical_port', { networkId: ls.id, macAddress: mac() });
      let settled = false;
      const del = deleter.delete('logical_switch', ls.id).finally(() => (settled = true));
      await new Promise((r) => setTimeout(r, 50));
      expect(settled).toBe(false); // waits for its view to see the referencing commit
      gated.release();
      const e = await rejection(del, 'NB_CONFLICT');
      expect(e.context['reason']).toBe('in-use');
    } finally {
      gated.release();
      await deleter.close();
    }
  });

  it('reports NB_UNAVAILABLE rather than deciding on a view that cannot catch up', async () => {
    const { ls } = await network();
    const gated = gatedDriver(driver);
    const deleter = await NbApi.open(gated.driver, { syncTimeoutMs: 100 });
    try {
      await deleter.require('logical_switch', ls.id);
      gated.hold();
      await nb.create('logical_port', { networkId: ls.id, macAddress: mac() });
      await rejection(deleter.delete('logical_switch', ls.id), 'NB_UNAVAILABLE');
      expect(await nb.get('logical_switch', ls.id)).toBeDefined();
    } finally {
      gated.release();
      await deleter.close();
    }
  });
});
