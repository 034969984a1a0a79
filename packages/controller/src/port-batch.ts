import { decodeObject, type LogicalPort, type NbApi } from '@dragonflow/nb';

/**
 * Ports per NB transaction (a write, or a `getMany`): etcd refuses a transaction of
 * more than 128 operations by default (`--max-txn-ops`), and a port's read or write is one.
 */
export const MAX_PORTS_PER_TXN = 100;

interface Pending<T, R> {
  readonly item: T;
  resolve(v: R): void;
  reject(e: unknown): void;
}

/** Items handed in during one turn of the event loop, flushed together at its end. */
class TurnQueue<T, R> {
  private pending: Pending<T, R>[] = [];
  private scheduled = false;

  constructor(private readonly flush: (batch: Pending<T, R>[]) => Promise<void>) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        const batch = this.pending;
        this.pending = [];
        // flush settles every item itself; nothing is left to reject here.
        void this.flush(batch);
      });
    });
  }
}

/**
 * The binder's reads and writes of logical ports, coalesced: at a bulk, the N ports'
 * flows are confirmed by one barrier, and their N re-reads and N status writes then
 * come in one turn of the event loop. Each was its own NB round trip and its own
 * transaction, echoed back as its own revision; now they go as one `getMany` and
 * one transaction per `MAX_PORTS_PER_TXN` ports.
 *
 * A batched write is all-or-nothing in the DB, but not for its callers: if it fails
 * (one port deleted or written by someone else meanwhile), each of its ports is
 * written again on its own, so only the port at fault gets the error and the
 * others are written as if they had never been batched.
 */
export class PortBatch {
  private readonly reads = new TurnQueue<string, { port: LogicalPort; revision: number } | undefined>((b) => this.flushReads(b));
  private readonly writes = new TurnQueue<LogicalPort, void>((b) => this.flushWrites(b));

  constructor(private readonly nb: NbApi) {}

  /** The port as the DB has it now, with the revision of its last write. */
  read(portId: string): Promise<{ port: LogicalPort; revision: number } | undefined> {
    return this.reads.add(portId);
  }

  /** Replaces the port (compare-and-swap on `port.version`, as `NbApi.update`). */
  write(port: LogicalPort): Promise<void> {
    return this.writes.add(port);
  }

  private async flushReads(batch: Pending<string, { port: LogicalPort; revision: number } | undefined>[]): Promise<void> {
    await Promise.all(chunks(batch, MAX_PORTS_PER_TXN).map((c) => this.readChunk(c)));
  }

  private async readChunk(batch: Pending<string, { port: LogicalPort; revision: number } | undefined>[]): Promise<void> {
    try {
      const ids = batch.map((p) => p.item);
      const recs = await this.nb.driver.getMany('logical_port', ids);
      batch.forEach((p, i) => {
        const rec = recs[i];
        try {
          p.resolve(rec ? { port: decodeObject('logical_port', rec.value, rec.version), revision: rec.modRevision } : undefined);
        } catch (err) {
          p.reject(err);
        }
      });
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }

  private async flushWrites(batch: Pending<LogicalPort, void>[]): Promise<void> {
    // One port written twice in a turn: the later write waits for the next turn
    // (its version is the one the first write produces, not the one read).
    const seen = new Set<string>();
    const now: Pending<LogicalPort, void>[] = [];
    for (const p of batch) {
      if (seen.has(p.item.id)) {
        this.writes.add(p.item).then(p.resolve, p.reject);
        continue;
      }
      seen.add(p.item.id);
      now.push(p);
    }
    await Promise.all(chunks(now, MAX_PORTS_PER_TXN).map((c) => this.writeChunk(c)));
  }

  private async writeChunk(chunk: Pending<LogicalPort, void>[]): Promise<void> {
    if (chunk.length > 1) {
      try {
        // One attempt: a conflict means some port changed since the binder read it; that port's own write below says which.
        await this.nb.transaction((tx) => Promise.all(chunk.map((p) => tx.update('logical_port', p.item))), { maxAttempts: 1 });
        for (const p of chunk) p.resolve();
        return;
      } catch {
        // Fall through: each port on its own.
      }
    }
    await Promise.all(
      chunk.map((p) =>
        this.nb.update('logical_port', p.item).then(
          () => p.resolve(),
          (err: unknown) => p.reject(err),
        ),
      ),
    );
  }
}

function chunks<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}
