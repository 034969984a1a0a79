import { APP_CONTEXT, APP_OPTIONS, REG_DST_PORT, REG_SRC_PORT, act, flow, inject, injectable, type AppContext, type DesiredFlow } from '@dragonflow/core';
import type { MirrorOptions } from './options.js';

/**
 * Mirrors a VM port's traffic to another local port (a SPAN port): what the port
 * sends is copied as it enters the pipeline (before any routing rewrite), what it
 * receives is copied just before delivery. The copy leaves on the destination
 * port's OVS interface; the original packet continues unchanged.
 */
@injectable()
export class PortMirror {
  constructor(
    @inject(APP_CONTEXT) private readonly ctx: AppContext,
    @inject(APP_OPTIONS) private readonly options: MirrorOptions,
  ) {}

  /** The desired flows of one mirror: none until both ports are bound here. */
  flowsFor(m: MirrorOptions['mirrors'][number]): DesiredFlow[] {
    const { topology, tables } = this.ctx;
    const source = topology.get('logical_port', m.port);
    const sink = topology.localBinding(m.to);
    if (!source || !topology.localBinding(m.port) || !sink) return [];
    const out: DesiredFlow[] = [];
    if (m.direction !== 'to-port') {
      out.push(flow(tables.ref('from-port'), { priority: 100, match: { [REG_SRC_PORT]: source.key }, actions: [act.output(sink.ofport)], goto: tables.next('from-port') }));
    }
    if (m.direction !== 'from-port') {
      out.push(flow(tables.ref('to-port'), { priority: 100, match: { [REG_DST_PORT]: source.key }, actions: [act.output(sink.ofport)], goto: tables.next('to-port') }));
    }
    return out;
  }

  /** Recomputes the mirrors that involve `portId` (or all of them). */
  update(portId?: string): void {
    for (const m of this.options.mirrors) {
      if (portId !== undefined && m.port !== portId && m.to !== portId) continue;
      const owner = `mirror:${m.port}`;
      const flows = this.flowsFor(m);
      const source = this.ctx.topology.get('logical_port', m.port);
      if (flows.length === 0 || !source) this.ctx.flows.remove(owner);
      // The key is the mirrored port's: say so, the owner text does not (the cookie names a port).
      else this.ctx.flows.replace({ id: owner, key: source.key, kind: 'port' }, flows);
    }
  }
}
