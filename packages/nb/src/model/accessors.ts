import { IpNetwork, MacAddress, parseIp, type IpAddress } from '@dragonflow/base';
import { isTunnelType } from './logical-switch.js';
import { protocolNumber } from './security-group.js';
import type { Chassis, FloatingIp, LogicalPort, LogicalSwitch, RouterPort, SecurityGroupRule, Subnet } from './tables.js';

/*
 * Typed views of stored string fields. Stored values were validated on write, so
 * these parse without failing on data written through NbApi.
 */

export function portMac(p: Pick<LogicalPort, 'macAddress'>): MacAddress {
  return MacAddress.parse(p.macAddress, 'macAddress');
}

export function portIps(p: Pick<LogicalPort, 'fixedIps'>): IpAddress[] {
  return p.fixedIps.map((f) => parseIp(f.ipAddress, 'fixedIps.ipAddress'));
}

export function portFixedIps(p: Pick<LogicalPort, 'fixedIps'>): { subnetId: string; ip: IpAddress }[] {
  return p.fixedIps.map((f) => ({ subnetId: f.subnetId, ip: parseIp(f.ipAddress, 'fixedIps.ipAddress') }));
}

/** Allowed address pairs as networks (a single address is a /32 or /128) and MACs (the port's own when unset). */
export function portAllowedPairs(p: Pick<LogicalPort, 'allowedAddressPairs' | 'macAddress'>): { network: IpNetwork; mac: MacAddress }[] {
  return p.allowedAddressPairs.map((a) => {
    const network = a.ipAddress.includes('/') ? IpNetwork.parse(a.ipAddress, 'allowedAddressPairs.ipAddress', false) : hostNetwork(parseIp(a.ipAddress));
    return { network, mac: MacAddress.parse(a.macAddress ?? p.macAddress, 'allowedAddressPairs.macAddress') };
  });
}

function hostNetwork(ip: IpAddress): IpNetwork {
  return IpNetwork.of(ip, ip.family === 4 ? 32 : 128);
}

export function subnetCidr(s: Pick<Subnet, 'cidr'>): IpNetwork {
  return IpNetwork.parse(s.cidr);
}

export function subnetGateway(s: Pick<Subnet, 'gatewayIp'>): IpAddress | null {
  return s.gatewayIp === null ? null : parseIp(s.gatewayIp, 'gatewayIp');
}

export function routerPortMac(rp: RouterPort): MacAddress {
  return MacAddress.parse(rp.macAddress, 'macAddress');
}

export function routerPortIp(rp: RouterPort): IpAddress {
  return parseIp(rp.ipAddress, 'ipAddress');
}

export function routerPortNetwork(rp: RouterPort): IpNetwork {
  return IpNetwork.parse(rp.cidr);
}

export function chassisTunnelIp(c: Pick<Chassis, 'tunnelIp'>): IpAddress {
  return parseIp(c.tunnelIp, 'tunnelIp');
}

export function floatingAddress(f: Pick<FloatingIp, 'floatingIpAddress'>): IpAddress {
  return parseIp(f.floatingIpAddress, 'floatingIpAddress');
}

export function floatingFixedAddress(f: Pick<FloatingIp, 'fixedIpAddress'>): IpAddress | null {
  return f.fixedIpAddress === null ? null : parseIp(f.fixedIpAddress, 'fixedIpAddress');
}

/** The segment id on the wire: the VNI/GRE key of a tunnelled network, the VLAN id, or null for flat. */
export function segmentIdOf(ls: Pick<LogicalSwitch, 'networkType' | 'segmentationId' | 'key'>): number | null {
  if (isTunnelType(ls.networkType)) return ls.segmentationId ?? ls.key;
  return ls.segmentationId;
}

export function ruleRemotePrefix(r: SecurityGroupRule): IpNetwork | null {
  return r.remoteIpPrefix === null ? null : IpNetwork.parse(r.remoteIpPrefix, 'remoteIpPrefix', false);
}

export function ruleProtocolNumber(r: SecurityGroupRule): number | null {
  return protocolNumber(r.protocol);
}
