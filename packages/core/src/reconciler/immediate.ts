import type { Op } from './ops.js';
import type { Sender } from './sender.js';
import type { BatchOutcome, SwitchChannel } from './switch.js';

const NO_ERRORS: BatchOutcome['errors'] = [];

/**
 * An unconfirmed tick is written once it holds this many requests, before the tick
 * ends: the switch starts on the first answers of a burst of punts while the
 * controller answers the rest (one write at the end made the switch wait for the
 * last answer of the burst, and the controller for the switch). 50 is what Open
 * vSwitch reads from one connection per turn of its main loop; a write wakes a
 * sleeping ovs-vswitchd, and each turn of the userspace datapath polls all of its
 * ports first, so fewer, larger writes cost it fewer turns per answer
 * (docs/benchmarks.md, DHCP, 2026-12-08).
 */
export const UNCONFIRMED_FLUSH = 50;

/** The immediate requests of one tick, and who waits for their barrier. */
interface TickBatch {
  readonly channel: SwitchChannel;
  readonly ops: Op[];
  readonly waiters: { resolve: () => void; reject: (e: unknown) => void }[];
  /** Whether any caller of the tick wants the switch's confirmation (a barrier). */
  confirm: boolean;
}

/**
 * The immediate lane (reactive installs, packet-outs): requests made in one tick
 * (an app handling a burst of packet-ins) share one batch, one socket write and one
 * barrier; each caller's requests stay together and in call order, so every
 * caller's flow-mods precede its packet-out. A tick whose callers all said
 * `confirm: false` (answers nobody waits for) is written with no barrier, when the
 * channel can: its callers resolve once it is written.
 */
export class ImmediateLane {
  private tick: TickBatch | undefined;

  constructor(private readonly sender: Sender) {}

  /** Adds ops to this tick's batch; it is sent once the tick's work is done (process.nextTick runs after the pending promise jobs). */
  join(channel: SwitchChannel, ops: readonly Op[], confirm = true): Promise<void> {
    if (this.tick && this.tick.channel !== channel) this.sendTick();
    let tick = this.tick;
    if (!tick) {
      tick = { channel, ops: [], waiters: [], confirm: false };
      this.tick = tick;
      process.nextTick(() => this.sendTick());
    }
    if (confirm) tick.confirm = true;
    for (const op of ops) tick.ops.push(op);
    const done = new Promise<void>((resolve, reject) => tick.waiters.push({ resolve, reject }));
    if (!tick.confirm && tick.ops.length >= UNCONFIRMED_FLUSH && channel.send) this.sendTick();
    return done;
  }

  private sendTick(): void {
    const tick = this.tick;
    if (!tick) return;
    this.tick = undefined;
    this.sender.count(tick.ops);
    const requests = tick.ops.map((o) => o.request);
    const send = tick.channel.send;
    const failed = (err: unknown): void => {
      for (const w of tick.waiters) w.reject(err);
    };
    let sent: Promise<BatchOutcome | void>;
    try {
      // Unconfirmed: nothing comes back to settle; an error the switch sends is the connection's to report.
      sent = !tick.confirm && send ? send.call(tick.channel, requests) : tick.channel.sendBatch(requests);
    } catch (err) {
      failed(err);
      return;
    }
    sent.then((outcome) => {
      this.sender.settle(tick.ops, outcome ? outcome.errors : NO_ERRORS);
      for (const w of tick.waiters) w.resolve();
    }, failed);
  }
}
