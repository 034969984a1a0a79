import { MacAddress, type Ipv4Address } from '@dragonflow/base';
import { EthType, METADATA_NETWORK_MASK, flow, packet, type AppContext, type AppPacketIn, type DesiredFlow, type TableRef } from '@dragonflow/core';
import { arpRequest, gratuitousArp } from './arp.js';
import { providerOutput } from './provider.js';


/** Packets held per next hop while it is being resolved (more are dropped). */
export const HOLD_LIMIT = 16;

/** Where a NAT app asks from: its address and MAC on the external network (the gateway's, a floating IP's). */
export interface NeighborSource {
  readonly networkId: string;
  readonly mac: MacAddress;
  readonly ip: Ipv4Address;
}

export interface NeighborResolverOptions {
  /** Seconds between ARP requests for a next hop already resolved (its MAC is kept meanwhile). Default 30. */
  readonly refreshSeconds?: number;
  /** Seconds between ARP requests for a next hop not resolved yet. Default 1. */
  readonly retrySeconds?: number;
}

interface Entry {
  readonly networkId: string;
  readonly ip: Ipv4Address;
  mac: MacAddress | undefined;
  /** Users (owners of flows that use the MAC) and where each asks from. */
  readonly users: Map<string, NeighborSource>;
  cancel: (() => void) | undefined;
  /** Packets sent before the next hop answered, sent on to it when it does (`hold`). */
  readonly held: { readonly user: string; readonly frame: packet.EthernetFrame }[];
}

const entryKey = (networkId: string, ip: Ipv4Address): string => `${networkId}/${ip.toString()}`;

/**
 * Next-hop MACs on external networks (C). A NAT app asks `resolve(user, source,
 * ip)` for each next hop its flows need; the answer is the MAC when known:
 *
 * - an address a port of the NB holds on that network (another router's gateway,
 *   a floating IP) is answered from the NB, no ARP;
 * - any other (the upstream router) is asked by ARP: a request from the source's
 *   address and MAC, sent out of the network's provider port (packet-out), every
 *   `retrySeconds` until answered, then every `refreshSeconds` to notice a change.
 *   The app punts the ARP replies addressed to its MACs (`replyPuntFlow` in one of
 *   its services tables, declared in its punt path) and hands them to `onPacketIn`.
 *
 * A MAC learnt or changed calls `onChange(networkId, ip, users)`: the app re-desires
 * the flows that use it. Until resolved, the app's flows for that next hop either
 * drop (SNAT: the first packets of a new gateway's traffic are lost for the time of
 * one ARP exchange; docs/nat.md) or punt the packets to the app, which `hold`s them
 * here — up to HOLD_LIMIT per next hop, sent on to the learnt MAC (floating IPs: the
 * first packets after an association are not lost). A MAC once learnt is kept while
 * the next hop stops answering (a stale entry beats none; the upstream router's ARP
 * cache behaves alike).
 */
export class NeighborResolver {
  private readonly entries = new Map<string, Entry>();
  private readonly byUser = new Map<string, Set<string>>();
  private readonly refreshMs: number;
  private readonly retryMs: number;
  private stopped = false;

  constructor(
    private readonly ctx: AppContext,
    private readonly onChange: (networkId: string, ip: Ipv4Address, users: readonly string[]) => void,
    options: NeighborResolverOptions = {},
  ) {
    this.refreshMs = (options.refreshSeconds ?? 30) * 1000;
    this.retryMs = (options.retrySeconds ?? 1) * 1000;
  }

  /** The MAC of `ip` on `source.networkId` for `user`, when known; starts resolving it otherwise. */
  resolve(user: string, source: NeighborSource, ip: Ipv4Address): MacAddress | undefined {
    const nb = this.fromNb(source.networkId, ip);
    if (nb) return nb;
    const k = entryKey(source.networkId, ip);
    let e = this.entries.get(k);
    if (!e) {
      e = { networkId: source.networkId, ip, mac: undefined, users: new Map(), cancel: undefined, held: [] };
      this.entries.set(k, e);
    }
    const isNew = e.users.size === 0;
    e.users.set(user, source);
    let keys = this.byUser.get(user);
    if (!keys) this.byUser.set(user, (keys = new Set()));
    keys.add(k);
    // The first request waits for the end of this turn: the app installs the flow that
    // punts the answer (replyPuntFlow, with installAhead) while it builds the flows
    // that asked, and the answer must find it.
    if (isNew) queueMicrotask(() => this.ask(e));
    return e.mac;
  }

  /** As `resolve`, and `ip` is now the only next hop of `user` (the others it used are released). */
  resolveOnly(user: string, source: NeighborSource, ip: Ipv4Address): MacAddress | undefined {
    const keep = entryKey(source.networkId, ip);
    const keys = this.byUser.get(user);
    if (keys) for (const k of [...keys]) if (k !== keep) this.releaseKey(user, k);
    return this.resolve(user, source, ip);
  }

  /**
   * A packet of `user` its flows punted because `ip` was not resolved yet: held until
   * it is (sent at once when it already is), then sent out of the network's provider
   * port with the next hop's MAC as destination. False when dropped: `user` does not
   * use that next hop, the hold is full, or the MAC is known but the packet could not
   * go out.
   */
  hold(user: string, networkId: string, ip: Ipv4Address, frame: packet.EthernetFrame): boolean {
    const e = this.entries.get(entryKey(networkId, ip));
    const mac = this.fromNb(networkId, ip) ?? e?.mac;
    if (mac) {
      this.sendHeld(networkId, mac, frame);
      return true;
    }
    if (!e?.users.has(user) || e.held.length >= HOLD_LIMIT) return false;
    e.held.push({ user, frame });
    return true;
  }

  /** What is known of `ip` on a network now (NB or ARP), without asking. */
  lookup(networkId: string, ip: Ipv4Address): MacAddress | undefined {
    return this.fromNb(networkId, ip) ?? this.entries.get(entryKey(networkId, ip))?.mac;
  }

  /** `user` needs none of its next hops any more; a next hop nobody needs is forgotten. */
  release(user: string): void {
    const keys = this.byUser.get(user);
    if (!keys) return;
    for (const k of [...keys]) this.releaseKey(user, k);
  }

  private releaseKey(user: string, k: string): void {
    const keys = this.byUser.get(user);
    keys?.delete(k);
    if (keys?.size === 0) this.byUser.delete(user);
    const e = this.entries.get(k);
    if (!e) return;
    e.users.delete(user);
    for (let i = e.held.length - 1; i >= 0; i--) if (e.held[i]!.user === user) e.held.splice(i, 1);
    if (e.users.size === 0) {
      e.cancel?.();
      this.entries.delete(k);
    }
  }

  /** Stops every timer (the app is going away). */
  stop(): void {
    this.stopped = true;
    for (const e of this.entries.values()) e.cancel?.();
    this.entries.clear();
    this.byUser.clear();
  }

  /**
   * The services-table flow that punts ARP replies addressed to `mac` on an external
   * network to this app (its punt path: declare the table with a `match` of
   * `{ eth_type: 0x0806, arp_op: 2 }`). The table must declare `metadata`,
   * `eth_type`, `arp_op` and `eth_dst`.
   */
  replyPuntFlow(table: TableRef, networkKey: number, mac: MacAddress, priority = 200): DesiredFlow {
    return flow(table, {
      priority,
      match: { metadata: [BigInt(networkKey), METADATA_NETWORK_MASK], eth_type: EthType.ARP, arp_op: packet.ARP_OP.REPLY, eth_dst: mac },
      ...this.ctx.punt.toController(),
    });
  }

  /** A punted packet: an ARP reply for a next hop asked for is learnt. Returns whether it was one. */
  onPacketIn(ev: AppPacketIn): boolean {
    const arp = ev.frame?.payload;
    if (!arp || arp.kind !== 'arp' || arp.op !== packet.ARP_OP.REPLY) return false;
    const network = this.ctx.topology.lookup('logical_switch', 'key', String(ev.networkKey))[0];
    const e = network && this.entries.get(entryKey(network.id, arp.spa));
    if (!e) return false;
    const changed = !e.mac?.equals(arp.sha);
    e.mac = arp.sha;
    // Answered: the next request is a refresh.
    this.schedule(e, this.refreshMs);
    if (changed) {
      this.ctx.log.info({ network: e.networkId, ip: e.ip.toString(), mac: arp.sha.toString() }, 'next hop resolved on the external network');
      this.onChange(e.networkId, e.ip, [...e.users.keys()]);
    }
    for (const h of e.held.splice(0)) this.sendHeld(e.networkId, arp.sha, h.frame);
    return true;
  }

  /** Sends a gratuitous ARP for `ip` at `mac` on an external network (out of its provider port). Returns whether it was sent. */
  async announce(networkId: string, mac: MacAddress, ip: Ipv4Address): Promise<boolean> {
    return this.sendOut(networkId, gratuitousArp(mac, ip));
  }

  private fromNb(networkId: string, ip: Ipv4Address): MacAddress | undefined {
    const port = this.ctx.topology.lookup('logical_port', 'ip', `${networkId}/${ip.toString()}`)[0];
    return port ? MacAddress.parse(port.macAddress) : undefined;
  }

  private ask(e: Entry): void {
    const source = e.users.values().next().value as NeighborSource | undefined;
    if (!source || this.stopped) return;
    void this.sendOut(e.networkId, arpRequest(source.mac, source.ip, e.ip)).catch((err: unknown) => {
      this.ctx.log.warn({ network: e.networkId, ip: e.ip.toString(), err: String(err) }, 'ARP request for a next hop not sent');
    });
    this.schedule(e, e.mac ? this.refreshMs : this.retryMs);
  }

  private schedule(e: Entry, ms: number): void {
    e.cancel?.();
    e.cancel = this.stopped ? undefined : this.ctx.clock.setTimer(ms, () => this.ask(e));
  }

  /** A held packet on to its next hop (its MAC as destination), out of the provider port. */
  private sendHeld(networkId: string, mac: MacAddress, frame: packet.EthernetFrame): void {
    void this.sendOut(networkId, { ...frame, dst: mac }).catch((err: unknown) => {
      this.ctx.log.warn({ network: networkId, err: String(err) }, 'a held packet was not sent on to its next hop');
    });
  }

  private async sendOut(networkId: string, frame: packet.EthernetFrame): Promise<boolean> {
    const net = this.ctx.topology.get('logical_switch', networkId);
    const actions = net && providerOutput(net, this.ctx.topology.infraPorts());
    if (!actions) return false;
    await this.ctx.flows.packetOut({ data: packet.encodeEthernet(frame), actions }, { confirm: false });
    return true;
  }
}

