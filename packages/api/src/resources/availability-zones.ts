import type { CollectionSpec, ListEntry } from '../neutron/query.js';
import { ListQuery } from '../neutron/schemas.js';
import type { Backend } from '../services/backend.js';
import { zoneStates } from '../services/zones.js';
import { type ApiApp, ctxOf, sendList, tagged } from './common.js';

/*
 * availability_zone: the zones of the chassis, each for networks and for routers (both
 * are distributed: they are wherever their ports are). A zone is available while one
 * of its chassis is alive.
 */

const SPEC: CollectionSpec = {
  filterable: new Set(['name', 'resource', 'state']),
  sortable: new Set(['name', 'resource', 'state']),
};

export function registerAvailabilityZones(app: ApiApp, backend: Backend): void {
  app.get('/v2.0/availability_zones', { schema: { ...tagged('availability-zones', 'List availability zones (of the chassis)'), querystring: ListQuery } }, async (req, reply) => {
    ctxOf(req);
    const entries: ListEntry[] = [];
    for (const [name, alive] of await zoneStates(backend.nb)) {
      for (const resource of ['network', 'router']) {
        // No id: a zone is named; the name and resource make the order.
        entries.push({ view: { name, resource, state: alive ? 'available' : 'unavailable' }, order: `${name} ${resource}` });
      }
    }
    return sendList(req, reply, backend, 'availability_zones', SPEC, 'network', entries);
  });
}
