import { APP_CONTEXT, METADATA_NETWORK_MASK, REG_DST_PORT, act, defineApp, flow, inject, injectable, type AppContext } from '@dragonflow/core';

/**
 * The least switching the filter's tests need: a packet to a local port's MAC is
 * sent to that port. (A deployment uses the L2 app.)
 */
@injectable()
class Switching {
  constructor(@inject(APP_CONTEXT) private readonly ctx: AppContext) {}

  update(): void {
    const { topology, tables, flows } = this.ctx;
    for (const owner of flows.owners()) flows.remove(owner);
    for (const b of topology.localBindings()) {
      const port = topology.get('logical_port', b.portId);
      const net = port && topology.get('logical_switch', port.networkId);
      if (!port || !net) continue;
      flows.replace(`port:${port.id}`, [
        flow(tables.ref('by-mac'), {
          priority: 100,
          match: { metadata: [BigInt(net.key), METADATA_NETWORK_MASK], eth_dst: port.macAddress },
          actions: [act.setField(REG_DST_PORT, port.key)],
          goto: tables.next('by-mac'),
        }),
      ]);
    }
  }
}

export const switching = defineApp({
  name: 'switching',
  coreApi: '^1.0.0',
  tables: { 'l2-lookup': [{ name: 'by-mac' }] },
  app: Switching,
  resync: (app) => app.update(),
  handlers: { localPortBound: (app) => app.update(), localPortUpdated: (app) => app.update(), localPortUnbound: (app) => app.update() },
});
