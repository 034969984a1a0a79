import type { AppTopology, LocalPortEvent } from '@dragonflow/core';

/**
 * The networks with a port bound to this chassis, kept from the local port events
 * (built from the bindings on first use and at every resync), so a router's check
 * "does it have a VM here" does not walk every binding.
 */
export class LocalNetworks {
  private ports: Map<string, string> | undefined;
  private readonly counts = new Map<string, number>();

  constructor(private readonly topology: AppTopology) {}

  has(networkId: string): boolean {
    this.load();
    return this.counts.has(networkId);
  }

  /** Forgets everything: the next question rebuilds from the bindings. */
  reset(): void {
    this.ports = undefined;
    this.counts.clear();
  }

  /** A local port came, changed or went; returns the networks whose presence here may have changed. */
  apply(ev: LocalPortEvent): string[] {
    this.load();
    const was = this.ports!.get(ev.port.id);
    const now = ev.kind === 'unbound' ? undefined : ev.port.networkId;
    if (was === now) return [];
    if (was !== undefined) {
      this.ports!.delete(ev.port.id);
      const n = (this.counts.get(was) ?? 1) - 1;
      if (n <= 0) this.counts.delete(was);
      else this.counts.set(was, n);
    }
    if (now !== undefined) {
      this.ports!.set(ev.port.id, now);
      this.counts.set(now, (this.counts.get(now) ?? 0) + 1);
    }
    return [was, now].filter((n): n is string => n !== undefined);
  }

  private load(): void {
    if (this.ports) return;
    this.ports = new Map();
    for (const b of this.topology.localBindings()) {
      const p = this.topology.get('logical_port', b.portId);
      if (!p) continue;
      this.ports.set(p.id, p.networkId);
      this.counts.set(p.networkId, (this.counts.get(p.networkId) ?? 0) + 1);
    }
  }
}
