import { defineApp } from '@dragonflow/core';
import { L3_HANDLERS, L3_PUNT, L3_TABLES, L3_WATCHES, proactiveOptionsSchema, type ProactiveOptions } from '@dragonflow/l3';
import { ProactiveRouter } from './proactive-router.js';

export { ProactiveRouter } from './proactive-router.js';

/**
 * The proactive distributed router. List it as '@dragonflow/app-l3-proactive' after
 * '@dragonflow/app-l2'; it conflicts with '@dragonflow/app-l3-reactive' (a deployment
 * picks one mode).
 */
export default defineApp<ProactiveRouter, ProactiveOptions>({
  name: 'l3-proactive',
  coreApi: '^1.2.0',
  description: 'Distributed virtual router: every route installed up front on the source chassis.',
  conflicts: ['l3-reactive'],
  tables: { l3: L3_TABLES },
  watches: [...L3_WATCHES],
  // TTL-expired and unreachable punts, guarded per source port by the core (suppressions survive a restart).
  punt: L3_PUNT,
  options: proactiveOptionsSchema,
  app: ProactiveRouter,
  resync: (app) => app.resync(),
  handlers: L3_HANDLERS,
});
