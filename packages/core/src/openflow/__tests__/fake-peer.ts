/**
 * An in-process fake switch for connection tests: speaks OpenFlow through the codec
 * over a real socket, answers the handshake, and lets a test script everything else.
 */
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { OfFramer, decodeMessage, encodeMessage, type OfMessage } from '@dragonflow/openflow';

export interface FakePeerOptions {
  datapathId?: bigint;
  /** Versions in our HELLO bitmap (default [4]). */
  versions?: number[];
  /** HELLO header version (default 4). */
  helloVersion?: number;
  /** Answer echo requests (default true). */
  answerEcho?: boolean;
  /** Answer barriers (default true). */
  answerBarrier?: boolean;
  /** Extra replies for a received message. */
  respond?: (msg: OfMessage, peer: FakePeer) => OfMessage[] | undefined;
}

export class FakePeer {
  readonly received: OfMessage[] = [];
  private readonly framer = new OfFramer();
  private waiters: { pred: (m: OfMessage) => boolean; resolve: (m: OfMessage) => void }[] = [];
  closed = false;

  constructor(
    readonly socket: Socket,
    private readonly options: FakePeerOptions = {},
  ) {
    socket.on('data', (c) => {
      for (const f of this.framer.push(c)) this.onMessage(decodeMessage(f));
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
    this.send({ type: 'hello', xid: 1, version: options.helloVersion ?? 4, ...(options.versions ? { versions: options.versions } : { versions: [4] }) });
  }

  static connect(target: { port: number } | { path: string }, options: FakePeerOptions = {}): Promise<FakePeer> {
    return new Promise((resolve, reject) => {
      const s = 'port' in target ? createConnection({ port: target.port, host: '127.0.0.1' }) : createConnection(target.path);
      s.once('connect', () => resolve(new FakePeer(s, options)));
      s.once('error', reject);
    });
  }

  /** A switch that listens (like OVS with ptcp:/punix:); resolves the peer of the first connection. */
  static listen(path: string, options: FakePeerOptions = {}): { server: Server; peer: Promise<FakePeer>; ready: Promise<void> } {
    let resolvePeer!: (p: FakePeer) => void;
    const peer = new Promise<FakePeer>((r) => (resolvePeer = r));
    const server = createServer((s) => resolvePeer(new FakePeer(s, options)));
    const ready = new Promise<void>((r) => server.listen(path, r));
    return { server, peer, ready };
  }

  /** A switch that listens on TCP (like OVS with ptcp:), on a free loopback port. */
  static listenTcp(options: FakePeerOptions = {}): { server: Server; peer: Promise<FakePeer>; ready: Promise<void>; port: () => number } {
    let resolvePeer!: (p: FakePeer) => void;
    const peer = new Promise<FakePeer>((r) => (resolvePeer = r));
    const server = createServer((s) => resolvePeer(new FakePeer(s, options)));
    const ready = new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { server, peer, ready, port: () => (server.address() as AddressInfo).port };
  }

  private onMessage(m: OfMessage): void {
    this.received.push(m);
    this.waiters = this.waiters.filter((w) => (w.pred(m) ? (w.resolve(m), false) : true));
    const o = this.options;
    const extra = o.respond?.(m, this);
    if (extra) {
      for (const r of extra) this.send(r);
      return;
    }
    switch (m.type) {
      case 'features_request':
        this.send({ type: 'features_reply', xid: m.xid, datapathId: o.datapathId ?? 0x42n, nBuffers: 0, nTables: 254, auxiliaryId: 0, capabilities: 0x4f, reserved: 0 });
        break;
      case 'echo_request':
        if (o.answerEcho ?? true) this.send({ type: 'echo_reply', xid: m.xid, data: m.data });
        break;
      case 'barrier_request':
        if (o.answerBarrier ?? true) this.send({ type: 'barrier_reply', xid: m.xid });
        break;
      default:
        break;
    }
  }

  send(m: OfMessage): void {
    this.socket.write(encodeMessage(m, { validate: false }));
  }

  sendRaw(b: Uint8Array): void {
    this.socket.write(b);
  }

  waitFor(pred: (m: OfMessage) => boolean, timeoutMs = 3000): Promise<OfMessage> {
    const hit = this.received.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('fake peer: timed out waiting for a message')), timeoutMs);
      this.waiters.push({ pred, resolve: (m) => (clearTimeout(t), resolve(m)) });
    });
  }

  waitClosed(timeoutMs = 3000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('fake peer: connection not closed')), timeoutMs);
      this.socket.once('close', () => (clearTimeout(t), resolve()));
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Waits until `pred` is true, polling the event loop (for real socket I/O in tests). */
export async function until(pred: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
