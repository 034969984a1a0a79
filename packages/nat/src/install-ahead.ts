import type { AppContext, DesiredFlow, Owner } from '@dragonflow/core';

/**
 * Desires `desired` for `owner` and sends what changed at once, in the immediate
 * lane, instead of with the next flush. For the flows an ARP exchange depends on:
 * the packet-outs a NAT app sends (an ARP request for its next hop, a gratuitous
 * ARP) go out in that lane at the end of the tick, while a plain `replace` waits for
 * the next flush, after them — the neighbour's answer, back within a millisecond,
 * found no flow to punt it and was lost until the next ask, a second later. The lane
 * keeps call order, so flows sent this way precede the packet-outs that follow.
 */
export function installAhead(ctx: AppContext, owner: Owner, desired: readonly DesiredFlow[]): void {
  ctx.flows.replace(owner, desired);
  ctx.flows.installNow(owner, desired).catch((err: unknown) => {
    // no switch (or it went away): the flows stay desired, the reconciler sends them once it is back
    ctx.log.debug({ owner: typeof owner === 'string' ? owner : owner.id, err }, 'flows not sent ahead of the flush');
  });
}
