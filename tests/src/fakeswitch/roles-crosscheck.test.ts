/**
 * The FakeSwitch's controller roles must behave like Open vSwitch's: the same
 * script of role requests, flow-mods and packet-outs from two controllers is played
 * against a real OVS bridge (two controller targets, two of our listeners) and
 * against a FakeSwitch, and the transcripts — every role reply, every error
 * (OFPRRFC_STALE, OFPBRC_IS_SLAVE), which controller got the packet-in — must be
 * equal. Needs root and Open vSwitch (./scripts/setup); never skips.
 */
import { join } from 'node:path';
import { OfListener, OfSwitchError, silentLogger, switchChannel, type SwitchAsyncMessage, type SwitchChannel, type SwitchRequest } from '@dragonflow/core/host';
import { OfPort, act, flowMod } from '@dragonflow/openflow';
import { encodeEthernet, ethernet, icmpEchoRequest, ipv4 } from '@dragonflow/packet';
import { FakeSwitch } from '@dragonflow/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startOvsBridge, type OvsBridge } from './ovs-bridge.js';

const DPID = 0xfa4e0e1en;
const frame = ethernet({ src: 'fa:16:3e:00:00:01', dst: 'fa:16:3e:00:00:02', payload: ipv4({ src: '10.0.0.1', dst: '10.0.0.2', payload: icmpEchoRequest({ id: 1, seq: 1 }) }) });

function punt(priority: number): SwitchRequest {
  const { xid: _xid, ...rest } = flowMod({ tableId: 0, priority, match: { eth_type: 0x0800 }, actions: [act.output(OfPort.CONTROLLER, 0xffff)] });
  return rest;
}

const packetOut: SwitchRequest = { type: 'packet_out', bufferId: 0xffffffff, inPort: OfPort.CONTROLLER, actions: [act.output(OfPort.TABLE)], data: encodeEthernet(frame) };

/** Plays the script on two controller connections of one switch and returns what happened, step by step. */
async function transcript(a: SwitchChannel, b: SwitchChannel, settle: () => Promise<void>): Promise<string[]> {
  const out: string[] = [];
  const punted = { a: 0, b: 0 };
  a.messages$.subscribe((m: SwitchAsyncMessage) => m.type === 'packet_in' && punted.a++);
  b.messages$.subscribe((m: SwitchAsyncMessage) => m.type === 'packet_in' && punted.b++);
  const role = async (name: string, c: SwitchChannel, r: 'nochange' | 'master' | 'slave' | 'equal', g: bigint): Promise<void> => {
    try {
      const reply = await c.requestRole!(r, g);
      out.push(`${name} ${r} ${g}: ${reply.role} generation ${reply.generationId}`);
    } catch (err) {
      out.push(`${name} ${r} ${g}: ${err instanceof OfSwitchError ? `error ${err.error.errorType}/${err.error.code}` : String(err)}`);
    }
  };
  const send = async (name: string, c: SwitchChannel, what: string, requests: SwitchRequest[]): Promise<void> => {
    const r = await c.sendBatch(requests);
    out.push(`${name} ${what}: ${r.errors.map((e) => `error ${e.error.errorType}/${e.error.code}`).join(', ') || 'ok'}`);
  };
  const packetIns = async (): Promise<void> => {
    await settle();
    out.push(`packet-ins a=${punted.a} b=${punted.b}`);
    punted.a = 0;
    punted.b = 0;
  };
  await role('a', a, 'nochange', 0n);
  await role('a', a, 'slave', 3n);
  await send('a', a, 'flow-mod as slave', [punt(10)]);
  await send('a', a, 'packet-out as slave', [packetOut]);
  await role('b', b, 'master', 2n);
  await role('b', b, 'master', 4n);
  await role('a', a, 'nochange', 0n);
  await send('b', b, 'flow-mod as master', [punt(10)]);
  await send('b', b, 'packet-out as master', [packetOut]);
  await packetIns();
  await role('a', a, 'master', 5n);
  await role('b', b, 'nochange', 0n);
  await send('b', b, 'flow-mod after being replaced', [punt(11)]);
  await send('a', a, 'packet-out as the new master', [packetOut]);
  await packetIns();
  await role('b', b, 'master', 4n);
  await role('b', b, 'equal', 0n);
  await send('b', b, 'flow-mod as equal', [punt(12)]);
  return out;
}

describe('FakeSwitch controller roles against Open vSwitch', () => {
  let br: OvsBridge;
  let second: OfListener;
  let real: { a: SwitchChannel; b: SwitchChannel };

  beforeAll(async () => {
    br = await startOvsBridge({ ports: 2, dpid: DPID, prefix: 'rol' });
    const socket = join(br.ovs.dir, 'controller-2.sock');
    second = await OfListener.start({ logger: silentLogger(), unixPath: socket });
    br.cleanup.defer('close the second listener', () => second.close());
    await br.ovs.vsctl('set-controller', br.bridge, `unix:${br.controllerSocket}`, `unix:${socket}`);
    const b = await second.waitForSwitch(DPID, 20_000);
    if (!br.conn.isOpen) await br.reconnect();
    real = { a: br.channel, b: switchChannel(b) };
  }, 60_000);

  afterAll(async () => {
    await br?.cleanup.run();
  });

  test('the same script gives the same transcript on both switches', async () => {
    const ovs = await transcript(real.a, real.b, async () => {
      // packet-ins are asynchronous: a barrier on both connections, then let the socket deliver
      await Promise.all([real.a.sendBatch([]), real.b.sendBatch([])]);
      await new Promise((r) => setTimeout(r, 50));
    });
    const sw = new FakeSwitch({ datapathId: DPID, ports: [1, 2] });
    const fake = await transcript(sw.connectController(), sw.connectController(), async () => undefined);
    expect(fake).toEqual(ovs);
    // the script must exercise what it is about
    expect(ovs.join('\n')).toMatch(/error 11\/0/); // OFPRRFC_STALE
    expect(ovs.join('\n')).toMatch(/error 1\/10/); // OFPBRC_IS_SLAVE
    expect(ovs).toContain('packet-ins a=0 b=1');
    expect(ovs).toContain('packet-ins a=1 b=0');
  }, 60_000);
});
