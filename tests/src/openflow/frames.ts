/** Hand-built frames for the OpenFlow end-to-end test (ICMP echo with correct checksums). */

function checksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

const macBytes = (m: string) => m.split(':').map((x) => parseInt(x, 16));
const ipBytes = (ip: string) => ip.split('.').map(Number);

/** An Ethernet/IPv4/ICMP echo request carrying `id`, `seq` and `payload`. */
export function icmpEchoRequest(o: { srcMac: string; dstMac: string; srcIp: string; dstIp: string; id: number; seq: number; payload: Uint8Array }): Uint8Array {
  const icmp = new Uint8Array(8 + o.payload.length);
  icmp.set([8, 0, 0, 0, o.id >> 8, o.id & 0xff, o.seq >> 8, o.seq & 0xff]);
  icmp.set(o.payload, 8);
  const c = checksum(icmp);
  icmp[2] = c >> 8;
  icmp[3] = c & 0xff;
  const ip = new Uint8Array(20);
  const total = 20 + icmp.length;
  ip.set([0x45, 0, total >> 8, total & 0xff, 0, 1, 0x40, 0, 64, 1, 0, 0, ...ipBytes(o.srcIp), ...ipBytes(o.dstIp)]);
  const ic = checksum(ip);
  ip[10] = ic >> 8;
  ip[11] = ic & 0xff;
  return Uint8Array.from([...macBytes(o.dstMac), ...macBytes(o.srcMac), 0x08, 0x00, ...ip, ...icmp]);
}

/** Parses what we need from an Ethernet frame: ethertype, and for IPv4/ICMP the type, id, seq and payload. */
export function parseFrame(f: Uint8Array): { ethType: number; srcMac: string; icmp?: { type: number; id: number; seq: number; payload: Uint8Array } } {
  const hex = (i: number) => f[i]!.toString(16).padStart(2, '0');
  const srcMac = [6, 7, 8, 9, 10, 11].map(hex).join(':');
  const ethType = (f[12]! << 8) | f[13]!;
  if (ethType !== 0x0800 || f[23] !== 1) return { ethType, srcMac };
  const ihl = (f[14]! & 0xf) * 4;
  const o = 14 + ihl;
  return { ethType, srcMac, icmp: { type: f[o]!, id: (f[o + 4]! << 8) | f[o + 5]!, seq: (f[o + 6]! << 8) | f[o + 7]!, payload: f.subarray(o + 8) } };
}
