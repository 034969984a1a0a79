import { packet, type LogicalPort, type LogicalSwitch, type Subnet } from '@dragonflow/core';
import { startHarness, type Harness } from '@dragonflow/testing';
import l2 from '@dragonflow/app-l2';
import dhcp from '../src/index.js';

export const mac = (n: number): string => `fa:16:3e:00:00:${n.toString(16).padStart(2, '0')}`;
export const TUNNEL = 100;
export const SERVER_MAC = mac(0xd0);

export interface DhcpCloud {
  readonly h: Harness;
  readonly net: LogicalSwitch;
  readonly sub: Subnet;
  readonly server: LogicalPort;
  /** vm1 (10.0.0.11, ofport 1) and vm2 (10.0.0.12, ofport 2) here; vm3 (10.0.0.13) on chassis-2. */
  readonly vm: Record<'vm1' | 'vm2' | 'vm3', LogicalPort>;
}

/**
 * One network (MTU 1400) with a DHCP-enabled subnet 10.0.0.0/24 (gateway 10.0.0.1,
 * DNS 10.0.0.53, a host route), its DHCP port 10.0.0.2 as df-api makes it, two local
 * VMs and a remote one; the l2 and dhcp apps.
 */
export async function dhcpCloud(options: Record<string, unknown> = {}): Promise<DhcpCloud> {
  const h = await startHarness({ apps: [l2, { descriptor: dhcp, options }], infraPorts: { tunnels: { vxlan: TUNNEL }, providers: {} } });
  const c2 = await h.addChassis('chassis-2', { tunnelIp: '192.0.2.2' });
  const net = await h.network('net1', { mtu: 1400 });
  const sub = await h.subnet(net, '10.0.0.0/24', {
    gatewayIp: '10.0.0.1',
    dnsNameservers: ['10.0.0.53'],
    hostRoutes: [{ destination: '192.168.7.0/24', nexthop: '10.0.0.9' }],
  });
  const server = await h.port(sub, '10.0.0.2', SERVER_MAC, { deviceOwner: 'network:dhcp', deviceId: `dhcp-${net.id}`, portSecurityEnabled: false });
  const vm = {
    vm1: await h.port(sub, '10.0.0.11', mac(1)),
    vm2: await h.port(sub, '10.0.0.12', mac(2)),
    vm3: await h.port(sub, '10.0.0.13', mac(3), { chassisId: c2.id }),
  };
  await h.plug(vm.vm1, 1);
  await h.plug(vm.vm2, 2);
  return { h, net, sub, server, vm };
}

const { DhcpMessageType, DhcpOption, dhcpEncode, dhcpMessage } = packet;

/** A client message as dhclient sends it: broadcast from 0.0.0.0:68 to 255.255.255.255:67. */
export function clientFrame(srcMac: string, type: number, options: [number, Uint8Array][] = [], init: Partial<packet.DhcpMessage> = {}, srcIp = '0.0.0.0'): packet.EthernetFrame {
  const msg = dhcpMessage({
    op: 1,
    xid: 0x5eed,
    chaddr: packet.mac(srcMac),
    ...init,
    options: new Map([[DhcpOption.MESSAGE_TYPE, dhcpEncode.u8(type)], [DhcpOption.PARAMETER_REQUEST_LIST, Uint8Array.of(1, 3, 6, 15, 26, 28, 51, 54, 121)], ...options]),
  });
  return packet.ethernet({
    src: srcMac,
    dst: 'ff:ff:ff:ff:ff:ff',
    payload: packet.ipv4({ src: srcIp, dst: '255.255.255.255', payload: packet.udp({ srcPort: 68, dstPort: 67, payload: packet.encodeDhcp(msg) }) }),
  });
}

export const discover = (srcMac: string): packet.EthernetFrame => clientFrame(srcMac, DhcpMessageType.DISCOVER);

/** The DHCP message inside a frame the switch delivered (fails when it is not one). */
export function dhcpOf(frame: packet.EthernetFrame): packet.DhcpMessage {
  const ip = frame.payload;
  if (ip.kind !== 'ipv4' || ip.payload.kind !== 'udp') throw new Error(`not UDP: ${packet.describeFrame(frame)}`);
  if (ip.payload.srcPort !== 67 || ip.payload.dstPort !== 68) throw new Error(`not server → client: ${packet.describeFrame(frame)}`);
  return packet.decodeDhcp(ip.payload.payload);
}
