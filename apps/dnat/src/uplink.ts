import { OFPVID_PRESENT, act, type Action, type InfraPorts, type LogicalSwitch } from '@dragonflow/core';

/**
 * The actions that put a packet on an external (provider) network from this
 * chassis: flat → its physical network's patch port; VLAN → the tag, then the patch
 * port. Undefined when the network is not a provider network or this chassis has no
 * bridge mapping for it.
 */
export function uplinkActions(network: LogicalSwitch, infra: InfraPorts): Action[] | undefined {
  const port = network.physicalNetwork === null ? undefined : infra.providers[network.physicalNetwork];
  if (port === undefined) return undefined;
  if (network.networkType === 'flat') return [act.output(port)];
  if (network.networkType === 'vlan' && network.segmentationId !== null) return [act.pushVlan(0x8100), act.setField('vlan_vid', OFPVID_PRESENT | network.segmentationId), act.output(port)];
  return undefined;
}

/** Where an external network's packets enter this chassis: its patch port, and its VLAN (undefined: flat). */
export function providerIngress(network: LogicalSwitch, infra: InfraPorts): { port: number; vid: number | undefined } | undefined {
  const port = network.physicalNetwork === null ? undefined : infra.providers[network.physicalNetwork];
  if (port === undefined) return undefined;
  if (network.networkType === 'flat') return { port, vid: undefined };
  if (network.networkType === 'vlan' && network.segmentationId !== null) return { port, vid: network.segmentationId };
  return undefined;
}
