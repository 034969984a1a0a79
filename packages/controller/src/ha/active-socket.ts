import { mkdirSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { DfError, describeError, isDfError, listenUnix, removeUnixSocket } from '@dragonflow/base';
import { BehaviorSubject, type Observable } from 'rxjs';

/** Whether this controller holds the active socket (is the active one of the pair) or watches the other's. */
export type ActiveSocketState = 'acquiring' | 'active' | 'standby' | 'closed';

export interface ActiveSocketOptions {
  /** Where the active controller listens (unix:/PATH or /PATH). */
  readonly path: string;
  /** Pause between attempts when the socket is neither ours nor answering (e.g. the directory cannot be made); default 100 ms. */
  readonly retryMs?: number;
  readonly onError?: (err: unknown) => void;
}

/**
 * The local lock of a hot-standby pair: the active controller listens on a unix
 * socket; the standby keeps a connection to it open. The kernel closes that
 * connection the instant the active process exits, SIGKILL included, so the standby
 * learns at once — no timeout, no polling — and takes the socket over. A socket file
 * whose process is gone does not answer and is replaced (listenUnix).
 *
 * Two standbys of one controller are not supported: both could see the socket free
 * at the same moment. The OpenFlow generation id still keeps the switch safe then
 * (the later claim wins; the other is refused or demoted and stays slave).
 */
export class ActiveSocket {
  private readonly path: string;
  private readonly state = new BehaviorSubject<ActiveSocketState>('acquiring');
  private server: Server | undefined;
  private watching: Socket | undefined;
  private readonly peers = new Set<Socket>();
  private closed = false;

  readonly state$: Observable<ActiveSocketState> = this.state.asObservable();

  constructor(private readonly options: ActiveSocketOptions) {
    this.path = options.path.replace(/^unix:/, '');
  }

  /** Whether a standby is connected to our socket (only while active). */
  get hasStandby(): boolean {
    return this.peers.size > 0;
  }

  get current(): ActiveSocketState {
    return this.state.value;
  }

  /** Starts: becomes active when nobody holds the socket, else watches whoever does. */
  start(): void {
    void this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.closed) {
      const peer = await this.connect();
      if (this.closed) {
        peer?.destroy();
        return;
      }
      if (peer) {
        this.watching = peer;
        this.state.next('standby');
        await new Promise<void>((resolve) => {
          peer.once('close', () => resolve());
          // Nothing is ever sent on it: data would be a confused peer; ignore it.
          peer.on('data', () => undefined);
          peer.on('error', () => undefined);
        });
        this.watching = undefined;
        if (!this.closed) this.state.next('acquiring');
        continue;
      }
      try {
        await this.listen();
        if (this.closed) {
          await this.release();
          return;
        }
        this.state.next('active');
        return;
      } catch (err) {
        // Another process took it first ("already serves"): watch it. Anything else: say so and try again.
        if (!(isDfError(err) && /already serves/.test(err.message))) this.options.onError?.(err);
        await new Promise((r) => setTimeout(r, this.options.retryMs ?? 100));
      }
    }
  }

  private connect(): Promise<Socket | undefined> {
    return new Promise((resolve) => {
      const s = createConnection(this.path);
      s.once('connect', () => {
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', () => {
        s.destroy();
        resolve(undefined);
      });
    });
  }

  private async listen(): Promise<void> {
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    } catch (cause) {
      throw new DfError('HA_SOCKET', `ha.activeSocket: cannot create ${dirname(this.path)}: ${describeError(cause)}`, { cause, context: { key: 'ha.activeSocket' } });
    }
    const server = createServer((sock) => {
      this.peers.add(sock);
      sock.on('error', () => undefined);
      sock.on('data', () => undefined);
      sock.once('close', () => this.peers.delete(sock));
    });
    await listenUnix(server, this.path, { mode: 0o600, code: 'HA_SOCKET' });
    this.server = server;
  }

  /** Gives the socket up (stepping down or stopping): the standby, if any, sees its connection close. */
  private async release(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    // The file goes first: a standby seeing its connection close must find no socket (and bind its own), never ours half-closed.
    removeUnixSocket(this.path);
    for (const p of this.peers) p.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watching?.destroy();
    await this.release();
    this.state.next('closed');
    this.state.complete();
  }
}
