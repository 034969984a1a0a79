import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, isDfError } from '@dragonflow/base';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from './store.js';

const dirs: string[] = [];
function tempFile(): string {
  const d = mkdtempSync(join(tmpdir(), 'df-nb-store-'));
  dirs.push(d);
  return join(d, 'nb.jsonl');
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('MemoryStore', () => {
  it('commits atomically, versions keys and reports every failed compare', () => {
    const s = new MemoryStore();
    const r1 = s.commit([
      { type: 'put', table: 't', id: 'a', value: '1', expectVersion: 0 },
      { type: 'put', table: 't', id: 'b', value: '1' },
    ]);
    expect(r1).toEqual({ revision: 1, versions: [1, 1] });
    let err: unknown;
    try {
      s.commit([
        { type: 'put', table: 't', id: 'a', value: '2', expectVersion: 0 },
        { type: 'put', table: 't', id: 'c', value: '2' },
        { type: 'check', table: 't', id: 'b', expectVersion: 7 },
      ]);
    } catch (e) {
      err = e;
    }
    expect(isDfError(err, 'NB_CONFLICT')).toBe(true);
    expect((err as { context: { conflicts: unknown[] } }).context.conflicts).toEqual([
      { table: 't', id: 'a', expected: 0, actualVersion: 1, modRevision: 1 },
      { table: 't', id: 'b', expected: 7, actualVersion: 1, modRevision: 1 },
    ]);
    expect(s.get('t', 'c')).toBeUndefined();
    expect(s.revision).toBe(1);
    // A commit that changes nothing makes no revision.
    expect(s.commit([{ type: 'delete', table: 't', id: 'zz' }]).revision).toBe(1);
  });

  it('deletes lease-bound keys in one batch when the lease ends', () => {
    const clock = new ManualClock();
    const s = new MemoryStore({ clock });
    const lease = s.grantLease(1000);
    s.commit([
      { type: 'put', table: 'alive', id: 'x', value: '', lease: lease.id },
      { type: 'put', table: 'alive', id: 'y', value: '', lease: lease.id },
    ]);
    clock.advance(900);
    s.keepAlive(lease.id);
    clock.advance(900);
    expect(s.get('alive', 'x')).toBeDefined();
    clock.advance(200);
    expect(s.get('alive', 'x')).toBeUndefined();
    expect(s.readChanges(2, 10)).toEqual([
      {
        revision: 2,
        events: [
          { type: 'delete', table: 'alive', id: 'x', version: 1 },
          { type: 'delete', table: 'alive', id: 'y', version: 1 },
        ],
      },
    ]);
    expect(() => s.keepAlive(lease.id)).toThrow(/expired/);
  });

  it('compacts old history and says so to late readers', () => {
    const s = new MemoryStore({ retainBatches: 3 });
    for (let i = 0; i < 5; i++) s.commit([{ type: 'put', table: 't', id: 'a', value: String(i) }]);
    expect(s.oldestRevision).toBe(3);
    expect(s.readChanges(3, 10).map((b) => b.revision)).toEqual([3, 4, 5]);
    expect(() => s.readChanges(2, 10)).toThrow(/compacted/);
  });

  it('persists to a file: data, revisions, history, key counters and leases survive a restart', () => {
    const file = tempFile();
    const clock = new ManualClock();
    const a = new MemoryStore({ file, clock });
    a.commit([{ type: 'put', table: 't', id: 'a', value: 'one' }]);
    a.commit([{ type: 'put', table: 't', id: 'a', value: 'two', expectVersion: 1 }]);
    expect(a.allocateKey('ports')).toBe(1);
    expect(a.allocateKey('ports')).toBe(2);
    const lease = a.grantLease(500);
    a.commit([{ type: 'put', table: 'alive', id: 'c1', value: '', lease: lease.id }]);
    a.close();

    const clock2 = new ManualClock();
    const b = new MemoryStore({ file, clock: clock2 });
    expect(b.epoch).toBe(a.epoch);
    expect(b.get('t', 'a')).toMatchObject({ value: 'two', version: 2, modRevision: 2 });
    expect(b.revision).toBe(3);
    expect(b.readChanges(1, 10).map((x) => x.revision)).toEqual([1, 2, 3]);
    expect(b.allocateKey('ports')).toBe(3);
    // The lease came back with a fresh ttl, and still ends when not renewed.
    expect(b.get('alive', 'c1')).toBeDefined();
    clock2.advance(600);
    expect(b.get('alive', 'c1')).toBeUndefined();
    b.close();

    // A torn last line (crash in the middle of a write) is ignored.
    appendFileSync(file, '{"t":"batch","rev":99,"ev');
    const c = new MemoryStore({ file, clock: new ManualClock() });
    expect(c.revision).toBe(4);
    expect(c.get('alive', 'c1')).toBeUndefined();
    c.close();
  });
});
