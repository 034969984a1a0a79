/**
 * A bounded fuzz run against the served memory DB: malformed frames, random
 * requests and random commits from unauthenticated, controller and admin peers.
 * Whatever arrives, the server stays up and keeps serving, a peer it drops is
 * dropped with a reason, no connection lingers, and a commit is all or nothing.
 */
import { mkdtempSync } from 'node:fs';
import { type Socket, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryClientDriver } from './client.js';
import { encodeFrame } from './protocol.js';
import { MemoryServer } from './server.js';
import { MemoryStore } from './store.js';

const ADMIN = { token: 'fuzz-admin-token-0123456789', role: 'admin' } as const;
const CTL = { token: 'fuzz-controller-token-012345', role: 'controller', chassis: 'c1' } as const;

let store: MemoryStore;
let server: MemoryServer;
let path: string;
const reasons: string[] = [];

beforeAll(async () => {
  path = join(mkdtempSync(join(tmpdir(), 'df-nb-fuzz-')), 'nb.sock');
  store = new MemoryStore();
  server = await MemoryServer.start({ store, listen: [`unix:${path}`], grants: [ADMIN, CTL], maxFrameBytes: 64 * 1024, helloTimeoutMs: 2_000, onPeerClosed: (e) => reasons.push(e.reason) });
  store.commit([{ type: 'put', table: 'logical_port', id: 'p1', value: JSON.stringify({ id: 'p1', projectId: 'a', portSecurityEnabled: true, chassisId: null, status: 'DOWN' }) }]);
});

afterAll(async () => {
  await server.close();
  store.close();
});

/**
 * Sends `chunks` on a fresh connection, reads until the server closes it or goes quiet,
 * then waits until the server has closed its end too. The server handles every byte it
 * read before its 'close' (commits are synchronous), so nothing of this exchange lands
 * in the store after the property's checks — however slowly a loaded machine reads.
 */
async function exchange(chunks: Buffer[]): Promise<void> {
  await hangUpAfter(chunks);
  for (const deadline = Date.now() + 10_000; server.connectionCount > 0; ) {
    if (Date.now() > deadline) throw new Error(`the server still holds ${server.connectionCount} connection(s) 10 s after the peer hung up`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function hangUpAfter(chunks: Buffer[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const s: Socket = createConnection(path);
    let quiet: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(quiet);
      s.destroy();
      resolve();
    };
    s.on('error', () => undefined);
    s.on('close', done);
    s.on('data', () => undefined);
    s.once('connect', () => {
      for (const c of chunks) if (!s.destroyed) s.write(c);
      quiet = setTimeout(done, 30);
    });
    s.once('error', (e) => (s.connecting ? reject(e) : undefined));
  });
}

const table = fc.constantFrom('logical_port', 'chassis', 'chassis_liveness', 'logical_switch', '_claim', '_guard', '', 'x'.repeat(300));
const txnOp = fc.oneof(
  fc.record({ type: fc.constantFrom('put', 'delete', 'check', 'drop'), table, id: fc.oneof(fc.constant('p1'), fc.string()), value: fc.oneof(fc.string(), fc.jsonValue()), expectVersion: fc.oneof(fc.integer(), fc.constant('exists'), fc.constant(undefined)) }, { requiredKeys: ['type'] }),
  fc.jsonValue(),
);
const request = fc.record({
  id: fc.oneof(fc.integer(), fc.string(), fc.constant(null)),
  op: fc.oneof(fc.constantFrom('hello', 'get', 'getMany', 'list', 'snapshot', 'currentRevision', 'commit', 'allocateKey', 'grantLease', 'keepAlive', 'revokeLease', 'changes', 'cancel'), fc.string()),
  args: fc.oneof(fc.array(fc.jsonValue(), { maxLength: 4 }), fc.tuple(fc.array(txnOp, { maxLength: 4 })), fc.jsonValue()),
});
const frame = fc.oneof(
  request.map((r) => encodeFrame(r)),
  fc.jsonValue().map((v) => encodeFrame(v)),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  // a length prefix that lies (too long, or beyond the cap) followed by some bytes
  fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.uint8Array({ maxLength: 32 })).map(([n, b]) => {
    const h = Buffer.alloc(4);
    h.writeUInt32BE(n);
    return Buffer.concat([h, b]);
  }),
);
const who = fc.constantFrom<'none' | 'controller' | 'admin'>('none', 'controller', 'admin');

describe('served memory DB under fuzz', () => {
  it('survives malformed and hostile input, drops bad peers with a reason, and never half-writes', async () => {
    await fc.assert(
      fc.asyncProperty(who, fc.array(frame, { minLength: 1, maxLength: 6 }), async (as, frames) => {
        const before = { revision: store.revision, snapshot: JSON.stringify(store.snapshot()) };
        const hello = as === 'none' ? [] : [encodeFrame({ id: 0, op: 'hello', args: [{ token: as === 'admin' ? ADMIN.token : CTL.token }] })];
        await exchange([...hello, ...frames]);
        if (as !== 'admin') {
          // Only what a controller may write could have changed (and the fuzz never forms such a write for p1's other fields).
          const after = JSON.parse(JSON.stringify(store.snapshot())) as { records: { table: string; id: string }[] };
          for (const r of after.records) if (r.table !== 'chassis' && r.table !== 'chassis_liveness' && r.table !== '_claim' && r.table !== '_guard') {
            expect(JSON.parse(before.snapshot).records).toContainEqual(expect.objectContaining({ table: r.table, id: r.id }));
          }
          if (as === 'none') expect(store.revision).toBe(before.revision);
        }
        // all-or-nothing: a commit either moved the revision by one (all its ops) or left everything as it was
        if (store.revision === before.revision) expect(JSON.stringify(store.snapshot())).toBe(before.snapshot);
      }),
      { numRuns: 150, interruptAfterTimeLimit: 30_000 },
    );
    // Every fuzzing peer has hung up (a run cut by the time limit is cleaned up by the hello timeout).
    for (let i = 0; i < 100 && server.connectionCount > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(server.connectionCount).toBe(0);
    expect(reasons.length).toBeGreaterThan(0);
    expect(reasons.every((r) => r.length > 0)).toBe(true);
    const ok = await MemoryClientDriver.connect({ endpoint: `unix:${path}`, token: ADMIN.token });
    expect(await ok.currentRevision()).toBe(store.revision);
    await ok.close();
  }, 60_000);
});
