import { REG_SRC_PORT, defineApp } from '@dragonflow/core';
import { DhcpApp } from './app.js';
import { DHCP_CLIENT_MESSAGES, DHCP_PUNT_LIMITS, DHCP_TABLE } from './flows.js';
import { DHCPV6_PUNTED, DHCPV6_TABLE, RA_TABLE, RS_PUNTED } from './v6/flows.js';
import { dhcpOptionsSchema, type DhcpOptions } from './options.js';

export { DhcpApp } from './app.js';
export { DhcpServer, type DhcpStats } from './dhcp-app.js';
export { RouterAdvertiser, type RaStats } from './v6/ra-service.js';
export { Dhcpv6Server, v6LeaseFacts, type Dhcpv6Stats } from './v6/dhcpv6-service.js';
export { respond6, type Dhcp6Outcome, type V6LeaseFacts } from './v6/dhcpv6-responder.js';
export { advertsFor, type Advert } from './v6/adverts.js';
export { nextAdvertDelay } from './v6/schedule.js';
export { respond, type DhcpOutcome, type LeaseFacts } from './responder.js';
export { DHCP_PUNT_LIMITS } from './flows.js';
export { dhcpOptionsSchema, type DhcpOptions } from './options.js';

/**
 * `@dragonflow/app-dhcp`: DHCPv4 answered by the chassis that hosts the port, from
 * the NB (the port's fixed IP, its subnet's gateway, DNS servers and host routes,
 * the network's MTU, the port's extra_dhcp_opts), and IPv6 host configuration:
 * router advertisements and DHCPv6. Three tables in the services stage: `dhcp` (a
 * local port's DHCP client messages → controller; ARP and ping for the network's
 * DHCP server address answered in the switch), `ra` (router solicitations →
 * controller), `dhcpv6` (DHCPv6 client messages → controller). docs/dhcp.md,
 * docs/ipv6.md.
 */
export default defineApp<DhcpApp, DhcpOptions>({
  name: 'dhcp',
  coreApi: '^1.0.0',
  description: 'Distributed DHCPv4, DHCPv6 and router advertisements: every chassis answers its own ports from the NB.',
  tables: {
    services: [
      {
        name: DHCP_TABLE,
        match: ['metadata', REG_SRC_PORT, 'eth_type', 'ip_proto', 'udp_src', 'udp_dst', 'arp_op', 'arp_tpa', 'icmpv4_type', 'ipv4_dst'],
        description: "a local port's DHCP client messages → controller; the DHCP server address answers ARP and ping",
      },
      { name: RA_TABLE, match: [REG_SRC_PORT, 'eth_type', 'ip_proto', 'icmpv6_type'], description: "a local port's router solicitations → controller (answered with the network's RAs)" },
      { name: DHCPV6_TABLE, match: [REG_SRC_PORT, 'eth_type', 'ip_proto', 'udp_src', 'udp_dst'], description: "a local port's DHCPv6 client messages → controller" },
    ],
  },
  // The core guards the punts per source port (budget from the `punt` option) and drops a flooding port's DHCP in the switch.
  // A switch meter caps all of the chassis' DHCP punts together (a flood spread over many ports).
  punt: {
    tables: [
      { name: DHCP_TABLE, match: DHCP_CLIENT_MESSAGES },
      { name: RA_TABLE, match: RS_PUNTED },
      { name: DHCPV6_TABLE, match: DHCPV6_PUNTED },
    ],
    limits: (o) => ({ ...DHCP_PUNT_LIMITS, ...o.punt }),
    meter: { rate: 20_000, burst: 2_000 },
  },
  watches: ['logical_port', 'subnet', 'logical_switch'],
  options: dhcpOptionsSchema,
  packetInBuffer: 512,
  app: DhcpApp,
  resync: (app) => app.recomputeAll(),
  stop: (app) => app.stop(),
  handlers: {
    modelChanged: (app, ev) => app.modelChanged(ev),
    localPortBound: (app, ev) => app.localPortChanged(ev.port.id),
    localPortUpdated: (app, ev) => app.localPortChanged(ev.port.id),
    localPortUnbound: (app, ev) => app.localPortChanged(ev.port.id),
    packetIn: (app, ev) => app.packetIn(ev),
  },
});
