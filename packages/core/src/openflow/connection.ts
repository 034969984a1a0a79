import type { Socket } from 'node:net';
import { systemClock, type Clock } from '@dragonflow/base';
import {
  ErrorType,
  OFP_VERSION,
  OfDecodeError,
  OfFramer,
  OfPort,
  OFPTT_ALL,
  PacketInFormat,
  Writer,
  decodeMessage,
  describeOfError,
  encodeInto,
  encodeMessage,
  formatMessage,
  type ControllerRole,
  type ErrorMsg,
  type FeaturesReply,
  type FlowRemoved,
  type FlowStats,
  type GroupDesc,
  type Match,
  type MultipartReply,
  type MultipartReplyBody,
  type MultipartRequestBody,
  type NxPacketIn2,
  type OfMessage,
  type PacketIn,
  type PortDesc,
  type PortStatus,
  type RoleReply,
} from '@dragonflow/openflow';
import type { Logger } from 'pino';
import { BehaviorSubject, Subject, filter, type Observable } from 'rxjs';
import type { EncodedRequest } from '../reconciler/switch.js';
import { decodeEncoded, encodedBytes } from '../reconciler/wire.js';
import { OfConnectionError, OfSwitchError } from './errors.js';
import { RecentRequests } from './recent-requests.js';

export type ConnectionState = 'handshaking' | 'ready' | 'closed';

export interface OfConnectionOptions {
  /** Structured logger; the connection adds its own bindings (peer, datapath id). */
  readonly logger: Logger;
  /** Time source for keepalive and timeouts (tests pass a ManualClock). */
  readonly clock?: Clock;
  /** Send an echo request after this long without hearing from the switch. Default 5 s. */
  readonly echoIntervalMs?: number;
  /** Declare the switch dead when an echo request stays unanswered this long. Default 10 s. */
  readonly echoTimeoutMs?: number;
  /** Default timeout of a request awaiting its reply. Default 10 s. */
  readonly requestTimeoutMs?: number;
  /** Time allowed for HELLO + FEATURES. Default 10 s. */
  readonly handshakeTimeoutMs?: number;
  /** Messages allowed to wait for a slow socket before send() refuses. Default 10 000. */
  readonly maxQueuedMessages?: number;
  /** Ask Open vSwitch for NXT_PACKET_IN2 (carries controller(userdata=…)). Default false. */
  readonly packetIn2?: boolean;
  /** SET_CONFIG miss_send_len sent after the handshake, when given. */
  readonly missSendLen?: number;
  /** How the peer is named in logs (address or socket path). */
  readonly peer?: string;
}

/** An ERROR from the switch, with the request that caused it when we still know it. */
export interface SwitchErrorEvent {
  readonly error: ErrorMsg;
  readonly request?: OfMessage;
}

export type AsyncSwitchMessage = PacketIn | NxPacketIn2 | FlowRemoved | PortStatus;

interface Pending {
  readonly request: OfMessage;
  readonly resolve: (m: OfMessage[]) => void;
  readonly reject: (e: Error) => void;
  readonly parts: OfMessage[];
  readonly timeoutMs: number;
  /** Send order (xids wrap and skip): a reply to a later request means the switch is past this one. */
  readonly seq: number;
  cancelTimer: () => void;
}

interface QueuedWrite {
  readonly bytes: Uint8Array;
  /** Messages in `bytes` (a batch is one write of many messages). */
  readonly count: number;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

/** A batch sent with `sendBatch`, awaiting its barrier reply; its members' ERRORs are collected here. */
interface PendingBatch {
  /** As sent (an encoded one is decoded only if the switch reports an error for it). */
  readonly messages: readonly (OfMessage | EncodedRequest)[];
  /** The xid of each message, in order (consecutive unless the counter wrapped or skipped a pending xid). */
  readonly xids: Uint32Array;
  readonly errors: BatchMessageError[];
}

/** An ERROR the switch sent for one message of a batch, by the message's index in it. */
export interface BatchMessageError {
  readonly index: number;
  readonly error: ErrorMsg;
}

type WithoutXid<T> = T extends unknown ? Omit<T, 'xid'> : never;
export type OutgoingMessage = WithoutXid<OfMessage>;

/** How many recently sent xids we remember to match late ERRORs to their request. */
const RECENT_REQUESTS = 4096;

/**
 * One OpenFlow 1.3 session with a switch over a connected socket: version
 * negotiation, FEATURES handshake, echo keepalive with dead-peer detection, xid
 * allocation and request/reply correlation with timeouts, multipart reassembly,
 * switch errors matched to the requests that caused them, and backpressure (writes
 * wait for the socket to drain; at most `maxQueuedMessages` wait).
 *
 * Create one with `OfConnection.establish(socket, options)`; it resolves once the
 * switch's datapath id is known.
 */
export class OfConnection {
  private readonly framer = new OfFramer();
  private readonly clock: Clock;
  private log: Logger;
  private readonly pending = new Map<number, Pending>();
  private readonly recent = new RecentRequests(RECENT_REQUESTS);
  private readonly writeQueue: QueuedWrite[] = [];
  /** Messages in writeQueue (entries may hold a whole batch). */
  private queuedCount = 0;
  /** Batches waiting for room in writeQueue (sendBatch waits where send() is refused), in order. */
  private readonly roomWaiters: QueuedWrite[] = [];
  private blocked = false;
  /** Batches whose barrier reply has not arrived yet (few: the reconciler keeps ≤ 8 in flight). */
  private readonly batches = new Set<PendingBatch>();
  /** Where batches are encoded before their one write (finish() copies the bytes out). */
  private readonly batchWriter = new Writer(16_384);
  private nextXidValue = 1;
  private lastRx: number;
  /** Requests sent so far (Pending.seq) and the latest one answered; when the switch last answered one. */
  private sentSeq = 0;
  private answeredSeq = 0;
  private lastReplyAt = Number.NEGATIVE_INFINITY;
  private echoSentAt: number | undefined;
  private cancelKeepalive: () => void = () => undefined;
  private features: FeaturesReply | undefined;
  private closeReason: Error | undefined;

  private readonly state = new BehaviorSubject<ConnectionState>('handshaking');
  private readonly asyncSubject = new Subject<AsyncSwitchMessage>();
  private readonly errorSubject = new Subject<SwitchErrorEvent>();
  private readonly helloSubject = new Subject<OfMessage>();

  /** Connection state; completes after 'closed'. */
  readonly state$: Observable<ConnectionState> = this.state.asObservable();
  /** Packet-ins (standard and NXT_PACKET_IN2), flow-removed, port-status. Completes on close. */
  readonly messages$: Observable<AsyncSwitchMessage> = this.asyncSubject.asObservable();
  /** Every ERROR the switch sends, with its request when known. Completes on close. */
  readonly errors$: Observable<SwitchErrorEvent> = this.errorSubject.asObservable();
  readonly packetIn$: Observable<PacketIn | NxPacketIn2>;
  readonly portStatus$: Observable<PortStatus>;
  readonly flowRemoved$: Observable<FlowRemoved>;

  private constructor(
    private readonly socket: Socket,
    private readonly options: OfConnectionOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.log = options.logger.child({ peer: options.peer ?? describePeer(socket) });
    this.lastRx = this.clock.now();
    this.packetIn$ = this.messages$.pipe(filter((m): m is PacketIn | NxPacketIn2 => m.type === 'packet_in' || m.type === 'nx_packet_in2'));
    this.portStatus$ = this.messages$.pipe(filter((m): m is PortStatus => m.type === 'port_status'));
    this.flowRemoved$ = this.messages$.pipe(filter((m): m is FlowRemoved => m.type === 'flow_removed'));
    // OpenFlow is request/response with small messages: with Nagle's algorithm on, the
    // second of two writes (a flow-mod, then its barrier) waits for the switch to ACK
    // the first, which a switch with nothing to answer delays by ~40 ms. Every accepted
    // and every actively connected TCP socket gets TCP_NODELAY (a no-op on unix sockets).
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.onDrain());
    socket.on('error', (err) => this.close(new OfConnectionError('OF_CLOSED', `socket error: ${err.message}`, { cause: err })));
    socket.on('close', () => this.close(new OfConnectionError('OF_CLOSED', 'the switch closed the connection')));
  }

  /**
   * Runs the handshake on a connected socket: HELLO with a version bitmap (a switch
   * that offers no common version gets HELLO_FAILED and is disconnected), then
   * FEATURES (datapath id), then the optional packet-in format and miss_send_len.
   */
  static async establish(socket: Socket, options: OfConnectionOptions): Promise<OfConnection> {
    const conn = new OfConnection(socket, options);
    await conn.handshake();
    return conn;
  }

  /** The switch's datapath id (known once established). */
  get datapathId(): bigint {
    if (!this.features) throw new OfConnectionError('OF_HANDSHAKE', 'the datapath id is not known before the FEATURES reply');
    return this.features.datapathId;
  }

  get featuresReply(): FeaturesReply | undefined {
    return this.features;
  }

  get isOpen(): boolean {
    return this.state.value !== 'closed';
  }

  get currentState(): ConnectionState {
    return this.state.value;
  }

  /** Why the connection closed (undefined while open). */
  get closedBecause(): Error | undefined {
    return this.closeReason;
  }

  /** Messages waiting for the socket to drain. */
  get queuedMessages(): number {
    return this.queuedCount;
  }

  // ---------- handshake ----------

  private async handshake(): Promise<void> {
    const timeoutMs = this.options.handshakeTimeoutMs ?? 10_000;
    const cancel = this.clock.setTimer(timeoutMs, () => this.close(new OfConnectionError('OF_HANDSHAKE', `no HELLO and FEATURES from the switch within ${timeoutMs} ms`)));
    try {
      const helloReceived = new Promise<OfMessage>((resolve, reject) => {
        const sub = this.helloSubject.subscribe({ next: (m) => (sub.unsubscribe(), resolve(m)), complete: () => reject(this.closeReason ?? closedError()) });
      });
      await this.send({ type: 'hello', versions: [OFP_VERSION] });
      const hello = await helloReceived;
      if (hello.type !== 'hello') throw new OfConnectionError('OF_HANDSHAKE', `expected HELLO, got ${hello.type}`);
      const offered = hello.versions ?? (hello.version !== undefined && hello.version >= OFP_VERSION ? [OFP_VERSION] : [hello.version ?? 0]);
      if (!offered.includes(OFP_VERSION)) {
        const text = `We support OpenFlow 1.3 (0x04); the switch offers ${offered.map((v) => '0x' + v.toString(16).padStart(2, '0')).join(', ') || 'nothing'}`;
        const err = new OfConnectionError('OF_HELLO_FAILED', `no common OpenFlow version: ${text}`, { context: { offered } });
        this.log.error({ err, offered }, 'version negotiation failed; sending HELLO_FAILED and disconnecting');
        await this.sendRaw(encodeMessage({ type: 'error', xid: hello.xid, version: Math.min(hello.version ?? OFP_VERSION, OFP_VERSION), errorType: ErrorType.HELLO_FAILED, code: 0, data: new TextEncoder().encode(text) })).catch(() => undefined);
        this.socket.end();
        this.close(err);
        throw err;
      }
      const [features] = await this.request({ type: 'features_request' }, timeoutMs);
      this.features = features as FeaturesReply;
      this.log = this.log.child({ dpid: this.features.datapathId.toString(16).padStart(16, '0') });
      if (this.options.packetIn2) await this.send({ type: 'nx_set_packet_in_format', format: PacketInFormat.NXT_PACKET_IN2 });
      if (this.options.missSendLen !== undefined) await this.send({ type: 'set_config', flags: 0, missSendLen: this.options.missSendLen });
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      this.close(e instanceof OfConnectionError ? e : new OfConnectionError('OF_HANDSHAKE', `handshake failed: ${e.message}`, { cause: e }));
      throw this.closeReason ?? e;
    } finally {
      cancel();
    }
    this.state.next('ready');
    this.log.info({ nTables: this.features.nTables }, 'switch connected');
    this.scheduleKeepalive();
  }

  // ---------- sending ----------

  /** A fresh transaction id (never 0, never one still awaiting a reply). */
  nextXid(): number {
    for (;;) {
      const xid = this.nextXidValue;
      this.nextXidValue = this.nextXidValue >= 0xffffffff ? 1 : this.nextXidValue + 1;
      if (!this.pending.has(xid)) return xid;
    }
  }

  /**
   * Sends a message without waiting for a reply; resolves with its xid once the
   * bytes are handed to the socket (waits while the socket is congested). An ERROR
   * the switch later sends for it appears on errors$ together with the message.
   */
  async send(msg: OutgoingMessage | OfMessage): Promise<number> {
    const xid = 'xid' in msg && typeof msg.xid === 'number' && msg.xid !== 0 ? msg.xid : this.nextXid();
    const full = { ...msg, xid } as OfMessage;
    this.remember(full);
    await this.sendRaw(encodeMessage(full));
    return xid;
  }

  /**
   * Sends a request and resolves with its reply (all parts of a multipart reply).
   * An ERROR for it rejects with OfSwitchError carrying both; no reply within the
   * timeout rejects with OF_TIMEOUT.
   */
  request(msg: OutgoingMessage, timeoutMs = this.options.requestTimeoutMs ?? 10_000): Promise<OfMessage[]> {
    if (!this.isOpen) return Promise.reject(this.closeReason ?? closedError());
    const xid = this.nextXid();
    const full = { ...msg, xid } as OfMessage;
    return new Promise<OfMessage[]>((resolve, reject) => {
      const p: Pending = { request: full, resolve, reject, parts: [], timeoutMs, seq: ++this.sentSeq, cancelTimer: () => undefined };
      this.pending.set(xid, p);
      this.armTimeout(xid, p);
      this.remember(full);
      this.sendRaw(encodeMessage(full)).catch((err: Error) => {
        p.cancelTimer();
        this.pending.delete(xid);
        reject(err);
      });
    });
  }

  /**
   * Fails the request when the switch stays silent for its timeout. A switch answers
   * in order, so while it keeps answering what was sent before this request it is
   * busy, not lost: a bulk of 200,000 flow-mods keeps the userspace datapath's
   * ovs-vswitchd working for longer than any fixed timeout, and failing its barriers
   * (the connection is then dropped and everything resent) never let it finish. The
   * time counts from the switch's last answer instead; an answer to a later request
   * means this one was lost, and it fails at once.
   */
  private armTimeout(xid: number, p: Pending, delayMs = p.timeoutMs): void {
    p.cancelTimer();
    p.cancelTimer = this.clock.setTimer(delayMs, () => {
      if (this.pending.get(xid) !== p) return;
      const silentMs = this.clock.now() - this.lastReplyAt;
      if (this.answeredSeq < p.seq && silentMs < p.timeoutMs) {
        this.armTimeout(xid, p, p.timeoutMs - silentMs);
        return;
      }
      this.pending.delete(xid);
      const err = new OfConnectionError('OF_TIMEOUT', `no reply to ${p.request.type} (xid ${xid}) within ${p.timeoutMs} ms`, { context: { xid, request: formatMessage(p.request) } });
      this.log.warn({ err }, 'request timed out');
      p.reject(err);
    });
  }

  /** Sends a barrier and resolves when the switch has processed everything sent before it. */
  async barrier(timeoutMs?: number): Promise<void> {
    await this.request({ type: 'barrier_request' }, timeoutMs);
  }

  /**
   * Sends `messages` in order followed by a barrier, encoded into one buffer and
   * handed to the socket with one write (or queued as one entry while the socket is
   * congested; the batch counts as its number of messages against
   * `maxQueuedMessages`). Resolves when the barrier reply arrives — the switch has
   * processed every message — with the ERRORs it sent for any of them, by index
   * (OpenFlow delivers them before the barrier reply). Rejects when the connection
   * closes first, the barrier times out, or a message cannot be encoded (then
   * nothing is sent).
   */
  sendBatch(messages: readonly (OutgoingMessage | EncodedRequest)[], timeoutMs = this.options.requestTimeoutMs ?? 10_000): Promise<BatchMessageError[]> {
    if (!this.isOpen) return Promise.reject(this.closeReason ?? closedError());
    const w = this.batchWriter;
    const full = new Array<OfMessage | EncodedRequest>(messages.length);
    const xids = new Uint32Array(messages.length);
    let bytes: Uint8Array;
    let barrierXid: number;
    w.pos = 0;
    try {
      for (let i = 0; i < messages.length; i++) {
        const xid = this.nextXid();
        const msg = messages[i]!;
        xids[i] = xid;
        if (msg.type === 'encoded') {
          // already in wire form: copied with its xid
          w.bytes(encodedBytes(msg, xid));
          full[i] = msg;
        } else {
          const m = { ...msg, xid } as OfMessage;
          full[i] = m;
          encodeInto(w, m);
        }
      }
      barrierXid = this.nextXid();
      encodeInto(w, { type: 'barrier_request', xid: barrierXid });
      bytes = w.finish();
    } catch (err) {
      return Promise.reject(err);
    } finally {
      w.pos = 0;
    }
    const batch: PendingBatch = { messages: full, xids, errors: [] };
    const barrier: OfMessage = { type: 'barrier_request', xid: barrierXid };
    return new Promise<BatchMessageError[]>((resolve, reject) => {
      const done = (): void => {
        this.batches.delete(batch);
      };
      const p: Pending = {
        request: barrier,
        resolve: () => (done(), resolve(batch.errors)),
        reject: (e) => (done(), reject(e)),
        parts: [],
        timeoutMs,
        seq: ++this.sentSeq,
        cancelTimer: () => undefined,
      };
      this.batches.add(batch);
      this.pending.set(barrierXid, p);
      this.armTimeout(barrierXid, p);
      this.sendRaw(bytes, messages.length + 1, true).catch((err: Error) => {
        p.cancelTimer();
        if (this.pending.get(barrierXid) === p) this.pending.delete(barrierXid);
        p.reject(err);
      });
    });
  }

  /**
   * Sends `messages` in order with one socket write and no barrier: nothing
   * confirms them. An ERROR the switch sends for one is logged and published on
   * errors$ with the message, as for `send`. Resolves once the bytes are handed to
   * the socket (waiting, in order with the batches, while it is congested); rejects
   * when the connection is closed or a message cannot be encoded (then nothing is sent).
   */
  sendAll(messages: readonly (OutgoingMessage | EncodedRequest)[]): Promise<void> {
    if (!this.isOpen) return Promise.reject(this.closeReason ?? closedError());
    const w = this.batchWriter;
    let bytes: Uint8Array;
    w.pos = 0;
    try {
      for (const msg of messages) {
        const xid = this.nextXid();
        if (msg.type === 'encoded') {
          w.bytes(encodedBytes(msg, xid));
          this.remember(decodeEncoded(msg, xid));
        } else {
          encodeInto(w, { ...msg, xid } as OfMessage);
        }
      }
      bytes = w.finish();
    } catch (err) {
      return Promise.reject(err);
    } finally {
      w.pos = 0;
    }
    // The others are remembered as their bytes (a packet-out's header and actions): no object kept per message.
    for (let i = 0, at = 0; i < messages.length; i++, at += (bytes[at + 2]! << 8) | bytes[at + 3]!) {
      if (messages[i]!.type !== 'encoded') this.recent.rememberWire(bytes, at);
    }
    return this.sendRaw(bytes, messages.length, true);
  }

  /** The batch message an xid belongs to, if it is one. */
  private batchMessage(xid: number): { batch: PendingBatch; index: number } | undefined {
    for (const batch of this.batches) {
      const { xids } = batch;
      if (xids.length === 0) continue;
      // xids of a batch are consecutive except across a wrap or a skipped pending xid
      const guess = (xid - xids[0]!) >>> 0;
      if (guess < xids.length && xids[guess] === xid) return { batch, index: guess };
      const index = xids.indexOf(xid);
      if (index >= 0) return { batch, index };
    }
    return undefined;
  }

  /** A multipart request; resolves with the bodies of every reply part (following the more flag). */
  async multipart(body: MultipartRequestBody, timeoutMs?: number): Promise<MultipartReplyBody[]> {
    const parts = await this.request({ type: 'multipart_request', more: false, body }, timeoutMs);
    return parts.map((p) => (p as MultipartReply).body);
  }

  /** Flow statistics (all parts), by default of every table. */
  async flowStats(filter: { tableId?: number; match?: Match; cookie?: bigint; cookieMask?: bigint } = {}): Promise<FlowStats[]> {
    const bodies = await this.multipart({ kind: 'flow', tableId: filter.tableId ?? OFPTT_ALL, outPort: OfPort.ANY, outGroup: 0xffffffff, cookie: filter.cookie ?? 0n, cookieMask: filter.cookieMask ?? 0n, match: filter.match ?? {} });
    return bodies.flatMap((b) => (b.kind === 'flow' ? b.flows : []));
  }

  async groupDescs(): Promise<GroupDesc[]> {
    const bodies = await this.multipart({ kind: 'group_desc' });
    return bodies.flatMap((b) => (b.kind === 'group_desc' ? b.groups : []));
  }

  async portDescs(): Promise<PortDesc[]> {
    const bodies = await this.multipart({ kind: 'port_desc' });
    return bodies.flatMap((b) => (b.kind === 'port_desc' ? b.ports : []));
  }

  /** ROLE_REQUEST; resolves with the switch's answer. */
  async requestRole(role: ControllerRole, generationId = 0n): Promise<RoleReply> {
    const [reply] = await this.request({ type: 'role_request', role, generationId });
    return reply as RoleReply;
  }

  /**
   * Sends bytes (`count` messages) in order; waits while the socket is congested;
   * bounded: beyond `maxQueuedMessages` waiting, a message is refused — or, with
   * `waitForRoom` (batches: their senders keep a bounded number in flight), waits
   * in order until the queue has room. A batch larger than the bound goes alone.
   */
  private sendRaw(bytes: Uint8Array, count = 1, waitForRoom = false): Promise<void> {
    if (this.state.value === 'closed') return Promise.reject(this.closeReason ?? closedError());
    if (!this.blocked && this.writeQueue.length === 0 && this.roomWaiters.length === 0) {
      if (!this.socket.write(bytes)) this.blocked = true;
      return Promise.resolve();
    }
    const limit = this.options.maxQueuedMessages ?? 10_000;
    const full = this.queuedCount > 0 && this.queuedCount + count > limit;
    if (waitForRoom && (full || this.roomWaiters.length > 0)) {
      return new Promise((resolve, reject) => this.roomWaiters.push({ bytes, count, resolve, reject }));
    }
    if (full) {
      return Promise.reject(
        new OfConnectionError('OF_BACKPRESSURE', `${this.queuedCount} messages are already waiting for the switch to read (limit ${limit}); refusing ${count} more`, {
          context: { queued: this.queuedCount, refused: count, limit },
        }),
      );
    }
    this.queuedCount += count;
    return new Promise((resolve, reject) => this.writeQueue.push({ bytes, count, resolve, reject }));
  }

  private onDrain(): void {
    this.blocked = false;
    const limit = this.options.maxQueuedMessages ?? 10_000;
    for (;;) {
      while (!this.blocked && this.writeQueue.length > 0) {
        const w = this.writeQueue.shift()!;
        this.queuedCount -= w.count;
        if (!this.socket.write(w.bytes)) this.blocked = true;
        w.resolve();
      }
      if (this.blocked || this.roomWaiters.length === 0) return;
      // The queue drained: let the waiting batches in, in order, as far as the bound allows.
      while (this.roomWaiters.length > 0 && (this.queuedCount === 0 || this.queuedCount + this.roomWaiters[0]!.count <= limit)) {
        const w = this.roomWaiters.shift()!;
        this.writeQueue.push(w);
        this.queuedCount += w.count;
      }
    }
  }

  private remember(msg: OfMessage): void {
    this.recent.remember(msg);
  }

  // ---------- receiving ----------

  private onData(chunk: Buffer): void {
    if (this.state.value === 'closed') return;
    let frames: Uint8Array[];
    try {
      // A plain view of the chunk: the messages and the packets in them are its subarrays,
      // and a Buffer's subarray costs several times a Uint8Array's (one per message and per packet).
      frames = this.framer.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } catch (err) {
      this.protocolError(err);
      return;
    }
    for (const frame of frames) {
      let msg: OfMessage;
      try {
        msg = decodeMessage(frame);
      } catch (err) {
        this.protocolError(err, frame);
        return;
      }
      this.lastRx = this.clock.now();
      this.echoSentAt = undefined;
      this.dispatch(msg);
      if (!this.isOpen) return;
    }
  }

  private protocolError(err: unknown, frame?: Uint8Array): void {
    const e = new OfConnectionError('OF_PROTOCOL', `malformed message from the switch: ${(err as Error).message}`, {
      cause: err,
      context: { offset: err instanceof OfDecodeError ? err.offset : undefined, messageType: frame ? frame[1] : undefined, length: frame?.length },
    });
    this.log.error({ err: e }, 'closing the connection after a malformed message');
    this.close(e);
  }

  private dispatch(msg: OfMessage): void {
    switch (msg.type) {
      case 'hello':
        if (this.state.value === 'handshaking') this.helloSubject.next(msg);
        else this.log.debug('ignoring a second HELLO');
        return;
      case 'echo_request':
        // A reply carries its request's xid, 0 included (send() would take 0 for "allocate
        // one"), and is nothing of ours to remember for matching errors.
        this.sendRaw(encodeMessage({ type: 'echo_reply', xid: msg.xid, data: msg.data })).catch(() => undefined);
        return;
      case 'error':
        // An answer too (to a request, or to a flow-mod of a batch): the switch is working through what it was sent.
        this.lastReplyAt = this.clock.now();
        this.onError(msg);
        return;
      case 'packet_in':
      case 'nx_packet_in2':
      case 'port_status':
      case 'flow_removed':
        this.asyncSubject.next(msg);
        return;
      default:
        break;
    }
    const p = this.pending.get(msg.xid);
    if (!p) {
      if (msg.type !== 'echo_reply') this.log.debug({ msg: formatMessage(msg) }, 'unsolicited message');
      return;
    }
    p.parts.push(msg);
    this.lastReplyAt = this.clock.now();
    if (msg.type === 'multipart_reply' && msg.more) {
      this.armTimeout(msg.xid, p);
      return;
    }
    if (p.seq > this.answeredSeq) this.answeredSeq = p.seq;
    p.cancelTimer();
    this.pending.delete(msg.xid);
    p.resolve(p.parts);
  }

  private onError(error: ErrorMsg): void {
    const p = this.pending.get(error.xid);
    const member = p ? undefined : this.batchMessage(error.xid);
    if (member) member.batch.errors.push({ index: member.index, error });
    const sent = member?.batch.messages[member.index];
    const request = p?.request ?? (sent?.type === 'encoded' ? decodeEncoded(sent, error.xid) : sent) ?? this.recent.find(error.xid);
    const dpid = this.features?.datapathId;
    this.log.warn({ xid: error.xid, error: describeOfError(error), request: request ? formatMessage(request) : undefined }, 'the switch refused a request');
    this.errorSubject.next(request ? { error, request } : { error });
    if (p) {
      p.cancelTimer();
      this.pending.delete(error.xid);
      p.reject(new OfSwitchError(request, error, dpid));
    }
    if (this.state.value === 'handshaking' && error.errorType === ErrorType.HELLO_FAILED) {
      this.close(new OfConnectionError('OF_HELLO_FAILED', `the switch refused our HELLO: ${describeOfError(error)}`));
    }
  }

  // ---------- keepalive ----------

  private scheduleKeepalive(): void {
    const interval = this.options.echoIntervalMs ?? 5_000;
    const timeout = this.options.echoTimeoutMs ?? 10_000;
    const tick = (): void => {
      if (this.state.value === 'closed') return;
      const now = this.clock.now();
      if (this.echoSentAt !== undefined && now - this.echoSentAt >= timeout) {
        this.close(new OfConnectionError('OF_PEER_DEAD', `the switch did not answer an echo request within ${timeout} ms`, { context: { silentForMs: now - this.lastRx } }));
        return;
      }
      if (this.echoSentAt === undefined && now - this.lastRx >= interval) {
        this.echoSentAt = now;
        this.send({ type: 'echo_request', data: new Uint8Array(0) }).catch(() => undefined);
      }
      const next = this.echoSentAt !== undefined ? Math.min(interval, this.echoSentAt + timeout - now) : Math.max(1, this.lastRx + interval - now);
      this.cancelKeepalive = this.clock.setTimer(next, tick);
    };
    this.cancelKeepalive = this.clock.setTimer(interval, tick);
  }

  // ---------- closing ----------

  /** Closes the connection; pending requests and queued writes fail with `reason`. Idempotent. */
  close(reason: Error = new OfConnectionError('OF_CLOSED', 'closed by the controller')): void {
    if (this.state.value === 'closed') return;
    this.closeReason = reason;
    this.cancelKeepalive();
    this.socket.destroy();
    for (const [xid, p] of this.pending) {
      p.cancelTimer();
      this.pending.delete(xid);
      p.reject(reason);
    }
    for (const w of this.writeQueue.splice(0)) w.reject(reason);
    for (const w of this.roomWaiters.splice(0)) w.reject(reason);
    this.queuedCount = 0;
    const expected = reason instanceof OfConnectionError && (reason.code === 'OF_CLOSED' || reason.code === 'OF_REPLACED');
    if (this.features) this.log[expected ? 'info' : 'warn']({ reason: reason.message, code: (reason as OfConnectionError).code }, 'switch disconnected');
    this.state.next('closed');
    this.state.complete();
    this.asyncSubject.complete();
    this.errorSubject.complete();
    this.helloSubject.complete();
  }
}

function closedError(): OfConnectionError {
  return new OfConnectionError('OF_CLOSED', 'the connection is closed');
}

function describePeer(socket: Socket): string {
  if (socket.remoteAddress) return `${socket.remoteAddress}:${socket.remotePort}`;
  return 'unix';
}

