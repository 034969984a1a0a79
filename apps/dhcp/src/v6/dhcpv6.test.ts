import { packet, type LogicalPort } from '@dragonflow/core';
import { startHarness, type Harness } from '@dragonflow/testing';
import l2 from '@dragonflow/app-l2';
import { afterEach, describe, expect, it } from 'vitest';
import dhcp from '../index.js';

const { Dhcp6Option: O, Dhcp6Type: T, Dhcp6Status: S } = packet;
const mac = (n: number): string => `fa:16:3e:00:00:${n.toString(16).padStart(2, '0')}`;
const DHCP_MAC = mac(0xd0);
const SERVER_DUID = packet.duidLl(packet.mac(DHCP_MAC));

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

/**
 * A network with a dhcpv6-stateful subnet (DNS fd00:2::53; vm1 fd00:2::11 on port 1), a
 * network with a dhcpv6-stateless one (vm2, EUI-64, port 2) and one with SLAAC (vm3,
 * port 3), each with its DHCP port as df-api makes it.
 */
async function cloud(): Promise<{ h: Harness; vm: Record<'vm1' | 'vm2' | 'vm3', LogicalPort> }> {
  h = await startHarness({ apps: [l2, dhcp] });
  const vm = {} as Record<'vm1' | 'vm2' | 'vm3', LogicalPort>;
  const nets: [string, 'dhcpv6-stateful' | 'dhcpv6-stateless' | 'slaac', string, 'vm1' | 'vm2' | 'vm3', number][] = [
    ['fd00:2::/64', 'dhcpv6-stateful', 'fd00:2::11', 'vm1', 1],
    ['fd00:3::/64', 'dhcpv6-stateless', 'fd00:3::f816:3eff:fe00:2', 'vm2', 2],
    ['fd00:4::/64', 'slaac', 'fd00:4::f816:3eff:fe00:3', 'vm3', 3],
  ];
  for (const [cidr, mode, ip, name, ofport] of nets) {
    const net = await h.network(`net-${name}`);
    const sub = await h.subnet(net, cidr, { ipv6RaMode: mode, ipv6AddressMode: mode, dnsNameservers: [cidr.replace('::/64', '::53')] });
    await h.port(sub, cidr.replace('::/64', '::2'), DHCP_MAC, { deviceOwner: 'network:dhcp', deviceId: `dhcp-${net.id}`, portSecurityEnabled: false });
    vm[name] = await h.port(sub, ip, mac(ofport));
    await h.plug(vm[name], ofport);
  }
  return { h, vm };
}

const clientDuid = (n: number) => packet.duidLl(packet.mac(mac(n)));
const ia = (addrs: string[] = []) =>
  packet.encodeIaNa({ iaid: 7, t1: 0, t2: 0, options: addrs.map((a) => packet.encodeIaAddr({ address: packet.ip6(a), preferredLifetime: 0, validLifetime: 0, options: [] })) });

/** A client message from VM n's link-local address to All_DHCP_Relay_Agents_and_Servers, as dhclient -6 sends it. */
function client(n: number, type: number, options: packet.Dhcp6Opt[], srcMac = mac(n)): packet.EthernetFrame {
  const msg: packet.Dhcp6Message = { type, transactionId: 0xabcdef, options: [{ code: O.CLIENTID, data: clientDuid(n) }, { code: O.ELAPSED_TIME, data: new Uint8Array(2) }, ...options] };
  const dst = packet.DHCP6_SERVERS_GROUP;
  return packet.ethernet({
    src: srcMac,
    dst: packet.ipv6MulticastMac(dst),
    payload: packet.ipv6({ src: packet.linkLocalAddress(mac(n)), dst, hopLimit: 1, payload: packet.udp({ srcPort: 546, dstPort: 547, payload: packet.encodeDhcp6(msg) }) }),
  });
}

async function exchange(frame: packet.EthernetFrame, port: number) {
  const before = h!.fakeSwitch.delivered.length;
  const trace = await h!.inject(frame, port);
  return { trace, sent: h!.fakeSwitch.delivered.slice(before) };
}

function dhcp6Of(frame: packet.EthernetFrame): packet.Dhcp6Message {
  const ip = frame.payload;
  if (ip.kind !== 'ipv6' || ip.payload.kind !== 'udp' || ip.payload.srcPort !== 547 || ip.payload.dstPort !== 546) throw new Error(`not a DHCPv6 answer: ${packet.describeFrame(frame)}`);
  return packet.decodeDhcp6(ip.payload.payload);
}

const iaAddrs = (m: packet.Dhcp6Message) =>
  packet.decodeIaNa(packet.dhcp6Option(m.options, O.IA_NA)!.data).options.filter((o) => o.code === O.IAADDR).map((o) => packet.decodeIaAddr(o.data)).map((a) => [a.address.toString(), a.preferredLifetime, a.validLifetime]);
const status = (opts: readonly packet.Dhcp6Opt[]) => packet.decodeStatus(packet.dhcp6Option(opts, O.STATUS_CODE)!.data).code;
const serverId = { code: O.SERVERID, data: SERVER_DUID };

describe('DHCPv6: answered on the chassis that hosts the port', () => {
  it('Solicit → Advertise out of the asking port only, with the port address, DNS servers and search list, from the server link-local address', async () => {
    const { vm } = await cloud();
    const { trace, sent } = await exchange(client(1, T.SOLICIT, [ia()]), 1);
    expect(trace.ports).toEqual([]);
    expect(trace.packetIns).toHaveLength(1);
    expect(sent.map((s) => s.port)).toEqual([1]);
    expect(packet.checksumErrors(sent[0]!.bytes)).toEqual([]);
    const f = sent[0]!.frame;
    const ip = f.payload as packet.Ipv6Packet;
    expect([f.src.toString(), f.dst.toString(), ip.src.toString(), ip.dst.toString()]).toEqual([DHCP_MAC, mac(1), 'fe80::f816:3eff:fe00:d0', 'fe80::f816:3eff:fe00:1']);
    const m = dhcp6Of(f);
    expect([m.type, m.transactionId]).toEqual([T.ADVERTISE, 0xabcdef]);
    expect(Buffer.from(packet.dhcp6Option(m.options, O.SERVERID)!.data)).toEqual(Buffer.from(SERVER_DUID));
    expect(Buffer.from(packet.dhcp6Option(m.options, O.CLIENTID)!.data)).toEqual(Buffer.from(clientDuid(1)));
    expect(iaAddrs(m)).toEqual([[vm.vm1.fixedIps[0]!.ipAddress, 86400, 86400]]);
    expect(packet.decodeIaNa(packet.dhcp6Option(m.options, O.IA_NA)!.data)).toMatchObject({ iaid: 7, t1: 43200, t2: 69120 });
    expect(packet.decodeAddresses(packet.dhcp6Option(m.options, O.DNS_SERVERS)!.data).map(String)).toEqual(['fd00:2::53']);
    expect(packet.decodeDomainList(packet.dhcp6Option(m.options, O.DOMAIN_LIST)!.data)).toEqual(['openstacklocal']);
  });

  it('Solicit with rapid commit → Reply with rapid commit; Request for this server → Reply; for another server → nothing', async () => {
    await cloud();
    const rapid = dhcp6Of((await exchange(client(1, T.SOLICIT, [ia(), { code: O.RAPID_COMMIT, data: new Uint8Array(0) }]), 1)).sent[0]!.frame);
    expect(rapid.type).toBe(T.REPLY);
    expect(packet.dhcp6Option(rapid.options, O.RAPID_COMMIT)).toBeDefined();
    expect(iaAddrs(rapid).map((a) => a[0])).toEqual(['fd00:2::11']);
    const req = dhcp6Of((await exchange(client(1, T.REQUEST, [serverId, ia(['fd00:2::11'])]), 1)).sent[0]!.frame);
    expect([req.type, iaAddrs(req)]).toEqual([T.REPLY, [['fd00:2::11', 86400, 86400]]]);
    const other = await exchange(client(1, T.REQUEST, [{ code: O.SERVERID, data: packet.duidLl(packet.mac(mac(0x99))) }, ia()]), 1);
    expect(other.sent).toEqual([]);
  });

  it('Renew and Rebind extend the port address; an address the client held that is no longer the port comes back with lifetimes 0', async () => {
    await cloud();
    const renew = dhcp6Of((await exchange(client(1, T.RENEW, [serverId, ia(['fd00:2::99'])]), 1)).sent[0]!.frame);
    expect([renew.type, iaAddrs(renew)]).toEqual([
      T.REPLY,
      [
        ['fd00:2::11', 86400, 86400],
        ['fd00:2::99', 0, 0],
      ],
    ]);
    const rebind = dhcp6Of((await exchange(client(1, T.REBIND, [ia(['fd00:2::11'])]), 1)).sent[0]!.frame);
    expect([rebind.type, iaAddrs(rebind)]).toEqual([T.REPLY, [['fd00:2::11', 86400, 86400]]]);
    // Rebind goes to any server: one naming a server is discarded.
    expect((await exchange(client(1, T.REBIND, [serverId, ia(['fd00:2::11'])]), 1)).sent).toEqual([]);
  });

  it('Release → Success; Confirm → Success on link, NotOnLink off it', async () => {
    await cloud();
    const release = dhcp6Of((await exchange(client(1, T.RELEASE, [serverId, ia(['fd00:2::11'])]), 1)).sent[0]!.frame);
    expect([release.type, status(release.options)]).toEqual([T.REPLY, S.SUCCESS]);
    const onLink = dhcp6Of((await exchange(client(1, T.CONFIRM, [ia(['fd00:2::11'])]), 1)).sent[0]!.frame);
    expect(status(onLink.options)).toBe(S.SUCCESS);
    const offLink = dhcp6Of((await exchange(client(1, T.CONFIRM, [ia(['fd00:9::11'])]), 1)).sent[0]!.frame);
    expect(status(offLink.options)).toBe(S.NOT_ON_LINK);
  });

  it('stateless: Information-request → DNS servers and search list, no address; a Solicit for an address → NoAddrsAvail', async () => {
    await cloud();
    const info = dhcp6Of((await exchange(client(2, T.INFORMATION_REQUEST, [{ code: O.ORO, data: Uint8Array.of(0, 23, 0, 24) }]), 2)).sent[0]!.frame);
    expect(info.type).toBe(T.REPLY);
    expect(packet.dhcp6Option(info.options, O.IA_NA)).toBeUndefined();
    expect(packet.decodeAddresses(packet.dhcp6Option(info.options, O.DNS_SERVERS)!.data).map(String)).toEqual(['fd00:3::53']);
    const solicit = dhcp6Of((await exchange(client(2, T.SOLICIT, [ia()]), 2)).sent[0]!.frame);
    expect([solicit.type, status(solicit.options)]).toEqual([T.ADVERTISE, S.NO_ADDRS_AVAIL]);
  });

  it('a SLAAC-only port has no DHCPv6 here (its messages are switched as any), and a frame not from the port MAC gets no answer', async () => {
    await cloud();
    const slaac = await exchange(client(3, T.INFORMATION_REQUEST, []), 3);
    expect(slaac.trace.packetIns).toEqual([]);
    expect(slaac.sent).toEqual([]);
    const spoofed = await exchange(client(1, T.SOLICIT, [ia()], mac(0x42)), 1);
    expect(spoofed.sent).toEqual([]);
  });
});
