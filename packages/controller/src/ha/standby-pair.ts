import { describeError } from '@dragonflow/base';
import type { Logger } from '@dragonflow/core';
import type { SwitchChannel } from '@dragonflow/core/host';
import type { ErrorMsg } from '@dragonflow/openflow';
import type { Subscription } from 'rxjs';
import type { ControllerMetrics } from '../metrics.js';
import { ActiveSocket, type ActiveSocketState } from './active-socket.js';
import { becomeSlave, claimMaster, currentGeneration, isSlaveRefusal, isStaleRoleError, reassertMaster } from './openflow-role.js';

export type HaRole = 'master' | 'slave' | 'unknown';

/** A takeover, in wall-clock ms (Date.now()), for health and benchmarks. */
export interface TakeoverRecord {
  /** The active controller's socket closed (the standby saw it). */
  readonly detectedAt: number;
  /** The switch confirmed this controller master. */
  readonly masterAt: number;
  /** The reconciler confirmed (barrier) the switch in line with the desired state; undefined until then. */
  syncedAt?: number;
  /** Flow-mods that sync sent (0 when nothing changed while the other was master). */
  flowMods?: number;
}

export interface HaStatus {
  readonly activeSocket: string;
  readonly socket: ActiveSocketState;
  readonly role: HaRole;
  /** The generation id this controller claimed master with (decimal), once it did. */
  readonly generationId: string | undefined;
  /** When the role last changed (wall-clock ms). */
  readonly since: number | undefined;
  readonly takeovers: number;
  readonly lastTakeover: TakeoverRecord | undefined;
  /** Why this controller stepped down and stays slave (until restarted), if it did. */
  readonly demoted: string | undefined;
}

export interface StandbyPairHooks {
  /** The switch confirmed this controller master on `channel`: hold the switch (attach the runtime), register the chassis, write port bindings. */
  master(channel: SwitchChannel, takeover: TakeoverRecord | undefined): void;
  /** This controller is (now) slave: the runtime must not hold the switch. */
  slave(why: string): void;
}

export interface StandbyPairOptions {
  readonly activeSocket: string;
  readonly log: Logger;
  readonly metrics?: ControllerMetrics;
  readonly hooks: StandbyPairHooks;
  /** Wall clock (ms) for the takeover record; Date.now by default. */
  readonly now?: () => number;
}

/**
 * One controller of a hot-standby pair on an integration bridge (docs/ha.md,
 * "Standby controller"). The local active socket says which of the two is active;
 * the OpenFlow role says so to the switch, which is what counts: the active one
 * claims MASTER with a generation id newer than any the switch knows, the other is
 * SLAVE (no packet-ins, its flow-mods refused). A controller whose generation the
 * switch refuses as stale, or that another master demoted, steps down to slave
 * and stays there (it never claims back: no fight).
 */
export class StandbyPair {
  private readonly socket: ActiveSocket;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly subs: Subscription[] = [];
  private channel: SwitchChannel | undefined;
  private roleValue: HaRole = 'unknown';
  private generation: bigint | undefined;
  private since: number | undefined;
  private takeovers = 0;
  private lastTakeover: TakeoverRecord | undefined;
  private pendingTakeover: number | undefined;
  private demoted: string | undefined;
  private wasStandby = false;
  private work: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: StandbyPairOptions) {
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.socket = new ActiveSocket({ path: options.activeSocket, onError: (err) => this.log.warn({ err: describeError(err) }, 'cannot take the active socket; retrying') });
  }

  get role(): HaRole {
    return this.roleValue;
  }

  get isMaster(): boolean {
    return this.roleValue === 'master';
  }

  /** Whether the other controller of the pair is running as standby (connected to our active socket). */
  get hasStandby(): boolean {
    return this.socket.hasStandby;
  }

  start(): void {
    this.subs.push(
      this.socket.state$.subscribe((s) => {
        if (s === 'standby') {
          this.wasStandby = true;
          this.log.info({ activeSocket: this.options.activeSocket }, 'standby: the other controller of this bridge is active');
          this.settle();
        } else if (s === 'acquiring' && this.wasStandby) {
          this.pendingTakeover = this.now();
          this.log.warn({ activeSocket: this.options.activeSocket }, 'the active controller is gone; taking over');
        } else if (s === 'active') {
          this.log.info({ activeSocket: this.options.activeSocket }, 'active: claiming master on the switch');
          this.settle();
        }
      }),
    );
    this.socket.start();
  }

  /** The switch (re)connected: take the role this controller should have. */
  switchConnected(channel: SwitchChannel): void {
    this.channel = channel;
    this.settle();
  }

  switchDisconnected(channel: SwitchChannel): void {
    if (this.channel !== channel) return;
    this.channel = undefined;
    this.setRole('unknown');
  }

  /** The switch refused one of our requests: OFPBRC_IS_SLAVE while we think we are master means another controller claimed master. */
  refused(error: Pick<ErrorMsg, 'errorType' | 'code'>): void {
    if (!isSlaveRefusal(error) || this.roleValue !== 'master') return;
    const channel = this.channel;
    this.enqueue(async () => {
      if (!channel || channel !== this.channel || this.roleValue !== 'master') return;
      const now = await currentGeneration(channel);
      if (now.role === 'slave') this.stepDown('demoted', `another controller claimed master with generation ${now.generationId ?? '?'} (ours ${this.generation})`);
    });
  }

  status(): HaStatus {
    return {
      activeSocket: this.options.activeSocket,
      socket: this.socket.current,
      role: this.roleValue,
      generationId: this.generation?.toString(),
      since: this.since,
      takeovers: this.takeovers,
      lastTakeover: this.lastTakeover,
      demoted: this.demoted,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.subs) s.unsubscribe();
    await this.work.catch(() => undefined);
    await this.socket.close();
  }

  private settle(): void {
    this.enqueue(() => this.applyRole());
  }

  private enqueue(fn: () => Promise<void>): void {
    this.work = this.work.then(fn).catch((err: unknown) => {
      // A connection lost in the middle: its reconnect settles the role again.
      this.log.warn({ err: describeError(err) }, 'role request failed; trying again when the switch reconnects');
    });
  }

  private async applyRole(): Promise<void> {
    const channel = this.channel;
    if (!channel || this.closed) return;
    const active = this.socket.current === 'active' && this.demoted === undefined;
    if (!active) {
      if (this.socket.current !== 'standby' && this.demoted === undefined) return; // not decided yet
      const g = await becomeSlave(channel);
      if (channel !== this.channel) return;
      this.setRole('slave');
      this.log.info({ generationId: g.toString() }, 'slave on the switch: holding flow-mods and packet-outs, desired state kept');
      this.options.hooks.slave(this.demoted ?? 'standby');
      return;
    }
    if (this.roleValue === 'master') return;
    if (this.generation === undefined) {
      this.generation = await claimMaster(channel);
    } else {
      try {
        await reassertMaster(channel, this.generation);
      } catch (err) {
        if (!isStaleRoleError(err)) throw err;
        this.stepDown('stale', `the switch refused our generation ${this.generation} as stale: another controller took over`);
        await becomeSlave(channel);
        return;
      }
    }
    if (channel !== this.channel) return;
    this.setRole('master');
    this.options.metrics?.haGeneration.set(Number(this.generation));
    let takeover: TakeoverRecord | undefined;
    if (this.pendingTakeover !== undefined) {
      takeover = { detectedAt: this.pendingTakeover, masterAt: this.now() };
      this.pendingTakeover = undefined;
      this.takeovers++;
      this.lastTakeover = takeover;
      this.options.metrics?.haTakeovers.inc();
      this.options.metrics?.haTakeoverSeconds.observe((takeover.masterAt - takeover.detectedAt) / 1000);
      this.log.info({ generationId: this.generation.toString(), ms: takeover.masterAt - takeover.detectedAt }, 'took over: master on the switch');
    } else this.log.info({ generationId: this.generation.toString() }, 'master on the switch');
    this.options.hooks.master(channel, takeover);
  }

  private stepDown(reason: 'stale' | 'demoted', why: string): void {
    this.demoted = why;
    this.setRole('slave');
    this.options.metrics?.haDemotions.inc({ reason });
    this.log.error({ reason: why }, 'stepping down to slave (and staying there until restarted)');
    this.options.hooks.slave(why);
  }

  private setRole(role: HaRole): void {
    if (role === this.roleValue) return;
    this.roleValue = role;
    this.since = this.now();
    for (const r of ['master', 'slave', 'equal']) this.options.metrics?.haRole.set({ role: r }, r === role ? 1 : 0);
  }
}
