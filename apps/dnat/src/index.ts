import { defineApp } from '@dragonflow/core';
import { FloatingIps } from './dnat-app.js';
import { ARP_REPLIES, DNAT_TABLES } from './flows.js';
import { dnatOptionsSchema, type DnatOptions } from './options.js';

export { FloatingIps, owners, type DnatStats } from './dnat-app.js';
export { DNAT_TABLES, floatingIpFlows, type DnatPipeline, type ExternalPath } from './flows.js';
export { floatingIpView, translatesHere, type FloatingIpView } from './model.js';
export { dnatOptionsSchema, type DnatMode, type DnatOptions } from './options.js';

/**
 * Floating IPs (1:1 NAT with conntrack in the switch): list it in the controller
 * config as '@dragonflow/app-dnat', after the L3 app and before '@dragonflow/app-snat'.
 */
export default defineApp<FloatingIps, DnatOptions>({
  name: 'dnat',
  coreApi: '^1.2.0',
  description: 'Floating IPs: ARP, DNAT and SNAT of floating IPs, on the port’s chassis (distributed) or the gateway chassis (centralized).',
  tables: DNAT_TABLES,
  // The next hops' ARP replies (from the provider network: no source port, one shared budget), and
  // the packets a port sends through a floating IP before its next hop answered (held, then sent on).
  punt: { tables: [{ name: 'fip-ingress', match: ARP_REPLIES }, { name: 'fip-egress' }] },
  watches: ['floating_ip', 'logical_router', 'logical_port', 'logical_switch', 'subnet', 'chassis_liveness'],
  options: dnatOptionsSchema,
  app: FloatingIps,
  resync: (app) => app.resync(),
  stop: (app) => app.stop(),
  handlers: {
    modelChanged: (app, ev) => app.onModelChanged(ev),
    localPortBound: (app, ev) => app.onLocalPort(ev.port.id),
    localPortUpdated: (app, ev) => app.onLocalPort(ev.port.id),
    localPortUnbound: (app, ev) => app.onLocalPort(ev.port.id),
    infraPortsChanged: (app) => app.updateAll(),
    packetIn: (app, ev) => app.onPacketIn(ev),
  },
});
