import { APP_CONTEXT, APP_OPTIONS, DeviceOwner, inject, injectable, type AppContext, type AppPacketIn, type LogicalPort, type ModelChange, type Subnet } from '@dragonflow/core';
import { DhcpServer } from './dhcp-app.js';
import type { DhcpOptions } from './options.js';
import { Dhcpv6Server } from './v6/dhcpv6-service.js';
import { DHCPV6_TABLE, RA_TABLE } from './v6/flows.js';
import { RouterAdvertiser } from './v6/ra-service.js';
import { ServedPorts } from './served.js';

/**
 * The app instance: host configuration for the ports of this chassis — DHCPv4,
 * router advertisements and DHCPv6 — each answered where the port runs. (IPv6
 * modes need DHCP enabled on the subnet, as in Neutron, so an IPv6 subnet's hosts
 * are configured by the same app as an IPv4 one's.)
 */
@injectable()
export class DhcpApp {
  readonly ra: RouterAdvertiser;
  readonly v6: Dhcpv6Server;
  private readonly served: ServedPorts;

  constructor(
    @inject(DhcpServer) readonly v4: DhcpServer,
    @inject(APP_CONTEXT) private readonly ctx: AppContext,
    @inject(APP_OPTIONS) options: DhcpOptions,
  ) {
    const served = new ServedPorts(ctx.topology, options.allNetworks === true);
    this.ra = new RouterAdvertiser(ctx, options, served);
    this.v6 = new Dhcpv6Server(ctx, options, served);
    this.served = served;
  }

  recomputeAll(): void {
    this.v4.recomputeAll();
    this.ra.recomputeAll();
    this.v6.recomputeAll();
  }

  localPortChanged(portId: string): void {
    this.v4.localPortChanged(portId);
    this.ra.portChanged(portId);
    this.v6.portChanged(portId);
  }

  modelChanged(ev: ModelChange): void {
    this.v4.modelChanged(ev);
    switch (ev.table) {
      case 'logical_port': {
        const port = this.ctx.topology.get('logical_port', ev.id);
        const prev = ev.old as LogicalPort | undefined;
        const advertiser = (p: LogicalPort | undefined) => p?.deviceOwner === DeviceOwner.ROUTER_INTERFACE || p?.deviceOwner === DeviceOwner.DHCP;
        if (advertiser(port) || advertiser(prev)) {
          this.ra.networkChanged(port?.networkId ?? prev!.networkId);
          this.v6.networkChanged(port?.networkId ?? prev!.networkId);
        } else if (this.served.concerns(ev.id, port, prev)) {
          this.ra.portChanged(ev.id);
          this.v6.portChanged(ev.id);
        }
        return;
      }
      case 'subnet': {
        const subnet = this.ctx.topology.get('subnet', ev.id) ?? (ev.old as Subnet | undefined);
        if (subnet) {
          this.ra.networkChanged(subnet.networkId);
          this.v6.networkChanged(subnet.networkId);
        }
        return;
      }
      case 'logical_switch':
        this.ra.networkChanged(ev.id);
        this.v6.networkChanged(ev.id);
        return;
    }
  }

  /**
   * Not async: a DHCPv4 or DHCPv6 message is answered synchronously, and the app host
   * awaits only a handler that returns a promise (a promise per punt shows in profiles).
   */
  packetIn(ev: AppPacketIn): void | Promise<void> {
    if (ev.tableName === RA_TABLE) return this.ra.solicited(ev);
    if (ev.tableName === DHCPV6_TABLE) return this.v6.packetIn(ev);
    this.v4.packetIn(ev);
  }

  stop(): void {
    this.ra.stop();
  }
}
