import { DeviceOwner, type FixedIp, type LogicalPort, type NbTransaction } from '@dragonflow/nb';
import { NeutronError } from '../neutron/errors.js';
import { IpAllocator } from './ipam.js';
import { chooseMac } from './mac.js';
import type { Attempt } from './attempt.js';

/** The device_id of a network's DHCP port. */
export function dhcpDeviceId(networkId: string): string {
  return `dhcp-${networkId}`;
}

/**
 * Makes the network's DHCP port (device_owner network:dhcp) match its DHCP-enabled
 * subnets, inside the caller's transaction: created with the first subnet that
 * enables DHCP, given one address on each such subnet, and removed with the last.
 * The DHCP service itself runs as flows on every chassis; this port holds the
 * server address those flows answer with.
 */
export async function syncDhcpPort(tx: NbTransaction, networkId: string, macPrefix: string, attempt: Attempt): Promise<LogicalPort | undefined> {
  const network = await tx.get('logical_switch', networkId);
  const subnets = network ? (await tx.lookup('subnet', 'network', networkId)).filter((s) => s.enableDhcp) : [];
  const ports = (await tx.lookup('logical_port', 'network', networkId)).filter((p) => p.deviceOwner === DeviceOwner.DHCP);
  if (subnets.length === 0 || !network) {
    for (const p of ports) await tx.delete('logical_port', p.id);
    return undefined;
  }
  const [port, ...extra] = ports;
  for (const p of extra) await tx.delete('logical_port', p.id);
  const ipam = new IpAllocator(tx, networkId, attempt, port?.id);
  const wanted = new Set(subnets.map((s) => s.id));
  const keep: FixedIp[] = (port?.fixedIps ?? []).filter((f) => wanted.has(f.subnetId));
  for (const s of subnets) {
    if (keep.some((f) => f.subnetId === s.id)) continue;
    const ip = await ipam.next(s);
    if (ip === undefined) {
      throw new NeutronError(409, 'IpAddressGenerationFailure', `No more IP addresses available on subnet ${s.id} for the DHCP port of network ${networkId}.`, { field: 'allocation_pools' });
    }
    keep.push({ subnetId: s.id, ipAddress: ip });
  }
  if (port) {
    if (keep.length === port.fixedIps.length && keep.every((f, i) => port.fixedIps[i]?.ipAddress === f.ipAddress)) return port;
    return tx.update('logical_port', { ...port, fixedIps: keep });
  }
  return tx.create('logical_port', {
    projectId: network.projectId,
    networkId,
    macAddress: await chooseMac(tx, networkId, macPrefix, undefined),
    fixedIps: keep,
    deviceOwner: DeviceOwner.DHCP,
    deviceId: dhcpDeviceId(networkId),
    portSecurityEnabled: false,
  });
}
