import { IpNetwork, Ipv6Address, MacAddress } from '@dragonflow/base';
import { isDhcpv6Stateful, packet, type AppContext, type AppPacketIn, type AppTopology, type LogicalPort } from '@dragonflow/core';
import { dhcpPortOf } from '../facts.js';
import type { DhcpOptions } from '../options.js';
import { DHCPV6_TABLE, dhcpv6PuntFlow } from './flows.js';
import { respond6, type V6LeaseFacts } from './dhcpv6-responder.js';
import type { ServedPorts } from '../served.js';

export interface Dhcpv6Stats {
  advertises: number;
  replies: number;
  /** Messages that get no answer (invalid, another server's, from a port not served). */
  ignored: number;
}

/**
 * What DHCPv6 serves `port`, or undefined: its addresses on DHCP-enabled subnets in
 * dhcpv6-stateful mode (the IA_NA address) or dhcpv6-stateless (configuration
 * only), the DNS servers of those subnets; the server's DUID is the network DHCP
 * port's (DUID-LL), the same on every chassis, so a client renewing after its VM
 * moved still finds its server.
 */
export function v6LeaseFacts(topology: AppTopology, port: LogicalPort, options: DhcpOptions): (V6LeaseFacts & { serverMac: MacAddress }) | undefined {
  const dhcp = dhcpPortOf(topology, port.networkId);
  if (!dhcp) return undefined;
  const served = port.fixedIps
    .map((f) => ({ f, s: topology.get('subnet', f.subnetId) }))
    .filter(({ s }) => s !== undefined && s.ipVersion === 6 && s.enableDhcp && (s.ipv6AddressMode === 'dhcpv6-stateful' || s.ipv6AddressMode === 'dhcpv6-stateless'));
  if (served.length === 0) return undefined;
  const stateful = served.find(({ s }) => isDhcpv6Stateful(s!));
  const dns = [...new Set(served.flatMap(({ s }) => s!.dnsNameservers.filter((d) => d.includes(':'))))];
  const serverMac = MacAddress.parse(dhcp.macAddress);
  return {
    serverMac,
    serverDuid: packet.duidLl(serverMac),
    address: stateful ? Ipv6Address.parse(stateful.f.ipAddress) : null,
    prefixes: served.map(({ s }) => IpNetwork.parse(s!.cidr)),
    dnsServers: dns.map((d) => Ipv6Address.parse(d)),
    domains: options.domainName === '' ? [] : [options.domainName],
    leaseSeconds: options.leaseSeconds,
  };
}

/**
 * DHCPv6 for the ports of this chassis (with `allNetworks`, every bound port: a
 * fallback chassis): a port DHCPv6 serves has its client messages punted here
 * (never flooded), and the answer goes back out of that port from the server's
 * link-local address.
 */
export class Dhcpv6Server {
  readonly stats: Dhcpv6Stats = { advertises: 0, replies: 0, ignored: 0 };
  /** Ports with a punt flow. */
  private readonly withFlows = new Set<string>();

  constructor(
    private readonly ctx: AppContext,
    private readonly options: DhcpOptions,
    private readonly served: ServedPorts,
  ) {}

  recomputeAll(): void {
    // The core removes the owners a recompute does not set again.
    this.withFlows.clear();
    for (const id of this.served.ids()) this.portChanged(id);
  }

  portChanged(portId: string): void {
    const port = this.ctx.topology.get('logical_port', portId);
    const served = port && port.adminStateUp && this.served.has(port) && v6LeaseFacts(this.ctx.topology, port, this.options);
    if (!port || !served) {
      if (!this.withFlows.delete(portId)) return;
      return this.ctx.flows.remove(`dhcpv6:${portId}`);
    }
    this.withFlows.add(port.id);
    this.ctx.flows.replace({ id: `dhcpv6:${port.id}`, key: port.key, kind: 'port' }, [dhcpv6PuntFlow(this.ctx.tables.ref(DHCPV6_TABLE), port.key, this.ctx.punt.toController())]);
  }

  /** The network's served ports again, and every port with a punt flow (its flow may have to go). */
  networkChanged(networkId: string): void {
    const ids = new Set(this.served.portsOn(networkId).map((p) => p.id));
    for (const id of this.withFlows) ids.add(id);
    for (const id of ids) this.portChanged(id);
  }

  packetIn(ev: AppPacketIn): void {
    const frame = ev.frame;
    const ip = frame?.payload;
    const udp = ip?.kind === 'ipv6' ? ip.payload : undefined;
    if (!frame || ip?.kind !== 'ipv6' || udp?.kind !== 'udp') return this.ignore();
    const port = this.ctx.topology.lookup('logical_port', 'key', String(ev.sourcePortKey))[0];
    // The client's frame must come from the port's own MAC: a VM cannot ask for another's address.
    if (!port || !frame.src.equals(MacAddress.parse(port.macAddress))) return this.ignore();
    const facts = v6LeaseFacts(this.ctx.topology, port, this.options);
    if (!facts) return this.ignore();
    let out;
    try {
      out = respond6(packet.decodeDhcp6(udp.payload), facts);
    } catch {
      return this.ignore();
    }
    if (out.kind === 'none') return this.ignore();
    if (out.message.type === packet.Dhcp6Type.ADVERTISE) this.stats.advertises++;
    else this.stats.replies++;
    const reply = packet.ethernet({
      src: facts.serverMac,
      dst: frame.src,
      payload: packet.ipv6({
        src: packet.linkLocalAddress(facts.serverMac),
        dst: ip.src,
        hopLimit: 255,
        payload: packet.udp({ srcPort: packet.DHCP6_SERVER_PORT, dstPort: packet.DHCP6_CLIENT_PORT, payload: packet.encodeDhcp6(out.message) }),
      }),
    });
    // Unconfirmed, as the DHCPv4 replies: the client retransmits what is lost.
    this.ctx.reply(ev, reply, { confirm: false }).catch((err: unknown) => this.ctx.log.warn({ err: String(err), port: port.id }, 'a DHCPv6 reply could not be sent to the switch'));
  }

  private ignore(): void {
    this.stats.ignored++;
  }
}
