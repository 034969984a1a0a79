import { DfError } from '@dragonflow/base';
import { IpNetwork, Ipv6Address, MacAddress, type LogicalPort } from '@dragonflow/core';

/** An address (host or CIDR) a port may send from, bound to the MAC it must come with. */
export interface SourceBinding {
  readonly network: IpNetwork;
  readonly mac: MacAddress;
}

/**
 * What one port may send, from the model: its MACs (its own first, then its
 * address pairs' other MACs) and every (address, MAC) binding — fixed IPs with the
 * port's MAC, the IPv6 link-local address derived from it, and the allowed address
 * pairs with their MAC (the port's when the pair names none).
 */
export interface PortSecurityFacts {
  readonly key: number;
  readonly mac: MacAddress;
  readonly macs: readonly MacAddress[];
  readonly v4: readonly SourceBinding[];
  readonly v6: readonly SourceBinding[];
}

/**
 * Whether a port's traffic is checked here: a VM port with port security on. Router
 * interfaces, DHCP ports and the other `network:*` owners are the platform's own
 * ports (their addresses are not a tenant's to spoof) and are left alone.
 */
export function isChecked(port: Pick<LogicalPort, 'portSecurityEnabled' | 'deviceOwner'>): boolean {
  return port.portSecurityEnabled && !port.deviceOwner.startsWith('network:');
}

/** The IPv6 link-local address a MAC gives by modified EUI-64 (RFC 4291 appendix A): fe80::<mac with U/L bit flipped, ff:fe in the middle>. */
export function linkLocalOf(mac: MacAddress): Ipv6Address {
  const m = mac.value;
  const upper = ((m >> 24n) ^ 0x020000n) & 0xffffffn;
  const lower = m & 0xffffffn;
  const iid = (upper << 40n) | (0xfffen << 24n) | lower;
  return Ipv6Address.fromBigInt((0xfe80n << 112n) | iid);
}

function parsed<T>(port: LogicalPort, what: string, parse: () => T): T {
  try {
    return parse();
  } catch (cause) {
    throw new DfError('PORTSEC_BAD_ADDRESS', `port ${port.id}: ${what} is not an address the switch can check`, { cause, context: { portId: port.id, what } });
  }
}

/** The facts of a checked port (the caller decides whether it is checked: `isChecked`). */
export function portFacts(port: LogicalPort): PortSecurityFacts {
  const mac = parsed(port, `MAC ${port.macAddress}`, () => MacAddress.parse(port.macAddress));
  const macs: MacAddress[] = [mac];
  const v4: SourceBinding[] = [];
  const v6: SourceBinding[] = [{ network: IpNetwork.of(linkLocalOf(mac), 128), mac }];
  const add = (network: IpNetwork, boundTo: MacAddress) => {
    const list = network.family === 4 ? v4 : v6;
    if (list.some((b) => b.network.equals(network) && b.mac.equals(boundTo))) return;
    list.push({ network, mac: boundTo });
  };
  for (const f of port.fixedIps) {
    const ip = parsed(port, `fixed IP ${f.ipAddress}`, () => IpNetwork.parse(`${f.ipAddress}/${f.ipAddress.includes(':') ? 128 : 32}`));
    add(ip, mac);
  }
  for (const pair of port.allowedAddressPairs) {
    const text = pair.ipAddress.includes('/') ? pair.ipAddress : `${pair.ipAddress}/${pair.ipAddress.includes(':') ? 128 : 32}`;
    // A pair's CIDR may have host bits set (Neutron accepts it): the network it names is what is allowed.
    const network = parsed(port, `allowed address pair ${pair.ipAddress}`, () => IpNetwork.parse(text, 'allowedAddressPairs.ipAddress', false));
    const pairMac = pair.macAddress === null ? mac : parsed(port, `allowed address pair MAC ${pair.macAddress}`, () => MacAddress.parse(pair.macAddress!));
    if (!macs.some((m) => m.equals(pairMac))) macs.push(pairMac);
    add(network, pairMac);
  }
  return { key: port.key, mac, macs, v4, v6 };
}
