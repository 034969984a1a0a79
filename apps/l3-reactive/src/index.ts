import { defineApp } from '@dragonflow/core';
import { L3_ADOPT_TABLES, L3_HANDLERS, L3_PUNT, L3_TABLES, L3_WATCHES, reactiveOptionsSchema, type ReactiveOptions } from '@dragonflow/l3';
import { ReactiveRouter } from './reactive-router.js';

export { ReactiveRouter, type ReactiveStats } from './reactive-router.js';

/**
 * The reactive distributed router. List it as '@dragonflow/app-l3-reactive' after
 * '@dragonflow/app-l2'; it conflicts with '@dragonflow/app-l3-proactive' (a deployment
 * picks one mode).
 */
export default defineApp<ReactiveRouter, ReactiveOptions>({
  name: 'l3-reactive',
  coreApi: '^1.2.0',
  description: 'Distributed virtual router: the first packet of each new (source network, destination) is routed by the local controller, which installs the exact flow.',
  conflicts: ['l3-proactive'],
  tables: { l3: L3_TABLES },
  watches: [...L3_WATCHES],
  // Exact flows survive a controller restart: taken back, not rewritten (the core keeps the punt suppressions).
  adoptTables: [...L3_ADOPT_TABLES],
  punt: L3_PUNT,
  options: reactiveOptionsSchema,
  // Punts beyond this wait are dropped (and counted) by the runtime: the app never falls minutes behind.
  packetInBuffer: 1024,
  app: ReactiveRouter,
  resync: (app) => app.resync(),
  handlers: L3_HANDLERS,
});
