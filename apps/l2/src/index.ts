import { REG_DST_PORT, REG_FLAGS, REG_SRC_PORT, SCRATCH_REGISTERS, defineApp, inject, injectable, type AppPacketIn, type ModelChange } from '@dragonflow/core';
import { ND_PUNTED } from './flows.js';
import { L2Switch } from './l2-switch.js';
import { l2OptionsSchema, type L2Options } from './options.js';
import { NdResponder } from './nd-responder.js';

export { L2Switch } from './l2-switch.js';
export { NdResponder } from './nd-responder.js';
export { l2OptionsSchema, type L2Options } from './options.js';
export { FROM_OUTSIDE, ND_PUNTED, PRIORITY, chunkFlows, egressFlow, floodFlows, ingressFlows, l2Pipeline, portFlows, uplinkActions, type L2Pipeline, type RemoteTarget } from './flows.js';
export { CHUNK_BITS, ROUTER_GATEWAY, ROUTER_INTERFACE, chunkOf, networkKind, placementOf, uplinkOf, type NetworkKind, type Placement } from './model.js';

/** The app instance: switching flows plus the IPv6 neighbour advertisement responder. */
@injectable()
export class L2App {
  constructor(
    @inject(L2Switch) readonly switching: L2Switch,
    @inject(NdResponder) readonly nd: NdResponder,
  ) {}

  modelChanged(ev: ModelChange): void {
    switch (ev.table) {
      case 'logical_port':
        this.switching.portChanged(ev.id);
        return;
      case 'logical_switch':
        this.switching.networkChanged(ev.id);
        return;
      case 'chassis':
        this.switching.chassisChanged(ev.id);
        return;
      case 'chassis_liveness':
        // also: a router's active gateway chassis may have moved (activeGatewayOf)
        this.switching.chassisChanged(ev.id);
        this.switching.routerChanged();
        return;
      case 'logical_router':
        this.switching.routerChanged();
        return;
    }
  }

  packetIn(ev: AppPacketIn): Promise<void> {
    return this.nd.onPacketIn(ev);
  }
}

/**
 * `@dragonflow/app-l2`: list it in the controller config as '@dragonflow/app-l2'.
 * Tables (numbers come from the allocator; `dfctl pipeline` prints them):
 *
 * - classify: `tunnel-ingress` (tunnel port + VNI → network), `provider-ingress` (patch port + VLAN/untagged → network)
 * - services: `arp-responder`, `nd-responder`
 * - l2-lookup: `lookup` (dst MAC → port / router), `flood` (per network), `flood-ports` (per chunk of local ports)
 * - egress: `egress` (remote port → tunnel or provider uplink; also the remote ports of
 *   networks a local router routes to, which are not switched here)
 */
export default defineApp<L2App, L2Options>({
  name: 'l2',
  coreApi: '^1.2.0',
  description: 'Distributed L2 switching from the NB: unicast, BUM replication with split horizon, ARP/ND responder, tunnels and provider networks.',
  tables: {
    classify: [
      { name: 'tunnel-ingress', match: ['in_port', 'tunnel_id'], description: 'tunnel port + VNI of a network switched here → network, FROM_TUNNEL' },
      { name: 'provider-ingress', match: ['in_port', 'vlan_vid'], description: 'provider patch port + VLAN (or untagged) → pop, network, FROM_PROVIDER' },
    ],
    services: [
      { name: 'arp-responder', match: ['metadata', REG_FLAGS, REG_SRC_PORT, 'eth_type', 'arp_op', 'arp_tpa'], description: 'ARP requests for known port IPs answered in the switch' },
      { name: 'nd-responder', match: ['metadata', REG_FLAGS, REG_SRC_PORT, 'eth_type', 'ip_proto', 'icmpv6_type', 'icmpv6_code', 'ipv6_nd_target'], description: 'NS for known port IPs punted for an NA' },
    ],
    'l2-lookup': [
      { name: 'lookup', match: ['metadata', 'eth_dst'], description: 'dst MAC → destination port key, or router MAC → l3' },
      { name: 'flood', match: ['metadata', REG_FLAGS], miss: 'drop', description: 'broadcast/multicast/unknown unicast: local chunks, then remote chassis or provider' },
      // The chunk register is one of the scratch registers; which one the allocator decides.
      { name: 'flood-ports', match: ['metadata', ...SCRATCH_REGISTERS], miss: 'drop', description: 'one chunk of local ports: a copy to each' },
    ],
    egress: [{ name: 'egress', match: [REG_DST_PORT, REG_FLAGS], description: 'remote destination port → tunnel or provider uplink' }],
  },
  registers: ['flood-chunk'],
  // NS punts are guarded per source port by the core (budget from the `punt` option).
  punt: { tables: [{ name: 'nd-responder', match: ND_PUNTED }], limits: (o) => o.punt },
  options: l2OptionsSchema,
  watches: ['logical_switch', 'logical_port', 'logical_router', 'chassis', 'chassis_liveness'],
  packetInBuffer: 256,
  app: L2App,
  resync: (app) => app.switching.recomputeAll(),
  handlers: {
    modelChanged: (app, ev) => app.modelChanged(ev),
    localPortBound: (app, ev) => app.switching.portChanged(ev.port.id),
    localPortUpdated: (app, ev) => app.switching.portChanged(ev.port.id),
    localPortUnbound: (app, ev) => app.switching.portChanged(ev.port.id),
    infraPortsChanged: (app) => app.switching.recomputeAll(),
    packetIn: (app, ev) => app.packetIn(ev),
  },
});
