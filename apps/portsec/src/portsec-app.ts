import { describeError } from '@dragonflow/base';
import { APP_CONTEXT, inject, injectable, type AppContext, type LogicalPort } from '@dragonflow/core';
import { isChecked, portFacts } from './facts.js';
import { dropAllFlows, portFlows, portsecPipeline, sharedFlows, type PortsecPipeline } from './flows.js';

/** The owner of the flows every chassis has once (the skip and the protocol rules). */
export const SHARED_OWNER = 'portsec:shared';

/** A port's flows are owned by the port: `dfctl flows` and `dfctl trace` name it. */
export const portOwner = (port: Pick<LogicalPort, 'id' | 'key'>) => ({ id: `portsec:${port.id}`, key: port.key, kind: 'port' as const });

/**
 * Keeps each local port's anti-spoofing flows equal to what the model allows it to
 * send, one port at a time: a bound, changed or unbound port recomputes only its
 * own owner (a pair added, port security turned off, a new MAC: one replace).
 */
@injectable()
export class PortSecurity {
  private readonly pipeline: PortsecPipeline;
  /** Local ports whose traffic is checked; the shared flows exist while there is one. */
  private readonly checked = new Set<string>();
  /** Whether the shared flows are desired now (set again only when that changes, or at a resync). */
  private sharing = false;

  constructor(@inject(APP_CONTEXT) private readonly ctx: AppContext) {
    this.pipeline = portsecPipeline(ctx.tables);
  }

  recomputeAll(): void {
    this.checked.clear();
    const wanted = new Set<string>();
    for (const b of this.ctx.topology.localBindings()) {
      wanted.add(`portsec:${b.portId}`);
      this.setPort(b.portId);
    }
    this.setShared(true);
    if (this.checked.size > 0) wanted.add(SHARED_OWNER);
    for (const owner of this.ctx.flows.owners()) if (!wanted.has(owner)) this.ctx.flows.remove(owner);
  }

  /** A local port was bound, changed (MAC, addresses, pairs, port security, owner) or unbound. */
  update(portId: string): void {
    this.setPort(portId);
    this.setShared();
  }

  /** Sets one port's flows: present while it is bound here and checked. */
  private setPort(portId: string): void {
    const port = this.ctx.topology.get('logical_port', portId);
    if (!port || !this.ctx.topology.localBinding(portId) || !isChecked(port)) {
      this.checked.delete(portId);
      this.ctx.flows.remove(`portsec:${portId}`);
      return;
    }
    this.checked.add(portId);
    try {
      this.ctx.flows.replace(portOwner(port), portFlows(this.pipeline, portFacts(port)));
    } catch (err) {
      // The model validates addresses, so this is a model the switch cannot express:
      // the port sends nothing rather than anything.
      this.ctx.log.error({ err: describeError(err), port: port.id }, 'port security: the port is checked but its addresses cannot be; all its traffic is dropped');
      this.ctx.flows.replace(portOwner(port), dropAllFlows(this.pipeline, port.key));
    }
  }

  /**
   * The skip and the protocol rules: only while some local port is checked. They do
   * not depend on the port, so they are built again only when the first port comes or
   * the last goes (or at a resync): once per port they cost a bulk of ports 10 flows
   * built and compared each.
   */
  private setShared(always = false): void {
    const want = this.checked.size > 0;
    if (want === this.sharing && !always) return;
    this.sharing = want;
    if (want) this.ctx.flows.replace(SHARED_OWNER, sharedFlows(this.pipeline));
    else this.ctx.flows.remove(SHARED_OWNER);
  }
}
