import { type IpAddress, IpNetwork, MacAddress, compareIp, offsetIp, parseIp } from '@dragonflow/base';
import { DeviceOwner, type FixedIp, type NbTransaction, type Subnet, eui64Address, isAutoAddressSubnet, isNetworkOrBroadcast } from '@dragonflow/nb';
import { NeutronError, badAttribute, invalidInput, ipAddressInUse, ipGenerationFailure } from '../neutron/errors.js';
import { ipAttr } from '../neutron/addresses.js';
import type { Attempt } from './attempt.js';

/** One element of a port's `fixed_ips` request. */
export interface IpRequest {
  subnet_id?: string | undefined;
  ip_address?: string | undefined;
}

export interface Pool {
  start: IpAddress;
  end: IpAddress;
}

/**
 * Neutron's default allocation pools: every host address of the CIDR except the
 * gateway (for IPv4 also not the network and broadcast addresses; for IPv6 not the
 * subnet-router anycast address, the first one).
 */
export function defaultPools(cidr: IpNetwork, gateway: IpAddress | null): Pool[] {
  const first = offsetIp(cidr.first, 1n);
  const last = cidr.family === 4 ? offsetIp(cidr.last, -1n) : cidr.last;
  if (compareIp(first, last) > 0) return [];
  if (gateway === null || compareIp(gateway, first) < 0 || compareIp(gateway, last) > 0) return [{ start: first, end: last }];
  const pools: Pool[] = [];
  if (compareIp(first, gateway) < 0) pools.push({ start: first, end: offsetIp(gateway, -1n) });
  if (compareIp(gateway, last) < 0) pools.push({ start: offsetIp(gateway, 1n), end: last });
  return pools;
}

export function subnetPools(s: Subnet): Pool[] {
  if (s.allocationPools.length > 0) return s.allocationPools.map((p) => ({ start: parseIp(p.start), end: parseIp(p.end) }));
  return defaultPools(IpNetwork.parse(s.cidr), s.gatewayIp === null ? null : parseIp(s.gatewayIp));
}

export { eui64Address, isAutoAddressSubnet };

/** How many free addresses a retry picks among: enough to spread concurrent writers apart. */
const SPREAD = 64;

/**
 * Allocates fixed IPs for a port inside a transaction. Free addresses come from the
 * subnet's pools minus what ports already hold (NbApi's view plus this transaction's
 * own writes) and minus what other in-flight requests of this process reserved, so
 * concurrent creates pick distinct addresses (the lowest free ones). Uniqueness
 * across processes is NbApi's IP claim: when two writers still pick the same
 * address, one commit fails and its transaction runs again, and on that retry
 * (`attempt.n` > 1) the choice is spread over the first free addresses.
 */
export class IpAllocator {
  /** Addresses handed out by this allocator but not yet visible in the transaction. */
  private readonly taken = new Set<string>();
  /**
   * Per subnet: the addresses in use (read once) and where the scan for a free one
   * stands. Addresses before the cursor are known to be taken, so n allocations on
   * one subnet cost one read and one pass over the pools, not n of each.
   */
  private readonly scans = new Map<string, { used: Set<string>; pools: Pool[]; pool: number; next: IpAddress | undefined }>();

  constructor(
    private readonly tx: NbTransaction,
    private readonly networkId: string,
    private readonly attempt: Attempt,
    /** The port being updated: its own current addresses are not "in use". */
    private readonly selfPortId?: string,
  ) {}

  async subnets(): Promise<Subnet[]> {
    const all = await this.tx.lookup('subnet', 'network', this.networkId);
    return all.sort((a, b) => (a.createdAt ?? '').localeCompare(b.createdAt ?? '') || a.id.localeCompare(b.id));
  }

  private async scanOf(subnet: Subnet): Promise<{ used: Set<string>; pools: Pool[]; pool: number; next: IpAddress | undefined }> {
    let scan = this.scans.get(subnet.id);
    if (!scan) {
      const used = new Set<string>(this.taken);
      for (const p of await this.tx.lookup('logical_port', 'subnet', subnet.id)) {
        if (p.id === this.selfPortId) continue;
        for (const f of p.fixedIps) if (f.subnetId === subnet.id) used.add(f.ipAddress);
      }
      const pools = subnetPools(subnet).sort((a, b) => compareIp(a.start, b.start));
      scan = { used, pools, pool: 0, next: pools[0]?.start };
      this.scans.set(subnet.id, scan);
    }
    return scan;
  }

  private isFree(scan: { used: Set<string> }, ip: string): boolean {
    return !scan.used.has(ip) && !this.taken.has(ip) && !this.attempt.reservedByOthers(this.networkId, ip);
  }

  /** A free address of the subnet, or undefined when its pools are exhausted. */
  async next(subnet: Subnet): Promise<string | undefined> {
    const scan = await this.scanOf(subnet);
    const want = this.attempt.n <= 1 ? 1 : SPREAD;
    const candidates: string[] = [];
    // Walk from the cursor; the cursor moves past taken addresses only, so a retry's
    // spread (a random pick among the first free ones) leaves the others for later.
    let pool = scan.pool;
    let ip = scan.next;
    let cursorFixed = false;
    while (ip !== undefined && pool < scan.pools.length && candidates.length < want) {
      const text = ip.toString();
      if (this.isFree(scan, text)) {
        candidates.push(text);
        cursorFixed = true;
      } else if (!cursorFixed) {
        ({ pool: scan.pool, next: scan.next } = this.advance(scan.pools, pool, ip));
      }
      ({ pool, next: ip } = this.advance(scan.pools, pool, ip));
    }
    if (candidates.length === 0) return undefined;
    const pick = candidates[Math.floor(Math.random() * candidates.length)]!;
    this.taken.add(pick);
    this.attempt.reserve(this.networkId, pick);
    return pick;
  }

  /** The address after `ip` in the pools (the next pool's start past a pool's end). */
  private advance(pools: Pool[], pool: number, ip: IpAddress): { pool: number; next: IpAddress | undefined } {
    if (compareIp(ip, pools[pool]!.end) < 0) return { pool, next: offsetIp(ip, 1n) };
    return { pool: pool + 1, next: pools[pool + 1]?.start };
  }

  /** Checks an explicitly requested address and reserves it. */
  async claim(subnet: Subnet, ip: string, field: string): Promise<string> {
    const net = IpNetwork.parse(subnet.cidr);
    const addr = ipAttr(field, ip);
    if (!net.contains(addr)) throw new NeutronError(400, 'InvalidIpForSubnet', `IP address ${ip} is not a valid IP for the specified subnet.`, { field });
    if (isNetworkOrBroadcast(net, addr)) {
      throw new NeutronError(400, 'InvalidIpForSubnet', `IP address ${ip} is the network or broadcast address of ${subnet.cidr}.`, { field });
    }
    const canonical = addr.toString();
    const owners = (await this.tx.lookup('logical_port', 'ip', `${this.networkId}/${canonical}`)).filter((p) => p.id !== this.selfPortId);
    if (owners.length > 0 || this.taken.has(canonical)) throw ipAddressInUse(this.networkId, canonical);
    this.scans.get(subnet.id)?.used.add(canonical);
    this.taken.add(canonical);
    this.attempt.reserve(this.networkId, canonical);
    return canonical;
  }

  /**
   * Resolves a port's `fixed_ips` request (explicit addresses, subnet-only requests)
   * or, when `requests` is undefined, Neutron's automatic choice: one address from
   * the first IPv4 subnet with room, one from the first stateful IPv6 subnet. Either
   * way a port that is not a router interface also gets its EUI-64 address on every
   * auto-address (SLAAC, DHCPv6-stateless) subnet but those in `options.skipAuto`;
   * an explicit address there is refused as Neutron does, since the VM configures
   * its address from the prefix and its MAC and would never use another one.
   */
  async allocate(requests: readonly IpRequest[] | undefined, mac: string, field = 'fixed_ips', options: AllocateOptions = {}): Promise<FixedIp[]> {
    const subnets = await this.subnets();
    const routerInterface = options.deviceOwner === DeviceOwner.ROUTER_INTERFACE;
    const out = requests === undefined ? await this.automatic(subnets) : await this.requested(subnets, requests, field, routerInterface);
    if (routerInterface) return out;
    for (const s of subnets.filter(isAutoAddressSubnet)) {
      if (options.skipAuto?.has(s.id) || out.some((f) => f.subnetId === s.id)) continue;
      const ip = eui64Address(IpNetwork.parse(s.cidr), MacAddress.parse(mac)).toString();
      out.push({ subnetId: s.id, ipAddress: await this.claim(s, ip, field) });
    }
    return out;
  }

  private async requested(subnets: Subnet[], requests: readonly IpRequest[], field: string, routerInterface: boolean): Promise<FixedIp[]> {
    const out: FixedIp[] = [];
    const seen = new Set<string>();
    for (const [i, r] of requests.entries()) {
      const f = `${field}[${i}]`;
      let subnet: Subnet | undefined;
      if (r.subnet_id !== undefined) {
        subnet = subnets.find((s) => s.id === r.subnet_id);
        if (!subnet) {
          throw invalidInput(`Failed to create port on network ${this.networkId}, because fixed_ips included invalid subnet ${r.subnet_id}.`, `${f}.subnet_id`);
        }
      }
      if (r.ip_address !== undefined) {
        const addr = ipAttr(`${f}.ip_address`, r.ip_address);
        if (!subnet) {
          subnet = subnets.find((s) => IpNetwork.parse(s.cidr).contains(addr));
          if (!subnet) {
            throw new NeutronError(400, 'InvalidIpForNetwork', `IP address ${r.ip_address} is not a valid IP for any of the subnets on the specified network.`, { field: `${f}.ip_address` });
          }
        }
        if (isAutoAddressSubnet(subnet) && !routerInterface) {
          throw new NeutronError(
            400,
            'AllocationOnAutoAddressSubnet',
            `IPv6 address ${r.ip_address} cannot be directly assigned to a port on subnet ${subnet.id} as the subnet is configured for automatic addresses`,
            { field: `${f}.ip_address` },
          );
        }
        const ip = await this.claim(subnet, r.ip_address, `${f}.ip_address`);
        if (seen.has(ip)) throw badAttribute(`${f}.ip_address`, `${ip} is requested twice`);
        seen.add(ip);
        out.push({ subnetId: subnet.id, ipAddress: ip });
        continue;
      }
      if (!subnet) throw badAttribute(f, 'each fixed IP needs a subnet_id or an ip_address');
      // An auto-address subnet named alone gets the EUI-64 address with the others (allocate).
      if (isAutoAddressSubnet(subnet) && !routerInterface) continue;
      const ip = await this.next(subnet);
      if (ip === undefined) throw ipGenerationFailure(this.networkId);
      seen.add(ip);
      out.push({ subnetId: subnet.id, ipAddress: ip });
    }
    return out;
  }

  private async automatic(subnets: Subnet[]): Promise<FixedIp[]> {
    const out: FixedIp[] = [];
    for (const version of [4, 6] as const) {
      const candidates = subnets.filter((s) => s.ipVersion === version && !isAutoAddressSubnet(s));
      if (candidates.length === 0) continue;
      let got = false;
      for (const s of candidates) {
        const ip = await this.next(s);
        if (ip !== undefined) {
          out.push({ subnetId: s.id, ipAddress: ip });
          got = true;
          break;
        }
      }
      if (!got) throw ipGenerationFailure(this.networkId);
    }
    return out;
  }
}

export interface AllocateOptions {
  /** The port's device_owner: a router interface gets no EUI-64 address and may name one. */
  deviceOwner?: string;
  /** Auto-address subnets the port is not to get an address on (it dropped it in an update). */
  skipAuto?: ReadonlySet<string>;
}
