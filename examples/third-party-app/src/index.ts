import { defineApp } from '@dragonflow/core';
import { mirrorOptionsSchema, type MirrorOptions } from './options.js';
import { PortMirror } from './port-mirror.js';

export { PortMirror } from './port-mirror.js';
export { mirrorOptionsSchema, type MirrorOptions } from './options.js';

/** The app: list it in the controller config as '@acme/dragonflow-port-mirror' with `options.mirrors`. */
export default defineApp<PortMirror, MirrorOptions>({
  name: 'port-mirror',
  // 1.1: the mirror's owner says its kind ('port'; port-mirror.ts), which a 1.0 core does not know.
  coreApi: '^1.1.0',
  description: "Copies a VM port's traffic to another local port.",
  tables: {
    'ingress-security': [{ name: 'from-port', match: ['reg6'] }],
    'egress-security': [{ name: 'to-port', match: ['reg7'] }],
  },
  watches: ['logical_port'],
  options: mirrorOptionsSchema,
  app: PortMirror,
  resync: (app) => app.update(),
  handlers: {
    localPortBound: (app, ev) => app.update(ev.port.id),
    localPortUpdated: (app, ev) => app.update(ev.port.id),
    localPortUnbound: (app, ev) => app.update(ev.port.id),
    // a port's key never changes, but a deleted and re-created port gets a new one
    modelChanged: (app, ev) => app.update(ev.id),
  },
});
