import type { MacAddress } from '@dragonflow/base';
import { DeviceOwner, packet, type AppTopology, type LogicalPort, type LogicalSwitch, type Subnet } from '@dragonflow/core';
import { dhcpPortOf, leaseFacts, servedAddresses } from './facts.js';
import type { AnswerTemplate } from './answer-template.js';
import type { DhcpOptions } from './options.js';
import type { LeaseFacts, ReplyOptionsMemo } from './responder.js';

/** What a message from one port is answered from. */
export interface PortLease {
  readonly port: LogicalPort;
  /** The port's MAC: a client's chaddr must be it. */
  readonly mac: MacAddress;
  readonly facts: LeaseFacts;
  /** The encoded options of this lease's OFFERs and ACKs, per client request (see `respond`). */
  readonly replies: ReplyOptionsMemo;
  /** This lease's encoded answers, by their options (the memo's objects: one per kind of request). */
  readonly answers: Map<ReadonlyMap<number, Uint8Array>, AnswerTemplate>;
}

interface Entry extends PortLease {
  readonly network: LogicalSwitch;
  readonly dhcpPort: LogicalPort;
  /** The subnet object of each of the port's fixed IPs when the lease was built. */
  readonly subnets: readonly (Subnet | undefined)[];
}

/**
 * Each port's lease, built once from the NB objects it depends on (the port, its
 * network, the network's DHCP port, the port's subnets) and reused while the
 * topology still holds those very objects: the local cache replaces an object when
 * it changes, so an identity check per object is an exact validity check, and a
 * change made in the NB is in the next answer with no event needed. Only a second
 * DHCP port appearing on a network is not seen that way: the app tells
 * `portChanged` of every DHCP port change.
 */
export class LeaseCache {
  private readonly byPort = new Map<string, Entry>();
  /** The same entries by port key, which the packet-in carries (found without a topology lookup by key). */
  private readonly byKey = new Map<number, Entry>();
  private readonly dhcpPorts = new Map<string, LogicalPort>();

  constructor(
    private readonly topology: AppTopology,
    private readonly options: DhcpOptions,
  ) {}

  /** The lease of the port whose key is `portKey`, or undefined when DHCP does not serve it. */
  lease(portKey: number): PortLease | undefined {
    const t = this.topology;
    const known = this.byKey.get(portKey);
    // The very port object still in the topology has the same key; the rest is checked as for a lookup.
    if (known && t.get('logical_port', known.port.id) === known.port && this.valid(known, known.port)) return known;
    const port = t.lookup('logical_port', 'key', String(portKey))[0];
    if (!port) return undefined;
    const network = t.get('logical_switch', port.networkId);
    const dhcpPort = this.dhcpPortOf(port.networkId);
    if (!network || !dhcpPort) return undefined;
    const cached = this.byPort.get(port.id);
    if (cached && this.valid(cached, port)) {
      this.byKey.set(portKey, cached);
      return cached;
    }
    const served = servedAddresses(t, port, dhcpPort)[0];
    if (!served) {
      this.forgetPort(port.id);
      return undefined;
    }
    const entry: Entry = {
      port,
      network,
      dhcpPort,
      subnets: port.fixedIps.map((f) => t.get('subnet', f.subnetId)),
      mac: packet.mac(port.macAddress),
      facts: leaseFacts(port, network, dhcpPort, served, this.options),
      replies: new Map(),
      answers: new Map(),
    };
    this.forgetPort(port.id);
    this.byPort.set(port.id, entry);
    this.byKey.set(portKey, entry);
    return entry;
  }

  /** Whether `entry` was built from `port` and the network, DHCP port and subnets the topology holds now. */
  private valid(entry: Entry, port: LogicalPort): boolean {
    return entry.port === port && this.topology.get('logical_switch', port.networkId) === entry.network && this.dhcpPortOf(port.networkId) === entry.dhcpPort && this.sameSubnets(port, entry.subnets);
  }

  /** The network's DHCP port, remembered while the topology holds that same object. */
  dhcpPortOf(networkId: string): LogicalPort | undefined {
    const known = this.dhcpPorts.get(networkId);
    if (known && this.topology.get('logical_port', known.id) === known) return known;
    const found = dhcpPortOf(this.topology, networkId);
    if (found) this.dhcpPorts.set(networkId, found);
    else this.dhcpPorts.delete(networkId);
    return found;
  }

  /** A port changed as a DHCP port (or stopped being one): its network's server is looked up again. */
  portChanged(port: LogicalPort | undefined, old: LogicalPort | undefined): void {
    for (const p of [port, old]) if (p?.deviceOwner === DeviceOwner.DHCP) this.dhcpPorts.delete(p.networkId);
  }

  /** A port is no longer local: its lease is dropped (the memory follows the local ports). */
  forgetPort(portId: string): void {
    const entry = this.byPort.get(portId);
    if (!entry) return;
    this.byPort.delete(portId);
    if (this.byKey.get(entry.port.key) === entry) this.byKey.delete(entry.port.key);
  }

  clear(): void {
    this.byPort.clear();
    this.byKey.clear();
    this.dhcpPorts.clear();
  }

  private sameSubnets(port: LogicalPort, subnets: readonly (Subnet | undefined)[]): boolean {
    const ips = port.fixedIps;
    for (let i = 0; i < ips.length; i++) if (this.topology.get('subnet', ips[i]!.subnetId) !== subnets[i]) return false;
    return true;
  }
}
