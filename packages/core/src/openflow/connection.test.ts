import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ManualClock } from '@dragonflow/base';
import { ErrorType, OfPort, act, flowMod, type OfMessage, type PortDesc } from '@dragonflow/openflow';
import { MacAddress } from '@dragonflow/base';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { OfConnection } from './connection.js';
import type { OfConnectionError} from './errors.js';
import { OfSwitchError } from './errors.js';
import { OfListener, connectSwitch, type SwitchConnectionEvent } from './listener.js';
import { switchChannel } from './channel.js';
import { FakePeer, until } from './__tests__/fake-peer.js';
import { memoryLogger } from './__tests__/memory-logger.js';


let dir: string;
let listener: OfListener | undefined;
const peers: FakePeer[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'df-ofconn-'));
});

afterEach(async () => {
  for (const p of peers.splice(0)) p.close();
  await listener?.close();
  listener = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function startListener(extra: Partial<Parameters<typeof OfListener.start>[0]> = {}) {
  const log = memoryLogger();
  listener = await OfListener.start({ logger: log.logger, tcp: { port: 0 }, unixPath: join(dir, 'of.sock'), ...extra });
  return { listener, log };
}

async function peer(options: ConstructorParameters<typeof FakePeer>[1] = {}, via: 'tcp' | 'unix' = 'tcp'): Promise<FakePeer> {
  const p = await FakePeer.connect(via === 'tcp' ? { port: listener!.tcpPort! } : { path: join(dir, 'of.sock') }, options);
  peers.push(p);
  return p;
}

describe('handshake', () => {
  test('over TCP: HELLO with a version bitmap, FEATURES, datapath id', async () => {
    const { listener } = await startListener();
    const events: SwitchConnectionEvent[] = [];
    listener.events$.subscribe((e) => events.push(e));
    const p = await peer({ datapathId: 0xabcdefn });
    const conn = await listener.waitForSwitch(0xabcdefn);
    expect(conn.datapathId).toBe(0xabcdefn);
    expect(conn.currentState).toBe('ready');
    expect(p.received[0]).toMatchObject({ type: 'hello', versions: [4] });
    expect(p.received[1]).toMatchObject({ type: 'features_request' });
    expect(events.map((e) => e.type)).toEqual(['connected']);
  });

  test('over a unix socket', async () => {
    const { listener } = await startListener();
    await peer({ datapathId: 7n }, 'unix');
    expect((await listener.waitForSwitch(7n)).datapathId).toBe(7n);
  });

  test('a peer whose HELLO has no bitmap but a version ≥ 1.3 is accepted', async () => {
    const { listener } = await startListener();
    const p = await FakePeer.connect({ port: listener.tcpPort! }, { datapathId: 9n, helloVersion: 5, versions: [] });
    peers.push(p);
    expect((await listener.waitForSwitch(9n)).datapathId).toBe(9n);
  });

  test('no common version: HELLO_FAILED, disconnect, and the listener keeps serving others', async () => {
    const { listener, log } = await startListener();
    const old = await peer({ helloVersion: 1, versions: [1] });
    const err = await old.waitFor((m) => m.type === 'error');
    expect(err).toMatchObject({ type: 'error', errorType: ErrorType.HELLO_FAILED, code: 0, version: 1 });
    expect(new TextDecoder().decode((err as { data: Uint8Array }).data)).toMatch(/OpenFlow 1\.3/);
    await old.waitClosed();
    await until(() => log.lines.some((l) => String(l['msg']).includes('version negotiation failed')), 'the failure is logged');
    await peer({ datapathId: 0x77n });
    expect((await listener.waitForSwitch(0x77n)).datapathId).toBe(0x77n);
  });

  test('active connect to a switch that listens (ptcp/punix)', async () => {
    const path = join(dir, 'switch.sock');
    const sw = FakePeer.listen(path, { datapathId: 0x99n });
    await sw.ready;
    const conn = await connectSwitch(`unix:${path}`, { logger: memoryLogger().logger });
    expect(conn.datapathId).toBe(0x99n);
    conn.close();
    (await sw.peer).close();
    await new Promise<void>((r) => sw.server.close(() => r()));
  });

  test('a bad target is named', async () => {
    await expect(connectSwitch('tcp:nowhere', { logger: memoryLogger().logger })).rejects.toThrow(/not an OpenFlow target/);
  });
});

describe('keepalive (injected clock)', () => {
  test('an idle switch that answers echoes stays connected; a silent one is declared dead', async () => {
    const clock = new ManualClock();
    const { listener } = await startListener({ clock, echoIntervalMs: 5000, echoTimeoutMs: 3000 });
    const good = await peer({ datapathId: 1n });
    const bad = await peer({ datapathId: 2n, answerEcho: false });
    const c1 = await listener.waitForSwitch(1n);
    const c2 = await listener.waitForSwitch(2n);
    clock.advance(5000);
    await good.waitFor((m) => m.type === 'echo_request');
    await bad.waitFor((m) => m.type === 'echo_request');
    // A marker instead of a pause: the switch answers the echo before the barrier behind
    // it, so once the barrier is answered the connection has read the echo reply.
    await c1.barrier();
    clock.advance(3000);
    expect(c1.isOpen).toBe(true);
    expect(c2.isOpen).toBe(false);
    expect((c2.closedBecause as OfConnectionError).code).toBe('OF_PEER_DEAD');
    await bad.waitClosed();
  });

  test("the switch's echo requests are answered with their own xid (0 too) and data", async () => {
    const { listener } = await startListener();
    const p = await peer({ datapathId: 5n });
    await listener.waitForSwitch(5n);
    for (const xid of [0, 0x77]) {
      p.send({ type: 'echo_request', xid, data: new Uint8Array([xid, 1, 2]) });
      const reply = await p.waitFor((m) => m.type === 'echo_reply' && m.data[0] === xid);
      expect(reply.xid).toBe(xid);
      expect(reply.type === 'echo_reply' && Array.from(reply.data)).toEqual([xid, 1, 2]);
    }
  });
});

describe('requests', () => {
  test('barrier, role request, timeouts', async () => {
    const clock = new ManualClock();
    const { listener } = await startListener({ clock, requestTimeoutMs: 1000 });
    await peer({
      datapathId: 3n,
      respond: (m) => (m.type === 'role_request' ? [{ type: 'role_reply', xid: m.xid, role: m.role, generationId: m.generationId }] : undefined),
    });
    const conn = await listener.waitForSwitch(3n);
    await conn.barrier();
    expect(await conn.requestRole('master', 5n)).toMatchObject({ type: 'role_reply', role: 'master', generationId: 5n });
    const p = conn.request({ type: 'get_config_request' });
    const rejected = expect(p).rejects.toMatchObject({ code: 'OF_TIMEOUT' });
    await new Promise((r) => setTimeout(r, 20));
    clock.advance(1000);
    await rejected;
    expect(conn.isOpen).toBe(true);
  });

  test('a request waits while the switch answers what was sent before it, and fails after its timeout of silence or once a later one is answered', async () => {
    const clock = new ManualClock();
    const { listener } = await startListener({ clock, requestTimeoutMs: 1000 });
    const barriers: number[] = [];
    const sw = await peer({ datapathId: 9n, answerBarrier: false, respond: (m) => (m.type === 'barrier_request' ? (barriers.push(m.xid), []) : undefined) });
    const conn = await listener.waitForSwitch(9n);
    const settled = (p: Promise<void>) => p.then(() => 'ok', (e: OfConnectionError) => e.code);
    const answer = async (n: number): Promise<void> => {
      sw.send({ type: 'barrier_reply', xid: barriers[n]! });
      await until(() => sent[n] !== undefined, `barrier ${n} settled`);
    };
    const sent: (string | undefined)[] = [];
    const track = (n: number, p: Promise<void>) => void settled(p).then((r) => (sent[n] = r));

    // A busy switch: three barriers queued, answered in order, each later than the timeout after it was sent.
    for (let n = 0; n < 3; n++) track(n, conn.barrier());
    await until(() => barriers.length === 3, 'three barriers at the switch');
    clock.advance(600);
    await answer(0);
    clock.advance(900); // 1,500 ms after barriers 1 and 2 were sent, 900 ms after the switch last answered
    await answer(1);
    clock.advance(900);
    await answer(2);
    expect(sent.slice(0, 3)).toEqual(['ok', 'ok', 'ok']);

    // A silent switch: the timeout counts from its last answer.
    track(3, conn.barrier());
    await until(() => barriers.length === 4, 'the fourth barrier at the switch');
    clock.advance(999);
    await new Promise((r) => setTimeout(r, 10));
    expect(sent[3]).toBeUndefined();
    clock.advance(1);
    await until(() => sent[3] !== undefined, 'barrier 3 settled');
    expect(sent[3]).toBe('OF_TIMEOUT');

    // A lost request: a later one's answer shows the switch is past it.
    track(4, conn.barrier());
    track(5, conn.barrier());
    await until(() => barriers.length === 6, 'barriers 4 and 5 at the switch');
    clock.advance(500);
    await answer(5);
    clock.advance(500);
    await until(() => sent[4] !== undefined, 'barrier 4 settled');
    expect(sent[4]).toBe('OF_TIMEOUT');
    expect(conn.isOpen).toBe(true);
  });

  test('xids are unique and never 0', async () => {
    const { listener } = await startListener();
    await peer({ datapathId: 4n });
    const conn = await listener.waitForSwitch(4n);
    const xids = new Set(Array.from({ length: 1000 }, () => conn.nextXid()));
    expect(xids.size).toBe(1000);
    expect(xids.has(0)).toBe(false);
  });

  test('multipart replies are reassembled across the more flag', async () => {
    const port = (n: number): PortDesc => ({ portNo: n, hwAddr: MacAddress.parse(`02:00:00:00:00:0${n}`), name: `p${n}`, config: 0, state: 4, curr: 0, advertised: 0, supported: 0, peer: 0, currSpeed: 0, maxSpeed: 0 });
    const { listener } = await startListener();
    await peer({
      datapathId: 5n,
      respond: (m) =>
        m.type === 'multipart_request'
          ? [1, 2, 3].map((i): OfMessage => ({ type: 'multipart_reply', xid: m.xid, more: i < 3, body: { kind: 'port_desc', ports: [port(i), port(i + 3)] } }))
          : undefined,
    });
    const conn = await listener.waitForSwitch(5n);
    expect((await conn.portDescs()).map((p) => p.portNo)).toEqual([1, 4, 2, 5, 3, 6]);
  });
});

describe('latency over TCP (TCP_NODELAY)', () => {
  // A flow-mod followed by a barrier is two small writes. With Nagle's algorithm on,
  // the second waits for the switch to ACK the first, and a switch that has nothing
  // to answer to a flow-mod delays its ACK (40 ms on Linux): every such round trip
  // would take ≥ 40 ms, 100 of them ≥ 4 s. With TCP_NODELAY they take a fraction of a
  // millisecond each on loopback; the bound below is 4× under the Nagle floor.
  const rounds = 100;
  const nagleFloorMs = rounds * 40;

  test('sequential flow-mod + barrier round trips do not wait for delayed ACKs (listener side)', async () => {
    const { listener } = await startListener();
    await peer({ datapathId: 21n });
    const conn = await listener.waitForSwitch(21n);
    const start = performance.now();
    for (let i = 0; i < rounds; i++) {
      await conn.send(flowMod({ priority: i, actions: [act.output(1)] }));
      await conn.barrier();
    }
    expect(performance.now() - start).toBeLessThan(nagleFloorMs / 4);
  });

  test('the same on an active connection to a switch that listens (ptcp)', async () => {
    const sw = FakePeer.listenTcp({ datapathId: 0x22n });
    await sw.ready;
    const conn = await connectSwitch(`tcp:127.0.0.1:${sw.port()}`, { logger: memoryLogger().logger });
    try {
      const start = performance.now();
      for (let i = 0; i < rounds; i++) {
        await conn.send(flowMod({ priority: i, actions: [act.output(1)] }));
        await conn.barrier();
      }
      expect(performance.now() - start).toBeLessThan(nagleFloorMs / 4);
    } finally {
      conn.close();
      (await sw.peer).close();
      await new Promise<void>((r) => sw.server.close(() => r()));
    }
  });
});

describe('switch errors are matched to their request', () => {
  test('a request rejected by the switch fails with both, and both are logged', async () => {
    const { listener, log } = await startListener();
    await peer({
      datapathId: 6n,
      respond: (m) => (m.type === 'role_request' ? [{ type: 'error', xid: m.xid, errorType: ErrorType.ROLE_REQUEST_FAILED, code: 1, data: new Uint8Array(0) }] : undefined),
    });
    const conn = await listener.waitForSwitch(6n);
    const err = await conn.requestRole('slave').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OfSwitchError);
    expect((err as OfSwitchError).request).toMatchObject({ type: 'role_request', role: 'slave' });
    expect((err as OfSwitchError).error).toMatchObject({ errorType: ErrorType.ROLE_REQUEST_FAILED, code: 1 });
    expect((err as OfSwitchError).message).toMatch(/OFPET_ROLE_REQUEST_FAILED\/OFPRRFC_UNSUP/);
    const line = log.lines.find((l) => l['msg'] === 'the switch refused a request');
    expect(line).toMatchObject({ error: 'OFPET_ROLE_REQUEST_FAILED/OFPRRFC_UNSUP' });
    expect(String(line!['request'])).toMatch(/ROLE_REQUEST/);
  });

  test('a batch through the reconciler channel reports which flow-mod failed', async () => {
    const { listener } = await startListener();
    let n = 0;
    await peer({
      datapathId: 8n,
      respond: (m) => (m.type === 'flow_mod' && n++ === 1 ? [{ type: 'error', xid: m.xid, errorType: ErrorType.BAD_MATCH, code: 6, data: new Uint8Array(0) }] : undefined),
    });
    const conn = await listener.waitForSwitch(8n);
    const channel = switchChannel(conn);
    const reqs = [1, 2, 3].map((i) => {
      const { xid: _xid, ...fm } = flowMod({ priority: i, actions: [act.output(i)] });
      return fm;
    });
    const outcome = await channel.sendBatch(reqs);
    expect(outcome.errors).toHaveLength(1);
    expect(outcome.errors[0]).toMatchObject({ index: 1, request: { priority: 2 }, error: { errorType: ErrorType.BAD_MATCH } });
    expect(channel.datapathId).toBe(8n);
  });

  test('an error for a sent message appears on errors$ with the message', async () => {
    const { listener } = await startListener();
    await peer({ datapathId: 10n, respond: (m) => (m.type === 'packet_out' ? [{ type: 'error', xid: m.xid, errorType: 2, code: 4, data: new Uint8Array(0) }] : undefined) });
    const conn = await listener.waitForSwitch(10n);
    const seen: unknown[] = [];
    conn.errors$.subscribe((e) => seen.push(e));
    await conn.send({ type: 'packet_out', bufferId: 0xffffffff, inPort: OfPort.CONTROLLER, actions: [act.output(99)], data: new Uint8Array(60) });
    await conn.barrier();
    expect(seen).toMatchObject([{ error: { errorType: 2, code: 4 }, request: { type: 'packet_out' } }]);
  });
});

describe('batches (sendBatch)', () => {
  /** A connection over a real unix socket to a listening FakePeer, with the controller side's socket writes counted. */
  async function counted(options: ConstructorParameters<typeof FakePeer>[1] = {}) {
    const path = join(dir, `batch-${Math.random().toString(36).slice(2)}.sock`);
    const sw = FakePeer.listen(path, { datapathId: 0x31n, ...options });
    await sw.ready;
    const socket = createConnection(path);
    await new Promise<void>((r) => socket.once('connect', () => r()));
    const writes: number[] = [];
    const write = socket.write.bind(socket) as (b: Uint8Array) => boolean;
    // Counting, not replacing: every write still goes to the socket.
    (socket as unknown as { write: (b: Uint8Array) => boolean }).write = (b: Uint8Array) => (writes.push(b.length), write(b));
    const conn = await OfConnection.establish(socket, { logger: memoryLogger().logger });
    const p = await sw.peer;
    peers.push(p);
    const cleanup = async () => {
      conn.close();
      await new Promise<void>((r) => sw.server.close(() => r()));
    };
    return { conn, peer: p, writes, cleanup };
  }

  const mods = (n: number, from = 0) =>
    Array.from({ length: n }, (_, i) => {
      const { xid: _xid, ...fm } = flowMod({ tableId: 1, priority: from + i, actions: [act.output(i + 1)] });
      return fm;
    });

  test("the reconciler channel's batch and its barrier go to the socket in one write, in order; resolves on the barrier reply", async () => {
    const { conn, peer: p, writes, cleanup } = await counted();
    try {
      writes.length = 0;
      const outcome = await switchChannel(conn).sendBatch([...mods(50), { type: 'packet_out', bufferId: 0xffffffff, inPort: OfPort.CONTROLLER, actions: [act.output(OfPort.TABLE)], data: new Uint8Array(60) }]);
      expect(outcome.errors).toEqual([]);
      expect(writes).toHaveLength(1);
      const got = p.received.filter((m) => m.type === 'flow_mod' || m.type === 'packet_out' || m.type === 'barrier_request');
      expect(got.map((m) => m.type)).toEqual([...Array<string>(50).fill('flow_mod'), 'packet_out', 'barrier_request']);
      expect(got.slice(0, 50).map((m) => (m.type === 'flow_mod' ? m.priority : -1))).toEqual(Array.from({ length: 50 }, (_, i) => i));
      // each message has its own xid
      expect(new Set(got.map((m) => m.xid)).size).toBe(52);
    } finally {
      await cleanup();
    }
  });

  test("the switch's errors come back by index, and are on errors$ with the request", async () => {
    const { conn, cleanup } = await counted({
      respond: (m) => (m.type === 'flow_mod' && (m.priority === 3 || m.priority === 7) ? [{ type: 'error', xid: m.xid, errorType: ErrorType.BAD_MATCH, code: 6, data: new Uint8Array(0) }] : undefined),
    });
    try {
      const seen: unknown[] = [];
      conn.errors$.subscribe((e) => seen.push(e));
      const errors = await conn.sendBatch(mods(10));
      expect(errors.map((e) => e.index)).toEqual([3, 7]);
      expect(errors[0]!.error).toMatchObject({ errorType: ErrorType.BAD_MATCH, code: 6 });
      expect(seen).toMatchObject([{ request: { type: 'flow_mod', priority: 3 } }, { request: { type: 'flow_mod', priority: 7 } }]);
    } finally {
      await cleanup();
    }
  });

  test('a message that cannot be encoded fails the batch and nothing is sent', async () => {
    const { conn, writes, cleanup } = await counted();
    try {
      writes.length = 0;
      const bad = { ...mods(1)[0]!, match: { ipv4_dst: { value: 1 } } } as never;
      await expect(conn.sendBatch([...mods(2), bad])).rejects.toThrow(/ipv4_dst/);
      expect(writes).toEqual([]);
      expect(await conn.sendBatch(mods(2))).toEqual([]);
    } finally {
      await cleanup();
    }
  });

  test('backpressure: a batch waits for the socket as one entry counting as its messages; beyond the bound it waits for room (never refused, never reordered)', async () => {
    const { listener } = await startListener({ maxQueuedMessages: 50 });
    const p = await peer({ datapathId: 32n });
    const conn = await listener.waitForSwitch(32n);
    p.socket.pause();
    const big = { type: 'packet_out' as const, bufferId: 0xffffffff, inPort: OfPort.CONTROLLER, actions: [act.output(1)], data: new Uint8Array(60_000) };
    // fill the socket until it is congested
    const fill: Promise<unknown>[] = [];
    while (conn.queuedMessages === 0 && fill.length < 1000) fill.push(conn.sendBatch([big]).catch((e: unknown) => e));
    const queuedBefore = conn.queuedMessages;
    const first = conn.sendBatch(mods(30));
    expect(conn.queuedMessages).toBe(queuedBefore + 31);
    // 30 more would go over the bound: the batch waits for room instead of being refused (a reconciler batch must not be lost)
    const second = conn.sendBatch(mods(30, 100));
    const third = conn.sendBatch(mods(2, 200));
    await new Promise((r) => setTimeout(r, 50));
    expect(conn.queuedMessages).toBe(queuedBefore + 31);
    p.socket.resume();
    expect(await Promise.all([first, second, third])).toEqual([[], [], []]);
    await Promise.all(fill);
    expect(conn.queuedMessages).toBe(0);
    const prios = p.received.flatMap((m) => (m.type === 'flow_mod' ? [m.priority] : []));
    expect(prios).toEqual([...Array.from({ length: 30 }, (_, i) => i), ...Array.from({ length: 30 }, (_, i) => 100 + i), 200, 201]);
  });

  test("the reconciler channel's unconfirmed send: one write, in order, no barrier; an error for one is on errors$ with its message", async () => {
    const { conn, peer: p, writes, cleanup } = await counted({
      respond: (m) => (m.type === 'packet_out' && m.inPort === 2 ? [{ type: 'error', xid: m.xid, errorType: ErrorType.BAD_ACTION, code: 4, data: new Uint8Array(0) }] : undefined),
    });
    try {
      const seen: unknown[] = [];
      conn.errors$.subscribe((e) => seen.push(e));
      writes.length = 0;
      const outs = [1, 2, 3].map((inPort) => ({ type: 'packet_out' as const, bufferId: 0xffffffff, inPort, actions: [act.output(inPort + 10)], data: new Uint8Array(60) }));
      await switchChannel(conn).send!(outs);
      expect(writes).toHaveLength(1);
      await conn.barrier();
      const got = p.received.filter((m) => m.type === 'packet_out' || m.type === 'barrier_request');
      // the only barrier is the one this test sent after
      expect(got.map((m) => (m.type === 'packet_out' ? m.inPort : m.type))).toEqual([1, 2, 3, 'barrier_request']);
      expect(seen).toMatchObject([{ error: { errorType: ErrorType.BAD_ACTION, code: 4 }, request: { type: 'packet_out', inPort: 2, actions: [{ type: 'output', port: 12 }] } }]);
      // Remembered without its packet (the switch's ERROR carries the packet-out's first bytes).
      expect((seen[0] as { request: { data: Uint8Array } }).request.data).toHaveLength(0);
      expect(outs[1]!.data).toHaveLength(60);
      // one with more actions than the connection keeps as bytes: matched as well
      const many = { ...outs[1]!, actions: Array.from({ length: 12 }, (_, i) => act.output(i + 1)) };
      await switchChannel(conn).send!([many]);
      await conn.barrier();
      expect(seen[1]).toMatchObject({ error: { errorType: ErrorType.BAD_ACTION }, request: { type: 'packet_out', inPort: 2, actions: many.actions } });
      writes.length = 0;
      const bad = { ...mods(1)[0]!, match: { ipv4_dst: { value: 1 } } } as never;
      await expect(conn.sendAll([outs[0]!, bad])).rejects.toThrow(/ipv4_dst/);
      expect(writes).toEqual([]);
      conn.close();
      await expect(conn.sendAll(outs)).rejects.toMatchObject({ code: 'OF_CLOSED' });
    } finally {
      await cleanup();
    }
  });

  test('the connection closing rejects batches awaiting their barrier', async () => {
    const { conn, cleanup } = await counted({ answerBarrier: false });
    try {
      const pending = conn.sendBatch(mods(3)).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 20));
      conn.close();
      expect(await pending).toMatchObject({ code: 'OF_CLOSED' });
    } finally {
      await cleanup();
    }
  });
});

describe('asynchronous messages', () => {
  test('packet-in, port-status and flow-removed reach their observables, which complete on close', async () => {
    const { listener } = await startListener();
    const p = await peer({ datapathId: 11n });
    const conn = await listener.waitForSwitch(11n);
    const got: string[] = [];
    let completed = false;
    conn.packetIn$.subscribe({ next: (m) => got.push(m.type), complete: () => (completed = true) });
    conn.portStatus$.subscribe((m) => got.push(m.type));
    conn.flowRemoved$.subscribe((m) => got.push(m.type));
    p.send({ type: 'packet_in', xid: 0, bufferId: 0xffffffff, totalLen: 4, reason: 0, tableId: 1, cookie: 5n, match: { in_port: { value: 1 } }, data: new Uint8Array(4) });
    p.send({ type: 'nx_packet_in2', xid: 0, data: new Uint8Array(4), tableId: 1, reason: 1, metadata: {}, userdata: new Uint8Array([1]) });
    p.send({ type: 'port_status', xid: 0, reason: 'add', port: { portNo: 3, hwAddr: MacAddress.parse('02:00:00:00:00:03'), name: 'p3', config: 0, state: 0, curr: 0, advertised: 0, supported: 0, peer: 0, currSpeed: 0, maxSpeed: 0 } });
    p.send({ type: 'flow_removed', xid: 0, cookie: 1n, priority: 1, reason: 0, tableId: 0, durationSec: 0, durationNsec: 0, idleTimeout: 1, hardTimeout: 0, packetCount: 0n, byteCount: 0n, match: {} });
    await until(() => got.length === 4, 'four async messages');
    expect(got).toEqual(['packet_in', 'nx_packet_in2', 'port_status', 'flow_removed']);
    p.close();
    await until(() => completed, 'observables complete');
  });
});

describe('malformed input', () => {
  test('closes that one connection with a typed, logged error; the listener keeps serving', async () => {
    const { listener, log } = await startListener();
    const bad = await peer({ datapathId: 13n });
    const good = await peer({ datapathId: 14n });
    const c1 = await listener.waitForSwitch(13n);
    const c2 = await listener.waitForSwitch(14n);
    bad.sendRaw(new Uint8Array([4, 0, 0, 4, 0, 0, 0, 0]));
    await bad.waitClosed();
    expect((c1.closedBecause as OfConnectionError).code).toBe('OF_PROTOCOL');
    expect(c1.closedBecause!.message).toMatch(/length 4/);
    expect(log.lines.some((l) => l['msg'] === 'closing the connection after a malformed message')).toBe(true);
    await c2.barrier();
    expect(c2.isOpen).toBe(true);
    // a decodable frame with a broken body is also refused with its offset
    bad.close();
    const bad2 = await peer({ datapathId: 15n });
    const c3 = await listener.waitForSwitch(15n);
    bad2.sendRaw(new Uint8Array([4, 6, 0, 12, 0, 0, 0, 9, 1, 2, 3, 4]));
    await bad2.waitClosed();
    expect(c3.closedBecause).toMatchObject({ code: 'OF_PROTOCOL', context: { offset: 2 } });
    void good;
  });
});

describe('backpressure', () => {
  test('writes wait for a slow reader; the queue is bounded; order is kept', async () => {
    const { listener } = await startListener({ maxQueuedMessages: 50 });
    const p = await peer({ datapathId: 16n });
    const conn = await listener.waitForSwitch(16n);
    p.socket.pause();
    const big = new Uint8Array(60_000);
    const sends: Promise<number>[] = [];
    let refused: unknown;
    for (let i = 0; i < 400; i++) {
      sends.push(conn.send({ type: 'packet_out', bufferId: 0xffffffff, inPort: OfPort.CONTROLLER, actions: [act.output(i + 1)], data: big }).catch((e: unknown) => ((refused = e), -1)));
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(conn.queuedMessages).toBe(50);
    expect(refused).toMatchObject({ code: 'OF_BACKPRESSURE' });
    p.socket.resume();
    const xids = (await Promise.all(sends)).filter((x) => x > 0);
    expect(conn.queuedMessages).toBe(0);
    await until(() => p.received.filter((m) => m.type === 'packet_out').length === xids.length, 'all accepted messages arrive');
    const ports = p.received.flatMap((m) => (m.type === 'packet_out' && m.actions[0]?.type === 'output' ? [m.actions[0].port] : []));
    expect(ports).toEqual([...ports].sort((a, b) => a - b));
  });
});

void OfConnection;
