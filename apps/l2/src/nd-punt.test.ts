import { packet } from '@dragonflow/core';
import { afterEach, describe, expect, it } from 'vitest';
import { cloud, mac, type Cloud } from '../test/fixtures.js';

let c: Cloud | undefined;
afterEach(async () => {
  await c?.h.stop();
  c = undefined;
});

/** The cloud of the fixtures with IPv6 on vm1..vm3, and a small punt budget for l2. */
async function dualStack(): Promise<Cloud> {
  const cl = await cloud('vxlan', [], { punt: { rate: 10, burst: 5, suppressSeconds: 2 } });
  const sub6 = await cl.h.subnet(cl.net, 'fd00::/64');
  for (const [name, ip] of [
    ['vm1', 'fd00::1'],
    ['vm2', 'fd00::2'],
    ['vm3', 'fd00::3'],
  ] as const) {
    await cl.h.nb.modify('logical_port', cl.vm[name].id, (p) => ({ ...p, fixedIps: [...p.fixedIps, { subnetId: sub6.id, ipAddress: ip }] }));
  }
  await cl.h.settle();
  return cl;
}

const solicit = (n: number, targetIp = 'fd00::3') => packet.neighborSolicitation({ srcMac: mac(n), srcIp: `fd00::${n}`, targetIp });

/** Neighbour advertisements the switch sent out of `port` since `from`. */
function advertisementsTo(cl: Cloud, port: number, from: number): number {
  return cl.h.fakeSwitch.delivered.slice(from).filter((d) => {
    const ip = d.frame.payload;
    return d.port === port && ip.kind === 'ipv6' && ip.payload.kind === 'icmpv6' && ip.payload.type === 136;
  }).length;
}

async function counter(cl: Cloud, which: 'punts' | 'puntsRateLimited' | 'puntSuppressions'): Promise<number> {
  return (await cl.h.metrics[which].get()).values.find((v) => v.labels['app'] === 'l2')?.value ?? 0;
}

describe('l2: the ND responder is behind the core punt guard', () => {
  it('a port flooding solicitations is answered up to its budget, then cut off in the switch; another port is still answered; it recovers', async () => {
    c = await dualStack();
    const { h } = c;
    const before = h.fakeSwitch.delivered.length;
    for (let i = 0; i < 20; i++) h.fakeSwitch.inject(solicit(1), 1);
    await h.settle();
    // the burst is answered, the rest dropped before the app; one suppression
    expect(advertisementsTo(c, 1, before)).toBe(5);
    expect(h.runtime.puntStats()['l2']).toEqual({ punts: 5, rateLimited: 15, suppressions: 1 });
    expect([await counter(c, 'punts'), await counter(c, 'puntsRateLimited'), await counter(c, 'puntSuppressions')]).toEqual([5, 15, 1]);
    // vm1's solicitations now stop in the switch: no packet-in, nothing flooded
    const cut = h.trace(solicit(1), 1);
    expect([cut.packetIns, cut.ports]).toEqual([[], []]);
    expect(cut.hops.at(-1)?.tableName).toBe('l2.nd-responder');
    // the rest of vm1's traffic is untouched: ARP answered in the switch, IPv4 to vm2 delivered
    expect(h.trace(packet.arpRequest({ srcMac: mac(1), srcIp: '10.0.0.1', targetIp: '10.0.0.2' }), 1).ports).toEqual([1]);
    const v4 = packet.ethernet({ src: mac(1), dst: mac(2), payload: packet.ipv4({ src: '10.0.0.1', dst: '10.0.0.2', payload: packet.icmpEchoRequest({ id: 1, seq: 1 }) }) });
    expect(h.trace(v4, 1).ports).toEqual([2]);
    // another port's solicitation is still answered
    const other = h.fakeSwitch.delivered.length;
    expect((await h.inject(solicit(2), 2)).packetIns).toHaveLength(1);
    expect(advertisementsTo(c, 2, other)).toBe(1);
    // the suppression's hard timeout runs out and the bucket refills: vm1 is answered again
    h.clock.advance(2_000);
    await h.settle();
    expect(h.runtime.app('l2').ctx.punt.isSuppressed(c.vm.vm1.key)).toBe(false);
    const again = h.fakeSwitch.delivered.length;
    await h.inject(solicit(1), 1);
    expect(advertisementsTo(c, 1, again)).toBe(1);
  });

  it('refuses a bad punt budget in its options, naming the key', async () => {
    await expect(cloud('vxlan', [], { punt: { burst: 0 } })).rejects.toThrow(/punt\.burst: must be at least 1/);
  });
});
