import { flow, type DesiredFlow } from '@dragonflow/core';
import { OWNER_KINDS, allocatePipeline, type OwnerId } from '@dragonflow/core/host';
import { act, decodeMessage, encodeMessage, type FlowMod, type FlowStats } from '@dragonflow/openflow';

/** Flows per owner in the synthetic desired state (a port's classify, lookup, ARP, routing, dispatch…). */
export const FLOWS_PER_OWNER = 10;

const mac = (i: number, k: number): string => `fa:16:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}:${k.toString(16).padStart(2, '0')}`;
const ip = (i: number, k: number): string => `10.${(i >> 8) & 255}.${i & 255}.${k + 1}`;

/** Table numbers come from the allocator, as for any app. */
const pipeline = allocatePipeline([
  {
    app: 'bench',
    tables: {
      'ingress-security': [{ name: 'portsec' }],
      services: [{ name: 'arp' }],
      'l2-lookup': [{ name: 'lookup' }],
      l3: [{ name: 'route' }],
      egress: [{ name: 'egress' }],
      'egress-security': [{ name: 'sg' }],
    },
  },
]);
const T = {
  classify: pipeline.table('core.classify').id,
  portsec: pipeline.table('bench.portsec').id,
  arp: pipeline.table('bench.arp').id,
  lookup: pipeline.table('bench.lookup').id,
  route: pipeline.table('bench.route').id,
  egress: pipeline.table('bench.egress').id,
  sg: pipeline.table('bench.sg').id,
  dispatch: pipeline.table('core.dispatch').id,
};

/**
 * The desired flows of owner `i`: the shapes the L2/L3 apps install per port —
 * masked metadata, MACs, IPs, registers; set-fields, dec_ttl, goto, output.
 */
export function ownerFlows(i: number): DesiredFlow[] {
  const net = BigInt(1 + (i % 10));
  const meta = { value: net, mask: 0xffff_ffffn };
  const out: DesiredFlow[] = [
    flow(T.classify, { priority: 100, match: { in_port: 1 + i }, actions: [act.setField('reg6', 1 + i)], writeMetadata: meta, goto: T.portsec }),
    flow(T.lookup, { priority: 100, match: { metadata: [net, 0xffff_ffffn], eth_dst: mac(i, 0) }, actions: [act.setField('reg7', 1 + i)], goto: T.route }),
    flow(T.arp, { priority: 100, match: { metadata: [net, 0xffff_ffffn], eth_type: 0x0806, arp_op: 1, arp_tpa: ip(i, 0) }, actions: [act.setField('arp_op', 2), act.output(0xfffffff8)] }),
    flow(T.portsec, { priority: 90, match: { reg6: 1 + i, eth_src: mac(i, 0) }, goto: T.arp }),
    flow(T.portsec, { priority: 90, match: { reg6: 1 + i, eth_type: 0x0800, eth_src: mac(i, 0), ipv4_src: ip(i, 0) }, goto: T.arp }),
    flow(T.portsec, { priority: 90, match: { reg6: 1 + i, eth_type: 0x0806, eth_src: mac(i, 0), arp_spa: ip(i, 0) }, goto: T.arp }),
    flow(T.route, { priority: 200, match: { metadata: [net, 0xffff_ffffn], eth_type: 0x0800, ipv4_dst: ip(i, 0) }, actions: [act.decNwTtl(), act.setField('eth_src', 'fa:16:3e:ff:ff:fe'), act.setField('eth_dst', mac(i, 0)), act.setField('reg7', 1 + i)], goto: T.egress }),
    flow(T.egress, { priority: 100, match: { reg7: 1 + i }, goto: T.sg }),
    flow(T.sg, { priority: 100, match: { reg7: 1 + i, eth_type: 0x0800, ip_proto: 6 }, goto: T.dispatch }),
    flow(T.dispatch, { priority: 100, match: { reg7: 1 + i }, actions: [act.output(1 + (i % 60000))] }),
  ];
  return out.slice(0, FLOWS_PER_OWNER);
}

export function ownerId(i: number): OwnerId {
  return { app: 'bench', slot: 1, owner: `port:${i}`, kind: OWNER_KINDS.port, tag: i + 1 };
}

/** What a switch would report for a desired flow: the flow-mod through the wire, as flow-stats. */
export function asFlowStats(f: DesiredFlow, cookie: bigint): FlowStats {
  const fm: FlowMod = {
    type: 'flow_mod',
    xid: 1,
    cookie,
    cookieMask: 0n,
    tableId: f.table,
    command: 'add',
    idleTimeout: 0,
    hardTimeout: 0,
    priority: f.priority,
    bufferId: 0xffffffff,
    outPort: 0xffffffff,
    outGroup: 0xffffffff,
    flags: 0,
    match: f.match,
    instructions: f.instructions,
  };
  const back = decodeMessage(encodeMessage(fm)) as FlowMod;
  return {
    tableId: back.tableId,
    durationSec: 10,
    durationNsec: 0,
    priority: back.priority,
    idleTimeout: 0,
    hardTimeout: 0,
    flags: 0,
    cookie: back.cookie,
    packetCount: 0n,
    byteCount: 0n,
    match: back.match,
    instructions: back.instructions,
  };
}

export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}
