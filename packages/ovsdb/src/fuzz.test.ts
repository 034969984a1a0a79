/**
 * A bounded fuzz run of the OVSDB client against a hostile server: random
 * JSON-RPC-shaped messages (notifications, requests, replies to unknown ids),
 * random JSON and raw bytes. The client never crashes; what it cannot accept it
 * reports as a typed OVSDB_* error on errors$ and reconnects; afterwards it works.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDfError } from '@dragonflow/base';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvsdbClient } from './client.js';
import { JsonFramer } from './framing.js';

let dir: string;
let server: Server;
let current: Socket | undefined;
let client: OvsdbClient;
const errors: unknown[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'df-ovsdb-fuzz-'));
  const path = join(dir, 's.sock');
  server = createServer((socket) => {
    current = socket;
    const framer = new JsonFramer();
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      let msgs: unknown[];
      try {
        msgs = framer.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const m of msgs as Record<string, unknown>[]) {
        if (m['method'] === 'list_dbs') socket.write(JSON.stringify({ id: m['id'], result: ['Fake'], error: null }));
        if (m['method'] === 'echo') socket.write(JSON.stringify({ id: m['id'], result: m['params'], error: null }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  client = await OvsdbClient.connect({ remote: `unix:${path}`, initialBackoffMs: 10, maxBackoffMs: 20, probeIntervalMs: 500, requestTimeoutMs: 1_000 });
  client.errors$.subscribe((e) => errors.push(e));
});

afterAll(async () => {
  await client.close();
  current?.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

const method = fc.oneof(fc.constantFrom('update', 'update2', 'update3', 'echo', 'lock', 'locked', 'stolen', 'monitor_canceled'), fc.string({ maxLength: 12 }));
const message = fc.oneof(
  fc.record({ method, params: fc.jsonValue(), id: fc.oneof(fc.constant(null), fc.jsonValue()) }, { requiredKeys: ['method'] }).map((m) => JSON.stringify(m)),
  fc.record({ id: fc.jsonValue(), result: fc.jsonValue(), error: fc.jsonValue() }, { requiredKeys: [] }).map((m) => JSON.stringify(m)),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 40 }),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => Buffer.from(b).toString('latin1')),
);

describe('OVSDB client under fuzz', () => {
  it('survives malformed JSON-RPC from its server, reports typed errors, reconnects and keeps working', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 5 }), async (msgs) => {
        for (const m of msgs) current?.write(m);
        // Whatever happened, a request answers again (on this connection or after a reconnect; a stream
        // stalled inside a message is cut by the inactivity probe). Recovery takes at most
        // a request timeout (1 s) plus two probe intervals (1 s) and a backoff (20 ms) on a
        // quiet machine; 20 s leaves a loaded one ten times that (the loop returns as soon
        // as a request answers, so a sound run never waits for it).
        const deadline = Date.now() + 20_000;
        for (;;) {
          try {
            expect(await client.listDbs()).toEqual(['Fake']);
            break;
          } catch (err) {
            if (Date.now() > deadline) throw err;
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      }),
      { numRuns: 120, interruptAfterTimeLimit: 20_000 },
    );
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect(isDfError(e) && e.code.startsWith('OVSDB_')).toBe(true);
  }, 60_000);
});
