import { PUNT_ORIGIN_MARK, REG_PUNT_ORIGIN, REG_SRC_PORT, defineApp } from '@dragonflow/core';
import { HaFallback } from './fallback-app.js';
import { TABLES } from './flows.js';
import { haFallbackOptionsSchema, type HaFallbackOptions } from './options.js';

export { HaFallback, LIVENESS_OWNER, ORPHAN_OWNER, inOwner, outOwner, type HaFallbackStatus } from './fallback-app.js';
export { FALLBACK_TUNNEL_BASE, MAX_FALLBACK_PORT_KEY, PRIORITY, PUNTING, TABLES, fallbackInFlows, fallbackOutFlow, fallbackPipeline, fallbackTunnelKey, livenessFlow, orphanFlow, type FallbackPipeline, type FallbackTarget } from './flows.js';
export { haFallbackOptionsSchema, refreshPeriod, type HaFallbackOptions } from './options.js';

/**
 * `@dragonflow/app-ha-fallback`: while this chassis' controller is gone, the packets
 * its apps punt are tunnelled to a fallback chassis (a gateway by default), whose
 * pipeline and controller handle them as if the port were local. Detection is a
 * dead-man switch in the switch: the punt gate's liveness flow has a hard timeout
 * the controller keeps restarting (docs/ha.md "Fallback path"). Every other app's
 * `output:CONTROLLER` passes the gate (the core's `puntGate`, reg15 = punting table).
 * List it after l2 (its tables close the classify stage).
 */
export default defineApp<HaFallback, HaFallbackOptions>({
  name: 'ha-fallback',
  coreApi: '^1.3.0',
  description: "Fallback path: a chassis whose controller is gone sends its punts to a fallback chassis (dead-man switch in the switch).",
  tables: {
    classify: [
      { name: TABLES.fallbackIn, match: ['in_port', 'tunnel_id'], description: "a stranded port's punt from a tunnel (key = base + port key) → its port and network, on past classify" },
      { name: TABLES.gate, match: [REG_PUNT_ORIGIN], description: `the punt gate: the liveness flow (reg15 & 0x${PUNT_ORIGIN_MARK.toString(16)}) → controller while the controller refreshes it` },
      { name: TABLES.fallbackOut, match: [REG_PUNT_ORIGIN, REG_SRC_PORT], description: "a punt without liveness → tunnel to the fallback chassis (key = base + source port key)" },
    ],
  },
  puntGate: TABLES.gate,
  watches: ['logical_port', 'logical_switch', 'chassis', 'chassis_liveness'],
  // The fallback chassis are chosen among all chassis (by name or gateway flag).
  needsAllChassis: true,
  options: haFallbackOptionsSchema,
  app: HaFallback,
  resync: (app) => app.recomputeAll(),
  stop: (app) => app.stop(),
  status: (app) => ({ ...app.status() }),
  handlers: {
    modelChanged: (app, ev) => (ev.table === 'chassis_liveness' ? app.livenessChanged(ev.kind) : app.recomputeAll()),
    localPortBound: (app) => app.recomputeAll(),
    localPortUpdated: (app) => app.recomputeAll(),
    localPortUnbound: (app) => app.recomputeAll(),
    infraPortsChanged: (app) => app.recomputeAll(),
    flowRemoved: (app, ev) => app.flowRemoved(ev),
  },
});
