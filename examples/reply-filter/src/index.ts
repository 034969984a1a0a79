import { defineApp } from '@dragonflow/core';
import { ReplyFilter, type ReplyFilterOptions } from './reply-filter.js';

export { ReplyFilter, type ReplyFilterOptions } from './reply-filter.js';

/** Checks the options by hand: a list of port ids, and the send rate. */
const optionsSchema = {
  safeParse(input: unknown): { success: true; data: ReplyFilterOptions } | { success: false; error: { issues: { path: (string | number)[]; message: string }[] } } {
    const o = (input ?? {}) as { ports?: unknown; sendRate?: unknown };
    const ports = o.ports ?? [];
    if (!Array.isArray(ports) || !ports.every((p) => typeof p === 'string' && p.length > 0)) {
      return { success: false, error: { issues: [{ path: ['ports'], message: 'a list of logical port ids' }] } };
    }
    if (o.sendRate !== undefined && !(Number.isInteger(o.sendRate) && (o.sendRate as number) > 0)) {
      return { success: false, error: { issues: [{ path: ['sendRate'], message: 'packets per second, an integer > 0' }] } };
    }
    return { success: true, data: { ports, ...(o.sendRate !== undefined ? { sendRate: o.sendRate as number } : {}) } };
  },
};

/** The app: list it in the controller config as '@acme/dragonflow-reply-filter' with `options.ports`. */
export default defineApp<ReplyFilter, ReplyFilterOptions>({
  name: 'reply-filter',
  coreApi: '^1.0.0',
  description: 'A protected VM port receives only replies to the connections it opened.',
  tables: {
    'ingress-security': [{ name: 'from-port' }],
    'egress-security': [{ name: 'to-port' }],
  },
  watches: ['logical_port'],
  options: optionsSchema,
  app: ReplyFilter,
  resync: (app) => app.update(),
  handlers: {
    localPortBound: (app, ev) => app.update(ev.port.id),
    localPortUpdated: (app, ev) => app.update(ev.port.id),
    localPortUnbound: (app, ev) => app.update(ev.port.id),
    modelChanged: (app, ev) => app.update(ev.id),
  },
});
