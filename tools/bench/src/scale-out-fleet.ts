/**
 * The fleet of bench:scale-out: worker processes (scale-out-worker.ts) that run the
 * chassis controllers between them, and what they report back — when each chassis
 * confirmed each probe port, their memory and CPU.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChassisStats, NbTarget, WorkerReply, WorkerRequest } from './scale-out-worker.js';
import type { CloudShape } from './scale-out-topology.js';

const WORKER = fileURLToPath(new URL('./scale-out-worker.js', import.meta.url));

export interface FleetStats {
  /** Heap used by the controllers (after a GC, less each worker's heap before its first controller). */
  readonly heap: number;
  readonly rss: number;
  /** CPU seconds of all workers since they started. */
  readonly cpu: number;
  readonly chassis: readonly ChassisStats[];
}

/** Confirmations of one probe port: chassis → CLOCK_MONOTONIC ms. */
export type Confirmations = Map<number, number>;

export class Fleet {
  private readonly confirmations = new Map<string, Confirmations>();
  private readonly waiters = new Map<string, { needs: readonly number[]; resolve: () => void }>();
  private readonly replies = new Map<ChildProcess, ((m: WorkerReply) => void)[]>();

  private constructor(private readonly workers: readonly ChildProcess[]) {
    for (const w of workers) {
      this.replies.set(w, []);
      w.on('message', (m: WorkerReply) => this.onMessage(w, m));
    }
  }

  /** Starts `workers` processes sharing chassis 0 … running − 1 round-robin (a tenant's chassis land on different workers, as they are different hosts). */
  static async start(target: NbTarget, shape: CloudShape, workers: number, wave = 4): Promise<{ fleet: Fleet; ms: number }> {
    const n = Math.min(workers, shape.running);
    const procs = Array.from({ length: n }, () => fork(WORKER, [], { execArgv: ['--expose-gc', '--max-old-space-size=8192'], serialization: 'advanced' }));
    const fleet = new Fleet(procs);
    let started: WorkerReply[];
    try {
      started = await Promise.all(
        procs.map((w, i) => fleet.request(w, { type: 'start', target, shape, chassis: Array.from({ length: shape.running }, (_, c) => c).filter((c) => c % n === i), wave })),
      );
    } catch (err) {
      await fleet.stop();
      throw err;
    }
    return { fleet, ms: Math.max(...started.map((r) => (r.type === 'started' ? r.ms : 0))) };
  }

  private onMessage(w: ChildProcess, m: WorkerReply): void {
    if (m.type === 'confirmed') {
      let got = this.confirmations.get(m.portId);
      if (!got) this.confirmations.set(m.portId, (got = new Map()));
      got.set(m.chassis, m.at);
      const waiter = this.waiters.get(m.portId);
      if (waiter && waiter.needs.every((c) => got!.has(c))) {
        this.waiters.delete(m.portId);
        waiter.resolve();
      }
      return;
    }
    this.replies.get(w)!.shift()?.(m);
  }

  /** A worker's answer; its failure rejects (so the caller's cleanup stops every process). */
  private async request(w: ChildProcess, m: WorkerRequest): Promise<WorkerReply> {
    const reply = await new Promise<WorkerReply>((resolve) => {
      this.replies.get(w)!.push(resolve);
      w.send(m);
    });
    if (reply.type === 'failed') throw new Error(`a scale-out worker failed: ${reply.error}`);
    return reply;
  }

  /** Every worker watches for `portId`; the host chassis' worker reports its interface plugged on `ofport`. */
  async arm(portId: string, host: number, ofport: number): Promise<void> {
    await Promise.all(this.workers.map((w) => this.request(w, { type: 'arm', portId, host, ofport })));
  }

  /** Resolves when every chassis of `needs` confirmed `portId`, or after `timeoutMs`. */
  async confirmed(portId: string, needs: readonly number[], timeoutMs: number): Promise<Confirmations> {
    const got = this.confirmations.get(portId);
    if (!got || !needs.every((c) => got.has(c))) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.waiters.set(portId, {
          needs,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
      this.waiters.delete(portId);
    }
    return this.confirmations.get(portId) ?? new Map();
  }

  async stats(): Promise<FleetStats> {
    const all = await Promise.all(this.workers.map((w) => this.request(w, { type: 'stats' })));
    let heap = 0;
    let rss = 0;
    let cpu = 0;
    const chassis: ChassisStats[] = [];
    for (const r of all) {
      if (r.type !== 'stats') continue;
      heap += r.heapUsed - r.baselineHeap;
      rss += r.rss;
      cpu += r.cpu;
      chassis.push(...r.chassis);
    }
    return { heap, rss, cpu, chassis: chassis.sort((a, b) => a.chassis - b.chassis) };
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.workers.map(async (w) => {
        const exited = new Promise((r) => w.once('exit', r));
        if (w.connected) await Promise.race([this.request(w, { type: 'stop' }).catch(() => undefined), new Promise((r) => setTimeout(r, 30_000))]);
        if (w.exitCode === null) w.kill('SIGTERM');
        await exited;
      }),
    );
  }
}
