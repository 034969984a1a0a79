import type { Action, AppContext, Ipv4Address, MacAddress } from '@dragonflow/core';
import { packet } from '@dragonflow/core';

/** How often a resolved next hop is asked again (its MAC may change: a replaced upstream router). */
export const REFRESH_MS = 30_000;
/** How often an unresolved next hop is asked again. */
export const RETRY_MS = 1_000;
/** Packets held per next hop while it is being resolved (more are dropped). */
export const HOLD_LIMIT = 16;

/** Who needs a next hop: asks from its own address and MAC, out of its uplink. */
export interface NextHopUser {
  readonly networkKey: number;
  readonly nextHop: Ipv4Address;
  readonly from: { readonly mac: MacAddress; readonly ip: Ipv4Address };
  readonly uplink: readonly Action[];
}

interface Entry {
  mac: MacAddress | undefined;
  readonly users: Map<string, NextHopUser>;
  cancel: (() => void) | undefined;
  /** Packets that arrived before the next hop answered, sent on when it does. */
  readonly held: { readonly user: string; readonly frame: packet.EthernetFrame }[];
}

const keyOf = (networkKey: number, ip: Ipv4Address): string => `${networkKey}/${ip.toString()}`;

/**
 * The MACs of next hops on external networks, learned by ARP: a user (a floating IP)
 * says which next hop it needs; an unresolved one is asked for at once and every
 * RETRY_MS until it answers, a resolved one every REFRESH_MS. Replies reach the app
 * as punts of its services table (ARP replies to its users' MACs) and come here
 * through `learned`; a new or changed MAC calls `changed` with the users that need
 * their flows again. Packets sent before the answer (the flows punt them, already
 * translated) are held, up to HOLD_LIMIT per next hop, and sent on to the learnt
 * MAC: the first packets after an association are not lost to the ARP exchange.
 */
export class NextHops {
  private readonly entries = new Map<string, Entry>();
  private readonly byUser = new Map<string, string>();

  constructor(
    private readonly ctx: Pick<AppContext, 'clock' | 'flows' | 'log'>,
    private readonly changed: (users: readonly string[]) => void,
  ) {}

  macOf(networkKey: number, ip: Ipv4Address): MacAddress | undefined {
    return this.entries.get(keyOf(networkKey, ip))?.mac;
  }

  /** `user` needs `u.nextHop`; asks for it now when nobody knows it yet. */
  want(user: string, u: NextHopUser): void {
    const key = keyOf(u.networkKey, u.nextHop);
    const prev = this.byUser.get(user);
    if (prev !== undefined && prev !== key) this.release(user);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { mac: undefined, users: new Map(), cancel: undefined, held: [] };
      this.entries.set(key, entry);
    }
    entry.users.set(user, u);
    this.byUser.set(user, key);
    if (!entry.cancel) this.ask(key, entry);
  }

  /** `user` no longer needs its next hop; the last user's leaving forgets it. */
  release(user: string): void {
    const key = this.byUser.get(user);
    if (key === undefined) return;
    this.byUser.delete(user);
    const entry = this.entries.get(key);
    if (!entry) return;
    entry.users.delete(user);
    for (let i = entry.held.length - 1; i >= 0; i--) if (entry.held[i]!.user === user) entry.held.splice(i, 1);
    if (entry.users.size > 0) return;
    entry.cancel?.();
    this.entries.delete(key);
  }

  /**
   * A packet of `user` that its flows punted because the next hop was not resolved
   * yet: held until it is (sent at once when it already is). False when dropped:
   * not a user, or too many held.
   */
  hold(user: string, frame: packet.EthernetFrame): boolean {
    const key = this.byUser.get(user);
    const entry = key === undefined ? undefined : this.entries.get(key);
    if (!entry) return false;
    if (entry.mac) {
      this.send(entry.users.get(user)!, entry.mac, frame);
      return true;
    }
    if (entry.held.length >= HOLD_LIMIT) return false;
    entry.held.push({ user, frame });
    return true;
  }

  /** An ARP reply (`ip` is at `mac`) arrived on the external network `networkKey`. */
  learned(networkKey: number, ip: Ipv4Address, mac: MacAddress): void {
    const key = keyOf(networkKey, ip);
    const entry = this.entries.get(key);
    if (!entry) return;
    const wasResolved = entry.mac !== undefined;
    const same = entry.mac?.equals(mac) ?? false;
    entry.mac = mac;
    if (!wasResolved) this.schedule(key, entry, REFRESH_MS);
    if (!same) this.changed([...entry.users.keys()]);
    for (const h of entry.held.splice(0)) {
      const u = entry.users.get(h.user);
      if (u) this.send(u, mac, h.frame);
    }
  }

  /** A held packet on to the next hop: its MAC as destination, out of the user's uplink. */
  private send(u: NextHopUser, mac: MacAddress, frame: packet.EthernetFrame): void {
    const data = packet.encodeEthernet({ ...frame, dst: mac });
    void this.ctx.flows.packetOut({ data, actions: [...u.uplink] }, { confirm: false }).catch((err: unknown) => {
      this.ctx.log.warn({ nextHop: u.nextHop.toString(), err }, 'held packet not sent on');
    });
  }

  stop(): void {
    for (const e of this.entries.values()) e.cancel?.();
    this.entries.clear();
    this.byUser.clear();
  }

  /** Sends one ARP request for the entry's next hop, from one of its users, and schedules the next. */
  private ask(key: string, entry: Entry): void {
    const u = entry.users.values().next().value;
    if (!u) return;
    const frame = packet.arpRequest({ srcMac: u.from.mac, srcIp: u.from.ip, targetIp: u.nextHop });
    void this.ctx.flows.packetOut({ data: packet.encodeEthernet(frame), actions: [...u.uplink] }, { confirm: false }).catch((err: unknown) => {
      this.ctx.log.warn({ nextHop: u.nextHop.toString(), err }, 'ARP request for a next hop not sent');
    });
    this.schedule(key, entry, entry.mac ? REFRESH_MS : RETRY_MS);
  }

  private schedule(key: string, entry: Entry, ms: number): void {
    entry.cancel?.();
    entry.cancel = this.ctx.clock.setTimer(ms, () => {
      entry.cancel = undefined;
      if (this.entries.get(key) === entry) this.ask(key, entry);
    });
  }
}
