/**
 * Test-only OpenFlow peers over real sockets, built on the codec alone (the real
 * connection lives in @dragonflow/core): a minimal controller that connects to an
 * Open vSwitch socket, and a minimal switch that `ovs-ofctl` can connect to.
 * Every message is kept with its raw bytes so tests can use them as fixtures.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { DfError } from '@dragonflow/base';
import { OfFramer, bytesToHex, decodeMessage, encodeMessage, type OfMessage } from '../../src/index.js';

export interface Seen {
  readonly msg: OfMessage;
  readonly hex: string;
}

class Peer {
  readonly seen: Seen[] = [];
  private readonly framer = new OfFramer();
  private waiters: { pred: (s: Seen) => boolean; resolve: (s: Seen) => void }[] = [];
  private nextXid = 0x100;
  closed = false;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk) => {
      for (const frame of this.framer.push(chunk)) this.onFrame(frame);
    });
    socket.on('close', () => {
      this.closed = true;
    });
    socket.on('error', () => undefined);
  }

  protected onFrame(frame: Uint8Array): void {
    const s = { msg: decodeMessage(frame), hex: bytesToHex(frame) };
    this.seen.push(s);
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred(s)) return true;
      w.resolve(s);
      return false;
    });
    this.onMessage(s);
  }

  protected onMessage(_s: Seen): void {}

  xid(): number {
    return this.nextXid++;
  }

  send(msg: OfMessage): void {
    this.socket.write(encodeMessage(msg, { validate: false }));
  }

  sendRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Resolves with the first message (already seen or future) matching `pred`. */
  waitFor(pred: (s: Seen) => boolean, what: string, timeoutMs = 5000): Promise<Seen> {
    const hit = this.seen.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new DfError('TEST_TIMEOUT', `timed out waiting for ${what}`)), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (s) => {
          clearTimeout(t);
          resolve(s);
        },
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A controller connected to a switch socket (e.g. an OVS bridge's .mgmt socket). */
export class TestController extends Peer {
  static async connect(path: string): Promise<TestController> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = createConnection(path, () => resolve(s));
      s.once('error', reject);
    });
    const c = new TestController(socket);
    c.send({ type: 'hello', xid: c.xid(), versions: [4] });
    await c.waitFor((s) => s.msg.type === 'hello', 'the switch HELLO');
    return c;
  }

  protected override onMessage(s: Seen): void {
    if (s.msg.type === 'echo_request') this.send({ type: 'echo_reply', xid: s.msg.xid, data: s.msg.data });
  }

  /** Sends `msg` (xid assigned) and waits for the first reply with that xid. */
  async request(msg: OfMessage, timeoutMs = 5000): Promise<Seen> {
    const xid = this.xid();
    this.send({ ...msg, xid } as OfMessage);
    return this.waitFor((s) => s.msg.xid === xid, `a reply to ${msg.type} xid ${xid}`, timeoutMs);
  }

  /** Sends `msg`, then a barrier; resolves with an error the switch returned for `msg`, or undefined. */
  async sendAndBarrier(msg: OfMessage): Promise<Seen | undefined> {
    const xid = this.xid();
    this.send({ ...msg, xid } as OfMessage);
    const bx = this.xid();
    this.send({ type: 'barrier_request', xid: bx });
    await this.waitFor((s) => s.msg.type === 'barrier_reply' && s.msg.xid === bx, 'a barrier reply');
    return this.seen.find((s) => s.msg.type === 'error' && s.msg.xid === xid);
  }

  /** All parts of a multipart reply (following the more flag). */
  async multipart(msg: OfMessage & { type: 'multipart_request' }): Promise<Seen[]> {
    const xid = this.xid();
    this.send({ ...msg, xid });
    const parts: Seen[] = [];
    for (;;) {
      const next = await this.waitFor((s) => s.msg.xid === xid && (s.msg.type === 'multipart_reply' || s.msg.type === 'error') && !parts.includes(s), 'a multipart reply part');
      parts.push(next);
      if (next.msg.type !== 'multipart_reply' || !next.msg.more) return parts;
    }
  }
}

/** What a fake switch answers to a request; undefined to stay silent. */
export type SwitchResponder = (msg: OfMessage) => OfMessage[] | undefined;

/** A switch listening on a unix socket; records what a controller (ovs-ofctl) sends. */
export class TestSwitch {
  sessions: Seen[][] = [];
  private constructor(
    private readonly server: Server,
    readonly path: string,
  ) {}

  static async listen(path: string, respond: SwitchResponder): Promise<TestSwitch> {
    const sessions: Seen[][] = [];
    const server = createServer((socket) => {
      const received: Seen[] = [];
      sessions.push(received);
      const peer = new (class extends Peer {
        protected override onMessage(s: Seen): void {
          received.push(s);
          if (s.msg.type === 'hello') return;
          for (const reply of respond(s.msg) ?? []) this.send(reply);
        }
      })(socket);
      peer.send({ type: 'hello', xid: 1, versions: [4] });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, resolve);
    });
    const sw = new TestSwitch(server, path);
    sw.sessions = sessions;
    return sw;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
