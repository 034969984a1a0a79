// The client against a scripted server on a unix socket: what a real ovsdb-server
// will not do on demand (garbage, silence, unanswered requests, its own echo).
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, filter } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, isDfError, type DfError } from '@dragonflow/base';
import { OvsdbClient } from './client.js';
import { JsonFramer } from './framing.js';

interface FakeSession {
  socket: Socket;
  received: unknown[];
}

class FakeServer {
  readonly sessions: FakeSession[] = [];
  /** Answers a request; return undefined to stay silent. */
  answer: (msg: Record<string, unknown>, session: FakeSession) => unknown = (msg) => (msg['method'] === 'list_dbs' ? { id: msg['id'], result: ['Fake'], error: null } : undefined);
  private constructor(
    readonly server: Server,
    readonly path: string,
  ) {}

  static start(path: string): Promise<FakeServer> {
    const server = createServer();
    const fake = new FakeServer(server, path);
    server.on('connection', (socket) => {
      const session: FakeSession = { socket, received: [] };
      fake.sessions.push(session);
      const framer = new JsonFramer();
      socket.on('data', (chunk) => {
        for (const msg of framer.push(chunk)) {
          session.received.push(msg);
          const reply = fake.answer(msg as Record<string, unknown>, session);
          if (reply !== undefined) socket.write(JSON.stringify(reply));
        }
      });
      socket.on('error', () => undefined);
    });
    return new Promise((resolve) => server.listen(path, () => resolve(fake)));
  }

  get last(): FakeSession {
    return this.sessions[this.sessions.length - 1]!;
  }

  // 10 s: only an upper bound on waiting for the client, never a pause
  async waitFor<T>(check: () => T | undefined, ms = 10_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = check();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error('fake server: condition not met');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): Promise<void> {
    for (const s of this.sessions) s.socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('OvsdbClient against a scripted server', () => {
  let dir: string;
  let fake: FakeServer;
  let client: OvsdbClient | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'df-ovsdb-fake-'));
    fake = await FakeServer.start(join(dir, 's.sock'));
  });

  afterEach(async () => {
    await client?.close();
    client = undefined;
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const connect = async (extra: Partial<Parameters<typeof OvsdbClient.connect>[0]> = {}) => {
    client = await OvsdbClient.connect({ remote: `unix:${fake.path}`, initialBackoffMs: 20, maxBackoffMs: 50, probeIntervalMs: 0, ...extra });
    return client;
  };

  it('answers the server echo with the same params and id', async () => {
    await connect();
    fake.last.socket.write(JSON.stringify({ method: 'echo', params: ['ping', 1], id: 'echo' }));
    const reply = await fake.waitFor(() => fake.last.received.find((m) => (m as { id?: unknown }).id === 'echo' && 'result' in (m as object)));
    expect(reply).toEqual({ id: 'echo', result: ['ping', 1], error: null });
  });

  it('answers an unknown server request with an error instead of ignoring it', async () => {
    await connect();
    fake.last.socket.write(JSON.stringify({ method: 'lock', params: ['x'], id: 99 }));
    const reply = await fake.waitFor(() => fake.last.received.find((m) => (m as { id?: unknown }).id === 99));
    expect(reply).toMatchObject({ id: 99, result: null, error: { error: 'unknown method' } });
  });

  it('drops the connection on garbage, reports a typed error and reconnects', async () => {
    const c = await connect();
    const error = firstValueFrom(c.errors$);
    fake.last.socket.write('{"id":1,"result":[]}  not json at all');
    const e: DfError = await error;
    expect(isDfError(e, 'OVSDB_PROTOCOL')).toBe(true);
    await firstValueFrom(c.state$.pipe(filter((s) => s === 'connected')));
    expect(fake.sessions.length).toBe(2);
    expect(await c.listDbs()).toEqual(['Fake']);
  });

  it('drops the connection on a well-formed message that is not JSON-RPC', async () => {
    const c = await connect();
    const error = firstValueFrom(c.errors$);
    fake.last.socket.write('{"hello":"world"}');
    expect(isDfError(await error, 'OVSDB_PROTOCOL')).toBe(true);
  });

  it('rejects outstanding requests with OVSDB_DISCONNECTED when the server goes away', async () => {
    const c = await connect();
    fake.answer = () => undefined;
    const pending = c.transact('Fake', [{ op: 'comment', comment: 'never answered' }]);
    await fake.waitFor(() => (fake.last.received.length > 0 ? true : undefined));
    fake.last.socket.destroy();
    await expect(pending).rejects.toMatchObject({ code: 'OVSDB_DISCONNECTED' });
  });

  it('times out a request with OVSDB_TIMEOUT and ignores its late answer', async () => {
    const c = await connect({ requestTimeoutMs: 100 });
    let held: Record<string, unknown> | undefined;
    fake.answer = (msg) => {
      held = msg;
      return undefined;
    };
    await expect(c.listDbs()).rejects.toMatchObject({ code: 'OVSDB_TIMEOUT' });
    fake.last.socket.write(JSON.stringify({ id: held!['id'], result: ['Late'], error: null }));
    fake.answer = (msg) => ({ id: msg['id'], result: ['OnTime'], error: null });
    expect(await c.listDbs()).toEqual(['OnTime']);
    expect(c.state).toBe('connected');
  });

  it('sends RFC 7047 cancel for an aborted request, rejects it at once and drops a late answer', async () => {
    const c = await connect();
    fake.answer = () => undefined;
    const abort = new AbortController();
    const pending = c.transact('Fake', [{ op: 'wait', table: 'T', where: [], columns: [], until: '!=', rows: [] }], { signal: abort.signal });
    await fake.waitFor(() => (fake.last.received.length > 0 ? true : undefined));
    abort.abort();
    await expect(pending).rejects.toMatchObject({ code: 'OVSDB_CANCELED' });
    const request = fake.last.received[0] as { id: unknown };
    const cancel = await fake.waitFor(() => fake.last.received.find((m) => (m as { method?: string }).method === 'cancel') as { params: unknown[]; id: unknown } | undefined);
    expect(cancel.id).toBeNull();
    expect(cancel.params).toEqual([request.id]);
    fake.last.socket.write(JSON.stringify({ id: request.id, result: [{}], error: null }));
    fake.answer = (msg) => ({ id: msg['id'], result: ['Fake'], error: null });
    expect(await c.listDbs()).toEqual(['Fake']);
  });

  it('probes a silent server with echo and reconnects when the echo is not answered', async () => {
    fake.answer = (msg) => (msg['method'] === 'list_dbs' ? { id: msg['id'], result: ['Fake'], error: null } : undefined);
    const c = await connect({ probeIntervalMs: 100 });
    const error = firstValueFrom(c.errors$);
    const e = await error;
    expect(e.code).toBe('OVSDB_TIMEOUT');
    expect(fake.sessions[0]!.received.some((m) => (m as { method?: string }).method === 'echo')).toBe(true);
    await firstValueFrom(c.state$.pipe(filter((s) => s === 'connected')));
    expect(c.connectionCount).toBe(2);
  });

  it('keeps a connection whose server answers the probe', async () => {
    // The probe runs on a manual clock: on real time, a loaded machine that runs the
    // probe's timer before reading the waiting answer would see a timeout that is not one.
    const clock = new ManualClock();
    fake.answer = (msg) => (msg['method'] === undefined ? undefined : { id: msg['id'], result: msg['method'] === 'echo' ? msg['params'] : ['Fake'], error: null });
    const c = await connect({ probeIntervalMs: 100, clock });
    const echoes = () => fake.sessions[0]!.received.filter((m) => (m as { method?: string }).method === 'echo').length;
    for (let round = 1; round <= 3; round++) {
      clock.advance(100); // idle for the interval: the probe sends an echo
      await fake.waitFor(() => (echoes() >= round ? true : undefined));
      // A marker behind the answer on the same socket: once the client has answered the
      // server's own echo, it has read the answer to its probe.
      fake.last.socket.write(JSON.stringify({ method: 'echo', params: [round], id: `marker-${round}` }));
      await fake.waitFor(() => fake.last.received.find((m) => (m as { id?: unknown }).id === `marker-${round}`));
    }
    clock.advance(100); // where a probe that ignored the answers would give up
    expect(c.connectionCount).toBe(1);
    expect(c.state).toBe('connected');
  });

  it('fails to connect with a clear error naming the remote', async () => {
    await expect(OvsdbClient.connect({ remote: `unix:${join(dir, 'nobody.sock')}`, timeoutMs: 300, initialBackoffMs: 20 })).rejects.toThrow(
      /could not connect to OVSDB at unix:.*nobody\.sock within 300 ms: cannot connect/,
    );
    expect(() => new OvsdbClient({ remote: 'ssl:1.2.3.4:6640' })).toThrow(/not an OVSDB remote/);
    expect(() => new OvsdbClient({ remote: 'tcp:host' })).toThrow(/tcp:HOST:PORT/);
  });

  it('keeps an update the server sends right behind the monitor reply, in the same read', async () => {
    const row = '00000000-0000-4000-8000-000000000001';
    fake.answer = (msg, session) => {
      const { id, method, params } = msg as { id: unknown; method: string; params: unknown[] };
      if (method === 'get_schema') return { id, result: { name: 'Fake', version: '1.0.0', tables: { T: { columns: { name: { type: 'string' }, n: { type: { key: 'integer', min: 0, max: 1 } } } } } }, error: null };
      if (method === 'monitor_cond') {
        // The reply and the update that follows it, written at once: the client reads both in one chunk.
        const reply = { id, result: { T: { [row]: { initial: { name: 'a' } } } }, error: null };
        const update = { id: null, method: 'update2', params: [params[1], { T: { [row]: { modify: { n: 5 } } } }] };
        session.socket.write(JSON.stringify(reply) + JSON.stringify(update));
        return undefined;
      }
      return { id, result: ['Fake'], error: null };
    };
    const c = await connect();
    const m = await c.monitor('Fake', { T: { columns: ['name', 'n'] } });
    // applied right after the initial rows, before monitor() resolves
    expect(m.row('T', row)).toMatchObject({ name: 'a', n: [5] });
  });

  it('reports closed to requests after close()', async () => {
    const c = await connect();
    await c.close();
    await expect(c.listDbs()).rejects.toMatchObject({ code: 'OVSDB_CLOSED' });
    expect(c.state).toBe('closed');
  });
});
