import type { DfError} from '@dragonflow/base';
import { isDfError } from '@dragonflow/base';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChangeBatch, ChangeFeed, NbDriver, TxnOp } from '../db/driver.js';

/** One empty database for one test, and ways to hurt it. */
export interface DbUnderTest {
  /** A new client of this database (the suite closes it). */
  connect(): Promise<NbDriver>;
  /**
   * Cuts every client connection while the server keeps running (a network
   * failure). Absent for drivers without a connection (the in-process memory driver).
   */
  dropConnections?(): Promise<void>;
  /** Stops the server process and starts it again on the same data and address. */
  restartServer?(): Promise<void>;
  /** Discards change history up to the current revision. */
  compact(): Promise<void>;
  /** Releases what freshDb made (not the shared server). */
  dispose?(): Promise<void>;
}

export interface DriverHarness {
  /** Shown in test names. */
  name: string;
  /** Called once, before the first test (start servers here: a missing binary must throw, failing every test). */
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
  /** A fresh, empty database (a new key prefix, a new store…). */
  freshDb(): Promise<DbUnderTest>;
  /**
   * Lease ttl to test with. The keep-alive test renews every ttl/4 on real time, so it
   * holds through a stall of 3/4 ttl: keep it at 1.5 s or more (a loaded CI machine
   * stalls a process for hundreds of milliseconds), and at least the driver's minimum.
   */
  leaseTtlMs: number;
  /** The DB has connections that dropConnections can cut. */
  canDisconnect: boolean;
  /** The DB is a server process that restartServer can restart. */
  canRestart: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function rejects(p: Promise<unknown>, code: string): Promise<DfError> {
  try {
    await p;
  } catch (e) {
    if (isDfError(e, code)) return e;
    throw e;
  }
  throw new Error(`expected ${code}, got success`);
}

/** Retries an operation across an outage (NB_UNAVAILABLE or a driver's transient error). */
async function retrying<T>(fn: () => Promise<T>, what: string, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (isDfError(e) && e.code !== 'NB_UNAVAILABLE') throw e;
      if (Date.now() > until) throw new Error(`${what}: still failing after ${timeoutMs} ms: ${String(e)}`, { cause: e });
      await sleep(50);
    }
  }
}

/** Reads a feed in the background into `batches` until `stop` or close. */
function reader(feed: ChangeFeed): { batches: ChangeBatch[]; error: () => unknown; done: Promise<void> } {
  const batches: ChangeBatch[] = [];
  let error: unknown;
  const done = (async () => {
    try {
      for await (const b of feed) batches.push(b);
    } catch (e) {
      error = e;
    }
  })();
  return { batches, error: () => error, done };
}

async function waitUntil(pred: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const put = (table: string, id: string, value: string, extra: Partial<Extract<TxnOp, { type: 'put' }>> = {}): TxnOp => ({ type: 'put', table, id, value, ...extra });

/**
 * The shared contract every northbound DB driver must pass. Call it from a test
 * file with a harness that starts the real server; a missing binary must make
 * `setup` throw (the suite then fails, it is never skipped).
 */
export function describeDriverContract(harness: DriverHarness): void {
  describe(`NbDriver contract: ${harness.name}`, () => {
    let db: DbUnderTest;
    let clients: NbDriver[] = [];
    const connect = async (): Promise<NbDriver> => {
      const d = await db.connect();
      clients.push(d);
      return d;
    };

    // Set up from the first test, not in beforeAll: a failing beforeAll makes vitest
    // report the tests as skipped, and a missing server must fail every test loudly.
    let ready: Promise<void> | undefined;
    if (harness.teardown) afterAll(() => (ready ? harness.teardown!() : undefined), 60_000);

    beforeEach(async () => {
      if (harness.setup) await (ready ??= harness.setup());
      db = await harness.freshDb();
      clients = [];
    }, 120_000);
    afterEach(async () => {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      await db.dispose?.();
    });

    describe('records', () => {
      it('puts, gets and lists with versions and revisions', async () => {
        const d = await connect();
        const r0 = await d.currentRevision();
        const c1 = await d.commit([put('port', 'a', 'A1'), put('port', 'b', 'B1'), put('net', 'n', 'N1')]);
        expect(c1.revision).toBeGreaterThan(r0);
        expect(c1.versions).toEqual([1, 1, 1]);
        const c2 = await d.commit([put('port', 'a', 'A2')]);
        expect(c2.revision).toBeGreaterThan(c1.revision);
        expect(c2.versions).toEqual([2]);
        expect(await d.get('port', 'a')).toMatchObject({ table: 'port', id: 'a', value: 'A2', version: 2, modRevision: c2.revision });
        expect(await d.get('port', 'zz')).toBeUndefined();
        const list = await d.list('port');
        expect(list.revision).toBeGreaterThanOrEqual(c2.revision);
        expect(list.records.map((r) => [r.id, r.value, r.version]).sort()).toEqual([
          ['a', 'A2', 2],
          ['b', 'B1', 1],
        ]);
        expect((await d.getMany('port', ['b', 'zz', 'a'])).map((r) => r?.value)).toEqual(['B1', undefined, 'A2']);
        expect(await d.currentRevision()).toBeGreaterThanOrEqual(c2.revision);
      });

      it('keeps ids with slashes, colons and unicode apart', async () => {
        const d = await connect();
        await d.commit([put('t', 'ip/net-1/10.0.0.1', 'x'), put('t', 'ip/net-1/fd00::1', 'y'), put('t2', 'ip/net-1/10.0.0.1', 'z'), put('t', 'é', 'u')]);
        expect((await d.get('t', 'ip/net-1/fd00::1'))?.value).toBe('y');
        expect((await d.get('t2', 'ip/net-1/10.0.0.1'))?.value).toBe('z');
        expect((await d.list('t')).records.map((r) => r.id).sort()).toEqual(['ip/net-1/10.0.0.1', 'ip/net-1/fd00::1', 'é'].sort());
      });

      it('deletes reset the version; a commit that changes nothing makes no revision', async () => {
        const d = await connect();
        await d.commit([put('t', 'a', '1')]);
        await d.commit([put('t', 'a', '2')]);
        const del = await d.commit([{ type: 'delete', table: 't', id: 'a' }]);
        expect(await d.get('t', 'a')).toBeUndefined();
        const again = await d.commit([put('t', 'a', '3', { expectVersion: 0 })]);
        expect(again.versions).toEqual([1]);
        const noop = await d.commit([{ type: 'delete', table: 't', id: 'never' }]);
        expect(noop.revision).toBe(again.revision);
        expect(again.revision).toBeGreaterThan(del.revision);
      });

      it('serves snapshots larger than a default RPC message (6 MB)', async () => {
        const d = await connect();
        const value = 'x'.repeat(2_000);
        for (let i = 0; i < 3_000; i += 100) {
          await d.commit(Array.from({ length: 100 }, (_, j) => put('big', `k${i + j}`, value)));
        }
        const snap = await d.snapshot(['big']);
        expect(snap.records).toHaveLength(3_000);
        expect((await d.list('big')).records.every((r) => r.value.length === 2_000)).toBe(true);
      }, 60_000);

      it('takes a snapshot of several tables at one revision', async () => {
        const d = await connect();
        await d.commit([put('a', '1', 'x'), put('b', '1', 'y'), put('c', '1', 'z')]);
        const last = await d.commit([put('a', '2', 'x2')]);
        const snap = await d.snapshot(['a', 'b']);
        expect(snap.revision).toBeGreaterThanOrEqual(last.revision);
        expect(snap.records.map((r) => `${r.table}/${r.id}`).sort()).toEqual(['a/1', 'a/2', 'b/1']);
        const all = await d.snapshot();
        expect(all.records.map((r) => `${r.table}/${r.id}`).sort()).toEqual(['a/1', 'a/2', 'b/1', 'c/1']);
      });
    });

    describe('compare-and-swap', () => {
      it('fails the whole commit with NB_CONFLICT naming each failed key', async () => {
        const d = await connect();
        const c = await d.commit([put('t', 'a', '1'), put('t', 'b', '1')]);
        const e = await rejects(d.commit([put('t', 'a', 'x', { expectVersion: 0 }), put('t', 'new', 'x'), { type: 'delete', table: 't', id: 'b', expectVersion: 5 }]), 'NB_CONFLICT');
        const conflicts = (e.context['conflicts'] as { table: string; id: string; expected: unknown; actualVersion: number; modRevision: number }[]).map((x) => ({ ...x })).sort((x, y) => x.id.localeCompare(y.id));
        expect(conflicts).toEqual([
          { table: 't', id: 'a', expected: 0, actualVersion: 1, modRevision: c.revision },
          { table: 't', id: 'b', expected: 5, actualVersion: 1, modRevision: c.revision },
        ]);
        expect(await d.get('t', 'new')).toBeUndefined();
        expect((await d.get('t', 'a'))?.value).toBe('1');
        expect(await d.currentRevision()).toBe(c.revision);
      });

      it('checks keys without writing them', async () => {
        const d = await connect();
        await d.commit([put('t', 'a', '1')]);
        await d.commit([{ type: 'check', table: 't', id: 'a', expectVersion: 'exists' }, put('t', 'b', '1')]);
        await d.commit([{ type: 'check', table: 't', id: 'zz', expectVersion: 0 }, put('t', 'c', '1')]);
        await d.commit([{ type: 'check', table: 't', id: 'a', expectVersion: 1 }, put('t', 'd', '1')]);
        await rejects(d.commit([{ type: 'check', table: 't', id: 'zz', expectVersion: 'exists' }, put('t', 'e', '1')]), 'NB_CONFLICT');
        await rejects(d.commit([{ type: 'check', table: 't', id: 'a', expectVersion: 0 }, put('t', 'e', '1')]), 'NB_CONFLICT');
        await rejects(d.commit([{ type: 'delete', table: 't', id: 'a', expectVersion: 3 }, put('t', 'e', '1')]), 'NB_CONFLICT');
        expect(await d.get('t', 'e')).toBeUndefined();
        expect((await d.get('t', 'a'))?.version).toBe(1);
      });

      it('refuses a commit that names one key twice', async () => {
        const d = await connect();
        await rejects(d.commit([put('t', 'a', '1'), { type: 'delete', table: 't', id: 'a' }]), 'NB_INVALID');
        expect(await d.get('t', 'a')).toBeUndefined();
      });

      it('loses no update when several clients increment one key concurrently', async () => {
        const writers = await Promise.all(Array.from({ length: 4 }, () => connect()));
        await writers[0]!.commit([put('t', 'counter', '0')]);
        let conflicts = 0;
        await Promise.all(
          writers.map(async (w) => {
            for (let i = 0; i < 10; i++) {
              for (;;) {
                const cur = (await w.get('t', 'counter'))!;
                try {
                  await w.commit([put('t', 'counter', String(Number(cur.value) + 1), { expectVersion: cur.version })]);
                  break;
                } catch (e) {
                  if (!isDfError(e, 'NB_CONFLICT')) throw e;
                  conflicts++;
                }
              }
            }
          }),
        );
        const final = (await writers[0]!.get('t', 'counter'))!;
        expect(final.value).toBe('40');
        expect(final.version).toBe(41);
        expect(conflicts).toBeGreaterThanOrEqual(0);
      });
    });

    describe('unique keys', () => {
      it('gives distinct keys to concurrent writers on several connections', async () => {
        const writers = await Promise.all(Array.from({ length: 6 }, () => connect()));
        const keys = (await Promise.all(writers.map((w) => Promise.all(Array.from({ length: 25 }, () => w.allocateKey('logical_port')))))).flat();
        expect(new Set(keys).size).toBe(150);
        expect(Math.min(...keys)).toBe(1);
        expect(Math.max(...keys)).toBe(150);
        expect(await writers[0]!.allocateKey('logical_switch')).toBe(1);
      });

      it('refuses to go past max', async () => {
        const d = await connect();
        expect(await d.allocateKey('small', 2)).toBe(1);
        expect(await d.allocateKey('small', 2)).toBe(2);
        await rejects(d.allocateKey('small', 2), 'NB_KEYS_EXHAUSTED');
      });
    });

    describe('change feed', () => {
      it('delivers every commit as one batch, in revision order, from any revision', async () => {
        const d = await connect();
        const start = (await d.currentRevision()) + 1;
        const c1 = await d.commit([put('t', 'a', '1'), put('u', 'b', '1')]);
        const c2 = await d.commit([put('t', 'a', '2', { expectVersion: 1 })]);
        const c3 = await d.commit([{ type: 'delete', table: 'u', id: 'b' }, put('t', 'c', '1')]);
        const feed = d.watch(start);
        const r = reader(feed);
        await waitUntil(() => r.batches.length >= 3, 'three batches');
        feed.close();
        await r.done;
        expect(r.batches).toEqual([
          {
            revision: c1.revision,
            events: [
              { type: 'put', table: 't', id: 'a', value: '1', version: 1 },
              { type: 'put', table: 'u', id: 'b', value: '1', version: 1 },
            ],
          },
          { revision: c2.revision, events: [{ type: 'put', table: 't', id: 'a', value: '2', version: 2 }] },
          {
            revision: c3.revision,
            events: [
              { type: 'delete', table: 'u', id: 'b', version: expect.any(Number) as number },
              { type: 'put', table: 't', id: 'c', value: '1', version: 1 },
            ],
          },
        ]);
        expect(feed.lastRevision).toBe(c3.revision);
        // Resume from the middle: exactly the later batches.
        const again = d.watch(c2.revision);
        const r2 = reader(again);
        await waitUntil(() => r2.batches.length >= 2, 'resumed batches');
        again.close();
        await r2.done;
        expect(r2.batches.map((b) => b.revision)).toEqual([c2.revision, c3.revision]);
      });

      it('filters tables and delivers live changes to a waiting subscriber', async () => {
        const d = await connect();
        const w = await connect();
        const feed = d.watch((await d.currentRevision()) + 1, { tables: ['t'] });
        const r = reader(feed);
        await sleep(100);
        await w.commit([put('other', 'x', '1')]);
        const c = await w.commit([put('t', 'x', '1'), put('other', 'y', '1')]);
        await waitUntil(() => r.batches.length >= 1, 'the live batch');
        feed.close();
        await r.done;
        expect(r.batches).toEqual([{ revision: c.revision, events: [{ type: 'put', table: 't', id: 'x', value: '1', version: 1 }] }]);
      });

      it('gives a slow consumer with a small buffer every batch in order', async () => {
        const d = await connect();
        const start = (await d.currentRevision()) + 1;
        for (let i = 0; i < 60; i++) await d.commit([put('t', `k${i}`, String(i))]);
        const feed = d.watch(start, { highWaterMark: 4 });
        const seen: string[] = [];
        for await (const b of feed) {
          seen.push(...b.events.map((e) => e.id));
          if (seen.length % 10 === 0) await sleep(5);
          if (seen.length === 60) break;
        }
        feed.close();
        expect(seen).toEqual(Array.from({ length: 60 }, (_, i) => `k${i}`));
      });

      it('reports NB_COMPACTED when asked to resume before compacted history', async () => {
        const d = await connect();
        const start = (await d.currentRevision()) + 1;
        for (let i = 0; i < 5; i++) await d.commit([put('t', 'a', String(i))]);
        await db.compact();
        const feed = d.watch(start);
        let error: unknown;
        try {
          for await (const _ of feed) {
            // history before the compaction must not be served
          }
        } catch (e) {
          error = e;
        }
        feed.close();
        expect(isDfError(error, 'NB_COMPACTED')).toBe(true);
        // A snapshot and a watch from its revision continue from there.
        const snap = await d.snapshot(['t']);
        expect(snap.records.map((r) => r.value)).toEqual(['4']);
        const next = d.watch(snap.revision + 1);
        const r = reader(next);
        const c = await d.commit([put('t', 'a', '5')]);
        await waitUntil(() => r.batches.length >= 1, 'a batch after the snapshot');
        next.close();
        await r.done;
        expect(r.batches.map((b) => b.revision)).toEqual([c.revision]);
      });

      const interruptions: ['a forced disconnect' | 'a server restart', boolean][] = [
        ['a forced disconnect', harness.canDisconnect],
        ['a server restart', harness.canRestart],
      ];
      // Registered only where the driver has a connection / a server process to lose
      // (the in-process memory driver has neither; the served one covers that store).
      for (const [what] of interruptions.filter(([, can]) => can)) {
        it(`loses and repeats nothing across ${what}`, async () => {
          const hurt = what === 'a forced disconnect' ? db.dropConnections?.bind(db) : db.restartServer?.bind(db);
          if (!hurt) throw new Error(`${harness.name} claims it can survive ${what} but its DbUnderTest cannot cause it`);
          const w = await connect();
          const sub = await connect();
          const start = (await w.currentRevision()) + 1;
          const feed = sub.watch(start);
          const r = reader(feed);
          const N = 30;
          for (let i = 0; i < N; i++) {
            if (i === N / 2) await hurt();
            await retrying(async () => {
              try {
                await w.commit([put('feed', `k${i}`, String(i), { expectVersion: 0 })]);
              } catch (e) {
                // The first attempt may have committed before the connection broke.
                if (isDfError(e, 'NB_CONFLICT') && (await w.get('feed', `k${i}`))?.value === String(i)) return;
                throw e;
              }
            }, `commit k${i}`);
          }
          await waitUntil(() => r.batches.reduce((n, b) => n + b.events.length, 0) >= N || r.error() !== undefined, 'every change at the subscriber', 60_000);
          feed.close();
          await r.done;
          expect(r.error()).toBeUndefined();
          const ids = r.batches.flatMap((b) => b.events.map((e) => `${e.type}:${e.id}:${e.version}`));
          expect(ids).toEqual(Array.from({ length: N }, (_, i) => `put:k${i}:1`));
          const revs = r.batches.map((b) => b.revision);
          expect([...revs].sort((a, b) => a - b)).toEqual(revs);
          expect(new Set(revs).size).toBe(revs.length);
          // The subscriber can also resume from a revision after the interruption.
          const mid = r.batches[N / 2]!.revision;
          const again = sub.watch(mid);
          const r2 = reader(again);
          await waitUntil(() => r2.batches.length >= N / 2, 'the resumed tail');
          again.close();
          await r2.done;
          expect(r2.batches.map((b) => b.revision)).toEqual(revs.slice(N / 2));
        }, 90_000);
      }
    });

    describe('leases', () => {
      const ttl = harness.leaseTtlMs;

      it('keeps lease-bound keys while renewed and deletes them, with a feed event, when not', async () => {
        const d = await connect();
        const start = (await d.currentRevision()) + 1;
        const lease = await d.grantLease(ttl);
        const c = await d.commit([put('alive', 'chassis-1', 'up', { lease: lease.id }), put('kept', 'x', 'no lease')]);
        expect((await d.get('alive', 'chassis-1'))?.lease).toBe(lease.id);
        const until = Date.now() + ttl * 2;
        while (Date.now() < until) {
          await lease.keepAlive();
          await sleep(ttl / 4);
        }
        expect(await d.get('alive', 'chassis-1')).toBeDefined();
        const gone = Date.now();
        let stillThere = true;
        while (stillThere && Date.now() - gone < ttl * 4 + 3_000) {
          await sleep(100);
          stillThere = (await d.get('alive', 'chassis-1')) !== undefined;
        }
        expect(stillThere).toBe(false);
        expect(await d.get('kept', 'x')).toBeDefined();
        await rejects(lease.keepAlive(), 'NB_LEASE_EXPIRED');
        const feed = d.watch(start);
        const r = reader(feed);
        await waitUntil(() => r.batches.some((b) => b.events.some((e) => e.type === 'delete')), 'the expiry in the feed');
        feed.close();
        await r.done;
        const del = r.batches.find((b) => b.events.some((e) => e.type === 'delete'))!;
        expect(del.revision).toBeGreaterThan(c.revision);
        expect(del.events).toEqual([{ type: 'delete', table: 'alive', id: 'chassis-1', version: expect.any(Number) as number }]);
      }, 60_000);

      it('revoke deletes at once; an ended lease cannot be renewed or used', async () => {
        const d = await connect();
        const lease = await d.grantLease(ttl);
        await d.commit([put('alive', 'a', '1', { lease: lease.id }), put('alive', 'b', '1', { lease: lease.id })]);
        await lease.revoke();
        expect(await d.get('alive', 'a')).toBeUndefined();
        expect(await d.get('alive', 'b')).toBeUndefined();
        await rejects(lease.keepAlive(), 'NB_LEASE_EXPIRED');
        await rejects(d.commit([put('alive', 'c', '1', { lease: lease.id })]), 'NB_LEASE_EXPIRED');
        // A put without the lease detaches a key from it.
        const l2 = await d.grantLease(ttl);
        await d.commit([put('alive', 'd', '1', { lease: l2.id })]);
        await d.commit([put('alive', 'd', '2')]);
        await l2.revoke();
        expect((await d.get('alive', 'd'))?.value).toBe('2');
      }, 30_000);
    });
  });
}
