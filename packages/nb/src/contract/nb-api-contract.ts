import { isDfError } from '@dragonflow/base';
import { concatMap, filter, firstValueFrom } from 'rxjs';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NbApi } from '../api/nb-api.js';
import { LocalCache } from '../cache/local-cache.js';
import type { NbDriver } from '../db/driver.js';
import { chassisIdFromName } from '../model/ids.js';
import type { DbUnderTest, DriverHarness } from './driver-contract.js';

/**
 * NbApi and LocalCache on a driver: the transactions NbApi builds (claims moving
 * between objects, guards, checks, many ops) must be ones the driver accepts, and the
 * cache must follow the driver's feed. Run beside describeDriverContract.
 */
export function describeNbApiOnDriver(harness: DriverHarness): void {
  describe(`NbApi and LocalCache on ${harness.name}`, () => {
    let db: DbUnderTest;
    let drivers: NbDriver[] = [];
    let nb: NbApi;
    let ready: Promise<void> | undefined;
    const connect = async (): Promise<NbDriver> => {
      const d = await db.connect();
      drivers.push(d);
      return d;
    };
    if (harness.teardown) afterAll(() => (ready ? harness.teardown!() : undefined), 60_000);
    beforeEach(async () => {
      if (harness.setup) await (ready ??= harness.setup());
      db = await harness.freshDb();
      drivers = [];
      nb = await NbApi.open(await connect());
    }, 120_000);
    afterEach(async () => {
      await nb.close();
      for (const d of drivers) await d.close().catch(() => undefined);
      await db.dispose?.();
    });

    let macSeq = 0;
    const mac = (): string => `fa:16:3e:10:${(++macSeq >> 8).toString(16).padStart(2, '0')}:${(macSeq & 0xff).toString(16).padStart(2, '0')}`;

    it('creates a topology, refuses duplicates and deletes of what is in use, moves claims atomically', async () => {
      const ls = await nb.create('logical_switch', { name: 'n' });
      const subnet = await nb.create('subnet', { networkId: ls.id, ipVersion: 4, cidr: '10.0.0.0/24', gatewayIp: '10.0.0.1' });
      const a = await nb.create('logical_port', { networkId: ls.id, macAddress: mac(), fixedIps: [{ subnetId: subnet.id, ipAddress: '10.0.0.5' }] });
      const dup = await nb.create('logical_port', { networkId: ls.id, macAddress: mac(), fixedIps: [{ subnetId: subnet.id, ipAddress: '10.0.0.5' }] }).catch((e: unknown) => e);
      expect(isDfError(dup, 'NB_CONFLICT')).toBe(true);
      const inUse = await nb.delete('logical_switch', ls.id).catch((e: unknown) => e);
      expect(isDfError(inUse, 'NB_CONFLICT')).toBe(true);
      const b = await nb.create('logical_port', { networkId: ls.id, macAddress: mac(), fixedIps: [{ subnetId: subnet.id, ipAddress: '10.0.0.6' }] });
      await nb.transaction(async (tx) => {
        await tx.update('logical_port', { ...(await tx.require('logical_port', a.id)), fixedIps: [] });
        await tx.update('logical_port', { ...(await tx.require('logical_port', b.id)), fixedIps: [{ subnetId: subnet.id, ipAddress: '10.0.0.5' }] });
      });
      expect((await nb.portByIp(ls.id, '10.0.0.5'))?.id).toBe(b.id);
      const router = await nb.create('logical_router', {});
      await nb.transaction(async (tx) => {
        const r = await tx.require('logical_router', router.id);
        const rif = await tx.create('logical_port', { networkId: ls.id, macAddress: mac(), fixedIps: [{ subnetId: subnet.id, ipAddress: '10.0.0.1' }], deviceOwner: 'network:router_interface', deviceId: r.id });
        await tx.update('logical_router', { ...r, ports: [{ portId: rif.id, networkId: ls.id, subnetId: subnet.id, macAddress: rif.macAddress, ipAddress: '10.0.0.1', cidr: '10.0.0.0/24' }] });
      });
      expect((await nb.routersByNetwork(ls.id)).map((r) => r.id)).toEqual([router.id]);
      await nb.transaction(async (tx) => {
        for (const p of await tx.lookup('logical_port', 'network', ls.id)) {
          if (p.deviceOwner === 'network:router_interface') {
            const r = await tx.require('logical_router', router.id);
            await tx.update('logical_router', { ...r, ports: [] });
          }
          await tx.delete('logical_port', p.id);
        }
        await tx.delete('subnet', subnet.id);
        await tx.delete('logical_switch', ls.id);
      });
      expect(await nb.get('logical_switch', ls.id)).toBeUndefined();
    }, 60_000);

    it('gives concurrent IPAM transactions distinct addresses and keys', async () => {
      const ls = await nb.create('logical_switch', {});
      const subnet = await nb.create('subnet', { networkId: ls.id, ipVersion: 4, cidr: '10.1.0.0/24' });
      const other = await NbApi.open(await connect());
      try {
        const make = (api: NbApi) =>
          api.transaction(async (tx) => {
            const used = new Set((await tx.lookup('logical_port', 'subnet', subnet.id)).flatMap((p) => p.fixedIps.map((f) => f.ipAddress)));
            let n = 2;
            while (used.has(`10.1.0.${n}`)) n++;
            return tx.create('logical_port', { networkId: ls.id, macAddress: mac(), fixedIps: [{ subnetId: subnet.id, ipAddress: `10.1.0.${n}` }] });
          }, { maxAttempts: 40 });
        const ports = await Promise.all(Array.from({ length: 12 }, (_, i) => make(i % 2 ? nb : other)));
        expect(new Set(ports.map((p) => p.fixedIps[0]!.ipAddress)).size).toBe(12);
        expect(new Set(ports.map((p) => p.key)).size).toBe(12);
      } finally {
        await other.close();
      }
    }, 60_000);

    it('feeds a selective LocalCache', async () => {
      const here = chassisIdFromName('contract-chassis');
      await nb.create('chassis', { id: here, name: 'contract-chassis', tunnelIp: '192.0.2.50' });
      const ls = await nb.create('logical_switch', {});
      const cache = new LocalCache(await connect(), { chassisId: here });
      await cache.start();
      try {
        const seen = firstValueFrom(cache.updates$.pipe(concatMap((u) => u.changes), filter((c) => c.table === 'logical_port')));
        const p = await nb.create('logical_port', { networkId: ls.id, macAddress: mac(), chassisId: here });
        const c = await seen;
        expect(c.kind).toBe('created');
        expect(c.id).toBe(p.id);
        expect(cache.get('logical_switch', ls.id)).toBeDefined();
      } finally {
        await cache.stop();
      }
    }, 60_000);
  });
}
