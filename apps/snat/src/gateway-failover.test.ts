import type { packet } from '@dragonflow/core';
import { PUBLIC_PORT, TUNNEL_PORT } from '@dragonflow/l3/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { GATEWAY_IP, INTERNET_HOST, fromVm1, natCloud, upstreamAnswers, type NatCloud } from '../test/nat-cloud.js';

let c: NatCloud | undefined;
afterEach(async () => {
  expect(c?.h.runtime.reconciler.failedOwners() ?? []).toEqual([]);
  await c?.h.stop();
  c = undefined;
});

/** Gratuitous ARPs for `ip` sent on the external network (sender and target both `ip`). */
const garps = (cc: NatCloud, ip: string) => cc.h.fakeSwitch.delivered.filter((d) => d.port === PUBLIC_PORT && d.frame.payload.kind === 'arp' && d.frame.payload.spa.toString() === ip && d.frame.payload.tpa.toString() === ip).length;
/** Where the router's external traffic from vm1 goes: translated out of the external network here, or redirected over a tunnel. */
const path = (cc: NatCloud): 'here' | 'tunnel' | 'dropped' => {
  const ports = cc.h.trace(fromVm1(INTERNET_HOST), 1).outputs.map((o) => o.port);
  return ports.includes(PUBLIC_PORT) ? 'here' : ports.includes(TUNNEL_PORT) ? 'tunnel' : 'dropped';
};

describe('snat (centralized): gateway failover', () => {
  it('the next gateway chassis takes over when the active one dies, announces the gateway IP, and keeps it when the old one is back', async () => {
    c = await natCloud({ gatewayOn: 'chassis-2' });
    expect(path(c)).toBe('tunnel');
    expect(garps(c, GATEWAY_IP)).toBe(0);
    // chassis-2 dies: its liveness record goes (lease expiry)
    await c.h.stopChassis(c.c2);
    await upstreamAnswers(c);
    expect(path(c)).toBe('here');
    const t = c.h.trace(fromVm1(INTERNET_HOST), 1).only(PUBLIC_PORT);
    expect((t.payload as packet.Ipv4Packet).src.toString()).toBe(GATEWAY_IP);
    expect(garps(c, GATEWAY_IP)).toBeGreaterThanOrEqual(1);
    // this chassis holds the gateway now (as its controller's GatewayFailover writes it); chassis-2 comes back
    expect(await c.h.registration(c.h.chassisId)!.setActiveGateways([c.router.id], [])).toBe(true);
    await c.h.addChassis('chassis-2', { tunnelIp: '192.0.2.2' });
    expect(path(c)).toBe('here');
  });

  it('without the takeover recorded (or pre-emptive), the preferred chassis takes the gateway back when it returns', async () => {
    c = await natCloud({ gatewayOn: 'chassis-2' });
    await c.h.stopChassis(c.c2);
    await upstreamAnswers(c);
    expect(path(c)).toBe('here');
    await c.h.addChassis('chassis-2', { tunnelIp: '192.0.2.2' });
    expect(path(c)).toBe('tunnel');
    // pre-emptive: a recorded takeover does not hold
    await c.h.nb.modify('logical_router', c.router.id, (r) => ({ ...r, externalGateway: { ...r.externalGateway!, preempt: true } }));
    await c.h.stopChassis(c.c2);
    await upstreamAnswers(c);
    expect(path(c)).toBe('here');
    expect(await c.h.registration(c.h.chassisId)!.setActiveGateways([c.router.id], [])).toBe(true);
    await c.h.addChassis('chassis-2', { tunnelIp: '192.0.2.2' });
    expect(path(c)).toBe('tunnel');
  });
});
