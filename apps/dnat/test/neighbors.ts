import { packet } from '@dragonflow/core';
import { PATCH_PUBLIC, type NatCloud } from './cloud.js';

/**
 * Plays the neighbour `ip` on the external network: answers every ARP request for it
 * the switch sent out of the provider port so far (the app's next-hop resolution),
 * as the neighbour would, then settles. Fails when nobody asked.
 */
export async function answerNextHop(c: NatCloud, ip: string, mac: string): Promise<void> {
  const asks = c.h.fakeSwitch.delivered.filter((o) => o.port === PATCH_PUBLIC && o.frame.payload.kind === 'arp' && o.frame.payload.op === 1 && o.frame.payload.tpa.toString() === ip);
  if (asks.length === 0) throw new Error(`nobody sent an ARP request for ${ip} out of the provider port`);
  const seen = new Set<string>();
  for (const ask of asks) {
    const arp = ask.frame.payload as packet.ArpPacket;
    const key = `${arp.sha.toString()} ${arp.spa.toString()}`;
    if (seen.has(key) || arp.spa.equals(arp.tpa)) continue;
    seen.add(key);
    await c.h.inject(packet.arpReply({ srcMac: mac, srcIp: ip, dstMac: arp.sha, dstIp: arp.spa }), PATCH_PUBLIC);
  }
  await c.h.settle();
}
