import { Backoff, type DfError } from '@dragonflow/base';
import { type ChangeBatch, type ChangeEvent, type ChangeFeed, NbErrorCode, type Revision, type WatchOptions, compactedError } from '@dragonflow/nb';
import type { IDuplexStream, IWatchRequest, IWatchResponse } from 'etcd3';
import type { EtcdDriver } from './driver.js';
import { mapEtcdError } from './errors.js';
import { prefixEnd } from './keys.js';

/**
 * The change feed on etcd: a raw watch stream over the data prefix starting at the
 * next revision we owe the consumer. We track that revision ourselves (not the
 * etcd3 library's watcher, which may skip history on reconnect), so after any break
 * the new stream starts exactly after the last batch delivered. When the consumer
 * falls `highWaterMark` batches behind we cancel the stream and reopen it from the
 * same point once it catches up: memory stays bounded and nothing is lost.
 */
export class EtcdFeed implements ChangeFeed {
  private readonly queue: ChangeBatch[] = [];
  private next: Revision;
  private delivered: Revision;
  private stream: IDuplexStream<IWatchRequest, IWatchResponse> | undefined;
  private opening = false;
  private paused = false;
  private closed = false;
  private failure: DfError | undefined;
  private wake: (() => void) | undefined;
  // Every chassis' watch breaks when etcd restarts: spread the reopens out.
  private readonly retry = new Backoff({ initialMs: 50, maxMs: 1_000, jitter: 0.5 });
  private cancelRetry: (() => void) | undefined;
  private readonly hwm: number;
  private readonly tables: ReadonlySet<string> | undefined;

  constructor(
    private readonly driver: EtcdDriver,
    fromRevision: Revision,
    options: WatchOptions,
    private readonly onClose: () => void,
  ) {
    this.next = fromRevision;
    this.delivered = fromRevision - 1;
    this.hwm = Math.max(1, options.highWaterMark ?? 256);
    this.tables = options.tables ? new Set(options.tables) : undefined;
  }

  get lastRevision(): Revision {
    return this.delivered;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelRetry?.();
    this.dropStream();
    this.wake?.();
    this.onClose();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ChangeBatch> {
    void this.open();
    while (!this.closed) {
      // Declared per pass, so the wait below does not keep the last batch handed out
      // reachable (a suspended generator keeps its locals).
      const batch = this.queue.shift();
      let events: ChangeEvent[] | undefined;
      if (batch) {
        if (this.paused && this.queue.length <= this.hwm / 2) {
          this.paused = false;
          void this.open();
        }
        this.delivered = batch.revision;
        events = this.tables ? batch.events.filter((e) => this.tables!.has(e.table)) : batch.events;
        if (events.length > 0) yield events === batch.events ? batch : { revision: batch.revision, events };
        continue;
      }
      if (this.failure) throw this.failure;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }

  private async open(): Promise<void> {
    if (this.closed || this.paused || this.stream || this.opening || this.failure) return;
    this.opening = true;
    try {
      const stream = await this.driver.client.watchClient.watch();
      if (this.closed || this.paused) {
        stream.cancel();
        return;
      }
      this.stream = stream;
      stream.on('data', (res) => this.onResponse(stream, res));
      stream.on('error', (err) => this.onBroken(stream, err));
      stream.on('end', () => this.onBroken(stream, new Error('watch stream ended')));
      const key = Buffer.from(this.driver.keys.data, 'utf8');
      stream.write({ create_request: { key, range_end: prefixEnd(key), start_revision: String(this.next) } });
    } catch (err) {
      this.onBroken(undefined, err);
    } finally {
      this.opening = false;
    }
  }

  private onResponse(stream: IDuplexStream<IWatchRequest, IWatchResponse>, res: IWatchResponse): void {
    if (stream !== this.stream) return;
    if (!this.driver.noteCluster(res.header)) {
      this.fail(compactedError(this.next, 0, 'etcd now serves a different cluster (DB replaced)'));
      return;
    }
    if (res.created) {
      const current = Number(res.header.revision);
      if (this.next > current + 1) {
        this.fail(compactedError(this.next, 0, `etcd is at revision ${current}, behind the feed (DB reset)`));
        return;
      }
      this.retry.reset();
      this.driver.setConnected(true);
    }
    if (res.canceled) {
      const compact = Number(res.compact_revision);
      if (compact > 0) {
        this.fail(compactedError(this.next, compact));
        return;
      }
      this.onBroken(stream, new Error(`watch canceled by etcd: ${res.cancel_reason}`));
      return;
    }
    if (res.events.length === 0) return;
    let current: ChangeBatch | undefined;
    for (const ev of res.events) {
      const rev = Number(ev.kv.mod_revision);
      if (rev < this.next) continue; // already delivered before a reconnect
      const key = this.driver.keys.parse(ev.kv.key);
      if (!key) continue;
      if (!current || current.revision !== rev) {
        if (current) this.push(current);
        current = { revision: rev, events: [] };
      }
      const event: ChangeEvent =
        ev.type === 'Put'
          ? { type: 'put', table: key.table, id: key.id, value: ev.kv.value.toString('utf8'), version: Number(ev.kv.version) }
          : { type: 'delete', table: key.table, id: key.id, version: 0 };
      current.events.push(event);
    }
    if (current) this.push(current);
    if (this.queue.length >= this.hwm && !this.paused) {
      // Stop reading until the consumer catches up; reopen from this.next then.
      this.paused = true;
      this.dropStream();
    }
  }

  private push(batch: ChangeBatch): void {
    this.queue.push(batch);
    this.next = batch.revision + 1;
    this.wake?.();
  }

  private onBroken(stream: IDuplexStream<IWatchRequest, IWatchResponse> | undefined, err: unknown): void {
    if (stream && stream !== this.stream) return;
    this.stream = undefined;
    stream?.cancel();
    if (this.closed || this.paused || this.failure) return;
    const mapped = mapEtcdError(err, this.driver.endpoint, 'watch');
    if (mapped.code === NbErrorCode.COMPACTED || mapped.code === NbErrorCode.CLOSED) {
      this.fail(mapped);
      return;
    }
    this.driver.setConnected(false);
    this.cancelRetry = this.driver.clock.setTimer(this.retry.next(), () => void this.open());
  }

  private fail(err: DfError): void {
    this.failure = err;
    this.dropStream();
    this.wake?.();
  }

  private dropStream(): void {
    const s = this.stream;
    this.stream = undefined;
    if (s) {
      try {
        s.cancel();
      } catch {
        // already gone
      }
    }
  }
}
