import { FLAG_ROUTED, METADATA_NETWORK_MASK, REG_DST_PORT, REG_FLAGS, act, defineApp, flow, inject, injectable, packet, APP_CONTEXT, type AppContext, type AppDescriptor, type Chassis, type DesiredFlow, type LogicalPort, type LogicalSwitch, type Subnet } from '@dragonflow/core';
import { startHarness, type Harness, type HarnessApp } from '@dragonflow/testing';
import l2, { type L2Options } from '../src/index.js';

/** br-int's infrastructure ports in these tests. */
export const TUN = { vxlan: 100, geneve: 101, gre: 102 } as const;
export const PATCH_PHYSNET1 = 200;
export const INFRA = { tunnels: TUN, providers: { physnet1: PATCH_PHYSNET1 } };
/** The port the L3 probe outputs to: a packet reaching the l3 stage with no destination port leaves here. */
export const L3_PROBE_PORT = 99;

export const mac = (n: number): string => `fa:16:3e:00:00:${n.toString(16).padStart(2, '0')}`;
export const ROUTER_MAC = 'fa:16:3e:00:00:fe';

/**
 * Stands in for an L3 app: a packet entering the l3 stage without a destination
 * port (what l2 does for router port MACs) leaves on L3_PROBE_PORT.
 */
@injectable()
class L3Probe {
  constructor(@inject(APP_CONTEXT) private readonly ctx: AppContext) {}
  update(): void {
    this.ctx.flows.replace('probe', [flow(this.ctx.tables.ref('routed'), { priority: 100, match: { [REG_DST_PORT]: 0 }, actions: [act.output(L3_PROBE_PORT)] })]);
  }
}
export const l3Probe = defineApp({
  name: 'l3-probe',
  coreApi: '^1.0.0',
  tables: { l3: [{ name: 'routed', match: [REG_DST_PORT] }] },
  app: L3Probe,
  resync: (app) => app.update(),
});

export interface Cloud {
  readonly h: Harness;
  readonly net: LogicalSwitch;
  readonly sub: Subnet;
  /** c2 (192.0.2.2) hosts vm3; c3 (192.0.2.3) hosts vm4 and vm5. */
  readonly c2: Chassis;
  readonly c3: Chassis;
  readonly vm: Record<'vm1' | 'vm2' | 'vm3' | 'vm4' | 'vm5', LogicalPort>;
  readonly router: LogicalPort;
}

/**
 * One network (`type`, segmentation id 5001) on this chassis (chassis-1, 192.0.2.1):
 * vm1 on ofport 1, vm2 on ofport 2, IPs 10.0.0.N with MAC …:0N; remote vm3 on c2,
 * vm4 and vm5 on c3; a router interface 10.0.0.254 with ROUTER_MAC.
 */
export async function cloud(type: 'vxlan' | 'geneve' | 'gre' = 'vxlan', extraApps: HarnessApp[] = [], l2Options?: L2Options): Promise<Cloud> {
  const h = await startHarness({ apps: [l2Options ? { descriptor: l2 as HarnessApp as AppDescriptor, options: l2Options } : (l2 as HarnessApp), l3Probe, ...extraApps], infraPorts: INFRA });
  h.fakeSwitch.addPort(L3_PROBE_PORT);
  const c2 = await h.addChassis('chassis-2', { tunnelIp: '192.0.2.2' });
  const c3 = await h.addChassis('chassis-3', { tunnelIp: '192.0.2.3' });
  const net = await h.network('net1', { networkType: type, segmentationId: 5001 });
  const sub = await h.subnet(net, '10.0.0.0/24');
  const vm = {
    vm1: await h.port(sub, '10.0.0.1', mac(1)),
    vm2: await h.port(sub, '10.0.0.2', mac(2)),
    vm3: await h.port(sub, '10.0.0.3', mac(3), { chassisId: c2.id }),
    vm4: await h.port(sub, '10.0.0.4', mac(4), { chassisId: c3.id }),
    vm5: await h.port(sub, '10.0.0.5', mac(5), { chassisId: c3.id }),
  };
  const router = await h.port(sub, '10.0.0.254', ROUTER_MAC, { deviceOwner: 'network:router_interface' });
  await h.plug(vm.vm1, 1);
  await h.plug(vm.vm2, 2);
  return { h, net, sub, c2, c3, vm, router };
}

export const icmp = (srcMac: string, dstMac: string, srcIp: string, dstIp: string): packet.EthernetFrame =>
  packet.ethernet({ src: srcMac, dst: dstMac, payload: packet.ipv4({ src: srcIp, dst: dstIp, payload: packet.icmpEchoRequest({ id: 7, seq: 1 }) }) });

export const BROADCAST = 'ff:ff:ff:ff:ff:ff';

/** Tunnel outputs of a trace as "port tun_id→tun_dst", sorted. */
export function tunnelCopies(outputs: readonly { port: number; tunnel?: { id: bigint; dst: string } }[]): string[] {
  return outputs
    .filter((o) => (Object.values(TUN) as number[]).includes(o.port))
    .map((o) => `${o.port} ${o.tunnel?.id ?? 0n}→${o.tunnel?.dst ?? '-'}`)
    .sort();
}

/**
 * Stands in for an L3 app that routed on this chassis, so that l2's part can be
 * tested alone: a packet that reaches the l3 stage (sent to a router MAC) for the
 * IPv4 address of any port this chassis' topology holds leaves the stage as a
 * routed packet does — TTL−1, `metadata` := that port's network, `reg7` := its key,
 * ROUTED — and goes on to the egress stage. It is deliberately naive (it "routes" to
 * every port it knows, routers or not): which of those packets get anywhere is
 * l2's decision, and that is what the tests look at.
 */
@injectable()
class RoutingStandIn {
  constructor(@inject(APP_CONTEXT) private readonly ctx: AppContext) {}
  update(): void {
    const route = this.ctx.tables.ref('route');
    const out: DesiredFlow[] = [];
    for (const p of this.ctx.topology.all('logical_port')) {
      const net = this.ctx.topology.get('logical_switch', p.networkId);
      if (!net || p.deviceOwner === 'network:router_interface') continue;
      for (const f of p.fixedIps) {
        if (f.ipAddress.includes(':')) continue;
        out.push(
          flow(route, {
            priority: 100,
            match: { eth_type: 0x0800, ipv4_dst: packet.ip4(f.ipAddress) },
            actions: [act.decNwTtl(), act.setField(REG_DST_PORT, p.key), act.load(REG_FLAGS, FLAG_ROUTED, FLAG_ROUTED)],
            writeMetadata: { value: BigInt(net.key), mask: METADATA_NETWORK_MASK },
            goto: this.ctx.tables.stageExit('l3'),
          }),
        );
      }
    }
    this.ctx.flows.replace('routes', out);
  }
}
export const routingStandIn = defineApp({
  name: 'routing-stand-in',
  coreApi: '^1.0.0',
  tables: { l3: [{ name: 'route', match: ['eth_type', 'ipv4_dst'] }] },
  watches: ['logical_port', 'logical_switch'],
  app: RoutingStandIn,
  resync: (app) => app.update(),
  handlers: { modelChanged: (app) => app.update() },
});
