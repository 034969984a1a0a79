import { IpNetwork, Ipv4Address, MacAddress, type AppTopology } from '@dragonflow/core';
import type { RouterGateway } from '@dragonflow/l3';
import type { SnatSource } from './flows.js';
import type { SnatOptions } from './options.js';

/** FNV-1a over a text: a stable 32-bit number (the chassis' SNAT MAC is derived from its id). */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * The distributed mode's per-chassis SNAT address and MAC on an external network.
 *
 * - address: the option `address` (this controller's own config names it), else
 *   the option `pool` (a CIDR or a list): the chassis takes the address at its rank
 *   among every registered chassis' name (sorted), so each chassis of the same
 *   config gets its own — stable while the set of chassis is; a pool smaller than
 *   the chassis count leaves the last ones without one (they log it and do no SNAT).
 * - MAC: a locally administered MAC derived from the chassis id (fa:16:3f + 24 bits
 *   of its hash): the same on every restart, distinct per chassis, so the outside's
 *   switches learn each chassis' address where it is.
 */
export class SnatAddresses {
  constructor(
    private readonly topology: AppTopology,
    private readonly options: SnatOptions,
  ) {}

  of(gw: RouterGateway): SnatSource | undefined {
    const ip = this.address();
    if (!ip || !gw.cidr.contains(ip) || ip.equals(gw.ip)) return undefined;
    return { ip, mac: this.mac() };
  }

  mac(): MacAddress {
    const h = fnv1a(this.topology.chassisId) & 0xffffff;
    return MacAddress.parse(`fa:16:3f:${[h >>> 16, (h >>> 8) & 0xff, h & 0xff].map((b) => b.toString(16).padStart(2, '0')).join(':')}`);
  }

  address(): Ipv4Address | undefined {
    if (this.options.address) return Ipv4Address.parse(this.options.address);
    const pool = this.pool();
    if (pool.length === 0) return undefined;
    const names = this.topology
      .all('chassis')
      .map((c) => ({ id: c.id, name: c.name }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const rank = names.findIndex((c) => c.id === this.topology.chassisId);
    return rank >= 0 ? pool[rank] : undefined;
  }

  private pool(): Ipv4Address[] {
    const p = this.options.pool;
    if (p === undefined) return [];
    if (Array.isArray(p)) return p.map((a) => Ipv4Address.parse(a));
    const net = IpNetwork.parse(p, 'pool', false);
    const base = (net.address as Ipv4Address).value;
    const size = 2 ** (32 - net.prefixLength);
    const out: Ipv4Address[] = [];
    // Hosts only: not the network and broadcast addresses of a subnet with room for hosts.
    const [first, last] = size > 2 ? [1, size - 2] : [0, size - 1];
    for (let i = first; i <= last && out.length < 4096; i++) out.push(Ipv4Address.fromNumber((base + i) >>> 0));
    return out;
  }
}
