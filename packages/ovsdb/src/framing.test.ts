import { describe, expect, it } from 'vitest';
import { DfError, isDfError } from '@dragonflow/base';
import { JsonFramer } from './framing.js';

const enc = new TextEncoder();

const MESSAGES = [
  { id: 1, result: ['Open_vSwitch', '_Server'], error: null },
  { id: null, method: 'update2', params: ['m1', { Bridge: { 'a-b': { insert: { name: 'br-{int}"]', ports: ['set', []] } } } }] },
  { id: 'echo', method: 'echo', params: [] },
  { id: 7, result: [{ rows: [{ name: 'ünïcødé ✓ 🚀', note: 'back\\slash \\" still string }' }] }], error: null },
  [1, [2, [3]]],
];

function collect(framer: JsonFramer, chunks: Uint8Array[]): unknown[] {
  return chunks.flatMap((c) => framer.push(c));
}

describe('JsonFramer', () => {
  const stream = enc.encode(MESSAGES.map((m) => JSON.stringify(m)).join('') + '\n');

  it('splits back-to-back messages delivered in one chunk', () => {
    expect(new JsonFramer().push(stream)).toEqual(MESSAGES);
  });

  it('gives the same messages for the stream split at every byte', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const framer = new JsonFramer();
      const out = collect(framer, [stream.subarray(0, cut), stream.subarray(cut)]);
      expect(out, `cut at ${cut}`).toEqual(MESSAGES);
    }
  });

  it('handles one byte at a time, including multi-byte UTF-8 characters', () => {
    const framer = new JsonFramer();
    const bytes = [...stream].map((b) => Uint8Array.of(b));
    expect(collect(framer, bytes)).toEqual(MESSAGES);
    expect(framer.hasPartialMessage).toBe(false);
  });

  it('does not depend on the caller keeping its buffer', () => {
    const framer = new JsonFramer();
    const buf = new Uint8Array(stream.length);
    const out: unknown[] = [];
    for (let i = 0; i < stream.length; i += 7) {
      const n = Math.min(7, stream.length - i);
      buf.set(stream.subarray(i, i + n));
      out.push(...framer.push(buf.subarray(0, n)));
      buf.fill(0x20);
    }
    expect(out).toEqual(MESSAGES);
  });

  it('reports a partial message', () => {
    const framer = new JsonFramer();
    expect(framer.push(enc.encode('{"id":1,"res'))).toEqual([]);
    expect(framer.hasPartialMessage).toBe(true);
  });

  function expectProtocolError(input: string | Uint8Array, offset?: number): DfError {
    const framer = new JsonFramer();
    let caught: unknown;
    try {
      framer.push(typeof input === 'string' ? enc.encode(input) : input);
    } catch (err) {
      caught = err;
    }
    expect(isDfError(caught, 'OVSDB_PROTOCOL'), String(caught)).toBe(true);
    const e = caught as DfError;
    if (offset !== undefined) expect(e.context['offset']).toBe(offset);
    // Once broken, the framer refuses more input with the same error.
    expect(() => framer.push(enc.encode('{}'))).toThrow(e);
    return e;
  }

  it('rejects garbage between messages with its stream offset', () => {
    expectProtocolError('{"a":1}  x', 9);
    expectProtocolError('"just a string"', 0);
    expectProtocolError('42', 0);
  });

  it('rejects a message that is not JSON with the offset of the message', () => {
    const e = expectProtocolError('{"ok":1} {"a":1,,}', 9);
    expect(e.message).toMatch(/not valid JSON/);
    expectProtocolError('{"a":1]', 0);
    expectProtocolError('[1,2}', 0);
  });

  it('rejects invalid UTF-8', () => {
    const bad = Uint8Array.from([...enc.encode('{"a":"'), 0xc3, 0x28, ...enc.encode('"}')]);
    expect(expectProtocolError(bad, 0).message).toMatch(/UTF-8/);
  });

  it('refuses a runaway message beyond the size limit', () => {
    const framer = new JsonFramer({ maxMessageBytes: 64 });
    expect(framer.push(enc.encode(JSON.stringify({ s: 'x'.repeat(40) })))).toHaveLength(1);
    expect(() => framer.push(enc.encode('{"s":"' + 'y'.repeat(100)))).toThrow(/exceeds 64 bytes/);
  });

  it('never throws anything but a DfError on random input', () => {
    let seed = 12345;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const alphabet = enc.encode('{}[]",:\\ abc1\n\u00e9');
    for (let round = 0; round < 500; round++) {
      const framer = new JsonFramer();
      const len = rand() % 40;
      const bytes = Uint8Array.from({ length: len }, () => alphabet[rand() % alphabet.length]!);
      try {
        framer.push(bytes);
      } catch (err) {
        expect(err).toBeInstanceOf(DfError);
      }
    }
  });
});
