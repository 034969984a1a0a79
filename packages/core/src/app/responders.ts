import type { Ipv4Address, MacAddress } from '@dragonflow/base';
import { act, type Action } from '@dragonflow/openflow';

const ARP_REPLY = 2;

/**
 * The actions that turn an ARP request for `ip` into the reply "`ip` is at `mac`"
 * in the switch and send it back out of the port that asked: the responder every
 * app with an address to answer for uses (l2 for ports, dhcp for its server address).
 */
export function arpReplyActions(mac: MacAddress, ip: Ipv4Address): Action[] {
  return [
    act.move({ field: 'eth_src' }, { field: 'eth_dst' }, 48),
    act.setField('eth_src', { value: mac }),
    act.setField('arp_op', ARP_REPLY),
    act.move({ field: 'arp_sha' }, { field: 'arp_tha' }, 48),
    act.setField('arp_sha', { value: mac }),
    act.move({ field: 'arp_spa' }, { field: 'arp_tpa' }, 32),
    act.setField('arp_spa', { value: ip }),
    act.inPort(),
  ];
}
