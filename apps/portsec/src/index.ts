import { REG_SRC_PORT, defineApp } from '@dragonflow/core';
import { TABLES } from './flows.js';
import { PortSecurity } from './portsec-app.js';

export { PortSecurity, SHARED_OWNER, portOwner } from './portsec-app.js';
export { PRIORITY, TABLES, dropAllFlows, portFlows, portsecPipeline, sharedFlows, type PortsecPipeline } from './flows.js';
export { isChecked, linkLocalOf, portFacts, type PortSecurityFacts, type SourceBinding } from './facts.js';

const ND = ['eth_type', 'ip_proto', 'icmpv6_type'] as const;

/**
 * `@dragonflow/app-portsec`: a local VM port with port security on sends only from
 * its MAC and fixed IPs (IPv6 link-local included) or an allowed address pair; ARP
 * and neighbour advertisements only for its own addresses; no DHCP server replies or
 * router advertisements. Four tables in the ingress-security stage (docs/port-security.md):
 *
 * - `port`: source MAC of a checked port → `address`; its other MACs dropped; anything else skips the app
 * - `address`: (address, MAC) bindings for IPv4, ARP and IPv6, the DHCP/DAD exceptions, the forbidden servers; the rest dropped
 * - `nd-target`, `nd-lla`: a neighbour advertisement's target and link-layer option are the port's
 */
export default defineApp<PortSecurity>({
  name: 'portsec',
  coreApi: '^1.1.0',
  description: 'Port security: a port sends only from its own MAC and addresses or its allowed address pairs.',
  tables: {
    'ingress-security': [
      { name: TABLES.port, match: [REG_SRC_PORT, 'eth_src'], description: "a checked port's own MACs → address check; its other MACs dropped; unchecked traffic skips" },
      {
        name: TABLES.address,
        match: [REG_SRC_PORT, 'eth_src', 'eth_type', 'ipv4_src', 'ipv6_src', 'arp_sha', 'arp_spa', 'ip_proto', 'udp_src', 'udp_dst', 'icmpv6_type'],
        description: "source address bound to the source MAC (IPv4, ARP, IPv6), DHCP client and DAD from the unspecified address; DHCP servers and router advertisements dropped",
      },
      { name: TABLES.ndTarget, match: [REG_SRC_PORT, ...ND, 'ipv6_nd_target'], description: "a neighbour advertisement's target is one of the port's IPv6 addresses" },
      { name: TABLES.ndLla, match: [REG_SRC_PORT, ...ND, 'ipv6_nd_tll'], description: "a neighbour advertisement's link-layer option is one of the port's MACs, or absent" },
    ],
  },
  app: PortSecurity,
  resync: (app) => app.recomputeAll(),
  handlers: {
    localPortBound: (app, ev) => app.update(ev.port.id),
    localPortUpdated: (app, ev) => app.update(ev.port.id),
    localPortUnbound: (app, ev) => app.update(ev.port.id),
  },
});
