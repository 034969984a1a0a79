import { act, packet, type AppContext, type AppPacketIn, type LogicalPort } from '@dragonflow/core';
import type { DhcpOptions } from '../options.js';
import { advertFrames, advertisedSubnets, advertsFor, type AdvertTimes } from './adverts.js';
import { nextAdvertDelay } from './schedule.js';
import { RA_TABLE, rsPuntFlow } from './flows.js';
import type { ServedPorts } from '../served.js';

export interface RaStats {
  /** Advertisements answering a router solicitation. */
  solicited: number;
  /** Periodic ones. */
  unsolicited: number;
  /** Solicitations not answered (invalid, from a port with nothing to advertise). */
  ignored: number;
}

interface Schedule {
  cancel: () => void;
  sent: number;
  ofport: number;
  networkId: string;
}

const owner = (p: LogicalPort) => ({ id: `ra:${p.id}`, key: p.key, kind: 'port' as const });

/**
 * Router advertisements for the ports of this chassis, from the NB: an RS from a
 * local port is punted here and answered out of that port; every local port on a
 * network with an advertised subnet also gets unsolicited RAs as packet-outs on
 * its own timer (RFC 4861 jitter). Nothing leaves the chassis: each chassis
 * advertises to its own ports, so a VM hears its router wherever it runs.
 */
export class RouterAdvertiser {
  readonly stats: RaStats = { solicited: 0, unsolicited: 0, ignored: 0 };
  private readonly schedules = new Map<string, Schedule>();
  /** Per network, what its adverts were when last sent: a change restarts the fast initial ones. */
  private readonly lastAdverts = new Map<string, string>();
  /** Ports with an RS punt flow. */
  private readonly withFlows = new Set<string>();

  constructor(
    private readonly ctx: AppContext,
    private readonly options: DhcpOptions,
    private readonly served: ServedPorts,
    private readonly random: () => number = Math.random,
  ) {}

  private get times(): AdvertTimes {
    const o = this.options.routerAdvertisement;
    return {
      routerLifetime: o.routerLifetimeSeconds ?? Math.min(9000, Math.round(3 * o.maxIntervalSeconds)),
      validLifetime: o.validLifetimeSeconds,
      preferredLifetime: o.preferredLifetimeSeconds,
    };
  }

  recomputeAll(): void {
    for (const [portId] of this.schedules) if (!this.served.isLocal(portId)) this.unschedule(portId);
    this.lastAdverts.clear();
    // The core removes the owners a recompute does not set again.
    this.withFlows.clear();
    for (const id of this.served.ids()) this.portChanged(id);
  }

  /**
   * A served port came, changed or went: its RS punt follows, and for a local port
   * its timer (a stranded port served by a fallback chassis gets its RS answered,
   * never unsolicited adverts from here: its own chassis' switch has no timer).
   */
  portChanged(portId: string): void {
    const port = this.ctx.topology.get('logical_port', portId);
    if (!port || !this.served.has(port) || !port.adminStateUp || advertisedSubnets(this.ctx.topology, port.networkId).length === 0) {
      if (this.withFlows.delete(portId)) this.ctx.flows.remove(`ra:${portId}`);
      this.unschedule(portId);
      return;
    }
    this.withFlows.add(port.id);
    this.ctx.flows.replace(owner(port), [rsPuntFlow(this.ctx.tables.ref(RA_TABLE), port.key, this.ctx.punt.toController())]);
    const binding = this.ctx.topology.localBinding(portId);
    if (!binding) return this.unschedule(portId);
    const s = this.schedules.get(portId);
    if (s && s.ofport === binding.ofport && s.networkId === port.networkId) return;
    this.unschedule(portId);
    this.lastAdverts.set(port.networkId, this.advertKey(port.networkId));
    this.schedules.set(portId, { cancel: () => undefined, sent: 0, ofport: binding.ofport, networkId: port.networkId });
    this.fire(portId);
  }

  /** A network's subnets, ports or routers changed: its ports again; changed adverts go out now. */
  networkChanged(networkId: string): void {
    // The network's served ports (an index lookup), those scheduled on it, and every port with a punt flow (it may have to go).
    const ids = new Set(this.served.portsOn(networkId).map((p) => p.id));
    for (const [id, s] of this.schedules) if (s.networkId === networkId) ids.add(id);
    for (const id of this.withFlows) ids.add(id);
    for (const id of ids) this.portChanged(id);
    const key = this.advertKey(networkId);
    if (this.lastAdverts.get(networkId) === key) return;
    this.lastAdverts.set(networkId, key);
    // RFC 4861 §6.2.4: a change of what is advertised restarts the initial, faster ones.
    for (const [portId, s] of this.schedules) {
      if (s.networkId !== networkId) continue;
      s.cancel();
      s.sent = 0;
      this.fire(portId);
    }
  }

  /** Answers a router solicitation punted from a local port with its network's adverts, out of that port. */
  async solicited(ev: AppPacketIn): Promise<void> {
    const ip = ev.frame?.payload;
    const icmp = ip?.kind === 'ipv6' ? ip.payload : undefined;
    // RFC 4861 §6.1.1: a router silently discards an RS that is not link-local (hop limit 255) or malformed.
    if (ip?.kind !== 'ipv6' || icmp?.kind !== 'icmpv6' || icmp.type !== packet.ICMPV6_TYPE.ROUTER_SOLICIT || icmp.code !== 0 || ip.hopLimit !== 255) return this.ignore();
    try {
      const rs = packet.decodeRouterSolicit(icmp.body);
      if (ip.src.value === 0n && rs.sourceLinkLayer) return this.ignore();
    } catch {
      return this.ignore();
    }
    const port = this.ctx.topology.lookup('logical_port', 'key', String(ev.sourcePortKey))[0];
    if (!port) return this.ignore();
    const frames = advertFrames(advertsFor(this.ctx.topology, port.networkId, this.times));
    if (frames.length === 0) return this.ignore();
    for (const f of frames) {
      if (await this.ctx.reply(ev, f, { confirm: false })) this.stats.solicited++;
    }
  }

  stop(): void {
    for (const portId of [...this.schedules.keys()]) this.unschedule(portId);
  }

  private advertKey(networkId: string): string {
    return advertFrames(advertsFor(this.ctx.topology, networkId, this.times))
      .map((f) => Buffer.from(packet.encodeEthernet(f)).toString('hex'))
      .join('|');
  }

  private unschedule(portId: string): void {
    this.schedules.get(portId)?.cancel();
    this.schedules.delete(portId);
  }

  /** Sends the port's adverts now and sets its next timer. */
  private fire(portId: string): void {
    const s = this.schedules.get(portId);
    if (!s) return;
    for (const f of advertFrames(advertsFor(this.ctx.topology, s.networkId, this.times))) {
      this.stats.unsolicited++;
      this.ctx.flows
        .packetOut({ data: packet.encodeEthernet(f), actions: [act.output(s.ofport)] }, { confirm: false })
        .catch((err: unknown) => this.ctx.log.warn({ err: String(err), port: portId }, 'a router advertisement could not be sent to the switch'));
    }
    s.sent++;
    s.cancel = this.ctx.clock.setTimer(nextAdvertDelay(s.sent, this.options.routerAdvertisement, this.random()), () => this.fire(portId));
  }

  private ignore(): void {
    this.stats.ignored++;
  }
}
