import { defineApp } from '@dragonflow/core';
import { arpReplyMatch, SNAT_TABLES } from './flows.js';
import { snatOptionsSchema, type SnatOptions } from './options.js';
import { SnatApp } from './snat-app.js';

export { SnatApp, snatOwner, type SnatStats } from './snat-app.js';
export { SNAT_TABLES } from './flows.js';
export { snatOptionsSchema, type SnatOptions } from './options.js';

/**
 * `@dragonflow/app-snat`: source NAT for routers with an external gateway. List it
 * after '@dragonflow/app-l2', the L3 app and '@dragonflow/app-dnat' (floating IPs
 * are translated first, and snat leaves what dnat translated alone):
 *
 * ```yaml
 * apps:
 *   - '@dragonflow/app-l2'
 *   - '@dragonflow/app-l3-proactive'
 *   - '@dragonflow/app-dnat'
 *   - package: '@dragonflow/app-snat'
 *     options: { mode: centralized }   # or distributed (with address or pool)
 * ```
 *
 * Design, tables and limits: docs/nat.md.
 */
export default defineApp<SnatApp, SnatOptions>({
  name: 'snat',
  coreApi: '^1.2.0',
  description: 'Source NAT to the router gateway (centralized on its gateway chassis) or a per-chassis address (distributed), with conntrack in the switch.',
  tables: SNAT_TABLES,
  // ARP replies from next hops on the external network (no source port: one shared budget).
  punt: { tables: [{ name: 'inbound', match: arpReplyMatch() }], limits: (o) => o.punt },
  options: snatOptionsSchema,
  watches: ['logical_router', 'logical_port', 'logical_switch', 'subnet', 'chassis', 'chassis_liveness'],
  // A chassis' SNAT address is its rank among all chassis' names.
  needsAllChassis: true,
  app: SnatApp,
  resync: (app) => app.resync(),
  stop: (app) => app.stop(),
  handlers: {
    modelChanged: (app, ev) => app.onModelChanged(ev),
    localPortBound: (app, ev) => app.onLocalPort(ev),
    localPortUpdated: (app, ev) => app.onLocalPort(ev),
    localPortUnbound: (app, ev) => app.onLocalPort(ev),
    infraPortsChanged: (app) => app.onInfraPorts(),
    packetIn: (app, ev) => app.onPacketIn(ev),
  },
});
