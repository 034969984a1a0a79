// The minimal app of docs/app-api.md, kept compiling and working.
import { APP_CONTEXT, REG_SRC_PORT, defineApp, flow, inject, injectable, packet, type AppContext } from '@dragonflow/core';
import { afterEach, expect, it } from 'vitest';
import { startHarness, type Harness } from './harness.js';

@injectable()
class PortCounter {
  constructor(@inject(APP_CONTEXT) private readonly ctx: AppContext) {}

  /** One counting flow per bound local port: its packet/byte counters count the port. */
  update(portId: string): void {
    const { topology, tables, flows } = this.ctx;
    const port = topology.get('logical_port', portId);
    if (!port || !topology.localBinding(portId)) return flows.remove(`port:${portId}`);
    flows.replace({ id: `port:${portId}`, key: port.key }, [flow(tables.ref('count'), { priority: 100, match: { [REG_SRC_PORT]: port.key }, goto: tables.next('count') })]);
  }

  resync(): void {
    for (const b of this.ctx.topology.localBindings()) this.update(b.portId);
  }
}

const portCounter = defineApp({
  name: 'port-counter',
  coreApi: '^1.0.0',
  tables: { 'ingress-security': [{ name: 'count', match: ['reg6'] }] },
  app: PortCounter,
  resync: (app) => app.resync(),
  handlers: {
    localPortBound: (app, ev) => app.update(ev.port.id),
    localPortUpdated: (app, ev) => app.update(ev.port.id),
    localPortUnbound: (app, ev) => app.update(ev.port.id),
  },
});

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

it('the documented port counter counts the packets a port sends', async () => {
  h = await startHarness({ apps: [portCounter] });
  const net = await h.network('net1');
  const sub = await h.subnet(net, '10.0.0.0/24');
  const p1 = await h.port(sub, '10.0.0.1', 'fa:16:3e:00:00:01');
  await h.plug(p1, 1);
  const frame = packet.ethernet({ src: 'fa:16:3e:00:00:01', dst: 'fa:16:3e:00:00:02', payload: packet.ipv4({ src: '10.0.0.1', dst: '10.0.0.2', payload: packet.udp({ srcPort: 1, dstPort: 2 }) }) });
  for (let i = 0; i < 3; i++) await h.inject(frame, 1);
  const table = h.runtime.pipeline.table('port-counter.count').id;
  const counted = h.fakeSwitch.flowStats().find((f) => f.tableId === table && f.priority === 100)!;
  expect(counted.packetCount).toBe(3n);
  expect(h.trace(frame, 1).hops.map((hop) => hop.tableName)).toContain('port-counter.count');
});
