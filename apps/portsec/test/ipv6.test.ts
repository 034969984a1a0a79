import { MacAddress, packet } from '@dragonflow/core';
import { afterEach, describe, expect, it } from 'vitest';
import { linkLocalOf } from '../src/index.js';
import { advert, cloud, mac, passed, ping6, routerAdvert, udp6, type Cloud } from './cloud.js';

/** vm1's link-local address: fe80::f816:3eff:fe00:1 (EUI-64 of fa:16:3e:00:00:01). */
const LL1 = 'fe80::f816:3eff:fe00:1';

describe('portsec: IPv6 and neighbour discovery from a checked port', () => {
  let c: Cloud;
  afterEach(async () => c?.h.stop());

  it('the link-local address is the modified EUI-64 of the MAC', () => {
    expect(linkLocalOf(MacAddress.parse(mac(1))).toString()).toBe(LL1);
    expect(linkLocalOf(MacAddress.parse('02:00:00:00:00:00')).toString()).toBe('fe80::ff:fe00:0');
  });

  it('its fixed IPv6 and its link-local address pass; a foreign source is dropped', async () => {
    c = await cloud();
    expect(passed(c.h.trace(ping6(mac(1), 'fd00::11'), 1))).toBe(true);
    expect(passed(c.h.trace(ping6(mac(1), LL1, 'fe80::1'), 1))).toBe(true);
    expect(passed(c.h.trace(ping6(mac(1), 'fd00::12'), 1))).toBe(false);
    expect(passed(c.h.trace(ping6(mac(1), 'fe80::f816:3eff:fe00:2', 'fe80::1'), 1))).toBe(false);
    expect(passed(c.h.trace(ping6(mac(9), 'fd00::11'), 1))).toBe(false);
  });

  it('a neighbour advertisement passes for its own target with its own link-layer option or none; a foreign target or link-layer address is dropped', async () => {
    c = await cloud();
    expect(passed(c.h.trace(advert(mac(1), 'fd00::11', 'fd00::11', mac(1)), 1))).toBe(true);
    expect(passed(c.h.trace(advert(mac(1), LL1, LL1, mac(1)), 1))).toBe(true);
    // A reply to a unicast solicitation carries no link-layer option (Linux).
    expect(passed(c.h.trace(advert(mac(1), 'fd00::11', 'fd00::11', null), 1))).toBe(true);
    // Claiming vm2's address or the gateway's, from vm1's own source address.
    const foreign = c.h.trace(advert(mac(1), 'fd00::11', 'fd00::12', mac(1)), 1);
    expect(passed(foreign)).toBe(false);
    expect(foreign.hops.map((x) => x.tableName)).toContain('portsec.nd-target');
    expect(passed(c.h.trace(advert(mac(1), 'fd00::11', 'fd00::1', null), 1))).toBe(false);
    // Its own target, somebody else's MAC in the option.
    expect(passed(c.h.trace(advert(mac(1), 'fd00::11', 'fd00::11', mac(2)), 1))).toBe(false);
    // Its own target from a foreign source address.
    expect(passed(c.h.trace(advert(mac(1), 'fd00::99', 'fd00::11', mac(1)), 1))).toBe(false);
  });

  it('DAD (a solicitation from ::) passes; other packets from :: do not', async () => {
    c = await cloud();
    const dad = packet.neighborSolicitation({ srcMac: mac(1), srcIp: '::', targetIp: 'fd00::11' });
    expect(passed(c.h.trace(dad, 1))).toBe(true);
    expect(passed(c.h.trace(ping6(mac(1), '::'), 1))).toBe(false);
    expect(passed(c.h.trace(advert(mac(1), '::', 'fd00::11', mac(1)), 1))).toBe(false);
    // A solicitation from its own address passes too (address resolution).
    expect(passed(c.h.trace(packet.neighborSolicitation({ srcMac: mac(1), srcIp: 'fd00::11', targetIp: 'fd00::12' }), 1))).toBe(true);
  });

  it('a router advertisement from a VM is dropped, even from its own addresses', async () => {
    c = await cloud();
    const ra = c.h.trace(routerAdvert(mac(1), LL1), 1);
    expect(passed(ra)).toBe(false);
    expect(ra.hops.find((x) => x.tableName === 'portsec.address')?.flow?.owner).toBe('portsec:shared');
  });

  it('DHCPv6 client traffic passes; a DHCPv6 server packet is dropped', async () => {
    c = await cloud();
    expect(passed(c.h.trace(udp6(mac(1), LL1, 'ff02::1:2', 546, 547), 1))).toBe(true);
    expect(passed(c.h.trace(udp6(mac(1), LL1, 'ff02::1', 547, 546), 1))).toBe(false);
  });
});
