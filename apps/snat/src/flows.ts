import {
  CtState,
  EthType,
  FLAG_FROM_PROVIDER,
  FLAG_FROM_TUNNEL,
  FLAG_NAT_DONE,
  FLAG_ROUTED,
  METADATA_NETWORK_MASK,
  REG_FLAGS,
  REG_ROUTER,
  REG_SRC_PORT,
  act,
  arpReplyActions,
  flow,
  packet,
  type Action,
  type AppTables,
  type DesiredFlow,
  type IpNetwork,
  type Ipv4Address,
  type MacAddress,
  type TableRef,
  type TableSpec,
} from '@dragonflow/core';
import type { RouterGateway } from '@dragonflow/l3';

/**
 * The app's tables, in packet order:
 *
 * - classify `classify`: the external network's provider ingress where the L2 app
 *   does not switch it here, and (centralized) packets redirected to this gateway
 *   chassis (tunnel + reserved key + gateway MAC → router, external network, ROUTED).
 * - services `inbound`: on the external network, ARP for the SNAT address is
 *   answered, ARP replies to the gateway MAC are punted (next-hop resolution), and
 *   IPv4 to the SNAT address goes through the router's conntrack zone (un-SNAT).
 * - services `unnat`: after conntrack in a router's zone, replies of translated
 *   connections (and ICMP errors about them) go on to the `l3` stage, where the
 *   router routes them to the VM; everything else to the SNAT address ends here.
 *   Every other packet passes it (the services chain), so its flows match the
 *   router's zone (`ct_zone`), which only the un-SNAT pass has.
 * - l3 `nat`: routed packets leaving through a router's gateway: SNAT in the
 *   router's zone (here) or redirect to the gateway chassis (centralized).
 * - l3 `out`: after SNAT, the next hop's MAC and out of the provider port. Routed
 *   packets that are not SNATed pass it too (the l3 chain): its flows match the
 *   router's zone, which only the SNAT pass has, and the external network.
 */
export const SNAT_TABLES = {
  classify: [{ name: 'classify', match: ['in_port', 'tunnel_id', 'vlan_vid', 'eth_src'], description: 'external network ingress (where l2 does not switch it) and centralized redirects to this gateway chassis' }],
  services: [
    { name: 'inbound', match: ['metadata', REG_SRC_PORT, 'eth_type', 'arp_op', 'arp_tpa', 'eth_dst', 'ipv4_dst'], description: 'external network: ARP for the SNAT address, ARP replies to the gateway MAC (punted), un-SNAT through the router zone' },
    { name: 'unnat', match: ['metadata', 'ct_zone', 'ct_state', 'eth_type'], description: 'after un-SNAT in a router zone: replies and related ICMP errors on to l3, the rest to the SNAT address dropped' },
  ],
  l3: [
    { name: 'nat', match: [REG_FLAGS, REG_ROUTER, 'metadata', 'eth_type'], description: 'routed to the outside: SNAT in the router zone, or redirect to the gateway chassis' },
    { name: 'out', match: [REG_ROUTER, 'metadata', 'ct_zone', 'eth_type', 'ipv4_dst'], description: 'after SNAT: next-hop MAC, out of the provider port' },
  ],
} as const satisfies Record<string, readonly TableSpec[]>;

export const PRIORITY = {
  redirect: 200,
  providerIngress: 100,
  arpReplyPunt: 200,
  arpRespond: 100,
  unsnat: 100,
  unnat: 100,
  unnatDrop: 50,
  natDone: 200,
  nat: 100,
  /** out: a next hop's own address (/32) above its prefix. */
  prefixBase: 100,
} as const;

export interface SnatTables {
  readonly classify: TableRef;
  readonly inbound: TableRef;
  readonly unnat: TableRef;
  readonly nat: TableRef;
  readonly out: TableRef;
  /** The first table after the classify stage (where provider ingress continues). */
  readonly afterClassify: number;
  /** The l3 stage entry (the L3 app's ingress: un-SNATed replies are routed from there). */
  readonly l3Entry: number;
  /** The first table after the l3 stage (where packets another NAT app translated go). */
  readonly afterL3: number;
}

export function snatTables(t: AppTables): SnatTables {
  return {
    classify: t.ref('classify'),
    inbound: t.ref('inbound'),
    unnat: t.ref('unnat'),
    nat: t.ref('nat'),
    out: t.ref('out'),
    afterClassify: t.stageExit('classify'),
    l3Entry: t.stageEntry('l3'),
    afterL3: t.stageExit('l3'),
  };
}

const onNetwork = (key: number) => ({ metadata: [BigInt(key), METADATA_NETWORK_MASK] as const });
const ctState = (bits: number, mask: number): [number, number] => [bits | CtState.TRK, mask | CtState.TRK];

/** Where a router's outbound traffic is translated from: its SNAT address and the MAC it is sent with. */
export interface SnatSource {
  readonly ip: Ipv4Address;
  readonly mac: MacAddress;
}

/**
 * A router's flows for translated replies: after its zone's conntrack (un-SNAT), a
 * reply of a translated connection or an ICMP error about one goes to the router's
 * gateway MAC (distributed replies were sent to the chassis' MAC) and is routed (l3
 * entry). With `dropRest` (centralized: the address is the router's own), anything
 * else sent to the SNAT address (nobody inside started it) is dropped here;
 * distributed, the chassis' chain tries the next router's zone (`unnatChainFlows`).
 */
export function unnatFlows(t: SnatTables, gw: RouterGateway, zone: number, dropRest: boolean): DesiredFlow[] {
  const here = { ...onNetwork(gw.networkKey), ct_zone: zone };
  const toRouter = { actions: [{ type: 'set_field' as const, field: 'eth_dst' as const, value: gw.mac }], goto: t.l3Entry };
  return [
    flow(t.unnat, { priority: PRIORITY.unnat, match: { ...here, ct_state: ctState(CtState.EST | CtState.RPL, CtState.EST | CtState.RPL | CtState.INV) }, ...toRouter }),
    flow(t.unnat, { priority: PRIORITY.unnat, match: { ...here, ct_state: ctState(CtState.REL, CtState.REL | CtState.INV) }, ...toRouter }),
    ...(dropRest ? [flow(t.unnat, { priority: PRIORITY.unnatDrop, match: here })] : []),
  ];
}

/**
 * Distributed: the chassis' one SNAT address serves every router translated here,
 * each in its own zone (overlapping tenant CIDRs never share conntrack state), so a
 * packet to the address is un-SNATed in the first router's zone, and what that zone
 * does not know goes on to the next one's; what no zone knows is dropped. Each
 * router's translations use their own source port range, so a reply belongs to one
 * zone only.
 */
export function chassisInboundFlows(t: SnatTables, networkKey: number, source: SnatSource, zones: readonly number[], arpReplyPunt: DesiredFlow): DesiredFlow[] {
  const net = onNetwork(networkKey);
  const out: DesiredFlow[] = [
    flow(t.inbound, { priority: PRIORITY.arpRespond, match: { ...net, eth_type: EthType.ARP, arp_op: packet.ARP_OP.REQUEST, arp_tpa: source.ip }, actions: arpReplyActions(source.mac, source.ip) }),
    arpReplyPunt,
  ];
  if (zones.length === 0) return out;
  out.push(
    flow(t.inbound, {
      priority: PRIORITY.unsnat,
      match: { ...net, eth_type: EthType.IPV4, ipv4_dst: source.ip },
      actions: [act.load(REG_FLAGS, 0, FLAG_FROM_TUNNEL | FLAG_FROM_PROVIDER), act.ct({ zone: zones[0]!, table: t.unnat.id, actions: [act.nat()] })],
    }),
  );
  zones.forEach((zone, i) => {
    const next = zones[i + 1];
    out.push(
      flow(t.unnat, {
        priority: PRIORITY.unnatDrop,
        // (ct needs an IP match: Open vSwitch refuses it on a flow that does not say IPv4)
        match: { ...net, ct_zone: zone, eth_type: EthType.IPV4 },
        actions: next === undefined ? [] : [act.ct({ zone: next, table: t.unnat.id, actions: [act.nat()] })],
      }),
    );
  });
  return out;
}

/** A packet another NAT app translated (a floating IP) is not SNATed again. */
export function natDoneFlow(t: SnatTables): DesiredFlow {
  return flow(t.nat, { priority: PRIORITY.natDone, match: { [REG_FLAGS]: [FLAG_NAT_DONE, FLAG_NAT_DONE] }, goto: t.afterL3 });
}

/** Routed packets of `gw`'s router leaving through its gateway (ROUTED, external network, not translated yet). */
function outbound(gw: RouterGateway) {
  return { [REG_FLAGS]: [FLAG_ROUTED, FLAG_ROUTED | FLAG_NAT_DONE] as const, [REG_ROUTER]: gw.routerKey, ...onNetwork(gw.networkKey), eth_type: EthType.IPV4 };
}

/**
 * What a chassis that translates for a router desires in its inbound tables: the
 * SNAT address answers ARP with its MAC, ARP replies to that MAC are punted (the
 * next hops' answers), IPv4 to the address is un-SNATed in the router's zone.
 */
export function inboundFlows(t: SnatTables, gw: RouterGateway, source: SnatSource, zone: number, arpReplyPunt: DesiredFlow): DesiredFlow[] {
  return [
    flow(t.inbound, { priority: PRIORITY.arpRespond, match: { ...onNetwork(gw.networkKey), eth_type: EthType.ARP, arp_op: packet.ARP_OP.REQUEST, arp_tpa: source.ip }, actions: arpReplyActions(source.mac, source.ip) }),
    arpReplyPunt,
    flow(t.inbound, {
      priority: PRIORITY.unsnat,
      match: { ...onNetwork(gw.networkKey), eth_type: EthType.IPV4, ipv4_dst: source.ip },
      // From now on the packet is the router's: routed here and sent on like a local port's (not split-horizon'd as from outside).
      actions: [act.load(REG_FLAGS, 0, FLAG_FROM_TUNNEL | FLAG_FROM_PROVIDER), act.ct({ zone, table: t.unnat.id, actions: [act.nat()] })],
    }),
  ];
}

/**
 * SNAT here: commit in the router's zone with the source translated to the SNAT
 * address (distributed: within the router's own port range), then `out`.
 */
export function snatFlow(t: SnatTables, gw: RouterGateway, source: SnatSource, zone: number, ports?: { readonly min: number; readonly max: number }): DesiredFlow {
  const nat = act.nat({ kind: 'src', addressMin: source.ip, ...(ports ? { portMin: ports.min, portMax: ports.max } : {}) });
  const actions: Action[] = [act.ct({ commit: true, zone, table: t.out.id, actions: [nat] })];
  // In distributed mode the chassis' own MAC goes with its address (the gateway MAC is the gateway chassis').
  if (!source.mac.equals(gw.mac)) actions.unshift({ type: 'set_field', field: 'eth_src', value: source.mac });
  return flow(t.nat, { priority: PRIORITY.nat, match: outbound(gw), actions });
}

/** Centralized, on a chassis that does not translate for the router: to the gateway chassis over the tunnel. */
export function redirectFlow(t: SnatTables, gw: RouterGateway, redirect: readonly Action[]): DesiredFlow {
  return flow(t.nat, { priority: PRIORITY.nat, match: outbound(gw), actions: [...redirect] });
}

/** After SNAT in the router's zone: packets of the router to `prefix` leave towards a next hop with `mac`. */
export function outFlow(t: SnatTables, gw: RouterGateway, zone: number, prefix: IpNetwork | Ipv4Address, mac: MacAddress, output: readonly Action[]): DesiredFlow {
  const length = 'prefixLength' in prefix ? prefix.prefixLength : 32;
  return flow(t.out, {
    priority: PRIORITY.prefixBase + length,
    match: { [REG_ROUTER]: gw.routerKey, ...onNetwork(gw.networkKey), ct_zone: zone, eth_type: EthType.IPV4, ...(length > 0 ? { ipv4_dst: prefix.toString() } : {}) },
    actions: [{ type: 'set_field', field: 'eth_dst', value: mac }, ...output],
  });
}

/** The ARP reply punt of a translating chassis' MAC on the external network (next-hop resolution). */
export function arpReplyMatch(): { readonly eth_type: number; readonly arp_op: number } {
  return { eth_type: EthType.ARP, arp_op: packet.ARP_OP.REPLY };
}
