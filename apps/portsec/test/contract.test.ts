import l2 from '@dragonflow/app-l2';
import { cookieSlot } from '@dragonflow/core/host';
import { describeAppContract } from '@dragonflow/testing/contract';
import { afterEach, describe, expect, it } from 'vitest';
import portsec from '../src/index.js';
import { cloud, mac, passed, ping4, type Cloud } from './cloud.js';

describeAppContract({
  app: portsec,
  with: [l2],
  minFlows: 12,
  async scenario(h) {
    const net = await h.network('net1');
    const sub = await h.subnet(net, '10.0.0.0/24');
    const sub6 = await h.subnet(net, 'fd00::/64');
    const dual = (n: number) => ({ fixedIps: [{ subnetId: sub.id, ipAddress: `10.0.0.${n}` }, { subnetId: sub6.id, ipAddress: `fd00::${n}` }] });
    await h.plug(await h.port(sub, '10.0.0.11', mac(1), dual(11)), 1);
    await h.plug(await h.port(sub, '10.0.0.12', mac(2), { allowedAddressPairs: [{ ipAddress: '10.0.1.0/24', macAddress: 'fa:16:3e:00:00:aa' }] }), 2);
    await h.plug(await h.port(sub, '10.0.0.13', mac(3), { portSecurityEnabled: false }), 3);
  },
  async teardown(h) {
    for (const p of await h.nb.reader.list('logical_port')) {
      await h.unplug(p.id);
      await h.nb.delete('logical_port', p.id);
    }
  },
});

describe('portsec: flows per port, restart', () => {
  let c: Cloud;
  afterEach(async () => c?.h.stop());

  /** The app's flows on the switch, counted by the owner their cookie names. */
  function flowsByOwner(cc: Cloud): Map<string, number> {
    const slot = cc.h.runtime.pipeline.app('portsec').slot;
    const out = new Map<string, number>();
    for (const f of cc.h.fakeSwitch.flowStats()) {
      if (cookieSlot(f.cookie) !== slot) continue;
      const owner = cc.h.runtime.reconciler.ownerOfCookie(f.cookie)?.owner ?? '?';
      out.set(owner, (out.get(owner) ?? 0) + 1);
    }
    return out;
  }

  it('a port with one IPv4 and one IPv6 address has 10 flows; the shared ones are 10 per chassis', async () => {
    c = await cloud();
    const counts = flowsByOwner(c);
    expect(counts.get(`portsec:${c.vm.vm1.id}`)).toBe(10);
    expect(counts.get(`portsec:${c.vm.vm2.id}`)).toBe(10);
    expect(counts.get('portsec:shared')).toBe(10);
  });

  it('an IPv4-only port has 8; a pair with its own MAC adds 5, an IPv4 CIDR pair on the port MAC 2, an IPv6 one 2', async () => {
    c = await cloud();
    const v4only = await c.h.port(c.sub, '10.0.0.13', mac(3));
    await c.h.plug(v4only, 3);
    expect(flowsByOwner(c).get(`portsec:${v4only.id}`)).toBe(8);
    await c.h.nb.modify('logical_port', v4only.id, (p) => ({ ...p, allowedAddressPairs: [{ ipAddress: '10.0.0.100', macAddress: 'fa:16:3e:00:00:aa' }] }));
    await c.h.settle();
    expect(flowsByOwner(c).get(`portsec:${v4only.id}`)).toBe(13);
    await c.h.nb.modify('logical_port', v4only.id, (p) => ({ ...p, allowedAddressPairs: [{ ipAddress: '10.0.5.0/24', macAddress: null }, { ipAddress: 'fd00:5::/64', macAddress: null }] }));
    await c.h.settle();
    expect(flowsByOwner(c).get(`portsec:${v4only.id}`)).toBe(12);
  });

  it('a controller restart rewrites no flow and spoofing stays blocked', async () => {
    c = await cloud();
    await c.h.settle();
    c.h.fakeSwitch.resetStats();
    await c.h.restart();
    expect(c.h.fakeSwitch.stats.flowMods).toBe(0);
    expect(passed(c.h.trace(ping4(mac(1), '10.0.0.99'), 1))).toBe(false);
    expect(passed(c.h.trace(ping4(mac(1), '10.0.0.11'), 1))).toBe(true);
  });
});
