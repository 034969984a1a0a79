import { packet } from '@dragonflow/core';
import { afterEach, describe, expect, it } from 'vitest';
import { SERVER_MAC, clientFrame, dhcpCloud, dhcpOf, discover, mac, type DhcpCloud } from '../test/cloud.js';

const { DhcpMessageType: T, DhcpOption: O, dhcpDecode } = packet;

let c: DhcpCloud | undefined;
afterEach(async () => {
  await c?.h.stop();
  c = undefined;
});

/** The DHCP answer the switch delivers to `port` for `frame` (fails when there is none). */
async function answer(cl: DhcpCloud, frame: packet.EthernetFrame, port: number): Promise<packet.DhcpMessage> {
  const before = cl.h.fakeSwitch.delivered.length;
  await cl.h.inject(frame, port);
  const sent = cl.h.fakeSwitch.delivered.slice(before);
  expect(sent.map((o) => o.port)).toEqual([port]);
  return dhcpOf(sent[0]!.frame);
}

const serverId = (m: packet.DhcpMessage): string => dhcpDecode.ip(m.options.get(O.SERVER_ID)!).toString();

describe('dhcp: a lease answered before follows the NB', () => {
  it('subnet, network and port changes made after a first answer are in the next one', async () => {
    c = await dhcpCloud();
    const first = await answer(c, discover(mac(1)), 1);
    expect(dhcpDecode.ips(first.options.get(O.DNS_SERVERS)!).map(String)).toEqual(['10.0.0.53']);
    expect(dhcpDecode.u16(first.options.get(O.INTERFACE_MTU)!)).toBe(1400);

    await c.h.nb.modify('subnet', c.sub.id, (s) => ({ ...s, dnsNameservers: ['10.0.0.54'], hostRoutes: [] }));
    await c.h.settle();
    const afterSubnet = await answer(c, discover(mac(1)), 1);
    expect(dhcpDecode.ips(afterSubnet.options.get(O.DNS_SERVERS)!).map(String)).toEqual(['10.0.0.54']);
    expect(dhcpDecode.routes(afterSubnet.options.get(O.CLASSLESS_STATIC_ROUTES)!).map((r) => r.destination.toString())).toEqual(['0.0.0.0/0']);

    await c.h.nb.modify('logical_switch', c.net.id, (n) => ({ ...n, mtu: 1300 }));
    await c.h.settle();
    expect(dhcpDecode.u16((await answer(c, discover(mac(1)), 1)).options.get(O.INTERFACE_MTU)!)).toBe(1300);

    const askNtp = clientFrame(mac(1), T.DISCOVER, [[O.PARAMETER_REQUEST_LIST, Uint8Array.of(1, 42)]]);
    expect((await answer(c, askNtp, 1)).options.has(42)).toBe(false);
    await c.h.nb.modify('logical_port', c.vm.vm1.id, (p) => ({ ...p, extraDhcpOpts: [{ optName: 'ntp-server', optValue: '10.0.0.123', ipVersion: 4 }] }));
    await c.h.settle();
    expect(dhcpDecode.ips((await answer(c, askNtp, 1)).options.get(42)!).map(String)).toEqual(['10.0.0.123']);
  });

  it('the DHCP port readdressed, or replaced by another, is the server of the next answer', async () => {
    c = await dhcpCloud();
    expect(serverId(await answer(c, discover(mac(1)), 1))).toBe('10.0.0.2');

    await c.h.nb.modify('logical_port', c.server.id, (p) => ({ ...p, fixedIps: [{ subnetId: c!.sub.id, ipAddress: '10.0.0.3' }] }));
    await c.h.settle();
    expect(serverId(await answer(c, discover(mac(1)), 1))).toBe('10.0.0.3');

    await c.h.nb.delete('logical_port', c.server.id);
    await c.h.port(c.sub, '10.0.0.4', SERVER_MAC, { deviceOwner: 'network:dhcp', deviceId: `dhcp-${c.net.id}`, portSecurityEnabled: false });
    await c.h.settle();
    const m = await answer(c, discover(mac(1)), 1);
    expect(serverId(m)).toBe('10.0.0.4');
    expect(m.siaddr.toString()).toBe('10.0.0.4');
  });

  it('one client asking with different parameter lists gets the options of each list', async () => {
    c = await dhcpCloud();
    await c.h.nb.modify('logical_port', c.vm.vm1.id, (p) => ({ ...p, extraDhcpOpts: [{ optName: 'ntp-server', optValue: '10.0.0.123', ipVersion: 4 }] }));
    await c.h.settle();
    const ask = (list: number[]) => clientFrame(mac(1), T.DISCOVER, [[O.PARAMETER_REQUEST_LIST, Uint8Array.from(list)]]);
    const has42 = async (list: number[]): Promise<boolean> => (await answer(c!, ask(list), 1)).options.has(42);
    expect(await has42([1, 3])).toBe(false);
    expect(await has42([1, 3, 42])).toBe(true);
    expect(await has42([1, 3])).toBe(false);
    // the lease's other port is its own: vm2 has no extra options
    expect((await answer(c, clientFrame(mac(2), T.DISCOVER, [[O.PARAMETER_REQUEST_LIST, Uint8Array.of(1, 3, 42)]]), 2)).options.has(42)).toBe(false);
    // an OFFER's options never answer a REQUEST: the ACK says ACK
    const request = clientFrame(mac(1), T.REQUEST, [[O.PARAMETER_REQUEST_LIST, Uint8Array.of(1, 3)], [O.REQUESTED_IP, packet.dhcpEncode.ip(packet.ip4('10.0.0.11'))]]);
    expect(dhcpDecode.u8((await answer(c, request, 1)).options.get(O.MESSAGE_TYPE)!)).toBe(T.ACK);
  });
});
