import { packet } from '@dragonflow/core';
import { afterEach, describe, expect, it } from 'vitest';
import { BROADCAST, L3_PROBE_PORT, ROUTER_MAC, TUN, cloud, icmp, mac, tunnelCopies, type Cloud } from '../test/fixtures.js';

let c: Cloud | undefined;
afterEach(async () => {
  await c?.h.stop();
  c = undefined;
});

const TYPES = ['vxlan', 'geneve', 'gre'] as const;

describe('l2: unicast from the NB', () => {
  it('same host: vm1 → vm2 leaves on vm2’s port only, unchanged', async () => {
    c = await cloud();
    const frame = icmp(mac(1), mac(2), '10.0.0.1', '10.0.0.2');
    const t = c.h.trace(frame, 1);
    expect(t.ports).toEqual([2]);
    expect(packet.describeFrame(t.only(2))).toBe(packet.describeFrame(frame));
    expect(t.apps).toContain('l2');
  });

  for (const type of TYPES) {
    it(`cross host over ${type}: vm1 → vm3 leaves on the ${type} tunnel port with the network's VNI towards chassis-2`, async () => {
      c = await cloud(type);
      const frame = icmp(mac(1), mac(3), '10.0.0.1', '10.0.0.3');
      const t = c.h.trace(frame, 1);
      expect(t.ports).toEqual([TUN[type]]);
      expect(t.outputs[0]!.tunnel).toMatchObject({ id: 5001n, dst: '192.0.2.2' });
      expect(packet.describeFrame(t.only(TUN[type]))).toBe(packet.describeFrame(frame));
      // vm4 is on chassis-3
      expect(tunnelCopies(c.h.trace(icmp(mac(2), mac(4), '10.0.0.2', '10.0.0.4'), 2).outputs)).toEqual([`${TUN[type]} 5001→192.0.2.3`]);
    });

    it(`arriving over ${type}: the VNI resolves the network and the MAC the local port; nothing else gets it`, async () => {
      c = await cloud(type);
      const frame = icmp(mac(3), mac(1), '10.0.0.3', '10.0.0.1');
      const t = c.h.trace(frame, TUN[type], { id: 5001n });
      expect(t.ports).toEqual([1]);
      expect(packet.describeFrame(t.only(1))).toBe(packet.describeFrame(frame));
      // another VNI, or the right VNI on another tunnel type's port: no network here
      expect(c.h.trace(frame, TUN[type], { id: 5002n }).ports).toEqual([]);
      for (const other of TYPES.filter((x) => x !== type)) expect(c.h.trace(frame, TUN[other], { id: 5001n }).ports).toEqual([]);
    });
  }

  it('never sends what came from a tunnel back into a tunnel (a frame for a remote port is dropped)', async () => {
    c = await cloud();
    expect(c.h.trace(icmp(mac(4), mac(3), '10.0.0.4', '10.0.0.3'), TUN.vxlan, { id: 5001n }).ports).toEqual([]);
  });

  it('router interface MACs continue to the l3 stage without a destination port (not flooded)', async () => {
    c = await cloud();
    const t = c.h.trace(icmp(mac(1), ROUTER_MAC, '10.0.0.1', '192.168.9.9'), 1);
    expect(t.ports).toEqual([L3_PROBE_PORT]);
    // from a tunnel too (a routed reply may arrive that way on a router MAC only if misrouted; it is still not flooded)
    expect(c.h.trace(icmp(mac(3), ROUTER_MAC, '10.0.0.3', '192.168.9.9'), TUN.vxlan, { id: 5001n }).ports).toEqual([L3_PROBE_PORT]);
  });
});

describe('l2: broadcast, multicast and unknown unicast', () => {
  it('from a local port: a copy to every other local port and exactly one per remote chassis with ports on the network', async () => {
    c = await cloud();
    const t = c.h.trace(icmp(mac(1), BROADCAST, '10.0.0.1', '10.0.0.255'), 1);
    expect(t.ports.filter((p) => p !== TUN.vxlan)).toEqual([2]);
    expect(tunnelCopies(t.outputs)).toEqual(['100 5001→192.0.2.2', '100 5001→192.0.2.3']);
    for (const o of t.outputs) expect(packet.describeFrame(o.frame)).toBe(packet.describeFrame(icmp(mac(1), BROADCAST, '10.0.0.1', '10.0.0.255')));
  });

  it('multicast and unknown unicast are replicated the same way', async () => {
    c = await cloud();
    for (const dst of ['01:00:5e:00:00:fb', 'fa:16:3e:99:99:99']) {
      const t = c.h.trace(icmp(mac(2), dst, '10.0.0.2', '224.0.0.251'), 2);
      expect(t.ports.filter((p) => p !== TUN.vxlan)).toEqual([1]);
      expect(tunnelCopies(t.outputs)).toEqual(['100 5001→192.0.2.2', '100 5001→192.0.2.3']);
    }
  });

  it('split horizon: a broadcast from a tunnel goes to the local ports only, none back to a tunnel', async () => {
    c = await cloud();
    const t = c.h.trace(icmp(mac(3), BROADCAST, '10.0.0.3', '10.0.0.255'), TUN.vxlan, { id: 5001n });
    expect(t.ports.sort()).toEqual([1, 2]);
    // not even attempted (the switch would also refuse output to the in_port, but we do not rely on it)
    expect(t.drops.filter((d) => d.includes('input port'))).toEqual([]);
  });

  it('a chassis whose liveness expired leaves the replication list (and comes back with it)', async () => {
    c = await cloud();
    await c.h.stopChassis(c.c3);
    const bcast = icmp(mac(1), BROADCAST, '10.0.0.1', '10.0.0.255');
    expect(tunnelCopies(c.h.trace(bcast, 1).outputs)).toEqual(['100 5001→192.0.2.2']);
    // unicast to its ports keeps going: only replication is trimmed
    expect(tunnelCopies(c.h.trace(icmp(mac(1), mac(4), '10.0.0.1', '10.0.0.4'), 1).outputs)).toEqual(['100 5001→192.0.2.3']);
    await c.h.addChassis('chassis-3', { tunnelIp: '192.0.2.3' });
    expect(tunnelCopies(c.h.trace(bcast, 1).outputs)).toEqual(['100 5001→192.0.2.2', '100 5001→192.0.2.3']);
  });

  it('a chassis that moves its tunnel IP is reached at the new address', async () => {
    c = await cloud();
    await c.h.nb.modify('chassis', c.c2.id, (ch) => ({ ...ch, tunnelIp: '192.0.2.22' }));
    await c.h.settle();
    expect(tunnelCopies(c.h.trace(icmp(mac(1), mac(3), '10.0.0.1', '10.0.0.3'), 1).outputs)).toEqual(['100 5001→192.0.2.22']);
    expect(tunnelCopies(c.h.trace(icmp(mac(1), BROADCAST, '10.0.0.1', '10.0.0.255'), 1).outputs)).toEqual(['100 5001→192.0.2.22', '100 5001→192.0.2.3']);
  });

  it('reaches every local port of a large network (several flood chunks)', async () => {
    c = await cloud();
    const ports = [];
    for (let i = 10; i < 210; i++) {
      const p = await c.h.nb.create('logical_port', { networkId: c.net.id, macAddress: `fa:16:3e:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`, fixedIps: [] });
      ports.push(p);
    }
    for (const [i, p] of ports.entries()) c.h.runtime.bindPort({ kind: 'bound', portId: p.id, ofport: 1000 + i, interfaceName: `tap${1000 + i}` });
    for (const [i] of ports.entries()) c.h.fakeSwitch.addPort(1000 + i);
    await c.h.settle();
    const t = c.h.trace(icmp(mac(1), BROADCAST, '10.0.0.1', '10.0.0.255'), 1);
    const local = t.ports.filter((p) => p !== TUN.vxlan).sort((a, b) => a - b);
    expect(local).toEqual([2, ...ports.map((_, i) => 1000 + i)]);
    expect(c.h.runtime.reconciler.ownersOf('l2').filter((o) => o.startsWith('flood:')).length).toBeGreaterThan(1);
  });
});

describe('l2: ports coming and going', () => {
  it('unplugging a local port removes its flows: no more unicast or flood copies to it', async () => {
    c = await cloud();
    await c.h.unplug(c.vm.vm2);
    expect(c.h.runtime.reconciler.flowsOf('l2', `port:${c.vm.vm2.id}`)).toEqual([]);
    expect(c.h.runtime.reconciler.flowsOf('core', `port:${c.vm.vm2.id}`)).toEqual([]);
    // vm2's MAC is unknown now: flooded to vm1's peers only (not to port 2)
    const t = c.h.trace(icmp(mac(1), mac(2), '10.0.0.1', '10.0.0.2'), 1);
    expect(t.ports.filter((p) => p !== TUN.vxlan)).toEqual([]);
    expect(tunnelCopies(t.outputs)).toHaveLength(2);
  });

  it('a remote port unbound (its chassis unplugged it) loses its flows here; a chassis with no more ports gets no copies', async () => {
    c = await cloud();
    await c.h.bindRemote(c.vm.vm3, null);
    expect(c.h.runtime.reconciler.flowsOf('l2', `port:${c.vm.vm3.id}`)).toEqual([]);
    expect(tunnelCopies(c.h.trace(icmp(mac(1), BROADCAST, '10.0.0.1', '10.0.0.255'), 1).outputs)).toEqual(['100 5001→192.0.2.3']);
    // a remote port deleted in the NB
    await c.h.nb.delete('logical_port', c.vm.vm4.id);
    await c.h.settle();
    expect(c.h.runtime.reconciler.flowsOf('l2', `port:${c.vm.vm4.id}`)).toEqual([]);
    expect(tunnelCopies(c.h.trace(icmp(mac(1), BROADCAST, '10.0.0.1', '10.0.0.255'), 1).outputs)).toEqual(['100 5001→192.0.2.3']);
  });

  it('a port that moves from another chassis to this one is delivered locally', async () => {
    c = await cloud();
    await c.h.plug(c.vm.vm3, 3);
    const t = c.h.trace(icmp(mac(1), mac(3), '10.0.0.1', '10.0.0.3'), 1);
    expect(t.ports).toEqual([3]);
    expect(tunnelCopies(c.h.trace(icmp(mac(1), BROADCAST, '10.0.0.1', '10.0.0.255'), 1).outputs)).toEqual(['100 5001→192.0.2.3']);
  });

  it('the last local port leaving a network removes every flow of that network here', async () => {
    c = await cloud();
    await c.h.unplug(c.vm.vm1);
    await c.h.unplug(c.vm.vm2);
    expect(c.h.runtime.reconciler.ownersOf('l2')).toEqual([]);
    expect(c.h.trace(icmp(mac(3), mac(1), '10.0.0.3', '10.0.0.1'), TUN.vxlan, { id: 5001n }).ports).toEqual([]);
  });

  it('an administratively down port or network takes no part in switching, and comes back when up', async () => {
    c = await cloud();
    await c.h.nb.modify('logical_port', c.vm.vm3.id, (p) => ({ ...p, adminStateUp: false }));
    await c.h.settle();
    expect(c.h.runtime.reconciler.flowsOf('l2', `port:${c.vm.vm3.id}`)).toEqual([]);
    // vm3's chassis has no other port on the network: it leaves the replication list
    expect(tunnelCopies(c.h.trace(icmp(mac(1), BROADCAST, '10.0.0.1', '10.0.0.255'), 1).outputs)).toEqual(['100 5001→192.0.2.3']);
    await c.h.nb.modify('logical_port', c.vm.vm3.id, (p) => ({ ...p, adminStateUp: true }));
    await c.h.nb.modify('logical_switch', c.net.id, (n) => ({ ...n, adminStateUp: false }));
    await c.h.settle();
    expect(c.h.runtime.reconciler.ownersOf('l2')).toEqual([]);
    expect(c.h.trace(icmp(mac(1), mac(2), '10.0.0.1', '10.0.0.2'), 1).ports).toEqual([]);
    await c.h.nb.modify('logical_switch', c.net.id, (n) => ({ ...n, adminStateUp: true }));
    await c.h.settle();
    expect(c.h.trace(icmp(mac(1), mac(2), '10.0.0.1', '10.0.0.2'), 1).ports).toEqual([2]);
    expect(tunnelCopies(c.h.trace(icmp(mac(1), mac(3), '10.0.0.1', '10.0.0.3'), 1).outputs)).toEqual(['100 5001→192.0.2.2']);
  });

  it('tunnel ports reported after the ports were plugged: switching across chassis starts then', async () => {
    c = await cloud();
    await c.h.setInfraPorts({ tunnels: {}, providers: {} });
    expect(c.h.trace(icmp(mac(1), mac(3), '10.0.0.1', '10.0.0.3'), 1).ports).toEqual([]);
    expect(c.h.trace(icmp(mac(1), BROADCAST, '10.0.0.1', '10.0.0.255'), 1).ports).toEqual([2]);
    await c.h.setInfraPorts({ tunnels: { vxlan: 150 }, providers: {} });
    const t = c.h.trace(icmp(mac(1), mac(3), '10.0.0.1', '10.0.0.3'), 1);
    expect(t.ports).toEqual([150]);
    expect(t.outputs[0]!.tunnel).toMatchObject({ id: 5001n, dst: '192.0.2.2' });
    expect(c.h.trace(icmp(mac(3), mac(1), '10.0.0.3', '10.0.0.1'), 150, { id: 5001n }).ports).toEqual([1]);
  });
});
