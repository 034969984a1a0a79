import { act, defineApp, flow, inject, injectable, packet, APP_CONTEXT, type AppContext, type LogicalPort, type LogicalSwitch, type Subnet } from '@dragonflow/core';
import { startHarness, type Harness, type HarnessApp, type TraceResult } from '@dragonflow/testing';
import l2 from '@dragonflow/app-l2';
import portsec from '../src/index.js';

export const mac = (n: number): string => `fa:16:3e:00:00:${n.toString(16).padStart(2, '0')}`;
export const BROADCAST = 'ff:ff:ff:ff:ff:ff';
/** Where the sink sends every packet that got through the ingress-security stage. */
export const SINK = 99;

/**
 * Stands in for the rest of the pipeline: whatever reaches the services stage leaves
 * on SINK, so a test sees exactly what port security let through (no ARP responder
 * or flooding in between).
 */
@injectable()
class Sink {
  constructor(@inject(APP_CONTEXT) private readonly ctx: AppContext) {}
  update(): void {
    this.ctx.flows.replace('sink', [flow(this.ctx.tables.ref('sink'), { priority: 1, match: {}, actions: [act.output(SINK)] })]);
  }
}
export const sink = defineApp({ name: 'sink', coreApi: '^1.0.0', tables: { services: [{ name: 'sink' }] }, app: Sink, resync: (app) => app.update() });

export interface Cloud {
  readonly h: Harness;
  readonly net: LogicalSwitch;
  readonly sub: Subnet;
  readonly sub6: Subnet;
  /** vm1 (10.0.0.11, fd00::11, ofport 1) and vm2 (10.0.0.12, fd00::12, ofport 2); both checked. */
  readonly vm: Record<'vm1' | 'vm2', LogicalPort>;
}

/**
 * One network with 10.0.0.0/24 and fd00::/64, two local VMs with port security on.
 * With `sink` (the default) everything port security passes leaves on SINK; without
 * it the l2 app switches it (real delivery to the other VM).
 */
export async function cloud(options: { sink?: boolean } = {}): Promise<Cloud> {
  const apps: HarnessApp[] = options.sink === false ? [l2, portsec] : [portsec, sink];
  const h = await startHarness({ apps });
  if (options.sink !== false) h.fakeSwitch.addPort(SINK);
  const net = await h.network('net1', { networkType: 'vxlan', segmentationId: 5001 });
  const sub = await h.subnet(net, '10.0.0.0/24', { gatewayIp: '10.0.0.1' });
  const sub6 = await h.subnet(net, 'fd00::/64', { gatewayIp: 'fd00::1' });
  const dual = (n: number) => ({ fixedIps: [{ subnetId: sub.id, ipAddress: `10.0.0.${n}` }, { subnetId: sub6.id, ipAddress: `fd00::${n}` }] });
  const vm = {
    vm1: await h.port(sub, '10.0.0.11', mac(1), dual(11)),
    vm2: await h.port(sub, '10.0.0.12', mac(2), dual(12)),
  };
  await h.plug(vm.vm1, 1);
  await h.plug(vm.vm2, 2);
  return { h, net, sub, sub6, vm };
}

/** Whether a traced packet got through port security (it left on the sink). */
export const passed = (t: TraceResult): boolean => t.ports.includes(SINK);

export const ping4 = (srcMac: string, srcIp: string, dstIp = '10.0.0.12', dstMac = mac(2)): packet.EthernetFrame =>
  packet.ethernet({ src: srcMac, dst: dstMac, payload: packet.ipv4({ src: srcIp, dst: dstIp, payload: packet.icmpEchoRequest({ id: 7, seq: 1 }) }) });

export const ping6 = (srcMac: string, srcIp: string, dstIp = 'fd00::12', dstMac = mac(2)): packet.EthernetFrame =>
  packet.ethernet({ src: srcMac, dst: dstMac, payload: packet.ipv6({ src: srcIp, dst: dstIp, payload: packet.icmpv6Echo({ id: 7, seq: 1 }) }) });

/** An ARP packet with the given Ethernet source and sender addresses (a request for `tpa`, or a gratuitous ARP when tpa = spa). */
export const arp = (ethSrc: string, sha: string, spa: string, tpa = '10.0.0.12', op = 1): packet.EthernetFrame =>
  packet.ethernet({ src: ethSrc, dst: BROADCAST, payload: packet.arp({ op, sha, spa, tpa }) });

/** A UDP datagram (IPv4). */
export const udp4 = (srcMac: string, srcIp: string, dstIp: string, srcPort: number, dstPort: number): packet.EthernetFrame =>
  packet.ethernet({ src: srcMac, dst: BROADCAST, payload: packet.ipv4({ src: srcIp, dst: dstIp, payload: packet.udp({ srcPort, dstPort, payload: 'x' }) }) });

/** A DHCP DISCOVER as a client without an address sends it: 0.0.0.0:68 → 255.255.255.255:67, chaddr = its MAC. */
export function discover(srcMac: string): packet.EthernetFrame {
  const msg = packet.dhcpMessage({ op: 1, xid: 0x5eed, chaddr: packet.mac(srcMac), options: new Map([[packet.DhcpOption.MESSAGE_TYPE, packet.dhcpEncode.u8(packet.DhcpMessageType.DISCOVER)]]) });
  return packet.ethernet({ src: srcMac, dst: BROADCAST, payload: packet.ipv4({ src: '0.0.0.0', dst: '255.255.255.255', payload: packet.udp({ srcPort: 68, dstPort: 67, payload: packet.encodeDhcp(msg) }) }) });
}

/** A UDP datagram (IPv6). */
export const udp6 = (srcMac: string, srcIp: string, dstIp: string, srcPort: number, dstPort: number): packet.EthernetFrame =>
  packet.ethernet({ src: srcMac, dst: '33:33:00:01:00:02', payload: packet.ipv6({ src: srcIp, dst: dstIp, payload: packet.udp({ srcPort, dstPort, payload: 'x' }) }) });

/** A neighbour advertisement from `srcIp` for `target`, with a target link-layer option `tll` (none when null). */
export function advert(ethSrc: string, srcIp: string, target: string, tll: string | null): packet.EthernetFrame {
  return packet.ethernet({
    src: ethSrc,
    dst: '33:33:00:00:00:01',
    payload: packet.ipv6({
      src: srcIp,
      dst: 'ff02::1',
      hopLimit: 255,
      payload: { kind: 'icmpv6', type: 136, code: 0, body: new Uint8Array(0), nd: { target: packet.ip6(target), flags: 0x20000000, ...(tll === null ? {} : { tll: packet.mac(tll) }) } },
    }),
  });
}

/** A router advertisement (no options: the switch looks at the type). */
export const routerAdvert = (ethSrc: string, srcIp: string): packet.EthernetFrame =>
  packet.ethernet({ src: ethSrc, dst: '33:33:00:00:00:01', payload: packet.ipv6({ src: srcIp, dst: 'ff02::1', hopLimit: 255, payload: { kind: 'icmpv6', type: 134, code: 0, body: new Uint8Array(12) } }) });
