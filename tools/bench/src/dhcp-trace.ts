import { performance } from 'node:perf_hooks';
import type { OfConnection, SwitchChannel } from '@dragonflow/core/host';

const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? Number.NaN;

/**
 * Where our controller's time goes, seen from its OpenFlow connection (no change to
 * the controller): when each packet-in arrives, when the batch carrying a packet-out
 * is handed to the connection (with a barrier, `sendBatch`, or unconfirmed, `send`),
 * and how long a batch with a barrier waits for its reply.
 */
export class ControllerTrace {
  private inAt: number[] = [];
  private outAt: number[] = [];
  private barrier: number[] = [];
  private unconfirmed = 0;

  constructor(conn: OfConnection) {
    conn.packetIn$.subscribe(() => this.inAt.push(performance.now()));
  }

  /** `base` with its batches timed. */
  wrap(base: SwitchChannel): SwitchChannel {
    const send = base.send;
    return {
      ...base,
      ...(send
        ? {
            send: (requests: Parameters<typeof send>[0]) => {
              const outs = requests.filter((r) => r.type === 'packet_out').length;
              const t0 = performance.now();
              for (let i = 0; i < outs; i++) this.outAt.push(t0);
              if (outs > 0) this.unconfirmed++;
              return send.call(base, requests);
            },
          }
        : {}),
      sendBatch: async (requests) => {
        const outs = requests.filter((r) => r.type === 'packet_out').length;
        const t0 = performance.now();
        for (let i = 0; i < outs; i++) this.outAt.push(t0);
        const r = await base.sendBatch(requests);
        if (outs > 0) this.barrier.push(performance.now() - t0);
        return r;
      },
    };
  }

  reset(): void {
    this.inAt = [];
    this.outAt = [];
    this.barrier = [];
    this.unconfirmed = 0;
  }

  /** One exchange at a time: the i-th packet-out answers the i-th packet-in. */
  controllerMs(): { p50: number; p99: number } {
    const n = Math.min(this.inAt.length, this.outAt.length);
    const d = Array.from({ length: n }, (_, i) => this.outAt[i]! - this.inAt[i]!);
    return { p50: quantile(d, 0.5), p99: quantile(d, 0.99) };
  }

  /** Packet-out batches (with a barrier, and without), and the barrier round trips. */
  barriers(): { batches: number; unconfirmed: number; packetOuts: number; p50: number } {
    return { batches: this.barrier.length + this.unconfirmed, unconfirmed: this.unconfirmed, packetOuts: this.outAt.length, p50: quantile(this.barrier, 0.5) };
  }
}
