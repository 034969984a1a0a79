import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { Backoff, DfError, describeError, type Clock } from '@dragonflow/base';
import { Lifecycle, type DependencyContainer } from 'tsyringe';
import type { AppContext, AppFlows } from '../app/context.js';
import type { AppDescriptor, AppEventName, AppProvider } from '../app/descriptor.js';
import { APP_CONTEXT, APP_FLOWS, APP_OPTIONS, APP_TABLES, CLOCK, LOGGER, TOPOLOGY } from '../app/tokens.js';
import type { Logger } from '../observe/logger.js';
import type { CoreMetrics } from '../observe/metrics.js';
import type { AppPacketIn } from './events.js';

type Queued =
  | { readonly kind: 'event'; readonly name: AppEventName; readonly event: unknown }
  | { readonly kind: 'packetIn'; readonly event: AppPacketIn }
  | { readonly kind: 'marker'; readonly revision: number }
  | { readonly kind: 'resync'; readonly reason: string }
  | { readonly kind: 'call'; readonly fn: () => void };

export interface AppHostOptions {
  readonly descriptor: AppDescriptor;
  readonly ctx: AppContext;
  readonly parent: DependencyContainer;
  readonly metrics: CoreMetrics;
  readonly log: Logger;
  readonly clock: Clock;
  /** Called after the app processed the marker of `revision`. */
  readonly onRevision: (host: AppHost, revision: number) => void;
}

/** The longest an app handles queued events before letting the event loop turn (I/O, timers, other apps). */
const DRAIN_SLICE_MS = 50;

/**
 * Runs one app: its child container, its ordered event queue (lossless for model,
 * port and switch events; bounded for packet-ins), its handlers, and the
 * containment of its failures. Nothing an app throws leaves this class.
 */
export class AppHost {
  readonly name: string;
  readonly container: DependencyContainer;
  instance: object | undefined;
  /** Last NB revision whose events this app has processed. */
  revision = -1;
  healthy = true;

  private readonly queue: Queued[] = [];
  private queueHead = 0;
  private packetIns: AppPacketIn[] = [];
  private packetInHead = 0;
  private readonly packetInLimit: number;
  /** This app's packet-in counter (a label lookup per packet-in shows in profiles). */
  private readonly packetInCount: { inc(n?: number): void };
  private draining: Promise<void> | undefined;
  private resyncPending = false;
  private resyncRetry: (() => void) | undefined;
  private readonly resyncBackoff = new Backoff({ initialMs: 1_000, maxMs: 30_000 });
  private stopped = false;
  /** Owners set during the resync in progress (others are removed at its end). */
  private touched: Set<string> | undefined;

  constructor(private readonly o: AppHostOptions) {
    this.name = o.descriptor.name;
    this.packetInLimit = o.descriptor.packetInBuffer ?? 1024;
    this.packetInCount = o.metrics.packetIns.labels({ app: this.name });
    this.container = o.parent.createChildContainer();
  }

  get descriptor(): AppDescriptor {
    return this.o.descriptor;
  }

  get ctx(): AppContext {
    return this.o.ctx;
  }

  get flows(): AppFlows {
    return this.o.ctx.flows;
  }

  /** Registers the app's tokens and providers in its child container and builds the app. */
  instantiate(): void {
    const c = this.container;
    const ctx = this.o.ctx;
    c.register(APP_CONTEXT, { useValue: ctx });
    c.register(APP_FLOWS, { useValue: ctx.flows });
    c.register(APP_TABLES, { useValue: ctx.tables });
    // tsyringe cannot resolve a value provider of undefined: an app given no options injects {}.
    c.register(APP_OPTIONS, { useValue: ctx.options ?? Object.freeze({}) });
    c.register(TOPOLOGY, { useValue: ctx.topology });
    c.register(CLOCK, { useValue: ctx.clock });
    c.register(LOGGER, { useValue: ctx.log });
    for (const p of this.o.descriptor.providers ?? []) registerProvider(c, p);
    try {
      this.instance = c.resolve(this.o.descriptor.app as never) as object;
    } catch (cause) {
      throw new DfError('APP_START', `app '${this.name}' could not be built by its container: ${describeError(cause)}`, { cause, context: { app: this.name } });
    }
  }

  /** Records an owner the app set (for resync's sweep of owners it no longer sets). */
  touch(owner: string): void {
    this.touched?.add(owner);
  }

  enqueue(name: AppEventName, event: unknown): void {
    if (this.stopped) return;
    this.queue.push({ kind: 'event', name, event });
    this.kick();
  }

  marker(revision: number): void {
    if (this.stopped) return;
    if (!this.busy) {
      // Nothing queued or being handled: the app is done with everything before the
      // marker. Taken at once — a revision that brought this app nothing (most of a
      // large cloud's, for a chassis) costs no drain, no promise hops.
      this.revision = Math.max(this.revision, revision);
      this.o.onRevision(this, revision);
      return;
    }
    this.queue.push({ kind: 'marker', revision });
    this.kick();
  }

  /**
   * Runs `fn` (core code, not the app's) once the app has handled everything queued
   * before it — e.g. to act on what an event's handler did. Not run if the app stops first.
   */
  after(fn: () => void): void {
    if (this.stopped) return;
    this.queue.push({ kind: 'call', fn });
    this.kick();
  }

  /** Queues a full recompute (at most one pending at a time). */
  requestResync(reason: string): void {
    if (this.stopped || this.resyncPending) return;
    this.resyncPending = true;
    this.queue.push({ kind: 'resync', reason });
    this.kick();
  }

  /** Packet-ins are bounded: when the app is behind by `packetInBuffer`, new ones are dropped and counted. */
  enqueuePacketIn(ev: AppPacketIn): boolean {
    if (this.stopped) return false;
    if (this.packetIns.length - this.packetInHead >= this.packetInLimit) {
      this.o.metrics.packetInsDropped.inc({ app: this.name });
      return false;
    }
    this.packetIns.push(ev);
    this.kick();
    return true;
  }

  /** Resolves when the queues are empty. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  get pending(): number {
    return this.queue.length - this.queueHead + this.packetIns.length - this.packetInHead;
  }

  /** Whether the app has something queued or is handling an event now. */
  get busy(): boolean {
    return this.draining !== undefined || this.pending > 0;
  }

  private kick(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.pending > 0 && !this.stopped) this.kick();
    });
  }

  private next(preferPacketIn: boolean): Queued | undefined {
    const hasQueued = this.queueHead < this.queue.length;
    if (this.packetInHead < this.packetIns.length && (preferPacketIn || !hasQueued)) {
      const event = this.packetIns[this.packetInHead++]!;
      // A burst is taken from the head without shifting the array each time; emptied
      // it starts over, and a long-busy one drops its handled head now and then.
      if (this.packetInHead === this.packetIns.length) {
        this.packetIns = [];
        this.packetInHead = 0;
      } else if (this.packetInHead > 1024 && this.packetInHead * 2 > this.packetIns.length) {
        this.packetIns.splice(0, this.packetInHead);
        this.packetInHead = 0;
      }
      return { kind: 'packetIn', event };
    }
    if (!hasQueued) return undefined;
    const item = this.queue[this.queueHead++]!;
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    return item;
  }

  /**
   * Handles what is queued, in order. A handler that returns no promise is not
   * awaited: the packet-ins one socket read delivered (and the events between them)
   * are handled in one synchronous run, with no promise hop per packet; only an
   * async handler's promise is awaited before the next item.
   */
  private async drain(): Promise<void> {
    // Yield once so that events queued in the same tick are handled together.
    await Promise.resolve();
    // Packet-ins are counted per run, not per packet (the labelled counter's inc
    // hashes its labels and allocates each time): before any wait, and at the end.
    let counted = 0;
    try {
      await this.drainItems(() => {
        if (counted > 0) this.packetInCount.inc(counted);
        counted = 0;
      }, () => counted++);
    } finally {
      if (counted > 0) this.packetInCount.inc(counted);
    }
  }

  /** The items, alternating packet-ins and other items while both wait; `flush` before any wait. */
  private async drainItems(flush: () => void, count: () => void): Promise<void> {
    let turn = false;
    let sliceStart = performance.now();
    for (;;) {
      if (this.stopped) return;
      if (performance.now() - sliceStart >= DRAIN_SLICE_MS) {
        // A bulk queues 10,000s of events: handled in one synchronous run they kept the
        // event loop from the switch's echo requests (Open vSwitch hung up after 5 s),
        // the NB lease and the packet-ins for tens of seconds.
        flush();
        await new Promise((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
        continue;
      }
      turn = !turn;
      const q = this.next(turn);
      if (!q) return;
      if (q.kind === 'packetIn') {
        count();
        const pending = this.dispatch('packetIn', q.event);
        if (pending) {
          flush();
          await pending;
        }
      } else if (q.kind === 'event') {
        const pending = this.dispatch(q.name, q.event);
        if (pending) {
          flush();
          await pending;
        }
      } else if (q.kind === 'marker') {
        this.revision = Math.max(this.revision, q.revision);
        this.o.onRevision(this, q.revision);
      } else if (q.kind === 'call') {
        try {
          q.fn();
        } catch (err) {
          this.o.log.error({ err: describeError(err) }, 'a core step queued after the app failed');
        }
      } else {
        flush();
        await this.resync(q.reason);
      }
    }
  }

  /** Runs one handler; returns a promise only when the handler did (its failure is contained there). */
  private dispatch(name: AppEventName, event: unknown): Promise<void> | undefined {
    const handler = this.o.descriptor.handlers?.[name] as ((app: object, ev: unknown, ctx: AppContext) => unknown) | undefined;
    if (!handler || !this.instance) return undefined;
    let r: unknown;
    try {
      r = handler(this.instance, event, this.o.ctx);
    } catch (err) {
      this.contain(err, name, event);
      return undefined;
    }
    if (!r || typeof (r as Promise<unknown>).then !== 'function') return undefined;
    return (r as Promise<unknown>).then(
      () => undefined,
      (err: unknown) => this.contain(err, name, event),
    );
  }

  /**
   * A handler threw: count it, log it with the
   * event, and recompute the app's flows. Other apps are not affected.
   */
  contain(err: unknown, where: string, event?: unknown): void {
    this.o.metrics.handlerErrors.inc({ app: this.name, event: where });
    this.o.log.error({ event: where, detail: summarize(event), err: describeError(err), stack: err instanceof Error ? err.stack : undefined }, 'app handler failed; recomputing its flows');
    if (where !== 'resync') this.requestResync(`${where} failed`);
  }

  private async resync(reason: string): Promise<void> {
    this.resyncPending = false;
    if (!this.instance) return;
    this.o.metrics.resyncs.inc({ app: this.name, reason: reason.split(' ')[0] ?? reason });
    const before = new Set(this.o.ctx.flows.owners());
    this.touched = new Set();
    try {
      const r = this.o.descriptor.resync(this.instance!, this.o.ctx);
      if (r && typeof (r as Promise<unknown>).then === 'function') await r;
      for (const owner of before) if (!this.touched.has(owner)) this.o.ctx.flows.remove(owner);
      this.healthy = true;
      this.resyncBackoff.reset();
    } catch (err) {
      this.healthy = false;
      this.contain(err, 'resync');
      // Keep the flows it had; try again later rather than spin.
      this.resyncRetry?.();
      this.resyncRetry = this.o.clock.setTimer(this.resyncBackoff.next(), () => {
        this.resyncRetry = undefined;
        this.requestResync('retry');
      });
    } finally {
      this.touched = undefined;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.resyncRetry?.();
    try {
      if (this.instance && this.o.descriptor.stop) await this.o.descriptor.stop(this.instance);
    } catch (err) {
      this.contain(err, 'stop');
    }
    await this.container.dispose();
  }
}

function registerProvider(c: DependencyContainer, p: AppProvider): void {
  if ('useValue' in p) c.register(p.provide, { useValue: p.useValue });
  else if ('useClass' in p) c.register(p.provide, { useClass: p.useClass as never }, { lifecycle: Lifecycle.ContainerScoped });
  else c.register(p.provide, { useFactory: (dc) => p.useFactory((t) => dc.resolve(t)) });
}

function summarize(event: unknown): unknown {
  if (!event || typeof event !== 'object') return event;
  const e = event as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of ['kind', 'table', 'id', 'revision', 'tableId', 'tableName', 'owner', 'inPort']) if (k in e) out[k] = typeof e[k] === 'bigint' ? String(e[k]) : e[k];
  if (e['port'] && typeof e['port'] === 'object') out['port'] = (e['port'] as { id?: unknown }).id;
  return out;
}
