import { APP_CONTEXT, APP_OPTIONS, CtState, REG_DST_PORT, REG_SRC_PORT, act, flow, group, inject, injectable, meter, type AppContext, type DesiredFlow, type DesiredGroup, type DesiredMeter } from '@dragonflow/core';

export interface ReplyFilterOptions {
  /** Logical port ids that receive only replies to connections they opened. */
  readonly ports: readonly string[];
  /** Packets per second a protected port may send (a switch meter; default 10 000). */
  readonly sendRate?: number;
}

const IP_TYPES = [0x0800, 0x86dd] as const;
const TRK_EST = CtState.TRK | CtState.EST;
const TRK_REL = CtState.TRK | CtState.REL;

/**
 * An "allow replies only" filter on conntrack. What a protected port sends is
 * committed to conntrack in the port's zone (the core's, `ctx.zones.of('port', key)`) on the way in; what it is
 * about to receive is looked up in the same zone on the way out: a reply (+est) or
 * an ICMP error about one of its connections (+rel) is delivered, anything else
 * (a connection someone else opened) is dropped. Non-IP traffic (ARP) passes.
 */
@injectable()
export class ReplyFilter {
  constructor(
    @inject(APP_CONTEXT) private readonly ctx: AppContext,
    @inject(APP_OPTIONS) private readonly options: ReplyFilterOptions,
  ) {}

  /**
   * The flows protecting one port with key `key` on OpenFlow port `ofport` (pure), and
   * the switch objects they use: a meter on what the port sends (`sendRate`) and a
   * fast-failover group delivering its replies while the port is up — a dead port's
   * replies are dropped by the switch at once, not queued behind the controller.
   */
  flowsFor(key: number, ofport: number): { flows: DesiredFlow[]; objects: (DesiredGroup | DesiredMeter)[] } {
    const { tables } = this.ctx;
    const rate = this.options.sendRate ?? 10_000;
    // App-local ids: the port key names its meter and its group (the core puts the app's slot on top).
    const objects = [meter.pktps(key, { rate, burst: rate }), group.ff(key, [{ watchPort: ofport, actions: [act.output(ofport)] }])];
    const deliver = [act.group(this.ctx.flows.groupId(key))];
    const sendMeter = this.ctx.flows.meterId(key);
    // the port's own conntrack zone, handed out by the core (never another port's or app's by accident)
    const zone = this.ctx.zones.of('port', key);
    const zoneIn = zone;
    const zoneOut = zone;
    const toPort = tables.ref('to-port');
    const flows = IP_TYPES.flatMap((ethType) => [
      // sent by the port: metered, remembered, carried on
      flow(tables.ref('from-port'), { priority: 100, match: { [REG_SRC_PORT]: key, eth_type: ethType }, meter: sendMeter, actions: [act.ct({ commit: true, zone: zoneIn })], goto: tables.next('from-port') }),
      // about to be received: look it up, come back to this table with ct_state set
      flow(toPort, { priority: 100, match: { [REG_DST_PORT]: key, eth_type: ethType, ct_state: [0, CtState.TRK] }, actions: [act.ct({ zone: zoneOut, table: tables.id('to-port') })] }),
      flow(toPort, { priority: 100, match: { [REG_DST_PORT]: key, eth_type: ethType, ct_state: [TRK_EST, TRK_EST] }, actions: deliver }),
      flow(toPort, { priority: 90, match: { [REG_DST_PORT]: key, eth_type: ethType, ct_state: [TRK_REL, TRK_REL] }, actions: deliver }),
      // tracked, neither a reply nor related: not asked for, dropped
      flow(toPort, { priority: 80, match: { [REG_DST_PORT]: key, eth_type: ethType, ct_state: [CtState.TRK, CtState.TRK] }, actions: [] }),
    ]);
    return { flows, objects };
  }

  /** Recomputes the filter of `portId` (or of every protected port). */
  update(portId?: string): void {
    for (const id of this.options.ports) {
      if (portId !== undefined && id !== portId) continue;
      const port = this.ctx.topology.get('logical_port', id);
      const owner = `port:${id}`;
      const binding = this.ctx.topology.localBinding(id);
      if (!port || !binding) {
        this.ctx.flows.remove(owner);
        if (port) this.ctx.zones.release('port', port.key);
      } else {
        const { flows, objects } = this.flowsFor(port.key, binding.ofport);
        this.ctx.flows.replace({ id: owner, key: port.key }, flows, objects);
      }
    }
  }
}
