import { describeFrame, type EthernetFrame } from '@dragonflow/packet';
import { formatMatch, portName } from '@dragonflow/openflow';
import type { Match } from '@dragonflow/openflow';

/** One table visit of a traced packet. */
export interface TraceHop {
  readonly table: number;
  /** `<app>.<table>` when the switch knows the pipeline. */
  readonly tableName?: string;
  /** Resubmit nesting depth (0 for the main path). */
  readonly depth: number;
  /** The flow that matched; undefined when nothing matched (the packet was dropped). */
  readonly flow?: {
    readonly priority: number;
    readonly match: Match;
    readonly cookie: bigint;
    /** The owning app and object, from the cookie. */
    readonly app?: string;
    readonly owner?: string;
  };
  /** What the hop did, in words (actions executed, goto, metadata written). */
  readonly did: string[];
}

/** A packet that left the switch on a port. */
export interface TraceOutput {
  readonly port: number;
  readonly frame: EthernetFrame;
  readonly bytes: Uint8Array;
  /** Tunnel metadata set when it left (for tunnel ports). */
  readonly tunnel?: { readonly id: bigint; readonly dst: string; readonly src: string };
}

/** A packet sent to the controller. */
export interface TracePacketIn {
  readonly tableId: number;
  readonly reason: number;
  readonly cookie: bigint;
  readonly frame: EthernetFrame;
  readonly bytes: Uint8Array;
  /** Pipeline fields reported with it (in_port, metadata, registers, tunnel). */
  readonly fields: Readonly<Record<string, bigint>>;
  readonly userdata?: Uint8Array;
}

/** Everything that happened to one packet. */
export class TraceResult {
  readonly hops: TraceHop[] = [];
  readonly outputs: TraceOutput[] = [];
  readonly packetIns: TracePacketIn[] = [];
  /** Why (parts of) the packet were dropped. */
  readonly drops: string[] = [];

  /** The frames that left on `port`. */
  outputOn(port: number): EthernetFrame[] {
    return this.outputs.filter((o) => o.port === port).map((o) => o.frame);
  }

  /** The one frame that left on `port`; throws with the trace when there is not exactly one. */
  only(port: number): EthernetFrame {
    const frames = this.outputOn(port);
    if (frames.length !== 1) throw new Error(`expected one packet out of port ${port}, got ${frames.length}\n${this.describe()}`);
    return frames[0]!;
  }

  get ports(): number[] {
    return this.outputs.map((o) => o.port);
  }

  /** Apps whose flows the packet hit, in order. */
  get apps(): string[] {
    return this.hops.map((h) => h.flow?.app ?? '').filter(Boolean);
  }

  /** A readable account, ofproto/trace style. */
  describe(): string {
    const lines: string[] = [];
    for (const h of this.hops) {
      const pad = '  '.repeat(h.depth);
      const name = h.tableName ? ` (${h.tableName})` : '';
      if (!h.flow) {
        lines.push(`${pad}${h.table}${name}: no match → drop`);
        continue;
      }
      const who = h.flow.app ? ` [${h.flow.app}${h.flow.owner ? ` ${h.flow.owner}` : ''}]` : '';
      lines.push(`${pad}${h.table}${name}: priority=${h.flow.priority}${formatMatch(h.flow.match) ? `,${formatMatch(h.flow.match)}` : ''}${who}`);
      for (const d of h.did) lines.push(`${pad}    ${d}`);
    }
    for (const o of this.outputs) lines.push(`output:${portName(o.port)} ${describeFrame(o.frame)}${o.tunnel ? ` (tunnel id ${o.tunnel.id} to ${o.tunnel.dst})` : ''}`);
    for (const p of this.packetIns) lines.push(`controller (table ${p.tableId}, reason ${p.reason}): ${describeFrame(p.frame)}`);
    for (const d of this.drops) lines.push(`drop: ${d}`);
    return lines.join('\n');
  }
}
