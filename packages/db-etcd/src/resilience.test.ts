import { randomUUID } from 'node:crypto';
import { type EtcdServer, freePort, startEtcd } from '@dragonflow/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdDriver } from './driver.js';
import { settleAmbiguousCommit } from './settle.js';

// A real etcd (apt: etcd-server); a missing binary fails setup loudly.
let etcd: EtcdServer;
beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  await etcd?.stop();
});

const fresh = (extra: Partial<ConstructorParameters<typeof EtcdDriver>[0]> = {}): EtcdDriver => new EtcdDriver({ endpoints: etcd.endpoint, prefix: `/dftest/${randomUUID()}/`, ...extra });

describe('EtcdDriver with a member down', () => {
  it('passes over an endpoint that refuses connections: every call succeeds', async () => {
    // Nothing listens on the second endpoint (a killed member). The client picks an
    // endpoint at random per call; without retry and member skipping about half the
    // calls below would fail with NB_UNAVAILABLE.
    const dead = `http://127.0.0.1:${await freePort()}`;
    const d = new EtcdDriver({ endpoints: [etcd.endpoint, dead], prefix: `/dftest/${randomUUID()}/`, memberSkipMs: 200 });
    try {
      for (let i = 0; i < 30; i++) {
        const r = await d.commit([{ type: 'put', table: 'logical_switch', id: `n${i}`, value: `{"i":${i}}`, expectVersion: 0 }]);
        expect(r.versions).toEqual([1]);
        expect((await d.get('logical_switch', `n${i}`))?.value).toBe(`{"i":${i}}`);
      }
      expect((await d.list('logical_switch')).records).toHaveLength(30);
    } finally {
      await d.close();
    }
  });
});

describe('settleAmbiguousCommit', () => {
  it("reports a commit whose writes are in place as done, at its revision, and anything else as a conflict", async () => {
    const d = fresh();
    try {
      const ops = [
        { type: 'put' as const, table: 'logical_switch', id: 'a', value: '{"v":1}', expectVersion: 0 },
        { type: 'put' as const, table: 'subnet', id: 'b', value: '{"v":2}', expectVersion: 0 },
        { type: 'check' as const, table: 'logical_switch', id: 'c', expectVersion: 0 },
      ];
      const done = await d.commit(ops);
      // As if that commit's answer was lost and its retry found its own writes.
      expect(await settleAmbiguousCommit(d, ops)).toEqual(done);
      // Another writer changed one of the keys since: a real conflict.
      await d.commit([{ type: 'put', table: 'subnet', id: 'b', value: '{"v":3}' }]);
      expect(await settleAmbiguousCommit(d, ops)).toBeUndefined();
      // Same values written by two commits (different revisions): not one commit, a conflict.
      await d.commit([{ type: 'put', table: 'subnet', id: 'b', value: '{"v":2}' }]);
      expect(await settleAmbiguousCommit(d, ops)).toBeUndefined();
      // Checks only: nothing a try could have written.
      expect(await settleAmbiguousCommit(d, [ops[2]!])).toBeUndefined();
      // A delete in effect.
      await d.commit([{ type: 'delete', table: 'logical_switch', id: 'a' }]);
      expect(await settleAmbiguousCommit(d, [{ type: 'delete', table: 'logical_switch', id: 'a', expectVersion: 1 }])).toMatchObject({ versions: [0] });
    } finally {
      await d.close();
    }
  });
});

describe('paged reads', () => {
  it('reads a snapshot and a table in pages at one revision, the same as in one piece', async () => {
    const prefix = `/dftest/${randomUUID()}/`;
    const whole = new EtcdDriver({ endpoints: etcd.endpoint, prefix, snapshotPageSize: 100_000 });
    const paged = new EtcdDriver({ endpoints: etcd.endpoint, prefix, snapshotPageSize: 3 });
    try {
      for (let i = 0; i < 20; i++) await whole.commit([{ type: 'put', table: i % 2 ? 'logical_port' : 'subnet', id: `o${i}`, value: `{"i":${i}}` }]);
      const at = await whole.currentRevision();
      const a = await paged.snapshot();
      const b = await whole.snapshot();
      expect(a.records).toHaveLength(20);
      expect(a).toEqual(b);
      expect(await paged.snapshot(['subnet', 'logical_port'])).toEqual(await whole.snapshot(['subnet', 'logical_port']));
      expect((await paged.list('logical_port')).records).toEqual((await whole.list('logical_port')).records);
      expect(a.revision).toBe(at);
    } finally {
      await whole.close();
      await paged.close();
    }
  });
});
