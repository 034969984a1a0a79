import type { AppContext, AppPacketIn, DesiredFlow, LogicalPort } from '@dragonflow/core';
import type { L3TableRefs } from '../flows.js';
import { ICMPV6_ERROR, icmpv6EchoReply, icmpv6Error } from './icmp.js';
import { decideV6, v6Deliveries, v6Router, type V6Router } from './model.js';
import { v6RouterFlows } from './flows.js';

export interface V6Stats {
  echoReplies: number;
  timeExceeded: number;
  unreachable: number;
}

/**
 * IPv6 routing, beside the shared IPv4 model: a router's IPv6 flows (every
 * delivery up front, in both modes) and what its punts of IPv6 packets get.
 */
export class V6Routing {
  readonly stats: V6Stats = { echoReplies: 0, timeExceeded: 0, unreachable: 0 };

  constructor(private readonly ctx: AppContext) {}

  router(id: string): V6Router | undefined {
    const r = this.ctx.topology.get('logical_router', id);
    return r ? v6Router(this.ctx.topology, r) : undefined;
  }

  /** The networks the router has an IPv6 interface on. */
  networks(id: string): string[] {
    return this.router(id)?.interfaces.map((i) => i.networkId) ?? [];
  }

  flows(t: L3TableRefs, id: string): DesiredFlow[] {
    const r = this.router(id);
    return r ? v6RouterFlows(t, r, v6Deliveries(this.ctx.topology, r)) : [];
  }

  /** Routers whose IPv6 host routes a port change touches (it has or had an IPv6 address on one of their networks). */
  routersOfPort(old: LogicalPort | undefined, cur: LogicalPort | undefined): string[] {
    const hasV6 = (p: LogicalPort | undefined) => p?.fixedIps.some((f) => f.ipAddress.includes(':')) ?? false;
    if (!hasV6(old) && !hasV6(cur)) return [];
    const networks = new Set([old?.networkId, cur?.networkId].filter((n): n is string => n !== undefined));
    return [...networks].flatMap((n) => this.ctx.topology.lookup('logical_router', 'network', n).map((r) => r.id));
  }

  /** An IPv6 packet in the router's punt table: an echo request to the router, hop limit exceeded, or no delivery. */
  async punt(ev: AppPacketIn, routerKey: number): Promise<boolean> {
    const frame = ev.frame;
    const ip = frame?.payload;
    const lr = this.ctx.topology.lookup('logical_router', 'key', String(routerKey))[0];
    const router = lr ? v6Router(this.ctx.topology, lr) : undefined;
    if (!frame || ip?.kind !== 'ipv6' || !router) return false;
    const ingress = router.interfaces.find((i) => i.networkKey === ev.networkKey && i.mac.equals(frame.dst));
    if (!ingress) return false;
    const decision = decideV6(this.ctx.topology, router, ip.dst);
    if (decision.kind === 'router-ip' && ip.payload.kind === 'icmpv6' && ip.payload.type === 128) {
      const reply = icmpv6EchoReply(frame, decision.iface.ip);
      if (reply && (await this.ctx.reply(ev, reply))) this.stats.echoReplies++;
      return true;
    }
    const from = { mac: ingress.mac, ip: ingress.ip };
    const error = ip.hopLimit <= 1 ? ICMPV6_ERROR.HOP_LIMIT_EXCEEDED : decision.kind === 'unreachable' && decision.reason === 'no-port' ? ICMPV6_ERROR.ADDRESS_UNREACHABLE : ICMPV6_ERROR.NO_ROUTE;
    const reply = icmpv6Error(ev.data, frame, error, from);
    if (reply && (await this.ctx.reply(ev, reply))) {
      if (error === ICMPV6_ERROR.HOP_LIMIT_EXCEEDED) this.stats.timeExceeded++;
      else this.stats.unreachable++;
    }
    return true;
  }
}
