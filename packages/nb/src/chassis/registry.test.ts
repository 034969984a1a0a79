import { DfError, ManualClock, isDfError } from '@dragonflow/base';
import { NbErrorCode } from '../errors.js';
import { firstValueFrom, filter } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NbApi } from '../api/nb-api.js';
import { MemoryDriver } from '../db/memory/driver.js';
import { MemoryStore } from '../db/memory/store.js';
import { chassisIdFromName } from '../model/ids.js';
import { ChassisRegistry } from './registry.js';

let store: MemoryStore;
let nb: NbApi;
// Leases and renewals run on this clock: the tests move time, so a loaded machine
// (a renewal late by more than the ttl) cannot expire a lease the code did renew.
let clock: ManualClock;
beforeEach(async () => {
  clock = new ManualClock(Date.now());
  store = new MemoryStore({ clock });
  nb = await NbApi.open(new MemoryDriver(store));
});
afterEach(async () => {
  await nb.close();
  store.close();
});

/** Moves the clock by `ms` in 10 ms steps, letting the renewals (async DB calls) finish between steps. */
async function pass(ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 10) {
    clock.advance(Math.min(10, ms - t));
    await new Promise((r) => setImmediate(r));
  }
}

describe('ChassisRegistry', () => {
  it('registers a chassis under a name-derived id and keeps it alive while renewing', async () => {
    const reg = new ChassisRegistry(nb, { ttlMs: 300, clock });
    const r = await reg.register({ name: 'compute-1', tunnelIp: '192.0.2.11', tunnelTypes: ['geneve'] });
    expect(r.chassis.id).toBe(chassisIdFromName('compute-1'));
    expect(await reg.isAlive(r.chassis.id)).toBe(true);
    await pass(900);
    expect(await reg.isAlive(r.chassis.id)).toBe(true);
    expect(r.state.alive).toBe(true);
    // Registering again (a restarted controller) finds the same record.
    const again = await new ChassisRegistry(nb, { ttlMs: 300, clock }).register({ name: 'compute-1', tunnelIp: '192.0.2.11', tunnelTypes: ['geneve'] });
    expect(again.chassis.version).toBe(r.chassis.version);
    await again.stop();
    await r.stop();
    expect(await reg.isAlive(r.chassis.id)).toBe(false);
    expect(await nb.get('chassis', r.chassis.id)).toBeDefined();
  });

  it('hands the liveness over to a standby without a moment dead: stop({ revoke: false }), then the other registers', async () => {
    const reg = new ChassisRegistry(nb, { ttlMs: 300, clock });
    const active = await reg.register({ name: 'compute-3', tunnelIp: '192.0.2.13' });
    await active.stop({ revoke: false });
    expect(await reg.isAlive(active.chassis.id)).toBe(true);
    const standby = await new ChassisRegistry(nb, { ttlMs: 300, clock }).register({ name: 'compute-3', tunnelIp: '192.0.2.13' });
    // the old lease runs out; the record now belongs to the standby's lease, which it renews
    await pass(900);
    expect(await reg.isAlive(active.chassis.id)).toBe(true);
    await standby.stop();
    expect(await reg.isAlive(active.chassis.id)).toBe(false);
  });

  it('reports a chassis dead when its controller stops renewing', async () => {
    const reg = new ChassisRegistry(nb, { ttlMs: 200, clock });
    const r = await reg.register({ name: 'compute-2', tunnelIp: '192.0.2.12' });
    const events: string[] = [];
    const feed = nb.driver.watch((await nb.driver.currentRevision()) + 1, { tables: ['chassis_liveness'] });
    const reading = (async () => {
      for await (const b of feed) for (const e of b.events) events.push(`${e.type} ${e.id}`);
    })();
    // Simulate a crash: the renewal timer dies with the process, nothing is revoked.
    (r as unknown as { stopped: boolean }).stopped = true;
    await pass(199);
    expect(await reg.isAlive(r.chassis.id)).toBe(true);
    await pass(301);
    expect(await reg.isAlive(r.chassis.id)).toBe(false);
    await vi.waitFor(() => expect(events).toHaveLength(1), { timeout: 10_000 });
    feed.close();
    await reading;
    expect(events).toEqual([`delete ${r.chassis.id}`]);
  });

  it('writes its liveness again after being cut off for longer than the ttl', async () => {
    const reg = new ChassisRegistry(nb, { ttlMs: 200, clock });
    const r = await reg.register({ name: 'compute-3', tunnelIp: '192.0.2.13' });
    // The lease ends behind its back (as after a long DB outage).
    store.revokeLease(r.leaseId!);
    const cutOff = firstValueFrom(r.state$.pipe(filter((s) => !s.alive)));
    await pass(100);
    await cutOff;
    const back = firstValueFrom(r.state$.pipe(filter((s) => s.alive)));
    await pass(100);
    await back;
    expect(await reg.isAlive(r.chassis.id)).toBe(true);
    await r.stop();
  });

  it('retries registration while the DB is unavailable, with jittered backoff, and gives up after retryForMs', async () => {
    const unavailable = (): DfError => new DfError(NbErrorCode.UNAVAILABLE, 'deadline exceeded');
    const commit = vi.spyOn(nb.driver, 'commit');
    commit.mockRejectedValueOnce(unavailable()).mockRejectedValueOnce(unavailable());
    const delays: number[] = [];
    const setTimer = clock.setTimer.bind(clock);
    vi.spyOn(clock, 'setTimer').mockImplementation((ms, fn) => {
      if (ms < 3000) delays.push(ms);
      return setTimer(ms, fn);
    });
    const reg = new ChassisRegistry(nb, { ttlMs: 3000, clock, retryBackoff: { initialMs: 100, maxMs: 1000, jitter: 0.5, random: () => 0.5 } });
    const pending = reg.register({ name: 'compute-9', tunnelIp: '192.0.2.19' });
    await pass(1000);
    const r = await pending;
    // Two failures: 100 and 200 ms, each less its random half × 0.5.
    expect(delays.slice(0, 2)).toEqual([75, 150]);
    expect(await reg.isAlive(r.chassis.id)).toBe(true);
    await r.stop();

    commit.mockRejectedValue(unavailable());
    const failing = new ChassisRegistry(nb, { ttlMs: 3000, clock, retryForMs: 500, retryBackoff: { initialMs: 100, maxMs: 100 } }).register({ name: 'compute-10', tunnelIp: '192.0.2.20' });
    const outcome = failing.then(() => 'registered', (e: unknown) => (isDfError(e, NbErrorCode.UNAVAILABLE) ? 'unavailable' : 'other'));
    await pass(1000);
    expect(await outcome).toBe('unavailable');
    commit.mockRestore();
  });

  it('does not retry what retrying cannot fix', async () => {
    const commit = vi.spyOn(nb.driver, 'commit').mockRejectedValue(new DfError(NbErrorCode.INVALID, 'bad'));
    await expect(new ChassisRegistry(nb, { ttlMs: 3000, clock }).register({ name: 'compute-11', tunnelIp: '192.0.2.21' })).rejects.toMatchObject({ code: NbErrorCode.INVALID });
    expect(commit).toHaveBeenCalledTimes(1);
    commit.mockRestore();
  });

  it('validates what it registers', async () => {
    await expect(new ChassisRegistry(nb).register({ name: 'bad', tunnelIp: 'not-an-ip' })).rejects.toThrow(/chassis\.tunnelIp/);
  });
});

describe('ChassisRegistration.setActiveGateways', () => {
  const ROUTER = '00000000-0000-4000-8000-0000000000aa';

  it('is a compare-and-set: of two chassis taking a gateway over from the same view, only the first wins', async () => {
    const a = await new ChassisRegistry(nb, { ttlMs: 300, clock }).register({ name: 'gw-a', tunnelIp: '192.0.2.21' });
    const b = await new ChassisRegistry(nb, { ttlMs: 300, clock }).register({ name: 'gw-b', tunnelIp: '192.0.2.22' });
    const view = async (id: string) => (await nb.driver.get('chassis_liveness', id))?.version ?? 0;
    const seenByA = [{ chassisId: b.chassis.id, version: await view(b.chassis.id) }];
    const seenByB = [{ chassisId: a.chassis.id, version: await view(a.chassis.id) }];
    expect(await a.setActiveGateways([ROUTER], seenByA)).toBe(true);
    expect(await b.setActiveGateways([ROUTER], seenByB)).toBe(false);
    const rec = async (id: string) => (await nb.get('chassis_liveness', id))?.activeGateways;
    expect(await rec(a.chassis.id)).toEqual([ROUTER]);
    expect(await rec(b.chassis.id)).toEqual([]);
    // deciding again from what is there now, b sees a's claim and leaves it
    expect(b.activeGateways).toEqual([]);
    await a.stop();
    await b.stop();
  });

  it('keeps the claims across lease renewals and a controller restart within the lease, and loses them with the lease', async () => {
    const a = await new ChassisRegistry(nb, { ttlMs: 300, clock }).register({ name: 'gw-c', tunnelIp: '192.0.2.23' });
    expect(await a.setActiveGateways([ROUTER])).toBe(true);
    await pass(700);
    expect((await nb.get('chassis_liveness', a.chassis.id))?.activeGateways).toEqual([ROUTER]);
    // a restart: the old process dies (no revoke), the new one registers while the record is there
    (a as unknown as { stopped: boolean }).stopped = true;
    const again = await new ChassisRegistry(nb, { ttlMs: 300, clock }).register({ name: 'gw-c', tunnelIp: '192.0.2.23' });
    expect(again.activeGateways).toEqual([ROUTER]);
    expect((await nb.get('chassis_liveness', a.chassis.id))?.activeGateways).toEqual([ROUTER]);
    // the chassis dies: the lease ends, and the claim with it
    (again as unknown as { stopped: boolean }).stopped = true;
    await pass(1_000);
    expect(await nb.get('chassis_liveness', a.chassis.id)).toBeUndefined();
    const back = await new ChassisRegistry(nb, { ttlMs: 300, clock }).register({ name: 'gw-c', tunnelIp: '192.0.2.23' });
    expect(back.activeGateways).toEqual([]);
    await back.stop();
  });
});
