import { packet } from '@dragonflow/core';
import { afterEach, describe, expect, it } from 'vitest';
import { SERVER_MAC, TUNNEL, clientFrame, dhcpCloud, dhcpOf, discover, mac, type DhcpCloud } from '../test/cloud.js';

const { DhcpMessageType: T, DhcpOption: O, dhcpDecode, dhcpEncode } = packet;

let c: DhcpCloud | undefined;
afterEach(async () => {
  await c?.h.stop();
  c = undefined;
});

/** Injects a frame on `port` and returns what the switch delivered because of it. */
async function exchange(cl: DhcpCloud, frame: packet.EthernetFrame, port: number) {
  const before = cl.h.fakeSwitch.delivered.length;
  const t = await cl.h.inject(frame, port);
  return { trace: t, sent: cl.h.fakeSwitch.delivered.slice(before) };
}

describe('dhcp: answered on the chassis that hosts the port', () => {
  it('a DISCOVER goes to this controller only and is answered with an OFFER out of the asking port, with every option', async () => {
    c = await dhcpCloud();
    const { trace, sent } = await exchange(c, discover(mac(1)), 1);
    // Not flooded to vm2, not tunnelled to chassis-2: only the controller sees it.
    expect(trace.ports).toEqual([]);
    expect(trace.packetIns).toHaveLength(1);
    expect(sent.map((o) => o.port)).toEqual([1]);
    const out = sent[0]!;
    expect(packet.checksumErrors(out.bytes)).toEqual([]);
    expect(out.frame.src.toString()).toBe(SERVER_MAC);
    expect(out.frame.dst.toString()).toBe(mac(1));
    const ip = out.frame.payload;
    expect(ip.kind === 'ipv4' && `${ip.src.toString()}→${ip.dst.toString()}`).toBe('10.0.0.2→10.0.0.11');
    const offer = dhcpOf(out.frame);
    expect(dhcpDecode.u8(offer.options.get(O.MESSAGE_TYPE)!)).toBe(T.OFFER);
    expect(offer.xid).toBe(0x5eed);
    expect(offer.yiaddr.toString()).toBe('10.0.0.11');
    expect(dhcpDecode.ip(offer.options.get(O.SERVER_ID)!).toString()).toBe('10.0.0.2');
    expect(dhcpDecode.ip(offer.options.get(O.SUBNET_MASK)!).toString()).toBe('255.255.255.0');
    expect(dhcpDecode.ips(offer.options.get(O.ROUTER)!).map(String)).toEqual(['10.0.0.1']);
    expect(dhcpDecode.ips(offer.options.get(O.DNS_SERVERS)!).map(String)).toEqual(['10.0.0.53']);
    expect(dhcpDecode.u16(offer.options.get(O.INTERFACE_MTU)!)).toBe(1400);
    expect(dhcpDecode.u32(offer.options.get(O.LEASE_TIME)!)).toBe(86400);
    expect(dhcpDecode.string(offer.options.get(O.DOMAIN_NAME)!)).toBe('openstacklocal');
    expect(dhcpDecode.string(offer.options.get(O.HOSTNAME)!)).toBe('host-10-0-0-11');
    expect(dhcpDecode.routes(offer.options.get(O.CLASSLESS_STATIC_ROUTES)!).map((r) => `${r.destination.toString()} via ${r.nextHop.toString()}`)).toEqual(['192.168.7.0/24 via 10.0.0.9', '0.0.0.0/0 via 10.0.0.1']);
  });

  it('REQUEST for the offered address → ACK with the MTU; for another address → NAK', async () => {
    c = await dhcpCloud();
    const request = (addr: string) => clientFrame(mac(2), T.REQUEST, [[O.REQUESTED_IP, dhcpEncode.ip(packet.ip4(addr))], [O.SERVER_ID, dhcpEncode.ip(packet.ip4('10.0.0.2'))]]);
    const ack = (await exchange(c, request('10.0.0.12'), 2)).sent;
    expect(ack.map((o) => o.port)).toEqual([2]);
    const m = dhcpOf(ack[0]!.frame);
    expect(dhcpDecode.u8(m.options.get(O.MESSAGE_TYPE)!)).toBe(T.ACK);
    expect(m.yiaddr.toString()).toBe('10.0.0.12');
    expect(dhcpDecode.u16(m.options.get(O.INTERFACE_MTU)!)).toBe(1400);
    const nak = (await exchange(c, request('10.0.0.99'), 2)).sent;
    expect(nak.map((o) => o.port)).toEqual([2]);
    expect(dhcpDecode.u8(dhcpOf(nak[0]!.frame).options.get(O.MESSAGE_TYPE)!)).toBe(T.NAK);
    expect(nak[0]!.frame.dst.toString()).toBe('ff:ff:ff:ff:ff:ff');
  });

  it('a renewal unicast to the server from the leased address is answered with an ACK', async () => {
    c = await dhcpCloud();
    const renew = clientFrame(mac(1), T.REQUEST, [], { ciaddr: packet.ip4('10.0.0.11') }, '10.0.0.11');
    const { sent } = await exchange(c, packet.ethernet({ src: mac(1), dst: SERVER_MAC, payload: { ...(renew.payload as packet.Ipv4Packet), dst: packet.ip4('10.0.0.2') } }), 1);
    expect(sent.map((o) => o.port)).toEqual([1]);
    const ip = sent[0]!.frame.payload;
    expect(ip.kind === 'ipv4' && ip.dst.toString()).toBe('10.0.0.11');
    expect(dhcpDecode.u8(dhcpOf(sent[0]!.frame).options.get(O.MESSAGE_TYPE)!)).toBe(T.ACK);
  });

  it('answers go out unconfirmed: no barrier per reply', async () => {
    c = await dhcpCloud();
    await exchange(c, discover(mac(1)), 1); // the port's lease built, flows settled
    const barriers = c.h.fakeSwitch.stats.barriers;
    const packetOuts = c.h.fakeSwitch.stats.packetOuts;
    for (let i = 0; i < 3; i++) expect((await exchange(c, discover(mac(1)), 1)).sent.map((o) => o.port)).toEqual([1]);
    expect(c.h.fakeSwitch.stats.packetOuts - packetOuts).toBe(3);
    expect(c.h.fakeSwitch.stats.barriers).toBe(barriers);
  });

  it('a client asking for another MAC than its port’s gets nothing', async () => {
    c = await dhcpCloud();
    const spoof = clientFrame(mac(1), T.DISCOVER, [], { chaddr: packet.mac(mac(9)) });
    const { trace, sent } = await exchange(c, spoof, 1);
    expect(trace.packetIns).toHaveLength(1);
    expect(sent).toEqual([]);
  });

  it('a port on a subnet without DHCP gets no answer, and its DHCP is switched as any broadcast', async () => {
    c = await dhcpCloud();
    await c.h.nb.modify('subnet', c.sub.id, (s) => ({ ...s, enableDhcp: false }));
    await c.h.settle();
    const { trace, sent } = await exchange(c, discover(mac(1)), 1);
    expect(trace.packetIns).toEqual([]);
    expect(sent.filter((o) => o.port === 1)).toEqual([]);
    expect(trace.ports.sort((a, b) => a - b)).toEqual([2, TUNNEL]);
    // enabled again: answered again
    await c.h.nb.modify('subnet', c.sub.id, (s) => ({ ...s, enableDhcp: true }));
    await c.h.settle();
    expect((await exchange(c, discover(mac(1)), 1)).sent.map((o) => o.port)).toEqual([1]);
  });

  it('subnet changes are in the next answer: DNS, host routes, MTU', async () => {
    c = await dhcpCloud();
    await c.h.nb.modify('subnet', c.sub.id, (s) => ({ ...s, dnsNameservers: ['10.0.0.54', '10.0.0.55'], hostRoutes: [] }));
    await c.h.nb.modify('logical_switch', c.net.id, (n) => ({ ...n, mtu: 1300 }));
    await c.h.settle();
    const m = dhcpOf((await exchange(c, discover(mac(1)), 1)).sent[0]!.frame);
    expect(dhcpDecode.ips(m.options.get(O.DNS_SERVERS)!).map(String)).toEqual(['10.0.0.54', '10.0.0.55']);
    expect(dhcpDecode.u16(m.options.get(O.INTERFACE_MTU)!)).toBe(1300);
    expect(dhcpDecode.routes(m.options.get(O.CLASSLESS_STATIC_ROUTES)!).map((r) => r.destination.toString())).toEqual(['0.0.0.0/0']);
  });

  it('extra_dhcp_opts of the port are sent when asked for', async () => {
    c = await dhcpCloud();
    await c.h.nb.modify('logical_port', c.vm.vm1.id, (p) => ({ ...p, extraDhcpOpts: [{ optName: 'ntp-server', optValue: '10.0.0.123', ipVersion: 4 }] }));
    await c.h.settle();
    const ask = clientFrame(mac(1), T.DISCOVER, [[O.PARAMETER_REQUEST_LIST, Uint8Array.of(1, 42)]]);
    const m = dhcpOf((await exchange(c, ask, 1)).sent[0]!.frame);
    expect(dhcpDecode.ips(m.options.get(42)!).map(String)).toEqual(['10.0.0.123']);
  });

  it('the DHCP server address answers ARP and ping in the switch', async () => {
    c = await dhcpCloud();
    const arp = c.h.trace(packet.arpRequest({ srcMac: mac(1), srcIp: '10.0.0.11', targetIp: '10.0.0.2' }), 1);
    expect(arp.ports).toEqual([1]);
    const a = arp.only(1).payload as packet.ArpPacket;
    expect(`${a.op} ${a.sha.toString()} ${a.spa.toString()}`).toBe(`2 ${SERVER_MAC} 10.0.0.2`);
    const ping = c.h.trace(packet.ethernet({ src: mac(1), dst: SERVER_MAC, payload: packet.ipv4({ src: '10.0.0.11', dst: '10.0.0.2', payload: packet.icmpEchoRequest({ id: 1, seq: 1 }) }) }), 1);
    expect(ping.ports).toEqual([1]);
    const reply = ping.only(1).payload as packet.Ipv4Packet;
    expect(`${reply.src.toString()}→${reply.dst.toString()} type ${(reply.payload as packet.IcmpPacket).type}`).toBe('10.0.0.2→10.0.0.11 type 0');
  });

  it('an unbound port loses its punt, and nothing of DHCP is left when the last local port goes', async () => {
    c = await dhcpCloud();
    await c.h.unplug(c.vm.vm1);
    expect(c.h.trace(discover(mac(1)), 1).packetIns).toEqual([]);
    await c.h.unplug(c.vm.vm2);
    const table = c.h.runtime.pipeline.app('dhcp').tables[0]!.id;
    expect(c.h.fakeSwitch.flowsIn(table).filter((f) => f.priority > 0)).toEqual([]);
  });
});

describe('dhcp: the punt path', () => {
  it('a port flooding DHCP is answered up to its budget, then cut off in the switch; another port is still answered', async () => {
    c = await dhcpCloud({ punt: { rate: 1, burst: 3, suppressSeconds: 30 } });
    const answered: number[] = [];
    for (let i = 0; i < 6; i++) answered.push((await exchange(c, discover(mac(1)), 1)).sent.length);
    // three within the burst; the fourth is dropped before the app and suppresses the port
    expect(answered.slice(0, 3)).toEqual([1, 1, 1]);
    expect(answered.slice(3)).toEqual([0, 0, 0]);
    const after = await exchange(c, discover(mac(1)), 1);
    expect(after.trace.packetIns).toEqual([]); // dropped in the switch, not at the controller
    expect(after.trace.ports).toEqual([]); // and not flooded either
    // vm2's DHCP is untouched
    expect((await exchange(c, discover(mac(2)), 2)).sent.map((o) => o.port)).toEqual([2]);
    // the port's other traffic still flows: vm1 → vm2
    const ping = packet.ethernet({ src: mac(1), dst: mac(2), payload: packet.ipv4({ src: '10.0.0.11', dst: '10.0.0.12', payload: packet.icmpEchoRequest({ id: 1, seq: 1 }) }) });
    expect(c.h.trace(ping, 1).ports).toEqual([2]);
    // when the suppression expires the port is served again
    c.h.clock.advance(30_000);
    await c.h.settle();
    expect((await exchange(c, discover(mac(1)), 1)).sent.map((o) => o.port)).toEqual([1]);
  });

  it('the punt flows pass through the app’s switch meter, installed with them', async () => {
    c = await dhcpCloud();
    const [m] = c.h.fakeSwitch.meterConfigs();
    expect(m?.bands).toEqual([{ type: 'drop', rate: 20_000, burstSize: 2_000 }]);
    const table = c.h.runtime.pipeline.app('dhcp').tables[0]!.id;
    const punts = c.h.fakeSwitch.flowsIn(table).filter((f) => f.priority === 100);
    expect(punts).toHaveLength(2);
    for (const f of punts) expect(JSON.stringify(f.instructions)).toContain(`"meterId":${m!.meterId}`);
  });

  it('the default budget never stands in the way of a boot and its renewals', async () => {
    c = await dhcpCloud();
    const request = clientFrame(mac(1), T.REQUEST, [[O.REQUESTED_IP, dhcpEncode.ip(packet.ip4('10.0.0.11'))], [O.SERVER_ID, dhcpEncode.ip(packet.ip4('10.0.0.2'))]]);
    // a boot with a retransmission of each message, then renewals each T1 (here back to back)
    const frames = [discover(mac(1)), discover(mac(1)), request, request, ...Array.from({ length: 8 }, () => clientFrame(mac(1), T.REQUEST, [], { ciaddr: packet.ip4('10.0.0.11') }, '10.0.0.11'))];
    let answers = 0;
    for (const f of frames) answers += (await exchange(c, f, 1)).sent.length;
    expect(answers).toBe(frames.length);
  });
});
