import { packet } from '@dragonflow/core';
import { describe, expect, test } from 'vitest';
import { AnswerTemplate, encodeAnswer, type Reply } from './answer-template.js';
import { client, ip, leaseFacts } from '../test/lease-facts.js';
import { respond, type ReplyOptionsMemo } from './responder.js';

const { DhcpMessageType: T, DhcpOption: O, dhcpEncode, dhcpMessage, DHCP_FLAG_BROADCAST } = packet;
const facts = leaseFacts();

const prl: [number, Uint8Array] = [O.PARAMETER_REQUEST_LIST, Uint8Array.of(1, 3, 6, 15, 26, 121)];

function answer(type: number, init: Partial<packet.DhcpMessage> & { xid: number }, memo: ReplyOptionsMemo, extra: [number, Uint8Array][] = []): Reply {
  const out = respond(dhcpMessage({ op: 1, chaddr: client, ...init, options: new Map([[O.MESSAGE_TYPE, dhcpEncode.u8(type)], prl, ...extra]) }), facts, memo);
  if (out.kind !== 'reply') throw new Error(out.why);
  return out;
}

/** The template built from `first`, filled for `next`, must be the bytes of `next` encoded layer by layer. */
function expectSameAsEncoded(first: Reply, next: Reply): void {
  expect(next.message.options).toBe(first.message.options);
  const template = AnswerTemplate.of(encodeAnswer(facts, first));
  if (!template) throw new Error('no template');
  const filled = template.fill({ xid: next.message.xid, flags: next.message.flags, ciaddr: next.message.ciaddr.value, dstIp: next.dstIp.value });
  expect(Buffer.from(filled).toString('hex')).toBe(Buffer.from(encodeAnswer(facts, next)).toString('hex'));
  expect(packet.checksumErrors(filled)).toEqual([]);
}

describe('an answer template', () => {
  test('OFFERs: another xid, the broadcast flag set then cleared (broadcast, then unicast to the offered address)', () => {
    const memo: ReplyOptionsMemo = new Map();
    const first = answer(T.DISCOVER, { xid: 0x11111111 }, memo);
    expectSameAsEncoded(first, answer(T.DISCOVER, { xid: 0xfedcba98, flags: DHCP_FLAG_BROADCAST }, memo));
    const broadcastFirst = answer(T.DISCOVER, { xid: 7, flags: DHCP_FLAG_BROADCAST }, memo);
    expectSameAsEncoded(broadcastFirst, answer(T.DISCOVER, { xid: 0x80000001 }, memo));
  });

  test('ACKs: selecting, then renewing (unicast to ciaddr), many xids', () => {
    const memo: ReplyOptionsMemo = new Map();
    const requested: [number, Uint8Array] = [O.REQUESTED_IP, dhcpEncode.ip(ip('10.0.0.5'))];
    const first = answer(T.REQUEST, { xid: 1 }, memo, [requested]);
    for (let xid = 2; xid < 200; xid += 37) expectSameAsEncoded(first, answer(T.REQUEST, { xid: xid * 0x01010101 }, memo, [requested]));
    expectSameAsEncoded(first, answer(T.REQUEST, { xid: 3, ciaddr: ip('10.0.0.5') }, memo, [requested]));
  });

  test('an INFORM ACK echoes the client address it came from', () => {
    const memo: ReplyOptionsMemo = new Map();
    const first = answer(T.INFORM, { xid: 1, ciaddr: ip('10.0.0.5') }, memo);
    expectSameAsEncoded(first, answer(T.INFORM, { xid: 2, ciaddr: ip('10.0.0.77') }, memo));
  });

  test('a frame of another layout is not templated', () => {
    const frame = encodeAnswer(facts, answer(T.DISCOVER, { xid: 1 }, new Map()));
    const tagged = new Uint8Array(frame.length + 4);
    tagged.set(frame.subarray(0, 12));
    tagged.set([0x81, 0x00, 0, 5], 12);
    tagged.set(frame.subarray(12), 16);
    expect(AnswerTemplate.of(tagged)).toBeUndefined();
    expect(AnswerTemplate.of(frame.subarray(0, 100))).toBeUndefined();
  });
});
