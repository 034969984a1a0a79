import type { LogicalPort } from '@dragonflow/core';
import { afterEach, describe, expect, it } from 'vitest';
import { arp, cloud, mac, passed, ping4, ping6, type Cloud } from './cloud.js';

const VIP_MAC = 'fa:16:3e:00:00:aa';

async function setPort(c: Cloud, port: LogicalPort, change: Partial<LogicalPort>): Promise<void> {
  await c.h.nb.modify('logical_port', port.id, (cur) => ({ ...cur, ...change }));
  await c.h.settle();
}

describe('portsec: allowed address pairs', () => {
  let c: Cloud;
  afterEach(async () => c?.h.stop());

  it("a pair's IP with the port's MAC passes, from IPv4 and ARP; an address outside it does not", async () => {
    c = await cloud();
    await setPort(c, c.vm.vm1, { allowedAddressPairs: [{ ipAddress: '10.0.0.100', macAddress: null }] });
    expect(passed(c.h.trace(ping4(mac(1), '10.0.0.100'), 1))).toBe(true);
    expect(passed(c.h.trace(arp(mac(1), mac(1), '10.0.0.100', '10.0.0.100'), 1))).toBe(true);
    expect(passed(c.h.trace(ping4(mac(1), '10.0.0.101'), 1))).toBe(false);
    expect(passed(c.h.trace(ping4(mac(1), '10.0.0.11'), 1))).toBe(true);
  });

  it("a pair's CIDR allows every address in it", async () => {
    c = await cloud();
    await setPort(c, c.vm.vm1, { allowedAddressPairs: [{ ipAddress: '192.168.5.0/24', macAddress: null }, { ipAddress: 'fd00:5::/64', macAddress: null }] });
    expect(passed(c.h.trace(ping4(mac(1), '192.168.5.1'), 1))).toBe(true);
    expect(passed(c.h.trace(ping4(mac(1), '192.168.5.254'), 1))).toBe(true);
    expect(passed(c.h.trace(ping4(mac(1), '192.168.6.1'), 1))).toBe(false);
    expect(passed(c.h.trace(ping6(mac(1), 'fd00:5::beef'), 1))).toBe(true);
    expect(passed(c.h.trace(ping6(mac(1), 'fd00:6::beef'), 1))).toBe(false);
  });

  it("a pair with its own MAC binds the IP to that MAC: the pair's IP only from the pair's MAC, the port's IP only from the port's MAC", async () => {
    c = await cloud();
    await setPort(c, c.vm.vm1, { allowedAddressPairs: [{ ipAddress: '10.0.0.100', macAddress: VIP_MAC }] });
    expect(passed(c.h.trace(ping4(VIP_MAC, '10.0.0.100'), 1))).toBe(true);
    expect(passed(c.h.trace(arp(VIP_MAC, VIP_MAC, '10.0.0.100', '10.0.0.100'), 1))).toBe(true);
    expect(passed(c.h.trace(ping4(mac(1), '10.0.0.11'), 1))).toBe(true);
    expect(passed(c.h.trace(ping4(mac(1), '10.0.0.100'), 1))).toBe(false);
    expect(passed(c.h.trace(ping4(VIP_MAC, '10.0.0.11'), 1))).toBe(false);
    expect(passed(c.h.trace(arp(VIP_MAC, mac(1), '10.0.0.100'), 1))).toBe(false);
    expect(passed(c.h.trace(arp(mac(1), mac(1), '10.0.0.100'), 1))).toBe(false);
  });
});

describe('portsec: port security off, platform ports, live changes', () => {
  let c: Cloud;
  afterEach(async () => c?.h.stop());

  it('a port with port security disabled passes a spoofed packet and has no portsec flows', async () => {
    c = await cloud();
    const open = await c.h.port(c.sub, '10.0.0.13', mac(3), { portSecurityEnabled: false });
    await c.h.plug(open, 3);
    expect(passed(c.h.trace(ping4(mac(3), '10.0.0.99'), 3))).toBe(true);
    expect(passed(c.h.trace(ping4(mac(9), '10.0.0.12'), 3))).toBe(true);
    expect(c.h.runtime.reconciler.ownersOf('portsec')).not.toContain(`portsec:${open.id}`);
  });

  it('router interfaces, DHCP ports and other network:* owners are left alone', async () => {
    c = await cloud();
    const dhcpPort = await c.h.port(c.sub, '10.0.0.2', mac(0xd0), { deviceOwner: 'network:dhcp' });
    await c.h.plug(dhcpPort, 4);
    expect(passed(c.h.trace(ping4(mac(9), '10.0.0.99'), 4))).toBe(true);
    expect(c.h.runtime.reconciler.ownersOf('portsec')).not.toContain(`portsec:${dhcpPort.id}`);
  });

  it('with no checked port left on the chassis, nothing is dropped (the tables miss through)', async () => {
    c = await cloud();
    await setPort(c, c.vm.vm1, { portSecurityEnabled: false });
    await setPort(c, c.vm.vm2, { portSecurityEnabled: false });
    expect(c.h.runtime.reconciler.ownersOf('portsec')).toEqual([]);
    expect(passed(c.h.trace(ping4(mac(1), '10.0.0.99'), 1))).toBe(true);
    expect(passed(c.h.trace(ping4(mac(9), '10.0.0.98'), 2))).toBe(true);
    await setPort(c, c.vm.vm2, { portSecurityEnabled: true });
    expect(passed(c.h.trace(ping4(mac(1), '10.0.0.99'), 1))).toBe(true);
    expect(passed(c.h.trace(ping4(mac(2), '10.0.0.98'), 2))).toBe(false);
  });

  it('toggling port security applies at once, both ways', async () => {
    c = await cloud();
    expect(passed(c.h.trace(ping4(mac(1), '10.0.0.99'), 1))).toBe(false);
    await setPort(c, c.vm.vm1, { portSecurityEnabled: false });
    expect(passed(c.h.trace(ping4(mac(1), '10.0.0.99'), 1))).toBe(true);
    await setPort(c, c.vm.vm1, { portSecurityEnabled: true });
    expect(passed(c.h.trace(ping4(mac(1), '10.0.0.99'), 1))).toBe(false);
    expect(passed(c.h.trace(ping4(mac(1), '10.0.0.11'), 1))).toBe(true);
  });

  it('a pair added lets the packet through; removed, it is blocked again — only vm1 is touched', async () => {
    c = await cloud();
    const frame = ping4(mac(1), '10.0.0.100');
    expect(passed(c.h.trace(frame, 1))).toBe(false);
    await c.h.settle();
    c.h.fakeSwitch.resetStats();
    await setPort(c, c.vm.vm1, { allowedAddressPairs: [{ ipAddress: '10.0.0.100', macAddress: null }] });
    expect(passed(c.h.trace(frame, 1))).toBe(true);
    // Incremental: the pair's IPv4 and ARP bindings, nothing else (vm2 and the shared flows are untouched).
    expect(c.h.fakeSwitch.stats.flowMods).toBe(2);
    await setPort(c, c.vm.vm1, { allowedAddressPairs: [] });
    expect(passed(c.h.trace(frame, 1))).toBe(false);
  });

  it('a fixed IP added or removed, and a MAC changed, apply live', async () => {
    c = await cloud();
    const ips = c.vm.vm1.fixedIps;
    await setPort(c, c.vm.vm1, { fixedIps: [...ips, { subnetId: c.sub.id, ipAddress: '10.0.0.50' }] });
    expect(passed(c.h.trace(ping4(mac(1), '10.0.0.50'), 1))).toBe(true);
    await setPort(c, c.vm.vm1, { fixedIps: ips });
    expect(passed(c.h.trace(ping4(mac(1), '10.0.0.50'), 1))).toBe(false);
    await setPort(c, c.vm.vm1, { macAddress: mac(0x41) });
    expect(passed(c.h.trace(ping4(mac(0x41), '10.0.0.11'), 1))).toBe(true);
    expect(passed(c.h.trace(ping4(mac(1), '10.0.0.11'), 1))).toBe(false);
  });

  it('an unplugged port takes its flows away; the shared flows go with the last checked port', async () => {
    c = await cloud();
    await c.h.unplug(c.vm.vm1);
    expect(c.h.runtime.reconciler.ownersOf('portsec').sort()).toEqual(['portsec:shared', `portsec:${c.vm.vm2.id}`].sort());
    await c.h.unplug(c.vm.vm2);
    expect(c.h.runtime.reconciler.ownersOf('portsec')).toEqual([]);
  });
});
