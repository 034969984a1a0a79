import { DeviceOwner, packet, type Chassis, type FloatingIp, type LogicalPort, type LogicalRouter, type LogicalSwitch, type Subnet } from '@dragonflow/core';
import { startHarness, type Harness, type HarnessApp } from '@dragonflow/testing';

/** br-int's VXLAN tunnel port and the patch port to the `public` physical network. */
export const TUNNEL_PORT = 100;
export const PATCH_PUBLIC = 50;
export const INFRA = { tunnels: { vxlan: TUNNEL_PORT }, providers: { public: PATCH_PUBLIC } };

export const vmMac = (n: number): string => `fa:16:3e:00:00:${n.toString(16).padStart(2, '0')}`;
export const routerMac = (n: number): string => `fa:16:3e:00:0${n}:01`;
export const GATEWAY_MAC = 'fa:16:3e:00:0a:01';
/** The upstream router on the external network (172.24.4.1) and a host beyond it. */
export const UPSTREAM_MAC = 'fa:16:3e:99:99:01';
export const UPSTREAM_IP = '172.24.4.1';
export const INTERNET_IP = '198.51.100.10';
export const GATEWAY_IP = '172.24.4.5';
export const fipMac = (n: number): string => `fa:16:3e:00:0f:${n.toString(16).padStart(2, '0')}`;

export interface NatCloud {
  readonly h: Harness;
  readonly c2: Chassis;
  readonly gw: Chassis;
  readonly pub: LogicalSwitch;
  readonly pubSub: Subnet;
  readonly net: Record<'net1' | 'net2', LogicalSwitch>;
  readonly sub: Record<'sub1' | 'sub2', Subnet>;
  readonly router: LogicalRouter;
  /** vm1 10.0.1.11 (ofport 1) and vm2 10.0.2.12 (ofport 2) here; vm3 10.0.1.13 on chassis-2. */
  readonly vm: Record<'vm1' | 'vm2' | 'vm3', LogicalPort>;
}

/**
 * A router with net1 10.0.1.0/24 and net2 10.0.2.0/24 and its gateway 172.24.4.5 on
 * `public` (flat on physnet `public`, 172.24.4.0/24, upstream 172.24.4.1). This
 * chassis is chassis-1; chassis-2 (192.0.2.2) has vm3; chassis-3 (192.0.2.3) is a
 * gateway chassis. `gatewayHere`: the router's active gateway chassis is this one
 * (else chassis-3).
 */
export async function natCloud(apps: readonly HarnessApp[], o: { gatewayHere?: boolean } = {}): Promise<NatCloud> {
  return natTopology(await startHarness({ apps, infraPorts: INFRA }), o);
}

/** natCloud's topology on a running harness (the app contract's scenario). */
export async function natTopology(h: Harness, o: { gatewayHere?: boolean } = {}): Promise<NatCloud> {
  await h.setInfraPorts(INFRA);
  const c2 = await h.addChassis('chassis-2', { tunnelIp: '192.0.2.2', bridgeMappings: { public: 'br-public' } });
  const gw = await h.addChassis('chassis-3', { tunnelIp: '192.0.2.3', bridgeMappings: { public: 'br-public' }, gateway: true });
  const pub = await h.network('public', { networkType: 'flat', physicalNetwork: 'public', external: true });
  const pubSub = await h.subnet(pub, '172.24.4.0/24', { gatewayIp: UPSTREAM_IP, enableDhcp: false });
  const net = {
    net1: await h.network('net1', { networkType: 'vxlan', segmentationId: 1001 }),
    net2: await h.network('net2', { networkType: 'vxlan', segmentationId: 1002 }),
  };
  const sub = {
    sub1: await h.subnet(net.net1, '10.0.1.0/24', { gatewayIp: '10.0.1.1' }),
    sub2: await h.subnet(net.net2, '10.0.2.0/24', { gatewayIp: '10.0.2.1' }),
  };
  const vm = {
    vm1: await h.port(sub.sub1, '10.0.1.11', vmMac(0x11)),
    vm2: await h.port(sub.sub2, '10.0.2.12', vmMac(0x12)),
    vm3: await h.port(sub.sub1, '10.0.1.13', vmMac(0x13), { chassisId: c2.id }),
  };
  const router = await h.nb.create('logical_router', { name: 'router1' });
  await h.routerInterface(router, sub.sub1, routerMac(1));
  await h.routerInterface(router, sub.sub2, routerMac(2));
  const activeChassis = o.gatewayHere ? h.chassisId : gw.id;
  const gwPort = await h.port(pubSub, GATEWAY_IP, GATEWAY_MAC, { deviceOwner: DeviceOwner.ROUTER_GATEWAY, deviceId: router.id, chassisId: activeChassis });
  await h.nb.modify('logical_router', router.id, (r) => ({
    ...r,
    externalGateway: { networkId: pub.id, portId: gwPort.id, enableSnat: true, fixedIps: [{ subnetId: pubSub.id, ipAddress: GATEWAY_IP }], chassisIds: [activeChassis], preempt: false },
  }));
  await h.plug(vm.vm1, 1);
  await h.plug(vm.vm2, 2);
  return { h, c2, gw, pub, pubSub, net, sub, router: await h.nb.require('logical_router', router.id), vm };
}

/** Allocates floating IP `address` (its port on `public` with fipMac(n)) and associates it with `port` when given. */
export async function floatingIp(c: NatCloud, n: number, address: string, port?: LogicalPort): Promise<FloatingIp> {
  const fport = await c.h.port(c.pubSub, address, fipMac(n), { deviceOwner: DeviceOwner.FLOATING_IP });
  const f = await c.h.nb.create('floating_ip', {
    floatingNetworkId: c.pub.id,
    floatingIpAddress: address,
    floatingPortId: fport.id,
    portId: port?.id ?? null,
    fixedIpAddress: port?.fixedIps[0]!.ipAddress ?? null,
    routerId: port ? c.router.id : null,
    status: port ? 'ACTIVE' : 'DOWN',
  } as never);
  await c.h.settle();
  return f;
}

/** Re-associates a floating IP (null: disassociates), as df-api does. */
export async function associate(c: NatCloud, fip: FloatingIp, port: LogicalPort | null): Promise<void> {
  await c.h.nb.modify('floating_ip', fip.id, (f) => ({ ...f, portId: port?.id ?? null, fixedIpAddress: port?.fixedIps[0]!.ipAddress ?? null, routerId: port ? c.router.id : null, status: port ? 'ACTIVE' : 'DOWN' }));
  await c.h.settle();
}

/** A packet from the outside: from the upstream router's MAC to `dstMac`, on the provider network. */
export function fromOutside(dstMac: string, src: string, dst: string, payload: packet.IpPayload): packet.EthernetFrame {
  return packet.ethernet({ src: UPSTREAM_MAC, dst: dstMac, payload: packet.ipv4({ src, dst, payload }) });
}

export function ipv4Of(frame: packet.EthernetFrame): packet.Ipv4Packet {
  if (frame.payload.kind !== 'ipv4') throw new Error(`not IPv4: ${packet.describeFrame(frame)}`);
  return frame.payload;
}

/** An ICMP error quoting `frame`'s IPv4 header and the first 8 bytes after it, as a router or host sends it. */
export function icmpErrorAbout(frame: packet.EthernetFrame, type: number, code: number): packet.IpPayload {
  const bytes = packet.encodeEthernet(frame);
  const ihl = (bytes[14]! & 0x0f) * 4;
  return packet.icmp({ type, code, data: bytes.slice(14, 14 + ihl + 8) });
}

/** What an ICMP error quotes: the addresses and, for UDP/TCP, the ports of the original header. */
export function quotedOf(ip: packet.Ipv4Packet): string {
  if (ip.payload.kind !== 'icmp') throw new Error(`not ICMP: ${ip.payload.kind}`);
  const q = ip.payload.data;
  const addr = (o: number) => `${q[o]}.${q[o + 1]}.${q[o + 2]}.${q[o + 3]}`;
  const ihl = (q[0]! & 0x0f) * 4;
  const proto = q[9];
  const port = (o: number) => (q[ihl + o]! << 8) | q[ihl + o + 1]!;
  return proto === 17 || proto === 6 ? `${addr(12)}.${port(0)} > ${addr(16)}.${port(2)}` : `${addr(12)} > ${addr(16)}`;
}
