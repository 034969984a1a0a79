import { packet } from '@dragonflow/core';
import { afterEach, describe, expect, it } from 'vitest';
import { BROADCAST, arp, cloud, discover, mac, passed, ping4, udp4, type Cloud } from './cloud.js';

describe('portsec: IPv4, ARP and DHCP from a checked port', () => {
  let c: Cloud;
  afterEach(async () => c?.h.stop());

  it('its own MAC and IP pass; a foreign source IP or source MAC is dropped by its port', async () => {
    c = await cloud();
    expect(passed(c.h.trace(ping4(mac(1), '10.0.0.11'), 1))).toBe(true);
    // A foreign IP (vm2's, and one nobody has) from vm1's own MAC.
    expect(passed(c.h.trace(ping4(mac(1), '10.0.0.12'), 1))).toBe(false);
    expect(passed(c.h.trace(ping4(mac(1), '10.0.0.99'), 1))).toBe(false);
    // vm1's IP from a foreign MAC: the port table drops it, and the trace names vm1's rule.
    const spoofed = c.h.trace(ping4(mac(9), '10.0.0.11'), 1);
    expect(passed(spoofed)).toBe(false);
    const hop = spoofed.hops.find((x) => x.tableName === 'portsec.port');
    expect(hop?.flow?.owner).toBe(`portsec:${c.vm.vm1.id}`);
    expect(hop?.did).toEqual([]);
    expect(spoofed.describe()).toContain(`[portsec portsec:${c.vm.vm1.id}]`);
  });

  it("an IP spoofed from the port's own MAC: its MAC rule passes it to the address table, whose last rule drops it", async () => {
    c = await cloud();
    const t = c.h.trace(ping4(mac(1), '10.0.0.12'), 1);
    expect(t.hops.map((x) => `${x.tableName} ${x.flow?.owner ?? '-'}`)).toEqual([
      'core.classify port:' + c.vm.vm1.id,
      `portsec.port portsec:${c.vm.vm1.id}`,
      'portsec.address portsec:shared',
    ]);
    expect(t.outputs).toEqual([]);
  });

  it('other ethertypes pass from its own MAC only', async () => {
    c = await cloud();
    const raw = (src: string) => packet.ethernet({ src, dst: BROADCAST, payload: { kind: 'raw', etherType: 0x88cc, data: new Uint8Array(46) } });
    // Neutron's firewall drops ethertypes other than IPv4, IPv6 and ARP; so does the address table's miss.
    expect(passed(c.h.trace(raw(mac(1)), 1))).toBe(false);
    expect(passed(c.h.trace(raw(mac(9)), 1))).toBe(false);
  });

  it('ARP with its own sender MAC and IP passes; a foreign sender IP, a foreign sender MAC, a gratuitous ARP for a foreign IP are dropped', async () => {
    c = await cloud();
    expect(passed(c.h.trace(arp(mac(1), mac(1), '10.0.0.11'), 1))).toBe(true);
    expect(passed(c.h.trace(arp(mac(1), mac(1), '10.0.0.11', '10.0.0.11', 2), 1))).toBe(true);
    expect(passed(c.h.trace(arp(mac(1), mac(1), '10.0.0.12'), 1))).toBe(false);
    expect(passed(c.h.trace(arp(mac(1), mac(2), '10.0.0.11'), 1))).toBe(false);
    expect(passed(c.h.trace(arp(mac(2), mac(2), '10.0.0.12'), 1))).toBe(false);
    // Gratuitous ARP (request and reply) claiming the gateway's or vm2's address.
    expect(passed(c.h.trace(arp(mac(1), mac(1), '10.0.0.1', '10.0.0.1'), 1))).toBe(false);
    expect(passed(c.h.trace(arp(mac(1), mac(1), '10.0.0.12', '10.0.0.12', 2), 1))).toBe(false);
  });

  it('an ARP probe (sender IP 0.0.0.0) passes with its own sender MAC only', async () => {
    c = await cloud();
    expect(passed(c.h.trace(arp(mac(1), mac(1), '0.0.0.0', '10.0.0.11'), 1))).toBe(true);
    expect(passed(c.h.trace(arp(mac(1), mac(9), '0.0.0.0', '10.0.0.11'), 1))).toBe(false);
  });

  it('DHCP DISCOVER from 0.0.0.0 and a renewal from its IP pass; a DHCP server packet from a VM is dropped', async () => {
    c = await cloud();
    expect(passed(c.h.trace(discover(mac(1)), 1))).toBe(true);
    expect(passed(c.h.trace(udp4(mac(1), '10.0.0.11', '10.0.0.2', 68, 67), 1))).toBe(true);
    // From 0.0.0.0 only as a DHCP client, and only from its own MAC.
    expect(passed(c.h.trace(discover(mac(9)), 1))).toBe(false);
    expect(passed(c.h.trace(udp4(mac(1), '0.0.0.0', '255.255.255.255', 5000, 67), 1))).toBe(false);
    // An OFFER from a rogue server, even from the VM's own addresses.
    const offer = c.h.trace(udp4(mac(1), '10.0.0.11', '255.255.255.255', 67, 68), 1);
    expect(passed(offer)).toBe(false);
    expect(offer.hops.find((x) => x.tableName === 'portsec.address')?.flow?.owner).toBe('portsec:shared');
    // Other UDP from its own address passes.
    expect(passed(c.h.trace(udp4(mac(1), '10.0.0.11', '10.0.0.12', 5000, 53), 1))).toBe(true);
  });

  it('the other port is checked with its own addresses', async () => {
    c = await cloud();
    expect(passed(c.h.trace(ping4(mac(2), '10.0.0.12', '10.0.0.11', mac(1)), 2))).toBe(true);
    expect(passed(c.h.trace(ping4(mac(2), '10.0.0.11', '10.0.0.11', mac(1)), 2))).toBe(false);
  });
});

describe('portsec with l2: what passes is switched, what is spoofed never reaches the other VM', () => {
  let c: Cloud;
  afterEach(async () => c?.h.stop());

  it('a ping from its own address reaches vm2; from a foreign address it goes nowhere', async () => {
    c = await cloud({ sink: false });
    expect((await c.h.inject(ping4(mac(1), '10.0.0.11'), 1)).ports).toEqual([2]);
    expect((await c.h.inject(ping4(mac(1), '10.0.0.77'), 1)).ports).toEqual([]);
    expect((await c.h.inject(ping4(mac(7), '10.0.0.11'), 1)).ports).toEqual([]);
  });

  it('traffic from a tunnel (reg6 = 0) is not checked here', async () => {
    c = await cloud({ sink: false });
    await c.h.setInfraPorts({ tunnels: { vxlan: 100 }, providers: {} });
    const seg = 5001;
    // A remote VM's packet (checked on its own chassis) with an address no local rule knows.
    const t = c.h.trace(ping4(mac(5), '10.0.0.55'), 100, { id: BigInt(seg), src: packet.ip4('192.0.2.2'), dst: packet.ip4('192.0.2.1') });
    expect(t.ports).toEqual([2]);
    expect(t.hops.find((x) => x.tableName === 'portsec.port')?.flow?.owner).toBe('portsec:shared');
  });
});
