import { APP_CONTEXT, APP_OPTIONS, DeviceOwner, inject, injectable, packet, type AppContext, type AppPacketIn, type LogicalPort, type ModelChange, type Subnet } from '@dragonflow/core';
import { AnswerTemplate, encodeAnswer, type Reply } from './answer-template.js';
import { dhcpPortOf, servedAddresses } from './facts.js';
import { DHCP_TABLE, puntFlow, serverFlows } from './flows.js';
import { LeaseCache, type PortLease } from './lease-cache.js';
import type { DhcpOptions } from './options.js';
import { respond } from './responder.js';
import { ServedPorts } from './served.js';

/** Answer templates kept per lease (the options memo keeps as many kinds of request). */
const ANSWERS_PER_LEASE = 8;

export interface DhcpStats {
  offers: number;
  acks: number;
  naks: number;
  /** Messages that get no answer (release, decline, another server's, relayed, undecodable). */
  ignored: number;
}

const portOwner = (p: LogicalPort) => ({ id: `port:${p.id}`, key: p.key });

const serverOwner = (networkId: string, key: number) => ({ id: `network:${networkId}`, key });

/**
 * Answers the DHCPv4 clients of this chassis' ports (with `allNetworks`, of every
 * bound port in the cache: a fallback chassis) from the NB. Flows: one punt per
 * local port that has an address on a DHCP-enabled subnet (so its DHCP never leaves
 * the chassis), and the ARP/ping answers of each such network's server address.
 */
@injectable()
export class DhcpServer {
  readonly stats: DhcpStats = { offers: 0, acks: 0, naks: 0, ignored: 0 };

  /** Each asking port's lease, rebuilt only when an NB object it comes from changed. */
  private readonly leases: LeaseCache;

  /** The ports answered: the local ones, and with `allNetworks` every port bound to a chassis. */
  private readonly served: ServedPorts;

  constructor(
    @inject(APP_CONTEXT) private readonly ctx: AppContext,
    @inject(APP_OPTIONS) options: DhcpOptions,
  ) {
    this.leases = new LeaseCache(ctx.topology, options);
    this.served = new ServedPorts(ctx.topology, options.allNetworks === true);
  }

  private get table() {
    return this.ctx.tables.ref(DHCP_TABLE);
  }

  /** Local ports served, per network (their networks get the server flows). */
  private readonly servedPorts = new Map<string, Set<string>>();

  /** Ports with a punt flow, and the port key it was built for. */
  private readonly punted = new Map<string, number>();

  /** Recomputes every owner: the local ports served and their networks' server flows. */
  recomputeAll(): void {
    this.servedPorts.clear();
    this.punted.clear();
    this.leases.clear();
    const ids = this.served.ids();
    for (const id of ids) {
      const port = this.ctx.topology.get('logical_port', id);
      if (port) this.portFlows(port);
    }
    const wanted = new Set<string>();
    for (const id of ids) wanted.add(`port:${id}`);
    for (const networkId of this.servedPorts.keys()) {
      this.networkFlows(networkId);
      wanted.add(`network:${networkId}`);
    }
    // Only this server's owners (port:, network:): the IPv6 services of the app keep theirs.
    for (const owner of this.ctx.flows.owners()) if (!wanted.has(owner) && /^(port|network):/.test(owner)) this.ctx.flows.remove(owner);
  }

  /** Sets one port's punt flow: present only while it is local and DHCP serves it an address. */
  private portFlows(port: LogicalPort): void {
    const local = this.served.has(port);
    const served = local && port.adminStateUp ? servedAddresses(this.ctx.topology, port, dhcpPortOf(this.ctx.topology, port.networkId)) : [];
    for (const [networkId, ports] of this.servedPorts) {
      if (networkId !== port.networkId && ports.delete(port.id)) this.networkChangedPorts(networkId);
    }
    const ports = this.servedPorts.get(port.networkId) ?? new Set<string>();
    if (served.length === 0) {
      if (this.punted.delete(port.id)) this.ctx.flows.remove(portOwner(port));
      ports.delete(port.id);
    } else {
      // The punt flow depends on the port's key alone: a network's objects entering the
      // topology with its ports (a bulk) would otherwise rebuild it once per object.
      if (this.punted.get(port.id) !== port.key) this.ctx.flows.replace(portOwner(port), [puntFlow(this.table, port.key, this.ctx.punt.toController())]);
      this.punted.set(port.id, port.key);
      ports.add(port.id);
    }
    if (ports.size > 0) this.servedPorts.set(port.networkId, ports);
    else this.servedPorts.delete(port.networkId);
  }

  /** A network's set of served ports changed size: its server flows may come or go. */
  private networkChangedPorts(networkId: string): void {
    if (this.servedPorts.get(networkId)?.size === 0) this.servedPorts.delete(networkId);
    this.networkFlows(networkId);
  }

  /** Sets a network's server flows (ARP and ping for each server address) while it has served local ports. */
  private networkFlows(networkId: string): void {
    const net = this.ctx.topology.get('logical_switch', networkId);
    const dhcpPort = dhcpPortOf(this.ctx.topology, networkId);
    if (!net || !dhcpPort || !this.servedPorts.has(networkId)) {
      this.ctx.flows.remove(`network:${networkId}`);
      return;
    }
    const flows = dhcpPort.fixedIps.filter((f) => !f.ipAddress.includes(':')).flatMap((f) => serverFlows(this.table, net.key, dhcpPort.macAddress, f.ipAddress));
    this.ctx.flows.replace(serverOwner(networkId, net.key), flows);
  }

  /** Every local port of a network again (its subnets, DHCP port or MTU changed). */
  private networkChanged(networkId: string): void {
    for (const port of this.served.portsOn(networkId)) this.portFlows(port);
    this.networkFlows(networkId);
  }

  /** A local port came, changed or went. */
  localPortChanged(portId: string): void {
    const port = this.ctx.topology.get('logical_port', portId);
    if (port) {
      const served = this.servedPorts.has(port.networkId);
      this.portFlows(port);
      // The server flows depend on the network, its DHCP port and whether it serves a
      // local port at all (networkChanged follows the first two): rebuilding them for
      // every port of a bulk cost as much as the ports' own flows.
      if (this.servedPorts.has(port.networkId) !== served || !this.ctx.flows.hasFlows(`network:${port.networkId}`)) this.networkFlows(port.networkId);
      return;
    }
    this.ctx.flows.remove(`port:${portId}`);
    this.punted.delete(portId);
    this.leases.forgetPort(portId);
    for (const [networkId, ports] of this.servedPorts) if (ports.delete(portId)) this.networkChangedPorts(networkId);
  }

  modelChanged(ev: ModelChange): void {
    switch (ev.table) {
      case 'logical_port': {
        const port = this.ctx.topology.get('logical_port', ev.id);
        const prev = ev.old as LogicalPort | undefined;
        if (port?.deviceOwner === DeviceOwner.DHCP || prev?.deviceOwner === DeviceOwner.DHCP) {
          this.leases.portChanged(port, prev);
          this.networkChanged(port?.networkId ?? prev!.networkId);
        } else if (this.ctx.topology.localBinding(ev.id) || this.ctx.flows.hasFlows(`port:${ev.id}`) || (this.served.allNetworks && Boolean(port?.chassisId || prev?.chassisId))) {
          this.localPortChanged(ev.id);
        }
        return;
      }
      case 'subnet': {
        const subnet = this.ctx.topology.get('subnet', ev.id) ?? (ev.old as Subnet | undefined);
        if (subnet) this.networkChanged(subnet.networkId);
        return;
      }
      case 'logical_switch':
        this.networkChanged(ev.id);
        return;
    }
  }

  packetIn(ev: AppPacketIn): void {
    // Only the UDP payload is read: the Ethernet and IP layers are not decoded (the punt flow matched them).
    const udp = packet.ipv4UdpPayload(ev.data);
    if (!udp) return this.ignore();
    const lease = this.leases.lease(ev.sourcePortKey);
    if (!lease) return this.ignore();
    let request: packet.DhcpMessage;
    try {
      request = packet.decodeDhcp(udp.payload);
    } catch {
      return this.ignore();
    }
    // The client's hardware address must be the port's: a VM cannot lease for another MAC.
    if (!request.chaddr.equals(lease.mac)) return this.ignore();
    const { facts } = lease;
    const out = respond(request, facts, lease.replies);
    if (out.kind === 'none') return this.ignore();
    if (out.type === 'OFFER') this.stats.offers++;
    else if (out.type === 'ACK') this.stats.acks++;
    else this.stats.naks++;
    const reply = out.type === 'NAK' ? encodeAnswer(facts, out) : this.answer(lease, out);
    // Unconfirmed and not awaited: the client retransmits a lost answer, and a barrier
    // per reply costs the switch and this controller a round trip each (the exchange
    // latency and the leases per second showed it); an error the switch sends is logged.
    const portId = lease.port.id;
    this.ctx.reply(ev, reply, { confirm: false }).catch((err: unknown) => this.ctx.log.warn({ err: String(err), port: portId }, 'a DHCP reply could not be sent to the switch'));
  }

  /**
   * An OFFER or ACK from the lease's template for this kind of request (built from
   * the first such answer): the same bytes `encodeAnswer` gives, for a fraction of the work.
   */
  private answer(lease: PortLease, out: Reply): Uint8Array {
    const m = out.message;
    let template = lease.answers.get(m.options);
    if (!template) {
      const frame = encodeAnswer(lease.facts, out);
      template = AnswerTemplate.of(frame);
      if (!template) return frame;
      // Bounded like the options memo whose objects key it (a port has one client, or a few in turn).
      if (lease.answers.size >= ANSWERS_PER_LEASE) lease.answers.clear();
      lease.answers.set(m.options, template);
      return frame;
    }
    return template.fill({ xid: m.xid, flags: m.flags, ciaddr: m.ciaddr.value, dstIp: out.dstIp.value });
  }

  private ignore(): void {
    this.stats.ignored++;
  }
}
