import type { AppTopology, LogicalPort } from '@dragonflow/core';

/**
 * Which ports this chassis answers host configuration for (DHCPv4, DHCPv6, router
 * solicitations): its own, and with `allNetworks` every port bound to a chassis in
 * the cache — a fallback chassis (docs/ha.md "Fallback path") answers the punts of
 * stranded ports, which it classifies as theirs. Unsolicited router advertisements
 * stay with the port's own chassis (`isLocal`).
 */
export class ServedPorts {
  constructor(
    private readonly topology: AppTopology,
    readonly allNetworks: boolean,
  ) {}

  /** The ids of every port served. */
  ids(): string[] {
    const ids = this.topology.localBindings().map((b) => b.portId);
    if (!this.allNetworks) return ids;
    const all = new Set(ids);
    for (const p of this.topology.all('logical_port')) if (p.chassisId) all.add(p.id);
    return [...all];
  }

  /** The ports of one network that are served (an index lookup: network events do not walk every served port). */
  portsOn(networkId: string): LogicalPort[] {
    return this.topology.lookup('logical_port', 'network', networkId).filter((p) => this.has(p));
  }

  has(port: LogicalPort): boolean {
    return this.isLocal(port.id) || (this.allNetworks && Boolean(port.chassisId));
  }

  isLocal(portId: string): boolean {
    return this.topology.localBinding(portId) !== undefined;
  }

  /** Whether a change of this port (now `port`, before `prev`) may change what is served. */
  concerns(portId: string, port: LogicalPort | undefined, prev: LogicalPort | undefined): boolean {
    return this.isLocal(portId) || prev !== undefined || (this.allNetworks && Boolean(port?.chassisId));
  }
}
