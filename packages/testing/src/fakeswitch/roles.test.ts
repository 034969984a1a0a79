import { OfSwitchError, type SwitchAsyncMessage, type SwitchRequest } from '@dragonflow/core/host';
import { ErrorType, OfPort, act, flowMod } from '@dragonflow/openflow';
import { encodeEthernet, ethernet, icmpEchoRequest, ipv4 } from '@dragonflow/packet';
import { describe, expect, it } from 'vitest';
import { FakeSwitch } from './fake-switch.js';
import { NO_GENERATION_ID, OFPBRC_IS_SLAVE, OFPRRFC_STALE } from './roles.js';

function fm(tableId: number, port: number): SwitchRequest {
  const { xid: _xid, ...rest } = flowMod({ tableId, priority: 10, match: {}, actions: [act.output(port)] });
  return rest;
}

const frame = ethernet({ src: 'fa:16:3e:00:00:01', dst: 'fa:16:3e:00:00:02', payload: ipv4({ src: '10.0.0.1', dst: '10.0.0.2', payload: icmpEchoRequest({ id: 1, seq: 1 }) }) });

function collect(c: { messages$: { subscribe(f: (m: SwitchAsyncMessage) => void): unknown } }): SwitchAsyncMessage[] {
  const got: SwitchAsyncMessage[] = [];
  c.messages$.subscribe((m) => got.push(m));
  return got;
}

describe('FakeSwitch controller roles (as Open vSwitch)', () => {
  it('starts every connection equal and reports no generation id until one is set', async () => {
    const sw = new FakeSwitch();
    const a = sw.connectController();
    expect(await a.requestRole('nochange', 0n)).toEqual({ role: 'equal', generationId: NO_GENERATION_ID });
    expect(sw.generationId).toBeUndefined();
  });

  it('refuses a slave its flow-mods and packet-outs with OFPBRC_IS_SLAVE, and lets a master through', async () => {
    const sw = new FakeSwitch({ ports: [1, 2] });
    const master = sw.connectController();
    const slave = sw.connectController();
    await master.requestRole('master', 5n);
    await slave.requestRole('slave', 5n);
    const refused = await slave.sendBatch([fm(0, 2), { type: 'packet_out', bufferId: 0xffffffff, inPort: OfPort.CONTROLLER, actions: [act.output(2)], data: encodeEthernet(frame) }]);
    expect(refused.errors.map((e) => [e.index, e.error.errorType, e.error.code])).toEqual([
      [0, ErrorType.BAD_REQUEST, OFPBRC_IS_SLAVE],
      [1, ErrorType.BAD_REQUEST, OFPBRC_IS_SLAVE],
    ]);
    expect(sw.flowStats()).toHaveLength(0);
    expect((await master.sendBatch([fm(0, 2)])).errors).toEqual([]);
    expect(sw.trace(frame, 1).ports).toEqual([2]);
    // reading back is allowed to a slave (what a standby does on takeover, and before)
    expect(await slave.dumpFlows()).toHaveLength(1);
  });

  it('refuses a stale generation with OFPRRFC_STALE and keeps the role the connection had', async () => {
    const sw = new FakeSwitch();
    const a = sw.connectController();
    const b = sw.connectController();
    await a.requestRole('master', 7n);
    const err = await b.requestRole('master', 6n).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OfSwitchError);
    expect([(err as OfSwitchError).error.errorType, (err as OfSwitchError).error.code]).toEqual([ErrorType.ROLE_REQUEST_FAILED, OFPRRFC_STALE]);
    expect((await b.requestRole('nochange', 0n)).role).toBe('equal');
    // equal is not checked; the same generation is not stale
    expect((await b.requestRole('slave', 7n)).role).toBe('slave');
    // the comparison is a signed 64-bit difference: 0 comes after 2^64-1
    const c = new FakeSwitch().connectController();
    await c.requestRole('master', 0xffff_ffff_ffff_ffffn);
    expect(await c.requestRole('master', 0n)).toEqual({ role: 'master', generationId: 0n });
  });

  it('turns the previous master into a slave when another claims master, and sends packet-ins to the master only', async () => {
    const sw = new FakeSwitch({ ports: [1, 2] });
    const a = sw.connectController();
    const b = sw.connectController();
    const toA = collect(a);
    const toB = collect(b);
    await a.requestRole('master', 1n);
    await b.requestRole('slave', 1n);
    await a.sendBatch([fm(0, OfPort.CONTROLLER)]);
    sw.inject(frame, 1);
    expect([toA.filter((m) => m.type === 'packet_in').length, toB.filter((m) => m.type === 'packet_in').length]).toEqual([1, 0]);
    await b.requestRole('master', 2n);
    expect((await a.requestRole('nochange', 0n)).role).toBe('slave');
    sw.inject(frame, 1);
    expect([toA.filter((m) => m.type === 'packet_in').length, toB.filter((m) => m.type === 'packet_in').length]).toEqual([1, 1]);
    // the old master's generation is stale now
    await expect(a.requestRole('master', 1n)).rejects.toBeInstanceOf(OfSwitchError);
    // port-status goes to slaves too
    sw.setPortUp(2, false);
    expect(toA.some((m) => m.type === 'port_status')).toBe(true);
  });
});
