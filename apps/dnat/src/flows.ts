import {
  CtState,
  EthType,
  FLAG_FROM_PROVIDER,
  FLAG_FROM_TUNNEL,
  FLAG_ROUTED,
  METADATA_NETWORK_MASK,
  REG_FLAGS,
  REG_ROUTER,
  REG_SRC_PORT,
  NAT_REDIRECT_TUNNEL_KEY,
  act,
  arpReplyActions,
  flow,
  packet,
  type Action,
  type AppPunt,
  type AppTables,
  type DesiredFlow,
  type MacAddress,
  type TableSpec,
} from '@dragonflow/core';
import { FLAG_NAT_DONE } from '@dragonflow/core';
import type { FloatingIpView } from './model.js';

/** What `fip-ingress` punts: ARP replies to a floating IP's MAC (its next hop answering). */
export const ARP_REPLIES = { eth_type: EthType.ARP, arp_op: packet.ARP_OP.REPLY } as const;

/**
 * The app's tables:
 *
 * - `fip-classify` (classify stage): the provider ingress of an external network
 *   the L2 app does not switch here (no local port on it): patch port (+ VLAN) →
 *   the network, `FROM_PROVIDER` (`@dragonflow/nat`'s providerIngressFlow).
 *   Centralized, on the gateway chassis: a packet another chassis redirected here
 *   (tunnel, the reserved key, the gateway MAC) from a fixed IP with a floating IP
 *   → the router, the external network, `ROUTED`, straight to `fip-egress` (before
 *   snat's classify, which would send it to its own SNAT).
 * - `fip-ingress` (services stage, before `l2-lookup` so the un-NAT happens before
 *   routing): on an external network, from the provider network, ARP requests for a
 *   floating IP translated here are answered with its port's MAC, ARP replies to
 *   that MAC are punted (next-hop resolution); IPv4 to it is DNATed to the fixed IP
 *   in the router's zone, addressed to the router's gateway MAC and becomes the
 *   router's (the `FROM_*` flags cleared: routed on like a local port's packet).
 * - `fip-dnat` (services): after conntrack (the router's zone, now to the fixed
 *   IP), on to the `l3` stage entry, where the L3 app takes it in through the
 *   gateway interface and routes it to the port; invalid packets are dropped. Other
 *   traffic misses and goes on.
 * - `fip-egress` (l3 stage, after the L3 app, before snat): a packet the router
 *   sends out of its gateway (external decision: `reg5` = router, `metadata` = the
 *   external network, `ROUTED`) from a fixed IP with a floating IP translated here
 *   is SNATed to the floating IP, leaves from its MAC toward the next hop, and is
 *   marked `NAT_DONE` (snat leaves it alone).
 */
export const DNAT_TABLES = {
  classify: [
    {
      name: 'fip-classify',
      match: ['in_port', 'vlan_vid', 'tunnel_id', 'eth_src', 'eth_type', 'ipv4_src'],
      description: 'provider ingress of the external networks of floating IPs translated here (where l2 does not switch them); centralized: their ports’ traffic redirected here',
    },
  ],
  services: [
    {
      name: 'fip-ingress',
      match: ['metadata', REG_FLAGS, REG_SRC_PORT, 'eth_type', 'eth_dst', 'arp_op', 'arp_tpa', 'ipv4_dst'],
      description: 'ARP for floating IPs, their next hops’ ARP replies (punted), DNAT of what is sent to them, from the provider network',
    },
    { name: 'fip-dnat', match: ['metadata', 'ct_state', 'ct_zone', 'eth_type', 'ipv4_dst'], description: 'after the DNAT (router zone, to the fixed IP): on to the router (l3 entry); what conntrack calls invalid is dropped' },
  ],
  l3: [
    {
      name: 'fip-egress',
      match: [REG_ROUTER, REG_FLAGS, REG_SRC_PORT, 'metadata', 'eth_type', 'ipv4_src'],
      description: 'SNAT to the floating IP of what a router sends out of its gateway, out to the provider network (punted and held while the next hop is resolved)',
    },
  ],
} satisfies Partial<Record<'classify' | 'services' | 'l3', readonly TableSpec[]>>;

export const PRIORITY = { REDIRECT: 300, ARP: 200, INBOUND: 100, OUTBOUND: 100 } as const;

/** The app's pipeline places, resolved once. */
export interface DnatPipeline {
  /** The tunnel ports a redirect from another chassis may arrive on (centralized). */
  readonly redirectPorts?: readonly number[];
  readonly tables: AppTables;
  /** The l3 stage entry: DNATed packets are routed from there. */
  readonly l3Entry: number;
  /** Where classified provider ingress goes on (the first table after the classify stage). */
  readonly afterClassify: number;
  /** What a punt does (`ctx.punt.toController()`: the controller action, behind the punt meter when there is one). */
  readonly toController: ReturnType<AppPunt['toController']>;
}

/** How a translated packet leaves this chassis on the external network, once known. */
export interface ExternalPath {
  /** The next hop's MAC (the external subnet's gateway), undefined while unresolved. */
  readonly nextHopMac: MacAddress | undefined;
  /** The actions that put a packet on the external network (undefined: this chassis has no uplink to it). */
  readonly uplink: readonly Action[] | undefined;
}

const fromProvider = { [REG_FLAGS]: [FLAG_FROM_PROVIDER, FLAG_FROM_PROVIDER] as const };
const routed = { [REG_FLAGS]: [FLAG_ROUTED, FLAG_ROUTED | FLAG_NAT_DONE] as const };

/**
 * The flows of one floating IP translated on this chassis, in the router's
 * conntrack zone `zone`: ARP for it answered, ARP replies to its MAC punted (its
 * next hop's MAC is learned from them), DNAT in, SNAT out.
 *
 * Inbound, every packet is committed with `nat(dst=fixed IP)`: a new connection is
 * DNATed, a reply to one the port opened is un-SNATed, and an ICMP error about
 * either (related) has its outer and quoted headers rewritten — conntrack applies a
 * connection's own translation whatever the arguments say once it exists.
 * Outbound the same holds with `nat(src=floating IP)`: the port's replies to
 * inbound connections are un-DNATed, its errors about them rewritten.
 *
 * Until the next hop is resolved the outbound packet is translated and punted:
 * the app holds it and sends it on once the next hop answers. Without an uplink it
 * is dropped: it must not leave with the fixed IP, nor fall to snat and leave with
 * the router's address (the floating IP's connection tracking would never see its
 * replies).
 */
export function floatingIpFlows(p: DnatPipeline, v: FloatingIpView, zone: number, path: ExternalPath): DesiredFlow[] {
  const { tables } = p;
  const external = { metadata: [BigInt(v.gateway.networkKey), METADATA_NETWORK_MASK] as const };
  const out: DesiredFlow[] = [
    flow(tables.ref('fip-ingress'), {
      priority: PRIORITY.ARP,
      match: { ...external, ...fromProvider, eth_type: EthType.ARP, arp_op: packet.ARP_OP.REQUEST, arp_tpa: v.address },
      actions: arpReplyActions(v.mac, v.address),
    }),
    flow(tables.ref('fip-ingress'), {
      priority: PRIORITY.ARP,
      match: { ...external, ...fromProvider, ...ARP_REPLIES, eth_dst: v.mac },
      ...p.toController,
    }),
    flow(tables.ref('fip-ingress'), {
      priority: PRIORITY.INBOUND,
      match: { ...external, ...fromProvider, eth_type: EthType.IPV4, eth_dst: v.mac, ipv4_dst: v.address },
      actions: [
        act.load(REG_FLAGS, 0, FLAG_FROM_TUNNEL | FLAG_FROM_PROVIDER),
        act.setField('eth_dst', v.gateway.mac),
        act.ct({ commit: true, zone, table: tables.id('fip-dnat'), actions: [act.nat({ kind: 'dst', addressMin: v.fixedIp })] }),
      ],
    }),
    flow(tables.ref('fip-dnat'), {
      priority: PRIORITY.INBOUND,
      match: { ...external, ct_zone: zone, ct_state: [CtState.TRK, CtState.TRK | CtState.INV], eth_type: EthType.IPV4, ipv4_dst: v.fixedIp },
      goto: p.l3Entry,
    }),
    flow(tables.ref('fip-dnat'), {
      priority: PRIORITY.INBOUND - 10,
      match: { ...external, ct_zone: zone, ct_state: [CtState.TRK | CtState.INV, CtState.TRK | CtState.INV], eth_type: EthType.IPV4, ipv4_dst: v.fixedIp },
      actions: [],
    }),
  ];
  for (const port of p.redirectPorts ?? []) {
    out.push(
      flow(tables.ref('fip-classify'), {
        priority: PRIORITY.REDIRECT,
        match: { in_port: port, tunnel_id: BigInt(NAT_REDIRECT_TUNNEL_KEY), eth_src: v.gateway.mac, eth_type: EthType.IPV4, ipv4_src: v.fixedIp },
        actions: [act.setField(REG_ROUTER, v.gateway.routerKey), act.load(REG_FLAGS, FLAG_ROUTED, FLAG_ROUTED)],
        writeMetadata: { value: BigInt(v.gateway.networkKey), mask: METADATA_NETWORK_MASK },
        goto: tables.id('fip-egress'),
      }),
    );
  }
  const match = { [REG_ROUTER]: v.gateway.routerKey, ...external, ...routed, eth_type: EthType.IPV4, ipv4_src: v.fixedIp };
  const translate = [
    act.ct({ commit: true, zone, actions: [act.nat({ kind: 'src', addressMin: v.address })] }),
    act.setField('eth_src', v.mac),
    act.load(REG_FLAGS, FLAG_NAT_DONE, FLAG_NAT_DONE),
  ];
  if (!path.uplink) out.push(flow(tables.ref('fip-egress'), { priority: PRIORITY.OUTBOUND, match, actions: [] }));
  else if (path.nextHopMac) out.push(flow(tables.ref('fip-egress'), { priority: PRIORITY.OUTBOUND, match, actions: [...translate, act.setField('eth_dst', path.nextHopMac), ...path.uplink] }));
  else {
    const punt = p.toController;
    out.push(flow(tables.ref('fip-egress'), { priority: PRIORITY.OUTBOUND, match, ...punt, actions: [...translate, ...(punt.actions ?? [])] }));
  }
  return out;
}
