import { performance } from 'node:perf_hooks';
import type { OfConnection, SwitchChannel } from '@dragonflow/core/host';

const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? Number.NaN;

/**
 * Where our controller's time goes, seen from its OpenFlow connection (no change to
 * the controller): when each packet-in arrives, when the batch carrying a packet-out
 * is handed to the connection, and how long that batch waits for its barrier reply.
 */
export class ControllerTrace {
  private inAt: number[] = [];
  private outAt: number[] = [];
  private barrier: number[] = [];

  constructor(conn: OfConnection) {
    conn.packetIn$.subscribe(() => this.inAt.push(performance.now()));
  }

  /** `base` with its batches timed. */
  wrap(base: SwitchChannel): SwitchChannel {
    return {
      ...base,
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
  }

  /** One exchange at a time: the i-th packet-out answers the i-th packet-in. */
  controllerMs(): { p50: number; p99: number } {
    const n = Math.min(this.inAt.length, this.outAt.length);
    const d = Array.from({ length: n }, (_, i) => this.outAt[i]! - this.inAt[i]!);
    return { p50: quantile(d, 0.5), p99: quantile(d, 0.99) };
  }

  /** Packet-out batches and their barrier round trips. */
  barriers(): { batches: number; packetOuts: number; p50: number } {
    return { batches: this.barrier.length, packetOuts: this.outAt.length, p50: quantile(this.barrier, 0.5) };
  }
}
