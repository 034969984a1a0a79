import { firstValueFrom, filter } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NbApi } from '../api/nb-api.js';
import { MemoryDriver } from '../db/memory/driver.js';
import { MemoryStore } from '../db/memory/store.js';
import { chassisIdFromName } from '../model/ids.js';
import { TABLES } from '../model/tables.js';
import { LocalCache } from './local-cache.js';

/*
 * The scope a selective cache keeps up change by change (skipping the recomputation
 * for changes that cannot move it, counting chassis per network and group) must be
 * the one a cache loading the same DB from scratch computes.
 */

const CHASSIS = ['c0', 'c1', 'c2', 'c3', 'c4'].map((n) => chassisIdFromName(n));
const HERE = CHASSIS[0]!;

let store: MemoryStore;
let nb: NbApi;
const caches: LocalCache[] = [];

beforeEach(async () => {
  store = new MemoryStore();
  nb = await NbApi.open(new MemoryDriver(store));
  for (const [i, id] of CHASSIS.entries()) await nb.create('chassis', { id, name: `c${i}`, tunnelIp: `192.0.2.${i + 1}` });
});
afterEach(async () => {
  for (const c of caches.splice(0)) await c.stop();
  await nb.close();
  store.close();
});

async function fresh(): Promise<LocalCache> {
  const c = new LocalCache(new MemoryDriver(store), { chassisId: HERE });
  caches.push(c);
  await c.start();
  return c;
}

function contents(c: LocalCache): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const t of TABLES) out[t] = c.all(t).map((o) => `${o.id}@${o.version}`).sort();
  return out;
}

/** A small deterministic generator (tests must repeat). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('selective scope kept up change by change', () => {
  it.each([1, 2, 3])('equals a fresh load after random changes (seed %i)', async (seed) => {
    const rand = rng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const nets: { id: string; subnet: string; cidr: number }[] = [];
    for (let i = 0; i < 6; i++) {
      const ls = await nb.create('logical_switch', { name: `n${i}` });
      const sub = await nb.create('subnet', { networkId: ls.id, ipVersion: 4, cidr: `10.${i}.0.0/24` });
      nets.push({ id: ls.id, subnet: sub.id, cidr: i });
    }
    const groups: string[] = [];
    for (let i = 0; i < 4; i++) groups.push((await nb.create('security_group', { name: `g${i}` })).id);
    // Each group's rules name another group as remote group.
    for (const [i, g] of groups.entries()) {
      await nb.modify('security_group', g, (x) => ({ ...x, rules: [{ id: `00000000-0000-4000-8000-00000000000${i}`, direction: 'ingress', ethertype: 'IPv4', protocol: null, portRangeMin: null, portRangeMax: null, remoteIpPrefix: null, remoteGroupId: groups[(i + 1) % groups.length]!, description: '' }] }));
    }
    const cache = await fresh();
    const ports: string[] = [];
    let ip = 10;
    for (let step = 0; step < 120; step++) {
      const r = rand();
      if (r < 0.45 || ports.length < 3) {
        const n = pick(nets);
        const p = await nb.create('logical_port', {
          networkId: n.id,
          macAddress: `fa:16:3e:00:${n.cidr.toString(16).padStart(2, '0')}:${ip.toString(16).padStart(2, '0')}`,
          fixedIps: [{ subnetId: n.subnet, ipAddress: `10.${n.cidr}.0.${ip}` }],
          chassisId: rand() < 0.2 ? null : pick(CHASSIS),
          securityGroupIds: rand() < 0.5 ? [pick(groups)] : [],
        });
        ip = (ip % 250) + 1;
        ports.push(p.id);
      } else if (r < 0.8) {
        const id = pick(ports);
        await nb.modify('logical_port', id, (p) => ({ ...p, chassisId: rand() < 0.2 ? null : pick(CHASSIS) }));
      } else if (r < 0.9) {
        const id = pick(ports);
        await nb.modify('logical_port', id, (p) => ({ ...p, securityGroupIds: rand() < 0.5 ? [pick(groups)] : [] }));
      } else {
        const id = ports.splice(Math.floor(rand() * ports.length), 1)[0]!;
        await nb.delete('logical_port', id);
      }
      if (step % 10 === 9) {
        const want = nb.lastCommitRevision;
        await firstValueFrom(cache.state$.pipe(filter((s) => s.revision >= want)));
        const scratch = await fresh();
        expect(contents(cache)).toEqual(contents(scratch));
        await scratch.stop();
        caches.splice(caches.indexOf(scratch), 1);
      }
    }
    // The scope moved at all (the test exercises something).
    expect(cache.size('chassis')).toBeGreaterThan(0);
  });
});
