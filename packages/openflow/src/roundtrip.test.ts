import { Ipv4Address } from '@dragonflow/base';
import { describe, expect, test } from 'vitest';
import { act, decodeMessage, encodeMessage, flowMod, inst, OfEncodeError, OfMatchError, OfPort, type OfMessage } from './index.js';

const sample = flowMod({
  tableId: 3,
  priority: 100,
  cookie: 0x1234n,
  match: { in_port: 1, eth_type: 0x800, ipv4_dst: '10.0.0.0/24', reg6: [5, 0xff], ct_state: [0x22, 0x22] },
  instructions: [
    inst.apply(
      act.setField('eth_dst', '02:00:00:00:00:01'),
      act.load('reg0', 3, 0xf),
      act.decNwTtl(),
      act.ct({ commit: true, zone: 5, table: 7, actions: [act.nat({ kind: 'src', addressMin: Ipv4Address.parse('1.1.1.1'), addressMax: Ipv4Address.parse('1.1.1.5'), portMin: 100, portMax: 200 }), act.setField('ct_mark', 7)] }),
      act.resubmit(5),
      act.resubmitPort(3),
      act.move({ field: 'eth_src' }, { field: 'eth_dst' }, 48),
      act.note('hi'),
      act.controller({ reason: 0, userdata: new Uint8Array([1, 2, 3]) }),
      act.ctClear(),
      act.output(2),
      act.toController(128),
    ),
    inst.writeMetadata(5n, 0xffn),
    inst.gotoTable(4),
  ],
});

describe('encode → decode → encode', () => {
  test('a flow-mod using most action kinds is byte-identical after a round trip', () => {
    const bytes = encodeMessage(sample);
    const back = decodeMessage(bytes) as OfMessage;
    expect(back.type).toBe('flow_mod');
    expect(encodeMessage(back)).toEqual(bytes);
  });

  test('a missing prerequisite names the field', () => {
    expect(() => flowMod({ match: { ipv4_dst: '10.0.0.1' } })).toThrow(OfMatchError);
    expect(() => flowMod({ match: { ipv4_dst: '10.0.0.1' } })).toThrow(/ipv4_dst requires eth_type=0x0800/);
  });
});

describe('16-bit OpenFlow 1.0 ports (resubmit, NXM_OF_IN_PORT)', () => {
  const load = (port: number) => flowMod({ actions: [act.load('in_port', port, 0xffffffff)] });

  test('reserved ports keep their meaning and come back as 32-bit ports', () => {
    const back = decodeMessage(encodeMessage(load(OfPort.LOCAL))) as OfMessage;
    expect(back.type === 'flow_mod' && back.instructions[0]).toMatchObject({ actions: [{ type: 'set_field', field: 'in_port', value: OfPort.LOCAL }] });
  });

  test('a port above 0xfeff is refused, not truncated to another port', () => {
    expect(() => encodeMessage(load(70_000))).toThrow(OfEncodeError);
    expect(() => encodeMessage(flowMod({ actions: [act.resubmitPort(70_000)] }))).toThrow(/16-bit OpenFlow 1.0 port/);
  });
});

describe('meter config multipart (OFPMP_METER_CONFIG)', () => {
  test('request and reply survive a round trip; the reply lays out each entry as the spec does', () => {
    const req: OfMessage = { type: 'multipart_request', xid: 9, more: false, body: { kind: 'meter_config', meterId: 0xffffffff } };
    const reqBytes = encodeMessage(req);
    // header(8) + type/flags/pad(8) + meter_id(4) + pad(4)
    expect(reqBytes.length).toBe(24);
    expect(decodeMessage(reqBytes)).toEqual(req);
    const reply: OfMessage = {
      type: 'multipart_reply',
      xid: 9,
      more: false,
      body: {
        kind: 'meter_config',
        meters: [
          { flags: 2 | 4, meterId: 1, bands: [{ type: 'drop', rate: 100, burstSize: 50 }] },
          { flags: 1, meterId: 7, bands: [{ type: 'dscp_remark', rate: 2000, burstSize: 0, precLevel: 1 }] },
        ],
      },
    };
    const bytes = encodeMessage(reply);
    // each entry: length(2) flags(2) meter_id(4) + 16 per band
    expect(bytes.length).toBe(16 + 24 + 24);
    expect(new DataView(bytes.buffer, bytes.byteOffset).getUint16(16)).toBe(24);
    expect(decodeMessage(bytes)).toEqual(reply);
  });

  test('a truncated meter config entry names what is wrong', () => {
    const bytes = encodeMessage({ type: 'multipart_reply', xid: 1, more: false, body: { kind: 'meter_config', meters: [{ flags: 2, meterId: 1, bands: [] }] } });
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    view.setUint16(16, 4);
    expect(() => decodeMessage(bytes)).toThrow(/meter config length 4 < 8/);
  });
});
