import { defineApp } from '@dragonflow/core';
import { SecurityGroups } from './sg-app.js';
import { DIRECTIONS, SG_TABLES } from './tables.js';

export { SecurityGroups, owners } from './sg-app.js';
export { rangeMasks, type MaskedValue } from './ranges.js';
export { BLOCKED } from './tables.js';

/** Neutron security groups in the switch: list it in the controller config as '@dragonflow/app-sg'. */
export default defineApp<SecurityGroups>({
  name: 'sg',
  coreApi: '^1.1.0',
  description: 'Security groups: stateful (conntrack, a zone per port) and stateless rules, remote groups by conjunctive match.',
  tables: SG_TABLES,
  registers: [DIRECTIONS.egress.scratch, DIRECTIONS.ingress.scratch],
  watches: ['security_group', 'logical_port'],
  app: SecurityGroups,
  resync: (app) => app.resync(),
  handlers: {
    modelChanged: (app, ev) => (ev.table === 'security_group' ? app.groupChanged(ev.id) : app.portChanged(ev.id)),
    localPortBound: (app, ev) => app.portChanged(ev.port.id),
    localPortUpdated: (app, ev) => app.portChanged(ev.port.id),
    localPortUnbound: (app, ev) => app.portChanged(ev.port.id),
  },
});
