import { NETWORK_TYPES, type NetworkType, type NbTransaction, SEGMENTATION_RANGES, isReservedTunnelKey, reservedTunnelKeyReason, segmentIdOf } from '@dragonflow/nb';
import type { ApiConfig } from '../config.js';
import { NeutronError, conflict, invalidInput } from '../neutron/errors.js';

export interface Segment {
  networkType: NetworkType;
  physicalNetwork: string | null;
  segmentationId: number | null;
}

export interface SegmentRequest {
  networkType?: string | undefined;
  physicalNetwork?: string | null | undefined;
  segmentationId?: number | null | undefined;
}

/** Bytes of encapsulation a network type adds on the physical network (IPv4 underlay), as Neutron's ML2 counts them. */
export const ENCAP_OVERHEAD: Record<NetworkType, number> = { vxlan: 50, geneve: 50, gre: 42, vlan: 0, flat: 0 };

export function maxMtu(config: ApiConfig, type: NetworkType): number {
  return config.network.physicalMtu - ENCAP_OVERHEAD[type];
}

type Range = { min: number; max: number; physicalNetwork?: string };

function rangesOf(config: ApiConfig, type: NetworkType): Range[] {
  switch (type) {
    case 'vxlan':
      return config.network.vxlanRanges;
    case 'geneve':
      return config.network.geneveRanges;
    case 'gre':
      return config.network.greRanges;
    default:
      return [];
  }
}

function noNetworkAvailable(): NeutronError {
  return new NeutronError(503, 'NoNetworkAvailable', 'Unable to create the network. No tenant network is available for allocation.');
}

/**
 * Chooses a network's segment, as Neutron's ML2 type drivers do: tenant networks get
 * the configured tenant type and the lowest free id of its ranges; provider networks
 * (admin) give the type and optionally the physical network and id, and the id is
 * allocated from the ranges when missing. NbApi's segment claim keeps ids unique
 * when two creates race (the loser retries and picks the next id).
 */
export async function chooseSegment(tx: NbTransaction, config: ApiConfig, req: SegmentRequest): Promise<Segment> {
  const typeText = req.networkType ?? config.network.tenantNetworkType;
  if (!(NETWORK_TYPES as readonly string[]).includes(typeText)) {
    throw invalidInput(`network_type value '${typeText}' not supported (supported: ${NETWORK_TYPES.join(', ')}).`, 'provider:network_type');
  }
  const type = typeText as NetworkType;
  const physnet = req.physicalNetwork ?? null;
  const seg = req.segmentationId ?? null;
  const used = async (physicalNetwork: string | null): Promise<Set<number>> => {
    const out = new Set<number>();
    for (const ls of await tx.list('logical_switch')) {
      if (ls.networkType !== type || (type === 'vlan' && ls.physicalNetwork !== physicalNetwork)) continue;
      const id = segmentIdOf(ls);
      if (id !== null) out.add(id);
    }
    return out;
  };
  const lowestFree = async (ranges: Range[]): Promise<{ id: number; physicalNetwork: string | null } | undefined> => {
    for (const r of ranges) {
      const pn = r.physicalNetwork ?? null;
      const taken = await used(pn);
      for (let id = r.min; id <= r.max; id++) if (!taken.has(id)) return { id, physicalNetwork: pn };
    }
    return undefined;
  };

  if (type === 'flat') {
    if (seg !== null) throw invalidInput('segmentation_id specified for flat provider network.', 'provider:segmentation_id');
    if (physnet === null) throw invalidInput('physical_network required for flat provider network.', 'provider:physical_network');
    const allowed = config.network.flatNetworks;
    if (!allowed.includes('*') && !allowed.includes(physnet)) throw invalidInput(`physical_network '${physnet}' unknown for flat provider network.`, 'provider:physical_network');
    const inUse = (await tx.list('logical_switch')).some((ls) => ls.networkType === 'flat' && ls.physicalNetwork === physnet);
    if (inUse) throw conflict('FlatNetworkInUse', `Unable to create the flat network. Physical network ${physnet} is in use.`, { field: 'provider:physical_network' });
    return { networkType: 'flat', physicalNetwork: physnet, segmentationId: null };
  }

  const [lo, hi] = SEGMENTATION_RANGES[type];
  if (seg !== null && (seg < lo || seg > hi)) {
    throw invalidInput(`segmentation_id out of range (${lo} through ${hi}).`, 'provider:segmentation_id');
  }
  if (seg !== null && type !== 'vlan' && isReservedTunnelKey(seg)) {
    throw invalidInput(`segmentation_id ${reservedTunnelKeyReason(seg)}.`, 'provider:segmentation_id');
  }

  if (type === 'vlan') {
    const entries = config.network.vlanRanges;
    const ranges: Range[] = entries.flatMap((e) => (e.min !== null && e.max !== null ? [{ physicalNetwork: e.physicalNetwork, min: e.min, max: e.max }] : []));
    if (physnet !== null && !entries.some((e) => e.physicalNetwork === '*' || e.physicalNetwork === physnet)) {
      throw invalidInput(`physical_network '${physnet}' unknown for VLAN provider network.`, 'provider:physical_network');
    }
    if (seg !== null) {
      if (physnet === null) throw invalidInput('physical_network required for VLAN provider network.', 'provider:physical_network');
      if ((await used(physnet)).has(seg)) {
        throw conflict('VlanIdInUse', `Unable to create the network. The VLAN ${seg} on physical network ${physnet} is in use.`, { field: 'provider:segmentation_id' });
      }
      return { networkType: 'vlan', physicalNetwork: physnet, segmentationId: seg };
    }
    const got = await lowestFree(physnet === null ? ranges : ranges.filter((r) => r.physicalNetwork === physnet));
    if (!got) throw noNetworkAvailable();
    return { networkType: 'vlan', physicalNetwork: got.physicalNetwork, segmentationId: got.id };
  }

  // Tunnelled types.
  if (physnet !== null) throw invalidInput(`provider:physical_network specified for ${type} network.`, 'provider:physical_network');
  if (seg !== null) {
    if ((await used(null)).has(seg)) throw conflict('TunnelIdInUse', `Unable to create the network. The tunnel ID ${seg} is in use.`, { field: 'provider:segmentation_id' });
    return { networkType: type, physicalNetwork: null, segmentationId: seg };
  }
  const got = await lowestFree(rangesOf(config, type));
  if (!got) throw noNetworkAvailable();
  return { networkType: type, physicalNetwork: null, segmentationId: got.id };
}
