import 'reflect-metadata';
import { ManualClock } from '@dragonflow/base';
import { container } from 'tsyringe';
import { describe, expect, it } from 'vitest';
import type { AppContext } from '../app/context.js';
import type { AppDescriptor, AppHandlers } from '../app/descriptor.js';
import { silentLogger } from '../observe/logger.js';
import { CoreMetrics } from '../observe/metrics.js';
import { AppHost } from './app-host.js';
import type { AppPacketIn } from './events.js';

class Probe {}

/** An app host around `handlers`, its resyncs counted (the app's flows: none). */
function host(handlers: AppHandlers<Probe>, packetInBuffer?: number, onRevision: (h: AppHost, revision: number) => void = () => undefined) {
  const metrics = new CoreMetrics();
  const resyncs: string[] = [];
  const descriptor: AppDescriptor<Probe> = {
    name: 'probe',
    coreApi: '^1.0.0',
    app: Probe,
    handlers,
    resync: () => void resyncs.push('resync'),
    ...(packetInBuffer !== undefined ? { packetInBuffer } : {}),
  };
  const ctx = { flows: { owners: () => [], remove: () => undefined } } as unknown as AppContext;
  const h = new AppHost({ descriptor: descriptor as AppDescriptor, ctx, parent: container, metrics, log: silentLogger(), clock: new ManualClock(), onRevision });
  h.instantiate();
  const errors = async (): Promise<number> => (await metrics.handlerErrors.get()).values.reduce((n, v) => n + v.value, 0);
  const dropped = async (): Promise<number> => (await metrics.packetInsDropped.get()).values.reduce((n, v) => n + v.value, 0);
  return { h, resyncs, errors, dropped };
}

const pin = (n: number): AppPacketIn => ({ sourcePortKey: n }) as unknown as AppPacketIn;

describe('AppHost: packet-ins', () => {
  it('handles the packet-ins of one burst in order, in one run: no promise hop between two synchronous handlers', async () => {
    const seen: string[] = [];
    const { h } = host({
      packetIn: (_app, ev) => {
        seen.push(`p${ev.sourcePortKey}`);
        // Runs only once the run of handlers is over: nothing is awaited between them.
        if (ev.sourcePortKey === 1) queueMicrotask(() => seen.push('microtask'));
      },
    });
    for (const n of [1, 2, 3, 4]) h.enqueuePacketIn(pin(n));
    await h.idle();
    expect(seen).toEqual(['p1', 'p2', 'p3', 'p4', 'microtask']);
  });

  it('a handler that throws affects its own packet only: the others are handled, in order; counted once, one resync', async () => {
    const seen: number[] = [];
    const { h, resyncs, errors } = host({
      packetIn: (_app, ev) => {
        if (ev.sourcePortKey === 2) throw new Error('bad packet');
        seen.push(ev.sourcePortKey);
      },
    });
    for (const n of [1, 2, 3]) h.enqueuePacketIn(pin(n));
    await h.idle();
    expect(seen).toEqual([1, 3]);
    expect(await errors()).toBe(1);
    expect(resyncs).toEqual(['resync']);
  });

  it('an async handler is awaited before the next packet; its rejection is contained like a throw', async () => {
    const seen: string[] = [];
    const { h, resyncs, errors } = host({
      packetIn: async (_app, ev) => {
        seen.push(`start ${ev.sourcePortKey}`);
        await new Promise((r) => setTimeout(r, 5));
        seen.push(`end ${ev.sourcePortKey}`);
        if (ev.sourcePortKey === 1) throw new Error('late failure');
      },
    });
    for (const n of [1, 2]) h.enqueuePacketIn(pin(n));
    await h.idle();
    expect(seen).toEqual(['start 1', 'end 1', 'start 2', 'end 2']);
    expect(await errors()).toBe(1);
    expect(resyncs).toEqual(['resync']);
  });

  it('keeps events and packet-ins in their queues’ order whichever handler kind runs', async () => {
    const seen: string[] = [];
    const { h } = host({
      packetIn: (_app, ev) => void seen.push(`p${ev.sourcePortKey}`),
      switchConnected: async () => {
        await Promise.resolve();
        seen.push('connected');
      },
      switchDisconnected: () => void seen.push('disconnected'),
    });
    h.enqueue('switchConnected', { kind: 'connected', datapathId: 1n });
    h.enqueuePacketIn(pin(1));
    h.enqueue('switchDisconnected', { kind: 'disconnected', datapathId: 1n });
    h.enqueuePacketIn(pin(2));
    await h.idle();
    expect(seen.filter((s) => !s.startsWith('p'))).toEqual(['connected', 'disconnected']);
    expect(seen.filter((s) => s.startsWith('p'))).toEqual(['p1', 'p2']);
  });

  it('bounds the packet-ins waiting; once they are handled the buffer takes new ones again', async () => {
    const seen: number[] = [];
    const { h, dropped } = host({ packetIn: (_app, ev) => void seen.push(ev.sourcePortKey) }, 3);
    const accepted = [1, 2, 3, 4, 5].map((n) => h.enqueuePacketIn(pin(n)));
    expect(accepted).toEqual([true, true, true, false, false]);
    await h.idle();
    expect(h.enqueuePacketIn(pin(6))).toBe(true);
    await h.idle();
    expect(seen).toEqual([1, 2, 3, 6]);
    expect(await dropped()).toBe(2);
    expect(h.pending).toBe(0);
  });
});

describe('AppHost: long runs', () => {
  it('lets the event loop turn while it works through a long queue, handling everything in order', async () => {
    const seen: number[] = [];
    const turnsDuring: number[] = [];
    const { h } = host({
      packetIn: (_app, ev) => {
        // 2 ms of work per event: 100 events are 200 ms, four times the slice.
        const until = performance.now() + 2;
        while (performance.now() < until);
        seen.push(ev.sourcePortKey);
      },
    });
    for (let n = 0; n < 100; n++) h.enqueuePacketIn(pin(n));
    // Scheduled before the drain starts: in one synchronous run it would only fire after the last event.
    const tick = (): void => {
      turnsDuring.push(seen.length);
      if (seen.length < 100) setImmediate(tick);
    };
    setImmediate(tick);
    await h.idle();
    expect(seen).toEqual(Array.from({ length: 100 }, (_, n) => n));
    expect(turnsDuring.filter((n) => n > 0 && n < 100).length).toBeGreaterThanOrEqual(2);
  });
});

describe('AppHost: revision markers', () => {
  it('takes a marker at once when nothing is queued, and only after the events queued before it otherwise', async () => {
    const seen: string[] = [];
    let release: () => void = () => undefined;
    const { h } = host(
      {
        modelChanged: async (_app, ev) => {
          seen.push(`start ${ev.id}`);
          await new Promise<void>((r) => (release = r));
          seen.push(`end ${ev.id}`);
        },
      },
      undefined,
      (_h, revision) => void seen.push(`marker ${revision}`),
    );
    h.marker(1);
    // Nothing queued: the app is done with everything before revision 1, said synchronously.
    expect(seen).toEqual(['marker 1']);
    expect(h.revision).toBe(1);
    h.enqueue('modelChanged', { kind: 'created', table: 'logical_port', id: 'a', revision: 2 });
    h.marker(2);
    await new Promise((r) => setTimeout(r, 0));
    expect(seen).toEqual(['marker 1', 'start a']);
    expect(h.revision).toBe(1);
    release();
    await h.idle();
    expect(seen).toEqual(['marker 1', 'start a', 'end a', 'marker 2']);
    expect(h.revision).toBe(2);
  });
});
