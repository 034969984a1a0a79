import { mkdtempSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listenUnix } from '@dragonflow/base';
import { flow } from '@dragonflow/core';
import { OWNER_KINDS, Reconciler, silentLogger, type SwitchChannel } from '@dragonflow/core/host';
import { act } from '@dragonflow/openflow';
import { FakeSwitch } from '@dragonflow/testing';
import { firstValueFrom, filter } from 'rxjs';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ControllerMetrics } from '../metrics.js';
import { ActiveSocket } from './active-socket.js';
import { StandbyPair, type TakeoverRecord } from './standby-pair.js';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'df-ha-'));
}

async function until(what: string, ok: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const OWNER = { app: 'test', slot: 1, owner: 'flows', kind: OWNER_KINDS.hash, tag: 1 };
const FLOWS = [flow(0, { priority: 10, match: { in_port: 1 }, actions: [act.output(2)] }), flow(0, { priority: 10, match: { in_port: 2 }, actions: [act.output(1)] })];

/** One controller of a pair: a StandbyPair driving a reconciler that holds the desired flows, as the daemon does. */
function controller(sw: FakeSwitch, activeSocket: string) {
  const reconciler = new Reconciler();
  reconciler.replace(OWNER, FLOWS);
  reconciler.setComplete(1);
  const metrics = new ControllerMetrics(new Registry());
  const takeovers: TakeoverRecord[] = [];
  const pair = new StandbyPair({
    activeSocket,
    log: silentLogger(),
    metrics,
    hooks: {
      master: (channel, takeover) => {
        if (takeover) takeovers.push(takeover);
        void reconciler.attach(channel).then(() => reconciler.flush());
      },
      slave: () => reconciler.detach(),
    },
  });
  let channel: SwitchChannel = sw.connectController();
  pair.switchConnected(channel);
  pair.start();
  const me = {
    pair,
    reconciler,
    metrics,
    takeovers,
    get channel() {
      return channel;
    },
    /** The switch connection drops and comes back (the pair keeps its generation). */
    reconnect() {
      pair.switchDisconnected(channel);
      sw.disconnectController(channel);
      channel = sw.connectController();
      pair.switchConnected(channel);
    },
    async close() {
      await pair.close();
      sw.disconnectController(channel);
    },
  };
  closers.push(() => me.close());
  return me;
}

describe('ActiveSocket', () => {
  it('makes the first process active, the second standby, and the second active the moment the first lets go', async () => {
    const path = join(dir(), 'active.sock');
    const a = new ActiveSocket({ path: `unix:${path}` });
    const b = new ActiveSocket({ path: `unix:${path}` });
    closers.push(() => a.close(), () => b.close());
    a.start();
    await firstValueFrom(a.state$.pipe(filter((s) => s === 'active')));
    b.start();
    await firstValueFrom(b.state$.pipe(filter((s) => s === 'standby')));
    expect(a.hasStandby).toBe(true);
    const t0 = Date.now();
    await a.close();
    await firstValueFrom(b.state$.pipe(filter((s) => s === 'active')));
    // no timeout or poll is involved: the kernel closes the connection at once
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('takes over a socket file left by a process that died (nothing answers on it)', async () => {
    const path = join(dir(), 'active.sock');
    const dead = createServer();
    await listenUnix(dead, path);
    await new Promise<void>((r) => dead.close(() => r()));
    expect(existsSync(path)).toBe(true);
    const a = new ActiveSocket({ path });
    closers.push(() => a.close());
    a.start();
    await firstValueFrom(a.state$.pipe(filter((s) => s === 'active')));
  });
});

describe('StandbyPair on a FakeSwitch', () => {
  /** A switch, its master in sync (a) and a slave standby (b), on one active socket. */
  async function masterAndStandby() {
    const sw = new FakeSwitch({ ports: [1, 2] });
    const path = join(dir(), 'active.sock');
    const a = controller(sw, path);
    await until('a master', () => a.pair.role === 'master' && a.reconciler.syncedRevision >= 1);
    const b = controller(sw, path);
    await until('b slave', () => b.pair.role === 'slave');
    return { sw, a, b };
  }

  it('makes the active controller master with a generation id and the other slave; the standby sends nothing', async () => {
    const { sw, a, b } = await masterAndStandby();
    expect(a.pair.status().generationId).toBe('1');
    expect(sw.generationId).toBe(1n);
    expect(sw.stats.adds).toBe(2);
    expect(sw.stats.slaveRefusals).toBe(0);
    expect(b.reconciler.totals.adds).toBe(0);
    expect(b.pair.status()).toMatchObject({ role: 'slave', socket: 'standby', takeovers: 0 });
  });

  it('takes over when the active controller goes away: master with a newer generation, zero flow-mods', async () => {
    const { sw, a, b } = await masterAndStandby();
    sw.resetStats();
    await a.close();
    await until('b master', () => b.pair.role === 'master' && b.reconciler.syncedRevision >= 1);
    expect(b.pair.status().generationId).toBe('2');
    expect(sw.generationId).toBe(2n);
    expect(b.takeovers).toHaveLength(1);
    expect(b.takeovers[0]!.masterAt - b.takeovers[0]!.detectedAt).toBeLessThan(1_000);
    expect(sw.stats.flowMods).toBe(0);
    expect(b.reconciler.totals).toMatchObject({ adds: 0, modifies: 0, deletes: 0 });
    expect(await b.metrics.registry.getSingleMetricAsString('df_controller_ha_takeovers_total')).toMatch(/df_controller_ha_takeovers_total 1/);
  });

  it('steps down and stays slave when its generation is stale after a reconnect (no fight)', async () => {
    const sw = new FakeSwitch({ ports: [1, 2] });
    // Two controllers that do not share an active socket (misconfigured): both think they are active.
    const a = controller(sw, join(dir(), 'active.sock'));
    await until('a master', () => a.pair.role === 'master');
    const c = controller(sw, join(dir(), 'active.sock'));
    await until('c master', () => c.pair.role === 'master');
    expect(sw.generationId).toBe(2n);
    a.reconnect();
    await until('a stepped down', () => a.pair.status().demoted !== undefined);
    expect(a.pair.role).toBe('slave');
    expect(a.pair.status().demoted).toMatch(/stale/);
    expect(await a.metrics.registry.getSingleMetricAsString('df_controller_ha_demotions_total')).toMatch(/reason="stale"} 1/);
    // it does not claim back: c stays master with its generation
    a.reconnect();
    await until('a settled as slave again', () => a.pair.role === 'slave');
    expect(sw.generationId).toBe(2n);
    expect(c.pair.role).toBe('master');
    expect((await c.channel.requestRole!('nochange', 0n)).role).toBe('master');
  });

  it('steps down when the switch refuses its flow-mods as a slave (another controller claimed master)', async () => {
    const sw = new FakeSwitch({ ports: [1, 2] });
    const a = controller(sw, join(dir(), 'active.sock'));
    await until('a master', () => a.pair.role === 'master' && a.reconciler.syncedRevision >= 1);
    const errors: Parameters<StandbyPair['refused']>[0][] = [];
    a.reconciler.errors$.subscribe((e) => {
      errors.push(e.error);
      a.pair.refused(e.error);
    });
    const c = controller(sw, join(dir(), 'active.sock'));
    await until('c master', () => c.pair.role === 'master');
    a.reconciler.replace(OWNER, [...FLOWS, flow(0, { priority: 20, match: { in_port: 1 }, actions: [] })]);
    await until('a demoted', () => a.pair.status().demoted !== undefined);
    expect(errors.length).toBeGreaterThan(0);
    expect(a.pair.role).toBe('slave');
    expect(c.pair.role).toBe('master');
  });
});
