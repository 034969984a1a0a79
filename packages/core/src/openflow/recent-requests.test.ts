import { OfPort, act, encodeMessage, type OfMessage, type PacketOut } from '@dragonflow/openflow';
import { describe, expect, test } from 'vitest';
import { RecentRequests } from './recent-requests.js';

const packetOut = (xid: number, actions = [act.output(7)]): PacketOut => ({ type: 'packet_out', xid, bufferId: 0xffffffff, inPort: OfPort.CONTROLLER, actions, data: new Uint8Array(300).fill(9) });
/** Several messages in one buffer, as a batch is written; the offset of each. */
function batch(msgs: OfMessage[]): { bytes: Uint8Array; at: number[] } {
  const parts = msgs.map((m) => encodeMessage(m));
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  const at: number[] = [];
  let o = 0;
  for (const p of parts) {
    at.push(o);
    bytes.set(p, o);
    o += p.length;
  }
  return { bytes, at };
}

describe('RecentRequests: the sent messages an ERROR can name', () => {
  test('a packet-out remembered from its bytes comes back without its packet; other messages whole', () => {
    const r = new RecentRequests(8);
    const echo: OfMessage = { type: 'echo_request', xid: 3, data: Uint8Array.of(1, 2) };
    const { bytes, at } = batch([packetOut(1), packetOut(2, [act.output(1), act.output(2)]), echo]);
    at.forEach((o) => r.rememberWire(bytes, o));
    expect(r.find(1)).toEqual({ ...packetOut(1), data: new Uint8Array(0) });
    expect(r.find(2)).toEqual({ ...packetOut(2, [act.output(1), act.output(2)]), data: new Uint8Array(0) });
    expect(r.find(3)).toEqual(echo);
    expect(r.find(4)).toBeUndefined();
  });

  test('actions too long for a slot, and objects: still found; a packet-out object is kept without its packet', () => {
    const r = new RecentRequests(8);
    const long = packetOut(5, Array.from({ length: 12 }, (_, i) => act.output(i + 1)));
    const { bytes, at } = batch([long]);
    r.rememberWire(bytes, at[0]!);
    r.remember(packetOut(6));
    expect(r.find(5)).toEqual({ ...long, data: new Uint8Array(0) });
    expect(r.find(6)).toEqual({ ...packetOut(6), data: new Uint8Array(0) });
  });

  test('newest first for a reused xid; the oldest is forgotten once the ring is full', () => {
    const r = new RecentRequests(4);
    r.remember(packetOut(1, [act.output(1)]));
    const { bytes, at } = batch([packetOut(1, [act.output(2)])]);
    r.rememberWire(bytes, at[0]!);
    expect((r.find(1) as PacketOut).actions).toEqual([act.output(2)]);
    for (let xid = 10; xid < 14; xid++) r.remember({ type: 'echo_request', xid, data: new Uint8Array(0) });
    expect(r.find(1)).toBeUndefined();
    expect(r.find(10)?.type).toBe('echo_request');
  });
});
