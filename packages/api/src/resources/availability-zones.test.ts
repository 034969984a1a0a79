import { ChassisRegistry } from '@dragonflow/nb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Harness, neutronError } from '../../test/harness.js';

let h: Harness;
const stops: (() => Promise<void>)[] = [];

beforeEach(async () => {
  h = await Harness.start();
});
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  await h.close();
});

/** A chassis as df-controller registers it; `alive` keeps its liveness lease. */
async function chassis(name: string, zone: string | undefined, alive: boolean): Promise<void> {
  const info = { name, tunnelIp: '192.0.2.10', tunnelTypes: ['vxlan' as const], ...(zone ? { availabilityZone: zone } : {}) };
  const reg = await new ChassisRegistry(h.nb, { ttlMs: 60_000 }).register(info);
  if (alive) stops.push(() => reg.stop());
  else await reg.stop();
}

type Zone = { name: string; resource: string; state: string };
const zones = async (q = '') => (await h.get(`/v2.0/availability_zones${q}`)).body['availability_zones'] as Zone[];

describe('availability_zone', () => {
  it('is listed as extensions for the API, networks and routers', async () => {
    for (const alias of ['availability_zone', 'network_availability_zone', 'router_availability_zone']) expect((await h.get(`/v2.0/extensions/${alias}`)).status, alias).toBe(200);
  });

  it('lists the zones of the chassis for networks and routers, available while a chassis of the zone is alive', async () => {
    expect(await zones()).toEqual([]);
    await chassis('compute-1', 'az1', true);
    await chassis('compute-2', 'az2', false);
    await chassis('compute-3', undefined, true);
    await chassis('compute-4', 'az2', false);
    expect(await zones()).toEqual([
      { name: 'az1', resource: 'network', state: 'available' },
      { name: 'az1', resource: 'router', state: 'available' },
      { name: 'az2', resource: 'network', state: 'unavailable' },
      { name: 'az2', resource: 'router', state: 'unavailable' },
      { name: 'nova', resource: 'network', state: 'available' },
      { name: 'nova', resource: 'router', state: 'available' },
    ]);
    expect((await zones('?resource=router&state=available')).map((z) => z.name)).toEqual(['az1', 'nova']);
  });

  it('takes hints on networks and routers that name known zones; without hints they are in every zone', async () => {
    await chassis('compute-1', 'az1', true);
    await chassis('compute-2', 'az2', true);
    const n = await h.network({ availability_zone_hints: ['az2'] });
    expect(n).toMatchObject({ availability_zone_hints: ['az2'], availability_zones: ['az2'] });
    const plain = await h.network({});
    expect(plain).toMatchObject({ availability_zone_hints: [], availability_zones: ['az1', 'az2'] });
    const r = await h.router({ availability_zone_hints: ['az1'] });
    expect(r).toMatchObject({ availability_zone_hints: ['az1'], availability_zones: ['az1'] });
    expect(((await h.get(`/v2.0/routers/${String(r['id'])}`)).body['router'] as Record<string, unknown>)['availability_zone_hints']).toEqual(['az1']);

    const before = h.revision;
    const unknown = await h.post('/v2.0/networks', { network: { availability_zone_hints: ['nowhere'] } });
    expect(unknown.status).toBe(404);
    expect(neutronError(unknown).type).toBe('AvailabilityZoneNotFound');
    expect(neutronError(await h.post('/v2.0/routers', { router: { availability_zone_hints: ['nowhere'] } })).type).toBe('AvailabilityZoneNotFound');
    expect(h.revision).toBe(before);
    // Hints are set on create only, as in Neutron.
    expect((await h.put(`/v2.0/networks/${String(n['id'])}`, { network: { availability_zone_hints: ['az1'] } })).status).toBe(400);
  });
});
