import 'reflect-metadata';
import { OfPort, type Instruction } from '@dragonflow/openflow';
import { inject, injectable } from 'tsyringe';
import type { LogicalPort } from '@dragonflow/nb';
import type { AppContext } from '../app/context.js';
import { CORE_API_VERSION, defineApp, type AppDescriptor } from '../app/descriptor.js';
import type { PipelineMap } from '../pipeline/allocator.js';
import { METADATA_NETWORK_MASK, REG_DST_PORT, REG_SRC_PORT } from '../pipeline/registers.js';
import { CORE_APP } from '../pipeline/stages.js';
import { APP_CONTEXT, PIPELINE } from '../app/tokens.js';
import { flow, type DesiredFlow } from '../reconciler/flow.js';
import type { LocalBinding } from './events.js';

/** The owner of the miss flows of every table. */
export const PIPELINE_OWNER = 'pipeline';

/**
 * The core's own flows, computed on the same runtime as every app: each table's
 * miss flow (continue, drop or punt), classify (a local VM port's in_port → source
 * port key and network key) and dispatch (destination port key → its ofport).
 */
@injectable()
export class CoreFlows {
  constructor(
    @inject(APP_CONTEXT) private readonly ctx: AppContext,
    @inject(PIPELINE) private readonly pipeline: PipelineMap,
  ) {}

  missFlows(): DesiredFlow[] {
    return this.pipeline.tables.map((t) => {
      const instructions: Instruction[] =
        t.miss === 'next' && t.next !== null
          ? [{ type: 'goto_table', tableId: t.next }]
          : t.miss === 'controller'
            ? [{ type: 'apply_actions', actions: [{ type: 'output', port: OfPort.CONTROLLER, maxLen: 0xffff }] }]
            : [];
      return { table: t.id, priority: 0, match: {}, instructions };
    });
  }

  /** Classify and dispatch flows of one bound local port; none until its network is known or while it is administratively down. */
  portFlows(port: LogicalPort, binding: LocalBinding): DesiredFlow[] {
    const network = this.ctx.topology.get('logical_switch', port.networkId);
    if (!network || !port.adminStateUp) return [];
    const classify = this.ctx.tables.ref('classify');
    const dispatch = this.ctx.tables.ref('dispatch');
    return [
      flow(classify, {
        priority: 100,
        match: { in_port: binding.ofport },
        actions: [{ type: 'set_field', field: REG_SRC_PORT, value: port.key }],
        writeMetadata: { value: BigInt(network.key), mask: METADATA_NETWORK_MASK },
        // Past the whole classify stage: apps' classify tables (tunnel/provider ingress) are for other in_ports, and the stage's last table drops.
        goto: this.ctx.tables.stageExit('classify'),
      }),
      flow(dispatch, { priority: 100, match: { [REG_DST_PORT]: port.key }, actions: [{ type: 'output', port: binding.ofport }] }),
    ];
  }

  setPort(portId: string): void {
    const port = this.ctx.topology.get('logical_port', portId);
    const binding = this.ctx.topology.localBinding(portId);
    const owner = `port:${portId}`;
    if (!port || !binding) {
      this.ctx.flows.remove(owner);
      return;
    }
    this.ctx.flows.replace({ id: owner, key: port.key }, this.portFlows(port, binding));
  }

  resync(): void {
    this.ctx.flows.replace(PIPELINE_OWNER, this.missFlows());
    for (const b of this.ctx.topology.localBindings()) this.setPort(b.portId);
  }
}

/** The descriptor of the core's built-in flows (cookie slot 0, never listed in a config). */
export const coreAppDescriptor: AppDescriptor<CoreFlows> = defineApp<CoreFlows>({
  name: CORE_APP,
  coreApi: `^${CORE_API_VERSION}`,
  watches: ['logical_switch'],
  app: CoreFlows,
  resync: (app) => app.resync(),
  handlers: {
    localPortBound: (app, ev) => app.setPort(ev.port.id),
    localPortUpdated: (app, ev) => app.setPort(ev.port.id),
    localPortUnbound: (app, ev) => app.setPort(ev.port.id),
    modelChanged: (app, ev, ctx) => {
      if (ev.table !== 'logical_switch') return;
      for (const b of ctx.topology.localBindings()) {
        const port = ctx.topology.get('logical_port', b.portId);
        if (port?.networkId === ev.id) app.setPort(b.portId);
      }
    },
  },
});
