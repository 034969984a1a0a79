import { DfError } from '@dragonflow/base';
import { FLAG_FROM_PROVIDER, METADATA_NETWORK_MASK, OFPVID_PRESENT, REG_FLAGS, act, flow, type Action, type DesiredFlow, type InfraPorts, type LogicalSwitch, type TableRef } from '@dragonflow/core';

/** How an external network is on the wire: a physical network, untagged (flat) or with a VLAN id. */
export type ProviderSegment = { readonly kind: 'flat'; readonly physnet: string } | { readonly kind: 'vlan'; readonly physnet: string; readonly vid: number };

/** The provider segment of a network; undefined for a tunnelled network (an external network must be flat or VLAN). */
export function providerSegment(net: LogicalSwitch): ProviderSegment | undefined {
  if (net.physicalNetwork === null) return undefined;
  if (net.networkType === 'flat') return { kind: 'flat', physnet: net.physicalNetwork };
  if (net.networkType === 'vlan' && net.segmentationId !== null) return { kind: 'vlan', physnet: net.physicalNetwork, vid: net.segmentationId };
  return undefined;
}

/** br-int's patch port to the network's physical network, when the controller reported one. */
export function providerPort(net: LogicalSwitch, infra: InfraPorts): number | undefined {
  const seg = providerSegment(net);
  return seg ? infra.providers[seg.physnet] : undefined;
}

/**
 * The actions that put a packet on an external network from the `l3` stage (D):
 * flat → out of the physical network's patch port; VLAN → push the tag, then out.
 * Undefined when the network has no provider segment or this chassis has no patch
 * port for it (its bridge mapping is missing): the caller leaves the traffic to
 * drop and says so.
 */
export function providerOutput(net: LogicalSwitch, infra: InfraPorts): Action[] | undefined {
  const seg = providerSegment(net);
  const port = seg ? infra.providers[seg.physnet] : undefined;
  if (!seg || port === undefined) return undefined;
  if (seg.kind === 'flat') return [act.output(port)];
  return [act.pushVlan(0x8100), act.setField('vlan_vid', OFPVID_PRESENT | seg.vid), act.output(port)];
}

/** Like providerOutput, but a missing segment or patch port is an error naming the network (for callers that checked first). */
export function requireProviderOutput(net: LogicalSwitch, infra: InfraPorts): Action[] {
  const out = providerOutput(net, infra);
  if (!out) {
    throw new DfError('NAT_NO_PROVIDER_PORT', `network ${net.id} (${net.name}) has no provider segment with a patch port on br-int`, {
      context: { network: net.id, type: net.networkType, physicalNetwork: net.physicalNetwork, providers: Object.keys(infra.providers).join(',') },
    });
  }
  return out;
}

/**
 * A classify flow for an external network that the L2 app does not switch on this
 * chassis (no local port on it) but a NAT app translates for: the physical
 * network's patch port (+ VLAN, popped) → metadata := the network, FROM_PROVIDER,
 * on to `next`. The L2 app's own provider-ingress flow comes first in the stage
 * when it does switch the network, so the two never compete. Undefined without a
 * patch port. The table must declare `in_port` and `vlan_vid`.
 */
export function providerIngressFlow(table: TableRef, net: LogicalSwitch, infra: InfraPorts, next: number, priority = 100): DesiredFlow | undefined {
  const seg = providerSegment(net);
  const port = seg ? infra.providers[seg.physnet] : undefined;
  if (!seg || port === undefined) return undefined;
  const tagged = seg.kind === 'vlan';
  return flow(table, {
    priority,
    // vlan_vid=0: untagged (OFPVID_NONE)
    match: { in_port: port, vlan_vid: tagged ? OFPVID_PRESENT | seg.vid : 0 },
    actions: [...(tagged ? [act.popVlan()] : []), act.load(REG_FLAGS, FLAG_FROM_PROVIDER, FLAG_FROM_PROVIDER)],
    writeMetadata: { value: BigInt(net.key), mask: METADATA_NETWORK_MASK },
    goto: next,
  });
}
