import { packet, type LogicalPort } from '@dragonflow/core';
import { startHarness, type Harness } from '@dragonflow/testing';
import { describeAppContract } from '@dragonflow/testing/contract';
import { afterEach, describe, expect, it } from 'vitest';
import { switching } from '../test/switching.js';
import replyFilter from './index.js';

const MAC = { vm1: 'fa:16:3e:00:00:01', vm2: 'fa:16:3e:00:00:02' };
const ID = { vm1: '11111111-1111-4111-8111-111111111111', vm2: '22222222-2222-4222-8222-222222222222' };

const udp = (from: 'vm1' | 'vm2', srcPort: number, dstPort: number) =>
  packet.ethernet({
    src: MAC[from],
    dst: from === 'vm1' ? MAC.vm2 : MAC.vm1,
    payload: packet.ipv4({ src: from === 'vm1' ? '10.0.0.1' : '10.0.0.2', dst: from === 'vm1' ? '10.0.0.2' : '10.0.0.1', payload: packet.udp({ srcPort, dstPort, payload: 'x' }) }),
  });

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

/** vm1 (port 1, protected) and vm2 (port 2) on one network. */
async function setup(options: Record<string, unknown> = {}) {
  h = await startHarness({ apps: [switching, { descriptor: replyFilter, options: { ports: [ID.vm1], ...options } }] });
  const net = await h.network('net1');
  const sub = await h.subnet(net, '10.0.0.0/24');
  const ports: Record<string, LogicalPort> = {
    vm1: await h.port(sub, '10.0.0.1', MAC.vm1, { id: ID.vm1 }),
    vm2: await h.port(sub, '10.0.0.2', MAC.vm2, { id: ID.vm2 }),
  };
  await h.plug(ports['vm1']!, 1);
  await h.plug(ports['vm2']!, 2);
  return h;
}

describe('reply filter: its meter and its fast-failover group', () => {
  it("delivers vm1's replies through a fast-failover group: dropped by the switch while vm1's port is down, delivered again when it is up", async () => {
    const hh = await setup();
    await hh.inject(udp('vm1', 5000, 53), 1);
    expect(hh.trace(udp('vm2', 53, 5000), 2).ports).toEqual([1]);
    hh.fakeSwitch.setPortUp(1, false);
    expect(hh.trace(udp('vm2', 53, 5000), 2).ports).toEqual([]);
    hh.fakeSwitch.setPortUp(1, true);
    expect(hh.trace(udp('vm2', 53, 5000), 2).ports).toEqual([1]);
  });

  it('meters what a protected port sends: beyond sendRate the switch drops it', async () => {
    const hh = await setup({ sendRate: 3 });
    let delivered = 0;
    for (let i = 0; i < 8; i++) delivered += (await hh.inject(udp('vm1', 6000 + i, 53), 1)).ports.length;
    expect(delivered).toBe(3);
    expect(hh.fakeSwitch.meterConfigs().map((m) => m.bands[0]!.rate)).toEqual([3]);
  });

  it('refuses a bad sendRate, naming it', async () => {
    expect(replyFilter.options!.safeParse({ ports: [], sendRate: 0 })).toMatchObject({ success: false, error: { issues: [{ path: ['sendRate'] }] } });
  });
});

describe('reply filter', () => {
  it("lets the replies to vm1's own connection in", async () => {
    const h = await setup();
    // the packets really go through the switch (inject): conntrack remembers vm1's connection
    expect((await h.inject(udp('vm1', 5000, 53), 1)).ports).toEqual([2]);
    const reply = await h.inject(udp('vm2', 53, 5000), 2);
    expect(reply.ports).toEqual([1]);
    expect(reply.hops.filter((hop) => hop.tableName === 'reply-filter.to-port').map((hop) => hop.flow?.priority)).toEqual([100, 100]);
  });

  it('drops a packet to vm1 that nobody asked for', async () => {
    const h = await setup();
    expect((await h.inject(udp('vm1', 5000, 53), 1)).ports).toEqual([2]);
    // another port than the one vm1 talked to: a new connection, not a reply
    const unsolicited = await h.inject(udp('vm2', 53, 6000), 2);
    expect(unsolicited.ports).toEqual([]);
    expect(unsolicited.hops.at(-1)?.flow?.priority).toBe(80);
  });

  it('drops what vm2 sends first, even on the ports of a later connection of vm1', async () => {
    const h = await setup();
    expect((await h.inject(udp('vm2', 53, 5000), 2)).ports).toEqual([]);
    expect((await h.inject(udp('vm1', 5000, 53), 1)).ports).toEqual([2]);
    expect((await h.inject(udp('vm2', 53, 5000), 2)).ports).toEqual([1]);
  });

  it('leaves an unprotected port alone, and ARP passes', async () => {
    const h = await setup();
    expect((await h.inject(udp('vm1', 7000, 7001), 1)).ports).toEqual([2]);
    expect((await h.inject(udp('vm1', 7000, 7002), 1)).ports).toEqual([2]);
    const arp = packet.ethernet({ src: MAC.vm2, dst: MAC.vm1, payload: packet.arp({ op: 2, sha: MAC.vm2, spa: '10.0.0.2', tha: MAC.vm1, tpa: '10.0.0.1' }) });
    expect((await h.inject(arp, 2)).ports).toEqual([1]);
  });
});

describeAppContract({
  app: { descriptor: replyFilter, options: { ports: [ID.vm1] } },
  with: [switching],
  minFlows: 10,
  async scenario(h) {
    const net = await h.network('net1');
    const sub = await h.subnet(net, '10.0.0.0/24');
    await h.plug(await h.port(sub, '10.0.0.1', MAC.vm1, { id: ID.vm1 }), 1);
  },
  async teardown(h) {
    for (const p of await h.nb.reader.list('logical_port')) {
      await h.unplug(p.id);
      await h.nb.delete('logical_port', p.id);
    }
  },
});
