import { MsgType, decodeMessage, type OfMessage } from '@dragonflow/openflow';

/** Bytes kept of a packet-out sent as bytes: its header and actions (the packet is not kept). */
const SLOT = 128;
/** OFPT_PACKET_OUT's fixed part: header, buffer_id, in_port, actions_len, pad. */
const PACKET_OUT_FIXED = 24;
/** A ring entry whose message is in `wire` (a packet-out): nothing per message for the GC to keep. */
const IN_WIRE = Symbol('in wire');

/**
 * The last `size` messages a connection sent, so that an ERROR the switch sends
 * later names the request that caused it. A ring: every send writes one slot, and
 * only an ERROR (rare) searches it, newest first. A packet-out is kept without its
 * packet (the switch's ERROR carries the message's first bytes): an unconfirmed
 * answer per punt would otherwise keep `size` packets and their objects alive past
 * a young-generation GC. Sent as bytes (`rememberWire`), it is kept as its header
 * and actions' bytes, decoded only when an ERROR asks for it.
 */
export class RecentRequests {
  private readonly ring: (OfMessage | typeof IN_WIRE | undefined)[];
  private readonly wire: Uint8Array;
  private readonly wireLength: Uint16Array;
  private at = 0;

  constructor(private readonly size: number) {
    this.ring = new Array<OfMessage | typeof IN_WIRE | undefined>(size);
    this.wire = new Uint8Array(size * SLOT);
    this.wireLength = new Uint16Array(size);
  }

  remember(msg: OfMessage): void {
    this.ring[this.at] = msg.type === 'packet_out' && msg.data.length > 0 ? { type: 'packet_out', xid: msg.xid, bufferId: msg.bufferId, inPort: msg.inPort, actions: msg.actions, data: NO_DATA } : msg;
    this.advance();
  }

  /** Remembers the message encoded at `offset` of `bytes` (a whole message: its length field says how long). */
  rememberWire(bytes: Uint8Array, offset: number): void {
    const length = (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
    const kept = bytes[offset + 1] === MsgType.PACKET_OUT && length >= PACKET_OUT_FIXED ? PACKET_OUT_FIXED + ((bytes[offset + 16]! << 8) | bytes[offset + 17]!) : length;
    if (kept > SLOT || kept > length) {
      this.remember(decodeMessage(bytes.subarray(offset, offset + length)));
      return;
    }
    const base = this.at * SLOT;
    for (let i = 0; i < kept; i++) this.wire[base + i] = bytes[offset + i]!;
    // The kept bytes are a message of their own: its length field says so.
    this.wire[base + 2] = kept >> 8;
    this.wire[base + 3] = kept & 0xff;
    this.wireLength[this.at] = kept;
    this.ring[this.at] = IN_WIRE;
    this.advance();
  }

  /** The most recent message sent with `xid`, if it is among the last `size`. */
  find(xid: number): OfMessage | undefined {
    for (let i = 1; i <= this.size; i++) {
      const slot = (this.at - i + this.size) % this.size;
      const m = this.ring[slot];
      if (m === undefined) return undefined;
      if (m !== IN_WIRE) {
        if (m.xid === xid) return m;
        continue;
      }
      const base = slot * SLOT;
      const w = this.wire;
      if (((w[base + 4]! << 24) | (w[base + 5]! << 16) | (w[base + 6]! << 8) | w[base + 7]!) >>> 0 === xid) return decodeMessage(w.slice(base, base + this.wireLength[slot]!));
    }
    return undefined;
  }

  private advance(): void {
    this.at = this.at === this.size - 1 ? 0 : this.at + 1;
  }
}

/** The payload of a remembered packet-out. */
const NO_DATA = new Uint8Array(0);
