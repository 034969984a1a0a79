import { APP_CONTEXT, METADATA_NETWORK_MASK, REG_DST_PORT, act, defineApp, flow, inject, injectable, type AppContext } from '@dragonflow/core';

/**
 * Just enough switching for the mirror's tests: a packet to a local port's MAC gets
 * that port as its destination. (A deployment uses the real L2 app.)
 */
@injectable()
class TinyL2 {
  constructor(@inject(APP_CONTEXT) private readonly ctx: AppContext) {}

  update(): void {
    const { topology, tables, flows } = this.ctx;
    for (const owner of flows.owners()) flows.remove(owner);
    for (const b of topology.localBindings()) {
      const port = topology.get('logical_port', b.portId);
      const net = port && topology.get('logical_switch', port.networkId);
      if (!port || !net) continue;
      flows.replace(`port:${port.id}`, [
        flow(tables.ref('lookup'), {
          priority: 100,
          match: { metadata: [BigInt(net.key), METADATA_NETWORK_MASK], eth_dst: port.macAddress },
          actions: [act.setField(REG_DST_PORT, port.key)],
          goto: tables.next('lookup'),
        }),
      ]);
    }
  }
}

export const tinyL2 = defineApp({
  name: 'tiny-l2',
  coreApi: '^1.0.0',
  tables: { 'l2-lookup': [{ name: 'lookup' }] },
  app: TinyL2,
  resync: (app) => app.update(),
  handlers: { localPortBound: (app) => app.update(), localPortUpdated: (app) => app.update(), localPortUnbound: (app) => app.update() },
});
