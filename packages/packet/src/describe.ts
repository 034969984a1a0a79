import type { EthernetFrame, IpPayload } from './types.js';

function describeL4(p: IpPayload): string {
  switch (p.kind) {
    case 'icmp':
      if (p.type === 8 || p.type === 0) return `icmp echo-${p.type === 8 ? 'request' : 'reply'} id ${p.rest >>> 16} seq ${p.rest & 0xffff}`;
      return `icmp type ${p.type} code ${p.code}`;
    case 'icmpv6':
      if (p.nd) return `icmpv6 ${p.type === 135 ? 'neighbor-solicit' : 'neighbor-advert'} target ${p.nd.target.toString()}`;
      return `icmpv6 type ${p.type} code ${p.code}`;
    case 'udp':
      return `udp ${p.srcPort} > ${p.dstPort} len ${p.payload.length}`;
    case 'tcp':
      return `tcp ${p.srcPort} > ${p.dstPort} flags 0x${p.flags.toString(16)}`;
    default:
      return `proto ${p.protocol} len ${p.data.length}`;
  }
}

/** One line saying what a frame is, tcpdump-style, for traces and test failures. */
export function describeFrame(f: EthernetFrame): string {
  const parts = [`${f.src.toString()} > ${f.dst.toString()}`];
  for (const t of f.vlans) parts.push(`vlan ${t.vid}${t.pcp ? ` pcp ${t.pcp}` : ''}`);
  const p = f.payload;
  switch (p.kind) {
    case 'arp':
      parts.push(p.op === 1 ? `arp who-has ${p.tpa.toString()} tell ${p.spa.toString()}` : `arp reply ${p.spa.toString()} is-at ${p.sha.toString()}`);
      break;
    case 'ipv4':
      parts.push(`ipv4 ${p.src.toString()} > ${p.dst.toString()} ttl ${p.ttl}`, describeL4(p.payload));
      break;
    case 'ipv6':
      parts.push(`ipv6 ${p.src.toString()} > ${p.dst.toString()} hlim ${p.hopLimit}`, describeL4(p.payload));
      break;
    default:
      parts.push(`ethertype 0x${p.etherType.toString(16).padStart(4, '0')} len ${p.data.length}`);
  }
  return parts.join(', ');
}
