import l2 from '@dragonflow/app-l2';
import l3Proactive from '@dragonflow/app-l3-proactive';
import { packet, type AppDescriptor } from '@dragonflow/core';
import { PUBLIC_PORT, TUNNEL_PORT, UPSTREAM_IP, UPSTREAM_MAC, externalNetwork, gatewayMac, routedCloud, routerMac, setGateway, vmMac, type ExternalNetwork, type RoutedCloud } from '@dragonflow/l3/testing';
import type { HarnessApp } from '@dragonflow/testing';
import snat from '../src/index.js';
import type { SnatApp } from '../src/snat-app.js';

export const INTERNET_HOST = '198.51.100.10';
export const GATEWAY_IP = '172.24.4.20';

export interface NatCloud extends RoutedCloud {
  readonly ext: ExternalNetwork;
  readonly app: SnatApp;
}

/**
 * The routed cloud of @dragonflow/l3/testing (this chassis: vm1 10.0.1.11 on port
 * 1, vm2 10.0.2.12 on port 2; chassis-2: vm3, vm4) plus the external network
 * `public` on patch port PUBLIC_PORT, with the router's gateway at 172.24.4.20
 * placed on `gatewayOn` ('here' or 'chassis-2'), and snat with `options`.
 */
export async function natCloud(o: { gatewayOn?: 'here' | 'chassis-2'; options?: object; enableSnat?: boolean; l3?: AppDescriptor<object, unknown> } = {}): Promise<NatCloud> {
  const apps: HarnessApp[] = [l2, (o.l3 ?? l3Proactive) as HarnessApp, { descriptor: snat, options: o.options ?? {} }];
  const c = await routedCloud(apps);
  await c.h.setInfraPorts({ tunnels: { vxlan: TUNNEL_PORT }, providers: { public: PUBLIC_PORT } });
  const ext = await externalNetwork(c.h);
  const chassisIds = o.gatewayOn === 'chassis-2' ? [c.c2.id, c.h.chassisId] : [c.h.chassisId, c.c2.id];
  const { router } = await setGateway(c.h, c.router, ext, { ip: GATEWAY_IP, mac: gatewayMac(1), chassisIds, enableSnat: o.enableSnat ?? true });
  return { ...c, router, ext, app: c.h.runtime.app('snat').instance as SnatApp };
}

/** The upstream router answers the ARP request snat sent for it (as 172.24.4.1 would), to `mac`. */
export async function upstreamAnswers(c: RoutedCloud, mac = gatewayMac(1), ip = GATEWAY_IP): Promise<void> {
  const reply = packet.arpReply({ srcMac: UPSTREAM_MAC, srcIp: UPSTREAM_IP, dstMac: mac, dstIp: ip });
  await c.h.inject(reply, PUBLIC_PORT);
  await c.h.settle();
}

/** A UDP datagram from vm1 (10.0.1.11) to `dst`, sent to the router's MAC on net1. */
export const fromVm1 = (dst: string): packet.EthernetFrame =>
  packet.ethernet({ src: vmMac(0x11), dst: routerMac(1), payload: packet.ipv4({ src: '10.0.1.11', dst, ttl: 64, payload: packet.udp({ srcPort: 40000, dstPort: 5001, payload: 'x' }) }) });

/** A datagram from the internet host to `dst` arriving from the upstream router on the external network. */
export function fromOutside(o: { dstMac: string; dst: string; srcPort?: number; dstPort: number; icmpReply?: { id: number; seq: number } }): packet.EthernetFrame {
  return packet.ethernet({
    src: UPSTREAM_MAC,
    dst: o.dstMac,
    payload: packet.ipv4({
      src: INTERNET_HOST,
      dst: o.dst,
      ttl: 63,
      payload: o.icmpReply ? packet.icmpEchoReply({ id: o.icmpReply.id, seq: o.icmpReply.seq, data: 'abcdefgh' }) : packet.udp({ srcPort: o.srcPort ?? 5001, dstPort: o.dstPort, payload: 'pong' }),
    }),
  });
}
