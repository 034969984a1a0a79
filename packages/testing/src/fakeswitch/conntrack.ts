import type { Clock } from '@dragonflow/base';
import { CtState, type NatAction } from '@dragonflow/openflow';
import { TCP_FLAGS } from '@dragonflow/packet';
import { applyNat, extractTuple, natTuple, replyOf, type ConnTuple } from './conntrack-tuple.js';
import type { CtTuple, PacketState } from './packet-state.js';

/** Open vSwitch userspace conntrack's default timeouts (ms), by protocol and state. */
const TIMEOUTS = {
  first: { tcp: 30_000, udp: 60_000, icmp: 60_000, other: 60_000 },
  multiple: { tcp: 30_000, udp: 30_000, icmp: 60_000, other: 60_000 },
  bidir: { tcp: 86_400_000, udp: 30_000, icmp: 30_000, other: 30_000 },
} as const;

type ConnPhase = keyof typeof TIMEOUTS;

/** One tracked connection: its original tuple, the tuple after NAT, mark and label. */
export interface Connection {
  readonly zone: number;
  /** The tuple of the packet that created it (ct_nw_src… report this). */
  readonly orig: ConnTuple;
  /** What the original direction looks like after NAT (orig when not NATed). */
  readonly translated: ConnTuple;
  readonly nat: 'src' | 'dst' | undefined;
  phase: ConnPhase;
  mark: number;
  label: bigint;
  expires: number;
  /** TCP: a RST was seen, or a FIN each way; a new SYN then starts a new connection. */
  closed?: boolean;
  finOrig?: boolean;
  finReply?: boolean;
}

/** What `ct` is asked to do (the action's arguments, zone resolved). */
export interface CtRequest {
  readonly zone: number;
  readonly commit: boolean;
  readonly force: boolean;
  /** The nested nat action, if any (`nat` without arguments: apply an existing connection's NAT). */
  readonly nat?: NatAction;
  readonly setMark?: { value: number; mask: number };
  readonly setLabel?: { value: bigint; mask: bigint };
}

const key = (zone: number, t: ConnTuple): string => `${zone}|${t.v6 ? 6 : 4}|${t.proto}|${t.src}|${t.dst}|${t.sport}|${t.dport}|${t.icmpType ?? ''}`;

/**
 * A model of Open vSwitch's userspace connection tracker: a table per zone keyed by
 * the 5-tuple (both directions), connection states as lib/conntrack.c moves them
 * (first → multiple → bidirectional), ICMP errors quoting a connection as related,
 * source and destination NAT with reply-direction un-NAT, on an injected clock.
 * TCP is tracked like UDP (no sequence-window checks), with OVS's rules on which
 * TCP packets may open a connection, and a SYN after a RST (or a FIN each way)
 * starting a new one.
 */
export class Conntrack {
  private readonly table = new Map<string, { conn: Connection; reply: boolean }>();

  constructor(private readonly clock: Clock) {}

  /** Live connections (expired ones are dropped first). */
  connections(): Connection[] {
    this.expire();
    return [...new Set([...this.table.values()].map((e) => e.conn))];
  }

  /** Forgets every connection (as `ovs-appctl dpctl/flush-conntrack`). */
  flush(): void {
    this.table.clear();
  }

  /**
   * Runs the packet through conntrack: sets its ct metadata, NATs it, and (when
   * `live`) creates or updates the connection. A dry run leaves the table as it was.
   */
  execute(state: PacketState, req: CtRequest, live: boolean): void {
    this.expire();
    const now = this.clock.now();
    // A packet entering another zone starts untracked there.
    if (state.ct.state !== 0 && state.ct.zone !== req.zone) state.ct.state = 0;
    const ex = extractTuple(state);
    if (ex.kind === 'invalid') {
      this.write(state, req.zone, CtState.INV, undefined, ex.tuple);
      return;
    }
    const lookupTuple = ex.kind === 'related' ? replyOf(ex.inner) : ex.tuple;
    let hit = this.table.get(key(req.zone, lookupTuple));
    // force: a connection seen in the reply direction is ended, and the packet starts a new one
    if (hit && req.force && hit.reply && ex.kind === 'normal') {
      if (live) this.remove(hit.conn);
      hit = undefined;
    }
    const commit = req.commit || req.force;
    if (ex.kind === 'related') {
      if (!hit) {
        this.write(state, req.zone, CtState.INV, undefined, lookupTuple);
        return;
      }
      // the quoted packet's reversed tuple found the connection: reply means the error goes back to its sender
      const reply = hit.reply;
      let bits = CtState.REL | (reply ? CtState.RPL : 0);
      if (req.nat && hit.conn.nat) bits |= applyNat(state, hit.conn, reply, true);
      const conn = live ? hit.conn : { ...hit.conn };
      this.mark(conn, req, commit);
      this.write(state, req.zone, bits, conn, conn.orig);
      return;
    }
    // a SYN on a closed TCP connection ends it and starts a new one
    if (hit && hit.conn.closed && !hit.reply && ex.tcpFlags !== undefined && (ex.tcpFlags & (TCP_FLAGS.SYN | TCP_FLAGS.ACK)) === TCP_FLAGS.SYN) {
      if (live) this.remove(hit.conn);
      hit = undefined;
    }
    if (hit) {
      const conn = live ? hit.conn : { ...hit.conn };
      if (ex.tcpFlags !== undefined) trackTcpClose(conn, ex.tcpFlags, hit.reply);
      let bits: number;
      if (hit.reply) {
        bits = CtState.EST | CtState.RPL;
        conn.phase = 'bidir';
      } else if (conn.phase === 'bidir') {
        bits = CtState.EST;
      } else {
        // more packets one way before any reply: still new (OVS's VALID_NEW)
        bits = CtState.NEW;
        conn.phase = 'multiple';
      }
      conn.expires = now + TIMEOUTS[conn.phase][protoClass(conn.orig.proto)];
      if (req.nat && conn.nat) bits |= applyNat(state, conn, hit.reply, false);
      this.mark(conn, req, commit);
      this.write(state, req.zone, bits, conn, conn.orig);
      return;
    }
    if (!validNew(ex.tuple, ex.tcpFlags)) {
      this.write(state, req.zone, CtState.INV, undefined, ex.tuple);
      return;
    }
    if (!commit) {
      this.write(state, req.zone, CtState.NEW, undefined, ex.tuple);
      return;
    }
    const nat = req.nat?.kind;
    const translated = nat ? this.allocate(req.zone, ex.tuple, req.nat!) : ex.tuple;
    const conn: Connection = { zone: req.zone, orig: ex.tuple, translated, nat, phase: 'first', mark: 0, label: 0n, expires: now + TIMEOUTS.first[protoClass(ex.tuple.proto)] };
    let bits = CtState.NEW;
    if (nat) bits |= applyNat(state, conn, false, false);
    this.mark(conn, req, true);
    if (live) {
      this.table.set(key(req.zone, conn.orig), { conn, reply: false });
      this.table.set(key(req.zone, replyOf(conn.translated)), { conn, reply: true });
    }
    this.write(state, req.zone, bits, conn, conn.orig);
  }

  /** The tuple after NAT: the first address of the range, the original port when the range allows it and it is free, else the first free port. */
  private allocate(zone: number, t: ConnTuple, nat: NatAction): ConnTuple {
    const hasPorts = t.proto === 6 || t.proto === 17;
    const candidates = (): number[] => {
      const cur = nat.kind === 'src' ? t.sport : t.dport;
      if (!hasPorts || nat.portMin === undefined) return [cur];
      const max = nat.portMax ?? nat.portMin;
      const out: number[] = [];
      for (let p = nat.portMin; p <= max; p++) out.push(p);
      return out;
    };
    const addrMin = nat.addressMin?.toBigInt();
    const addrMax = nat.addressMax?.toBigInt() ?? addrMin;
    const addresses: (bigint | undefined)[] = [];
    if (addrMin === undefined || addrMax === undefined) addresses.push(undefined);
    else for (let a = addrMin; a <= addrMax && addresses.length < 256; a++) addresses.push(a);
    let first: ConnTuple | undefined;
    for (const a of addresses) {
      for (const p of candidates()) {
        const cand = natTuple(t, nat.kind!, a, p);
        first ??= cand;
        if (!this.table.has(key(zone, replyOf(cand)))) return cand;
      }
    }
    return first!;
  }

  private mark(conn: Connection, req: CtRequest, commit: boolean): void {
    if (!commit) return;
    if (req.setMark) conn.mark = ((conn.mark & ~req.setMark.mask) | (req.setMark.value & req.setMark.mask)) >>> 0;
    if (req.setLabel) conn.label = (conn.label & ~req.setLabel.mask) | (req.setLabel.value & req.setLabel.mask);
  }

  private write(state: PacketState, zone: number, bits: number, conn: Connection | undefined, tuple: ConnTuple | undefined): void {
    state.ct.state = CtState.TRK | bits;
    state.ct.zone = zone;
    state.ct.mark = conn?.mark ?? 0;
    state.ct.label = conn?.label ?? 0n;
    // an invalid packet carries no tuple
    state.ct.orig = tuple && !(bits & CtState.INV) ? ctTuple(tuple) : undefined;
  }

  private remove(conn: Connection): void {
    this.table.delete(key(conn.zone, conn.orig));
    this.table.delete(key(conn.zone, replyOf(conn.translated)));
  }

  private expire(): void {
    const now = this.clock.now();
    for (const [k, e] of this.table) if (e.conn.expires <= now) this.table.delete(k);
  }
}

/** Marks a TCP connection closed on a RST, or once a FIN went each way. */
function trackTcpClose(conn: Connection, flags: number, reply: boolean): void {
  if (flags & TCP_FLAGS.RST) conn.closed = true;
  if (flags & TCP_FLAGS.FIN) {
    if (reply) conn.finReply = true;
    else conn.finOrig = true;
    if (conn.finOrig && conn.finReply) conn.closed = true;
  }
}

function protoClass(proto: number): 'tcp' | 'udp' | 'icmp' | 'other' {
  return proto === 6 ? 'tcp' : proto === 17 ? 'udp' : proto === 1 || proto === 58 ? 'icmp' : 'other';
}

/** Which packets may open a connection (lib/conntrack.c valid_new): ICMP requests only; TCP without SYN+ACK or an impossible flag mix. */
function validNew(t: ConnTuple, tcpFlags: number | undefined): boolean {
  if (t.proto === 1) return t.icmpType === 8 || t.icmpType === 13 || t.icmpType === 15;
  if (t.proto === 58) return t.icmpType === 128;
  if (t.proto === 6 && tcpFlags !== undefined) {
    const { SYN, ACK, RST, FIN } = TCP_FLAGS;
    if ((tcpFlags & SYN) && (tcpFlags & ACK)) return false;
    if ((tcpFlags & SYN) && (tcpFlags & (RST | FIN))) return false;
    if (tcpFlags === 0) return false;
  }
  return true;
}

/** The ct_* match fields for a tuple: ICMP reports its type and code where TCP/UDP report ports. */
function ctTuple(t: ConnTuple): CtTuple {
  const icmp = t.proto === 1 || t.proto === 58;
  return { v6: t.v6, src: t.src, dst: t.dst, proto: t.proto, tpSrc: icmp ? (t.icmpType ?? 0) : t.sport, tpDst: icmp ? (t.icmpCode ?? 0) : t.dport };
}
