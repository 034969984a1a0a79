/**
 * A bounded fuzz run at the controller's OpenFlow connection: after a proper
 * handshake, a switch sends random bytes, messages of any type with random bodies,
 * and packet-ins (whole, with random payloads, or cut short). The listener never
 * crashes; a connection is either still working (barrier answered) or closed with a
 * typed, logged OF_PROTOCOL reason; other switches are unaffected.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeMessage } from '@dragonflow/openflow';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakePeer, until } from './__tests__/fake-peer.js';
import { memoryLogger } from './__tests__/memory-logger.js';
import type { OfConnectionError } from './errors.js';
import { OfListener } from './listener.js';

let dir: string;
let listener: OfListener;
const log = memoryLogger();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'df-offuzz-'));
  // Short keepalive: a switch that stalls mid-message is found dead in a second, not in fifteen.
  listener = await OfListener.start({ logger: log.logger, tcp: { port: 0 }, requestTimeoutMs: 1_000, echoIntervalMs: 200, echoTimeoutMs: 500 });
});

afterAll(async () => {
  await listener.close();
  rmSync(dir, { recursive: true, force: true });
});

function withLength(b: Uint8Array): Uint8Array {
  const out = Uint8Array.from(b);
  if (out.length >= 4) new DataView(out.buffer).setUint16(2, out.length);
  return out;
}

const packetIn = fc
  .record({ data: fc.uint8Array({ maxLength: 1500 }), reason: fc.integer({ min: 0, max: 255 }), tableId: fc.integer({ min: 0, max: 254 }), cookie: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), inPort: fc.integer({ min: 1, max: 0xfffffeff }) })
  .map((p) => encodeMessage({ type: 'packet_in', xid: 0, bufferId: 0xffffffff, totalLen: p.data.length, reason: p.reason, tableId: p.tableId, cookie: p.cookie, match: { in_port: { value: p.inPort } }, data: p.data }, { validate: false }));
const message = fc.oneof(
  packetIn,
  // a packet-in cut short, its length field saying so (a body that ends inside the match or the data)
  fc.tuple(packetIn, fc.nat()).map(([m, cut]) => withLength(m.subarray(0, 8 + (cut % Math.max(1, m.length - 8))))),
  // any message type with a random body and a right length
  fc.tuple(fc.integer({ min: 0, max: 40 }), fc.uint8Array({ maxLength: 200 })).map(([type, body]) => withLength(Uint8Array.from([4, type, 0, 0, 0, 0, 0, 9, ...body]))),
  // raw garbage, including wrong versions and lengths below the header
  fc.uint8Array({ minLength: 1, maxLength: 64 }),
);

describe('OpenFlow connection under fuzz', () => {
  it('survives malformed messages and packet-ins; bad switches are closed with a logged reason, good ones keep working', async () => {
    let dpid = 0x1000n;
    const fuzzed: FakePeer[] = [];
    const good = await FakePeer.connect({ port: listener.tcpPort! }, { datapathId: 1n });
    const goodConn = await listener.waitForSwitch(1n);
    await fc.assert(
      fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 5 }), async (msgs) => {
        const id = ++dpid;
        const p = await FakePeer.connect({ port: listener.tcpPort! }, { datapathId: id });
        fuzzed.push(p);
        const conn = await listener.waitForSwitch(id, 3_000);
        for (const m of msgs) p.sendRaw(m);
        // Either it is closed for a protocol error, or it still answers a barrier.
        const alive = await conn.barrier().then(
          () => true,
          () => false,
        );
        if (!alive) {
          // A message cut short leaves the stream waiting for its end: the keepalive then declares the switch dead.
          await until(() => !conn.isOpen, 'a stalled connection is closed', 5_000);
          const code = (conn.closedBecause as OfConnectionError | undefined)?.code;
          expect(code).toMatch(/^OF_(PROTOCOL|PEER_DEAD)$/);
          if (code === 'OF_PROTOCOL') expect(log.lines.some((l) => l['msg'] === 'closing the connection after a malformed message')).toBe(true);
        }
        p.close();
        await until(() => listener.get(id) === undefined, 'the fuzzed connection is gone');
      }),
      { numRuns: 60, interruptAfterTimeLimit: 15_000 },
    );
    // A run cut by the time limit may leave its switch connected: close them all first.
    for (const p of fuzzed) p.close();
    await until(() => listener.connections.length === 1, 'only the good switch is left', 5_000);
    expect(goodConn.isOpen).toBe(true);
    await goodConn.barrier();
    expect(listener.connections).toEqual([goodConn]);
    good.close();
  }, 60_000);
});
