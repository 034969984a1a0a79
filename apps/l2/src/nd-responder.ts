import { APP_CONTEXT, inject, injectable, packet, type AppContext, type AppPacketIn, type LogicalPort } from '@dragonflow/core';
import { ROUTER_INTERFACE, ipv6Addresses } from './model.js';

const ALL_NODES = 'ff02::1';

/**
 * Answers IPv6 neighbour solicitations for known port addresses. The nd-responder
 * table punts an NS only when its target is a fixed IP of a port on the packet's
 * network (the flow's owner); the advertisement goes straight back out of the
 * asking port, so the NS never leaves the host. (Building the NA needs the NS's
 * source link-layer option turned into a target one, which OpenFlow cannot do.)
 * The core's punt guard stands in front (the descriptor's `punt`): a port sending
 * more solicitations than its budget has its NS dropped in the switch for a while,
 * so one VM cannot starve neighbour discovery on its chassis.
 */
@injectable()
export class NdResponder {
  answered = 0;
  ignored = 0;

  constructor(@inject(APP_CONTEXT) private readonly ctx: AppContext) {}

  async onPacketIn(ev: AppPacketIn): Promise<void> {
    const reply = this.advertisementFor(ev);
    if (!reply) {
      this.ignored++;
      return;
    }
    if (await this.ctx.reply(ev, reply)) this.answered++;
    else this.ignored++;
  }

  /** The solicited advertisement for a punted NS, or undefined when it is not one we answer. */
  advertisementFor(ev: AppPacketIn): packet.EthernetFrame | undefined {
    if (ev.tableName !== 'nd-responder') return undefined;
    const frame = ev.frame;
    const ip = frame?.payload;
    const icmp = ip?.kind === 'ipv6' ? ip.payload : undefined;
    if (!frame || ip?.kind !== 'ipv6' || icmp?.kind !== 'icmpv6' || icmp.type !== 135 || !icmp.nd) return undefined;
    // The packet's network (metadata) and the target address name the port: they come from
    // the packet itself, so the answer never depends on which flow punted it.
    const target = icmp.nd.target;
    const net = this.ctx.topology.lookup('logical_switch', 'key', String(ev.networkKey))[0];
    if (!net) return undefined;
    const owns = (p: LogicalPort): boolean => ipv6Addresses(p).some((a) => packet.ip6(a).equals(target));
    const port = this.ctx.topology.lookup('logical_port', 'ip', `${net.id}/${target.toString()}`).find(owns) ?? this.ctx.topology.lookup('logical_port', 'network', net.id).find(owns);
    if (!port) return undefined;
    // DAD probes come from :: and are answered to all nodes (RFC 4861 §7.2.4).
    const unspecified = ip.src.value === 0n;
    const na = packet.neighborAdvertisement({
      srcMac: port.macAddress,
      srcIp: target,
      dstMac: unspecified ? packet.ipv6MulticastMac(ALL_NODES) : frame.src,
      dstIp: unspecified ? ALL_NODES : ip.src,
      router: port.deviceOwner === ROUTER_INTERFACE,
    });
    const naIcmp = na.payload.kind === 'ipv6' ? na.payload.payload : undefined;
    // An answer to a DAD probe is not solicited (the S flag says "to your unicast NS").
    if (unspecified && naIcmp?.kind === 'icmpv6' && naIcmp.nd) naIcmp.nd.flags = (naIcmp.nd.flags & ~0x40000000) >>> 0;
    return na;
  }
}
