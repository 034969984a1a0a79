import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packet, type LogicalPort } from '@dragonflow/core';
import { startHarness, type Harness, loadApps, validateApps } from '@dragonflow/testing';
import { describeAppContract } from '@dragonflow/testing/contract';
import { afterEach, describe, expect, it } from 'vitest';
import { tinyL2 } from '../test/tiny-l2.js';
import portMirror from './index.js';

const MAC = { vm1: 'fa:16:3e:00:00:01', vm2: 'fa:16:3e:00:00:02', vm4: 'fa:16:3e:00:00:04', tap: 'fa:16:3e:00:00:09' };

const ping = (src: string, dst: string, srcIp: string, dstIp: string) =>
  packet.ethernet({ src, dst, payload: packet.ipv4({ src: srcIp, dst: dstIp, payload: packet.icmpEchoRequest({ id: 7, seq: 1 }) }) });

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

/** vm1 (port 1), vm2 (port 2), vm4 (port 4) on one network, and a tap VM on port 9 receiving vm1's mirror. */
async function setup(direction: 'both' | 'from-port' | 'to-port' = 'both') {
  // Port ids are chosen up front so the mirror can name them in its options.
  const ids = { vm1: '11111111-1111-4111-8111-111111111111', tap: '99999999-9999-4999-8999-999999999999' };
  h = await startHarness({ apps: [tinyL2, { descriptor: portMirror, options: { mirrors: [{ port: ids.vm1, to: ids.tap, direction }] } }] });
  const net = await h.network('net1');
  const sub = await h.subnet(net, '10.0.0.0/24');
  const ports: Record<string, LogicalPort> = {
    vm1: await h.port(sub, '10.0.0.1', MAC.vm1, { id: ids.vm1 }),
    vm2: await h.port(sub, '10.0.0.2', MAC.vm2),
    vm4: await h.port(sub, '10.0.0.4', MAC.vm4),
    tap: await h.port(sub, '10.0.0.9', MAC.tap, { id: ids.tap }),
  };
  await h.plug(ports['vm1']!, 1);
  await h.plug(ports['vm2']!, 2);
  await h.plug(ports['vm4']!, 4);
  await h.plug(ports['tap']!, 9);
  return { h, ports };
}

describe('port mirror', () => {
  it('copies what vm1 sends to the tap port, unchanged, and still delivers the original', async () => {
    const { h } = await setup();
    const t = h.trace(ping(MAC.vm1, MAC.vm2, '10.0.0.1', '10.0.0.2'), 1);
    expect(t.ports.sort()).toEqual([2, 9]);
    expect(packet.describeFrame(t.only(9))).toBe(packet.describeFrame(t.only(2)));
    expect(t.hops.find((hop) => hop.tableName === 'port-mirror.from-port')?.flow?.owner).toBe('mirror:11111111-1111-4111-8111-111111111111');
  });

  it('copies what vm1 receives to the tap port', async () => {
    const { h } = await setup();
    expect(h.trace(ping(MAC.vm2, MAC.vm1, '10.0.0.2', '10.0.0.1'), 2).ports.sort()).toEqual([1, 9]);
  });

  it('leaves traffic between other ports alone', async () => {
    const { h } = await setup();
    expect(h.trace(ping(MAC.vm2, MAC.vm4, '10.0.0.2', '10.0.0.4'), 2).ports).toEqual([4]);
  });

  it('mirrors only one direction when asked', async () => {
    const { h } = await setup('from-port');
    expect(h.trace(ping(MAC.vm1, MAC.vm2, '10.0.0.1', '10.0.0.2'), 1).ports.sort()).toEqual([2, 9]);
    expect(h.trace(ping(MAC.vm2, MAC.vm1, '10.0.0.2', '10.0.0.1'), 2).ports).toEqual([1]);
  });

  it('stops mirroring when the tap port is unplugged, and resumes when it is back', async () => {
    const { h, ports } = await setup();
    await h.unplug(ports['tap']!);
    expect(h.trace(ping(MAC.vm1, MAC.vm2, '10.0.0.1', '10.0.0.2'), 1).ports).toEqual([2]);
    expect(h.runtime.reconciler.ownersOf('port-mirror')).toEqual([]);
    await h.plug(ports['tap']!, 9);
    expect(h.trace(ping(MAC.vm1, MAC.vm2, '10.0.0.1', '10.0.0.2'), 1).ports.sort()).toEqual([2, 9]);
  });

  it('refuses bad options, naming the app and the key', () => {
    const bad = { mirrors: [{ port: 'a', to: 'a' }] };
    expect(() => validateApps([{ package: '@acme/dragonflow-port-mirror', descriptor: portMirror, options: bad }])).toThrow(
      /app 'port-mirror' \(@acme\/dragonflow-port-mirror\): bad options: mirrors\.0\.to: a port cannot be mirrored to itself/,
    );
  });

  it('is loaded by its package name, as a controller config lists it', async () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const [loaded] = await loadApps([{ package: '@acme/dragonflow-port-mirror', options: { mirrors: [] } }], { baseDir: join(here, '..'), conditions: ['@dragonflow/source', 'import', 'default'] });
    expect(loaded!.descriptor.name).toBe('port-mirror');
    expect(loaded!.options).toEqual({ mirrors: [] });
  });
});

describeAppContract({
  app: { descriptor: portMirror, options: { mirrors: [{ port: '11111111-1111-4111-8111-111111111111', to: '99999999-9999-4999-8999-999999999999' }] } },
  minFlows: 2,
  async scenario(h) {
    const net = await h.network('net1');
    const sub = await h.subnet(net, '10.0.0.0/24');
    await h.plug(await h.port(sub, '10.0.0.1', MAC.vm1, { id: '11111111-1111-4111-8111-111111111111' }), 1);
    await h.plug(await h.port(sub, '10.0.0.9', MAC.tap, { id: '99999999-9999-4999-8999-999999999999' }), 9);
  },
  async teardown(h) {
    for (const p of await h.nb.reader.list('logical_port')) {
      await h.unplug(p.id);
      await h.nb.delete('logical_port', p.id);
    }
  },
});
