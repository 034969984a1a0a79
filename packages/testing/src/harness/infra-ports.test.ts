import { APP_CONTEXT, FLAG_FROM_TUNNEL, METADATA_NETWORK_MASK, REG_FLAGS, act, defineApp, flow, inject, injectable, type AppContext, type InfraPorts, type InfraPortsEvent } from '@dragonflow/core';
import { isDfError } from '@dragonflow/base';
import { ethernet, icmpEchoRequest, ipv4 } from '@dragonflow/packet';
import { afterEach, describe, expect, it } from 'vitest';
import { miniL2 } from '../../test/apps.js';
import { startHarness, type Harness } from './harness.js';

/**
 * An app with its own classify table: packets from the vxlan tunnel port with
 * tun_id 77 belong to the network `target` (what a tunnelling app does with the
 * infra ports the controller reports).
 */
@injectable()
class TunnelIngress {
  readonly events: InfraPortsEvent[] = [];
  readonly seenAtResync: InfraPorts[] = [];
  target: { key: number } | undefined;
  constructor(@inject(APP_CONTEXT) private readonly ctx: AppContext) {}

  update(): void {
    const vxlan = this.ctx.topology.infraPorts().tunnels.vxlan;
    if (vxlan === undefined || !this.target) {
      this.ctx.flows.remove('tunnel');
      return;
    }
    this.ctx.flows.replace('tunnel', [
      flow(this.ctx.tables.ref('ingress'), {
        priority: 100,
        match: { in_port: vxlan, tunnel_id: 77n },
        actions: [act.load(REG_FLAGS, FLAG_FROM_TUNNEL, FLAG_FROM_TUNNEL)],
        writeMetadata: { value: BigInt(this.target.key), mask: METADATA_NETWORK_MASK },
        goto: this.ctx.tables.stageExit('classify'),
      }),
    ]);
  }
}

const tunnelIngress = defineApp({
  name: 'tunnel-ingress',
  coreApi: '^1.0.0',
  tables: { classify: [{ name: 'ingress', match: ['in_port', 'tunnel_id'] }] },
  app: TunnelIngress,
  resync: (app, ctx) => {
    app.seenAtResync.push(ctx.topology.infraPorts());
    app.update();
  },
  handlers: {
    infraPortsChanged: (app, ev) => {
      app.events.push(ev);
      app.update();
    },
  },
});

const MAC1 = 'fa:16:3e:00:00:01';
const MAC2 = 'fa:16:3e:00:00:02';
const ping = (src: string, dst: string) => ethernet({ src, dst, payload: ipv4({ src: '10.0.0.1', dst: '10.0.0.2', payload: icmpEchoRequest({ id: 1, seq: 1 }) }) });

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

describe('infrastructure ports (tunnel and provider patch ports)', () => {
  it('are visible to apps from the start when the controller reported them before', async () => {
    h = await startHarness({ apps: [tunnelIngress], infraPorts: { tunnels: { vxlan: 5 }, providers: { physnet1: 7 } } });
    const app = h.runtime.app('tunnel-ingress').instance as TunnelIngress;
    expect(app.seenAtResync.at(-1)).toEqual({ tunnels: { vxlan: 5 }, providers: { physnet1: 7 } });
    expect(app.events).toEqual([]);
  });

  it('reach apps as an event with the old and new set, only when they differ', async () => {
    h = await startHarness({ apps: [tunnelIngress] });
    const app = h.runtime.app('tunnel-ingress').instance as TunnelIngress;
    expect(h.runtime.infraPorts).toEqual({ tunnels: {}, providers: {} });
    await h.setInfraPorts({ tunnels: { geneve: 6, vxlan: 5 }, providers: {} });
    await h.setInfraPorts({ tunnels: { vxlan: 5, geneve: 6 }, providers: {} });
    await h.setInfraPorts({ tunnels: { vxlan: 9 }, providers: { physnet1: 7 } });
    expect(app.events).toEqual([
      { old: { tunnels: {}, providers: {} }, new: { tunnels: { geneve: 6, vxlan: 5 }, providers: {} } },
      { old: { tunnels: { geneve: 6, vxlan: 5 }, providers: {} }, new: { tunnels: { vxlan: 9 }, providers: { physnet1: 7 } } },
    ]);
  });

  it('refuses ofports and tunnel types that cannot be right, naming them', async () => {
    h = await startHarness({ apps: [] });
    const bad: unknown[] = [{ tunnels: { vxlan: 0 }, providers: {} }, { tunnels: { stt: 4 }, providers: {} }, { tunnels: {}, providers: { physnet1: 1.5 } }];
    for (const ports of bad) {
      let err: unknown;
      try {
        h.runtime.setInfraPorts(ports as InfraPorts);
      } catch (e) {
        err = e;
      }
      expect(isDfError(err, 'INFRA_PORTS_INVALID'), JSON.stringify(ports)).toBe(true);
    }
    expect(h.runtime.infraPorts).toEqual({ tunnels: {}, providers: {} });
  });

  it('an app classify table takes tunnel traffic while VM ports still skip it (the stage ends in drop)', async () => {
    h = await startHarness({ apps: [tunnelIngress, miniL2] });
    const app = h.runtime.app('tunnel-ingress').instance as TunnelIngress;
    const net = await h.network('net1');
    const sub = await h.subnet(net, '10.0.0.0/24');
    const p1 = await h.port(sub, '10.0.0.1', MAC1);
    const p2 = await h.port(sub, '10.0.0.2', MAC2);
    await h.plug(p1, 1);
    await h.plug(p2, 2);
    app.target = net;
    await h.setInfraPorts({ tunnels: { vxlan: 5 }, providers: {} });
    // from a VM: the core's classify flow jumps past the app's classify table
    expect(h.trace(ping(MAC1, MAC2), 1).ports).toEqual([2]);
    // from the tunnel with the right key: the app's classify flow resolves the network
    expect(h.trace(ping(MAC1, MAC2), 5, { id: 77n }).ports).toEqual([2]);
    // any other key, or an unknown in_port: dropped at the end of classify
    expect(h.trace(ping(MAC1, MAC2), 5, { id: 78n }).ports).toEqual([]);
    expect(h.trace(ping(MAC1, MAC2), 8).ports).toEqual([]);
    // the tunnel port goes away: so does its classify flow
    await h.setInfraPorts({ tunnels: {}, providers: {} });
    expect(h.trace(ping(MAC1, MAC2), 5, { id: 77n }).ports).toEqual([]);
  });
});
