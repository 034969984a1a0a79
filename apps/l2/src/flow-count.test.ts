import { startHarness, type Harness } from '@dragonflow/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { INFRA } from '../test/fixtures.js';
import l2 from './index.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

const macOf = (i: number): string => `fa:16:3e:${((i >> 16) & 0xff).toString(16).padStart(2, '0')}:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;

/**
 * Flows per port is a target (≤ 10, TARGETS.md): every flow on the switch —
 * the core's classify/dispatch/miss flows included — divided by the ports.
 */
describe('l2: flows per port', () => {
  it('200 local ports with one IPv4 each over 10 networks, plus 100 remote ports: within budget', async () => {
    h = await startHarness({ apps: [l2], infraPorts: INFRA });
    const c2 = await h.addChassis('chassis-2', { tunnelIp: '192.0.2.2' });
    let ofport = 1;
    for (let n = 0; n < 10; n++) {
      const net = await h.network(`net${n}`, { segmentationId: 6000 + n });
      const sub = await h.subnet(net, '10.0.0.0/16');
      for (let i = 0; i < 20; i++) {
        const p = await h.port(sub, `10.0.${n}.${i + 1}`, macOf(n * 1000 + i));
        h.fakeSwitch.addPort(ofport);
        h.runtime.bindPort({ kind: 'bound', portId: p.id, ofport: ofport++, interfaceName: `t${ofport}` });
        await h.nb.modify('logical_port', p.id, (x) => ({ ...x, chassisId: h!.chassisId }));
      }
      for (let i = 0; i < 10; i++) await h.port(sub, `10.0.${n}.${i + 101}`, macOf(n * 1000 + 500 + i), { chassisId: c2.id });
    }
    await h.settle();
    const total = h.fakeSwitch.flowCount();
    const localPorts = 200;
    const remotePorts = 100;
    // Local: classify + dispatch (core), lookup + ARP + ARP self-skip (l2). Remote: lookup + ARP + egress.
    // Per network: tunnel ingress + 2 flood flows + flood chunks; per table: one miss flow.
    expect(total / (localPorts + remotePorts)).toBeLessThanOrEqual(10);
    const perLocal = (total - remotePorts * 3) / localPorts;
    expect(perLocal).toBeLessThanOrEqual(6);
    expect(h.runtime.reconciler.flowsOf('l2', `network:${(await h.nb.reader.list('logical_switch'))[0]!.id}`)).toHaveLength(3);
  });
});
