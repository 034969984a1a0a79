import type { Observable } from 'rxjs';
import type { ControllerRole, ErrorMsg, FlowMod, FlowRemoved, FlowStats, GroupDesc, GroupMod, MeterConfig, MeterMod, NxPacketIn2, PacketIn, PacketOut, PortStatus } from '@dragonflow/openflow';

type WithoutXid<T> = T extends unknown ? Omit<T, 'xid'> : never;

/**
 * A message already in its wire form (the reconciler keeps flows encoded: see
 * reconciler/wire.ts). The channel copies the bytes and sets the xid; everything
 * else is as encoded.
 */
export interface EncodedRequest {
  readonly type: 'encoded';
  /** The message, one byte per char (latin1). */
  readonly wire: string;
  /** A flow-mod sent with another command than the one encoded (OFPFC_*: MODIFY_STRICT re-instructs a flow kept as an ADD). */
  readonly flowModCommand?: number;
}

/** Messages the reconciler sends; the channel assigns transaction ids. */
export type SwitchRequest = WithoutXid<FlowMod | GroupMod | MeterMod | PacketOut> | EncodedRequest;

/** Asynchronous messages a switch sends the controller. */
export type SwitchAsyncMessage = PacketIn | NxPacketIn2 | FlowRemoved | PortStatus;

/** The switch's ROLE_REPLY: this connection's role and the generation id it knows. */
export interface RoleAnswer {
  readonly role: ControllerRole;
  readonly generationId: bigint;
}

/** An error the switch reported, matched to the request (by its index in the batch) that caused it. */
export interface BatchError {
  readonly index: number;
  readonly request: SwitchRequest;
  readonly error: ErrorMsg;
}

export interface BatchOutcome {
  readonly errors: readonly BatchError[];
}

/**
 * The reconciler's view of one connected switch. Implemented by the real OpenFlow
 * connection (through an adapter) and by @dragonflow/testing's FakeSwitch: both are
 * driven by the same reconciler.
 */
export interface SwitchChannel {
  readonly datapathId: bigint;
  /**
   * Sends the requests in order, then a barrier. Resolves when the barrier reply
   * arrives (so the switch has processed every request), with the errors the switch
   * sent for any of them. Rejects when the connection is lost first.
   */
  sendBatch(requests: readonly SwitchRequest[]): Promise<BatchOutcome>;
  /**
   * Sends the requests in order with no barrier: nothing confirms them, and an error
   * the switch sends for one is reported by the connection, matched to no caller.
   * Resolves once they are handed to the connection. Optional: the immediate lane
   * sends unconfirmed packet-outs with `sendBatch` on a channel without it.
   */
  send?(requests: readonly SwitchRequest[]): Promise<void>;
  /** Every flow in every table (flow-stats multipart, all parts). */
  dumpFlows(): Promise<readonly FlowStats[]>;
  /** Every group (group-desc multipart). */
  dumpGroups(): Promise<readonly GroupDesc[]>;
  /**
   * Every meter (meter-config multipart). A channel without it is taken to have no
   * meters: a reconnect then adds the desired ones again.
   */
  dumpMeters?(): Promise<readonly MeterConfig[]>;
  /**
   * ROLE_REQUEST (a hot-standby pair: docs/ha.md): resolves with the role and
   * generation id the switch answers; rejects with the switch's error (for example
   * OFPRRFC_STALE for a generation older than the one it knows). Optional: a
   * channel without it cannot take part in a standby pair.
   */
  requestRole?(role: ControllerRole, generationId: bigint): Promise<RoleAnswer>;
  /** Packet-ins, flow-removed and port-status messages; completes when the connection closes. */
  readonly messages$: Observable<SwitchAsyncMessage>;
}
