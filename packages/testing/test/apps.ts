import { APP_CONTEXT, METADATA_NETWORK_MASK, REG_DST_PORT, defineApp, flow, inject, injectable, type AppContext, type LocalPortEvent } from '@dragonflow/core';
import { act } from '@dragonflow/openflow';

/** A minimal L2 app: dst MAC on the packet's network → destination port key. */
@injectable()
export class MiniL2 {
  failNext = false;
  constructor(@inject(APP_CONTEXT) private readonly ctx: AppContext) {}

  portFlows(portId: string): void {
    const port = this.ctx.topology.get('logical_port', portId);
    const net = port && this.ctx.topology.get('logical_switch', port.networkId);
    if (!port || !net || !this.ctx.topology.localBinding(portId)) {
      this.ctx.flows.remove(`port:${portId}`);
      return;
    }
    const lookup = this.ctx.tables.ref('lookup');
    this.ctx.flows.replace({ id: `port:${portId}`, key: port.key }, [
      flow(lookup, {
        priority: 100,
        match: { metadata: [BigInt(net.key), METADATA_NETWORK_MASK], eth_dst: port.macAddress },
        actions: [act.setField(REG_DST_PORT, port.key)],
        goto: this.ctx.tables.next('lookup'),
      }),
    ]);
  }

  onPort(ev: LocalPortEvent): void {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('injected failure');
    }
    this.portFlows(ev.port.id);
  }

  resync(): void {
    for (const b of this.ctx.topology.localBindings()) this.portFlows(b.portId);
  }
}

export const miniL2 = defineApp({
  name: 'mini-l2',
  coreApi: '^1.0.0',
  tables: { 'l2-lookup': [{ name: 'lookup', match: ['metadata', 'eth_dst'] }] },
  app: MiniL2,
  resync: (app) => app.resync(),
  handlers: {
    localPortBound: (app, ev) => app.onPort(ev),
    localPortUpdated: (app, ev) => app.onPort(ev),
    localPortUnbound: (app, ev) => app.onPort(ev),
  },
});

