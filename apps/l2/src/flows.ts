import {
  EthType,
  FLAG_FROM_PROVIDER,
  FLAG_FROM_TUNNEL,
  IpProto,
  METADATA_NETWORK_MASK,
  OFPVID_PRESENT,
  REG_DST_PORT,
  REG_FLAGS,
  REG_SRC_PORT,
  act,
  arpReplyActions,
  flow,
  packet,
  type Action,
  type AppPunt,
  type AppTables,
  type DesiredFlow,
  type LogicalPort,
  type LogicalSwitch,
  type ScratchRegister,
  type TableRef,
} from '@dragonflow/core';
import { ipv4Addresses, ipv6Addresses, type NetworkKind, type Placement } from './model.js';

/** Both "came from outside this chassis" flags: such packets are delivered locally only (split horizon). */
export const FROM_OUTSIDE = FLAG_FROM_TUNNEL | FLAG_FROM_PROVIDER;

const ND_NEIGHBOR_SOLICIT = packet.ICMPV6_TYPE.NEIGHBOR_SOLICIT;

/** Priorities inside the app's tables (a flow's identity is table + priority + match). */
export const PRIORITY = {
  /** A port's own request for its own address goes out as sent (DAD, probes, gratuitous ARP). */
  selfSkip: 110,
  respond: 100,
  lookup: 100,
  ingress: 100,
  egress: 100,
  /** Flooding a packet from a local port: local copies, then one per remote chassis (or the provider uplink). */
  floodFromLocal: 110,
  /** Flooding a packet that came from a tunnel or the physical network: local copies only. */
  floodLocalOnly: 100,
  floodChunk: 100,
} as const;

/** The app's tables and the pipeline places its flows lead to, resolved once from the allocator. */
export interface L2Pipeline {
  readonly tunnelIngress: TableRef;
  readonly providerIngress: TableRef;
  readonly arpResponder: TableRef;
  readonly ndResponder: TableRef;
  readonly lookup: TableRef;
  readonly flood: TableRef;
  readonly floodPorts: TableRef;
  readonly egress: TableRef;
  /** First table after the classify stage (ingress-security, or whatever follows). */
  readonly afterClassify: number;
  readonly afterArpResponder: number;
  readonly afterNdResponder: number;
  /** Where a packet with a known destination port goes (the egress stage). */
  readonly egressEntry: number;
  /** Where a packet to a router port MAC goes (the l3 stage, or what follows when no L3 app is loaded). */
  readonly l3Entry: number;
  /** Where a copy for a local port goes: past the egress stage (egress-security, then dispatch). */
  readonly afterEgress: number;
  /** Scratch register naming the chunk of local ports a flood copy is for. */
  readonly chunkRegister: ScratchRegister;
  /** What an NS punt does: the controller action, behind the punt meter when there is one (`ctx.punt.toController()`). */
  readonly toController: ReturnType<AppPunt['toController']>;
}

/**
 * The packets the nd-responder table punts (neighbour solicitations): the core's
 * punt guard drops these, and only these, of a port over its punt budget.
 */
export const ND_PUNTED = { eth_type: EthType.IPV6, ip_proto: IpProto.ICMPV6, icmpv6_type: ND_NEIGHBOR_SOLICIT } as const;

export function l2Pipeline(tables: AppTables, toController: ReturnType<AppPunt['toController']> = { actions: [act.toController()] }): L2Pipeline {
  return {
    tunnelIngress: tables.ref('tunnel-ingress'),
    providerIngress: tables.ref('provider-ingress'),
    arpResponder: tables.ref('arp-responder'),
    ndResponder: tables.ref('nd-responder'),
    lookup: tables.ref('lookup'),
    flood: tables.ref('flood'),
    floodPorts: tables.ref('flood-ports'),
    egress: tables.ref('egress'),
    afterClassify: tables.stageExit('classify'),
    afterArpResponder: tables.next('arp-responder'),
    afterNdResponder: tables.next('nd-responder'),
    egressEntry: tables.stageEntry('egress'),
    l3Entry: tables.stageEntry('l3'),
    afterEgress: tables.stageExit('egress'),
    chunkRegister: tables.register('flood-chunk'),
    toController,
  };
}

const onNetwork = (net: LogicalSwitch) => ({ metadata: [BigInt(net.key), METADATA_NETWORK_MASK] as const });
const fromLocalPort = { [REG_FLAGS]: [0, FROM_OUTSIDE] as const };

/** Where a remote port is reached: the uplink (tunnel or patch port) and, for tunnels, the chassis' tunnel IP. */
export interface RemoteTarget {
  readonly uplink: number;
  readonly tunnelIp?: string;
}

/**
 * The actions that put a packet on the wire towards other chassis: tunnel key and
 * endpoint then the tunnel port, or the VLAN tag then the provider patch port.
 * (A tunnel copy per remote chassis; the physical network does its own replication.)
 */
export function uplinkActions(kind: NetworkKind, target: RemoteTarget): Action[] {
  switch (kind.kind) {
    case 'tunnel':
      return [act.setField('tunnel_id', BigInt(kind.vni)), act.setField('tun_ipv4_dst', target.tunnelIp!), act.output(target.uplink)];
    case 'vlan':
      return [act.pushVlan(0x8100), act.setField('vlan_vid', OFPVID_PRESENT | kind.vid), act.output(target.uplink)];
    case 'flat':
      return [act.output(target.uplink)];
  }
}

/**
 * The flows of one port on a network this chassis switches: its MAC in the lookup
 * table, the ARP (and NS punt) responder entries for its fixed IPs, the skip
 * entries for its own requests when it is local, and its egress when it is remote.
 */
export function portFlows(p: L2Pipeline, port: LogicalPort, net: LogicalSwitch, placement: Placement, kind: NetworkKind, remote: RemoteTarget | undefined): DesiredFlow[] {
  const out: DesiredFlow[] = [];
  // parsed once: the builders take typed values as they are
  const mac = packet.mac(port.macAddress);
  if (placement === 'router') {
    out.push(flow(p.lookup, { priority: PRIORITY.lookup, match: { ...onNetwork(net), eth_dst: mac }, goto: p.l3Entry }));
  } else {
    out.push(flow(p.lookup, { priority: PRIORITY.lookup, match: { ...onNetwork(net), eth_dst: mac }, actions: [act.setField(REG_DST_PORT, port.key)], goto: p.egressEntry }));
  }
  for (const text of ipv4Addresses(port)) {
    const ip = packet.ip4(text);
    const request = { eth_type: EthType.ARP, arp_op: packet.ARP_OP.REQUEST, arp_tpa: ip } as const;
    out.push(
      flow(p.arpResponder, {
        priority: PRIORITY.respond,
        match: { ...onNetwork(net), ...fromLocalPort, ...request },
        // "ip is at mac", back out of the port that asked
        actions: arpReplyActions(mac, ip),
      }),
    );
    if (placement === 'local') out.push(flow(p.arpResponder, { priority: PRIORITY.selfSkip, match: { [REG_SRC_PORT]: port.key, ...request }, goto: p.afterArpResponder }));
  }
  for (const text of ipv6Addresses(port)) {
    const ip = packet.ip6(text);
    const solicit = { eth_type: EthType.IPV6, ip_proto: IpProto.ICMPV6, icmpv6_type: ND_NEIGHBOR_SOLICIT, icmpv6_code: 0, ipv6_nd_target: ip } as const;
    // The advertisement is built by the app (an NS carries a source link-layer option where the NA needs a target one).
    out.push(flow(p.ndResponder, { priority: PRIORITY.respond, match: { ...onNetwork(net), ...fromLocalPort, ...solicit }, ...p.toController }));
    if (placement === 'local') out.push(flow(p.ndResponder, { priority: PRIORITY.selfSkip, match: { [REG_SRC_PORT]: port.key, ...solicit }, goto: p.afterNdResponder }));
  }
  if (placement === 'remote' && remote) out.push(egressFlow(p, port, kind, remote));
  return out;
}

/**
 * A remote port's egress: a packet for it that a local port sent (or a router here
 * routed) leaves towards its chassis — never one that came from a tunnel or the
 * physical network (split horizon). This is all a remote port on a *routed-to*
 * network gets: routing on this chassis sets `reg7` to it, and nothing else here
 * sends to that network.
 */
export function egressFlow(p: L2Pipeline, port: LogicalPort, kind: NetworkKind, remote: RemoteTarget): DesiredFlow {
  return flow(p.egress, { priority: PRIORITY.egress, match: { [REG_DST_PORT]: port.key, ...fromLocalPort }, actions: uplinkActions(kind, remote) });
}

/** Classify: traffic of this network arriving from its tunnel or its physical network. */
export function ingressFlows(p: L2Pipeline, net: LogicalSwitch, kind: NetworkKind, uplink: number): DesiredFlow[] {
  const metadata = { value: BigInt(net.key), mask: METADATA_NETWORK_MASK };
  switch (kind.kind) {
    case 'tunnel':
      return [
        flow(p.tunnelIngress, {
          priority: PRIORITY.ingress,
          match: { in_port: uplink, tunnel_id: BigInt(kind.vni) },
          actions: [act.load(REG_FLAGS, FLAG_FROM_TUNNEL, FLAG_FROM_TUNNEL)],
          writeMetadata: metadata,
          goto: p.afterClassify,
        }),
      ];
    case 'vlan':
      return [
        flow(p.providerIngress, {
          priority: PRIORITY.ingress,
          match: { in_port: uplink, vlan_vid: OFPVID_PRESENT | kind.vid },
          actions: [act.popVlan(), act.load(REG_FLAGS, FLAG_FROM_PROVIDER, FLAG_FROM_PROVIDER)],
          writeMetadata: metadata,
          goto: p.afterClassify,
        }),
      ];
    case 'flat':
      return [
        flow(p.providerIngress, {
          priority: PRIORITY.ingress,
          // vlan_vid=0: untagged (OFPVID_NONE)
          match: { in_port: uplink, vlan_vid: 0 },
          actions: [act.load(REG_FLAGS, FLAG_FROM_PROVIDER, FLAG_FROM_PROVIDER)],
          writeMetadata: metadata,
          goto: p.afterClassify,
        }),
      ];
  }
}

/**
 * Broadcast, multicast and unknown unicast on one network (the lookup table's
 * miss): a copy to every local port (by chunk), then — only for a packet a local
 * port sent — one copy per live remote chassis with ports on the network, or one
 * out of the provider uplink. Outputs to the packet's own in_port are skipped by
 * the switch, so the sender gets no copy.
 */
export function floodFlows(p: L2Pipeline, net: LogicalSwitch, chunks: readonly number[], outward: readonly Action[]): DesiredFlow[] {
  const local: Action[] = [];
  for (const c of chunks) local.push(act.setField(p.chunkRegister, c + 1), act.resubmit(p.floodPorts.id));
  const out = [flow(p.flood, { priority: PRIORITY.floodLocalOnly, match: onNetwork(net), actions: local })];
  if (outward.length > 0) out.push(flow(p.flood, { priority: PRIORITY.floodFromLocal, match: { ...onNetwork(net), ...fromLocalPort }, actions: [...local, ...outward] }));
  return out;
}

/** One chunk of a network's local ports: a copy to each, through egress-security to dispatch. */
export function chunkFlows(p: L2Pipeline, net: LogicalSwitch, chunk: number, portKeys: readonly number[]): DesiredFlow[] {
  const actions: Action[] = [];
  for (const key of portKeys) actions.push(act.setField(REG_DST_PORT, key), act.resubmit(p.afterEgress));
  return [flow(p.floodPorts, { priority: PRIORITY.floodChunk, match: { ...onNetwork(net), [p.chunkRegister]: chunk + 1 }, actions })];
}
