import { type Ipv4Address, type MacAddress } from '@dragonflow/base';
import { packet } from '@dragonflow/core';

/**
 * A gratuitous ARP for `ip` at `mac` (a broadcast request for its own address, the
 * form Linux sends on address changes and most neighbours update their caches
 * from): sent when a chassis takes over an address on an external network — the
 * router's gateway IP on its new active gateway chassis, a floating IP associated
 * or moved — so the upstream router's stale entry is replaced at once.
 */
export function gratuitousArp(mac: MacAddress, ip: Ipv4Address): packet.EthernetFrame {
  return packet.ethernet({ src: mac, dst: 'ff:ff:ff:ff:ff:ff', payload: packet.arp({ op: 1, sha: mac, spa: ip, tha: '00:00:00:00:00:00', tpa: ip }) });
}

/** An ARP request for `target` from `mac`/`ip` (broadcast). */
export function arpRequest(mac: MacAddress, ip: Ipv4Address, target: Ipv4Address): packet.EthernetFrame {
  return packet.arpRequest({ srcMac: mac, srcIp: ip, targetIp: target });
}
