import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { FakePeer, until } from './__tests__/fake-peer.js';
import { memoryLogger } from './__tests__/memory-logger.js';
import { OfListener } from './listener.js';

let dir: string;
let listener: OfListener | undefined;
const peers: FakePeer[] = [];
const sockets: Socket[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'df-oflisten-'));
});

afterEach(async () => {
  for (const p of peers.splice(0)) p.close();
  for (const s of sockets.splice(0)) s.destroy();
  await listener?.close();
  listener = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function start(extra: Partial<Parameters<typeof OfListener.start>[0]> = {}) {
  const log = memoryLogger();
  listener = await OfListener.start({ logger: log.logger, tcp: { port: 0 }, ...extra });
  return { listener, log };
}

async function peer(datapathId: bigint): Promise<FakePeer> {
  const p = await FakePeer.connect({ port: listener!.tcpPort! }, { datapathId });
  peers.push(p);
  return p;
}

describe('who may be the switch', () => {
  test('a second connection claiming a connected datapath id is refused; the first keeps working', async () => {
    const { listener, log } = await start();
    const events: string[] = [];
    listener.events$.subscribe((e) => events.push(e.type));
    const first = await peer(12n);
    const c1 = await listener.waitForSwitch(12n);
    const impostor = await peer(12n);
    await impostor.waitClosed();
    expect(listener.get(12n)).toBe(c1);
    expect(c1.isOpen).toBe(true);
    await c1.barrier();
    expect(events).toEqual(['connected']);
    expect(log.lines.some((l) => l['msg'] === 'refused a switch connection' && /already connected/.test(String(l['reason'])))).toBe(true);
    // Once the old connection is gone, the switch's reconnection is accepted.
    first.close();
    await until(() => listener.get(12n) === undefined, 'the first connection is gone');
    await peer(12n);
    const c2 = await listener.waitForSwitch(12n);
    expect(c2).not.toBe(c1);
    expect(events).toEqual(['connected', 'disconnected', 'connected']);
  });

  test('only the datapath id the bridge has is accepted', async () => {
    const { listener, log } = await start({ acceptDatapath: async (dpid) => (dpid === 0xdf01n ? undefined : `datapath ${dpid.toString(16)} is not br-int (df01)`) });
    const stranger = await peer(0x99n);
    await stranger.waitClosed();
    expect(listener.connections).toHaveLength(0);
    expect(log.lines.some((l) => l['msg'] === 'refused a switch connection' && String(l['reason']).includes('is not br-int'))).toBe(true);
    await peer(0xdf01n);
    expect((await listener.waitForSwitch(0xdf01n, 3_000)).isOpen).toBe(true);
  });

  test('its unix socket is 0600 in a 0700 directory whatever the umask', async () => {
    const old = process.umask(0);
    try {
      listener = await OfListener.start({ logger: memoryLogger().logger, unixPath: join(dir, 'run', 'of.sock') });
    } finally {
      process.umask(old);
    }
    expect(statSync(join(dir, 'run')).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'run', 'of.sock')).mode & 0o777).toBe(0o600);
    const p = await FakePeer.connect({ path: join(dir, 'run', 'of.sock') }, { datapathId: 5n });
    peers.push(p);
    expect((await listener!.waitForSwitch(5n, 3_000)).isOpen).toBe(true);
  });

  test('connections stuck before the handshake are capped', async () => {
    const { listener, log } = await start({ maxPending: 2 });
    const closed = new Set<Socket>();
    const silent = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<Socket>((resolve, reject) => {
            const s = createConnection({ port: listener.tcpPort!, host: '127.0.0.1' });
            sockets.push(s);
            s.on('error', () => undefined);
            s.on('close', () => closed.add(s));
            s.resume();
            s.once('connect', () => resolve(s));
            s.once('error', reject);
          }),
      ),
    );
    await until(() => closed.size >= 2, 'two over the cap closed');
    expect(silent).toHaveLength(4);
    expect(log.lines.filter((l) => String(l['msg']).includes('already in their handshake'))).toHaveLength(2);
  });
});
