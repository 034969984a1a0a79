#!/usr/bin/env node
// Regenerates ovs-compose.json: frames composed by Open vSwitch itself
// (`ovs-ofctl compose-packet`), the oracle for the codec's layouts and checksums.
//   node packages/packet/test/make-fixtures.mjs
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const A = 'dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:00:02';
const flows = {
  icmp4: `icmp,${A},nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_ttl=64,icmp_type=8,icmp_code=0`,
  udp4: `udp,${A},nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_ttl=64,udp_src=1234,udp_dst=53`,
  tcp4: `tcp,${A},nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_ttl=64,tcp_src=1234,tcp_dst=80`,
  arp: 'arp,dl_src=00:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,arp_op=1,arp_spa=10.0.0.1,arp_tpa=10.0.0.2,arp_sha=00:00:00:00:00:01',
  udp6: `udp6,${A},ipv6_src=fd00::1,ipv6_dst=fd00::2,nw_ttl=64,udp_src=1234,udp_dst=53`,
  tcp6: `tcp6,${A},ipv6_src=fd00::1,ipv6_dst=fd00::2,nw_ttl=64,tcp_src=1234,tcp_dst=80`,
  icmp6Echo: `icmp6,${A},ipv6_src=fd00::1,ipv6_dst=fd00::2,nw_ttl=64,icmpv6_type=128,icmpv6_code=0`,
  icmp6Ns:
    'icmp6,dl_src=00:00:00:00:00:01,dl_dst=33:33:ff:00:00:02,ipv6_src=fd00::1,ipv6_dst=ff02::1:ff00:2,nw_ttl=255,icmpv6_type=135,icmpv6_code=0,nd_target=fd00::2,nd_sll=00:00:00:00:00:01',
  vlanIcmp4: `dl_vlan=100,dl_vlan_pcp=5,icmp,${A},nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_ttl=64,icmp_type=8`,
};

const out = {};
for (const [name, flow] of Object.entries(flows)) {
  // compose-packet exits 1 when its own re-parse differs in fields we did not set
  // (nd_tll on a solicitation); the bytes it prints are still the frame asked for.
  const text = spawnSync('ovs-ofctl', ['compose-packet', flow], { encoding: 'utf8' }).stdout;
  if (!text) throw new Error(`ovs-ofctl compose-packet printed nothing for ${flow}`);
  const hex = text
    .split('\n')
    .filter((l) => /^[0-9a-f]{8} {2}/.test(l))
    .map((l) => l.slice(10, 58).replace(/[- ]/g, ''))
    .join('');
  out[name] = { flow, hex };
}
writeFileSync(join(dirname(fileURLToPath(import.meta.url)), 'ovs-compose.json'), JSON.stringify(out, null, 2) + '\n');
process.stdout.write(`wrote ${Object.keys(out).length} frames\n`);
