/**
 * Truncated, garbage and mutated input: the decoder answers with OfDecodeError
 * carrying an offset inside the input, never anything else; the framer reassembles
 * a stream split at every byte; a bounded fuzz run raises no unexpected exception.
 */
import { DfError } from '@dragonflow/base';
import { describe, expect, test } from 'vitest';
import { OfDecodeError, OfFramer, bytesToHex, decodeMessage, encodeMessage } from '../src/index.js';
import { allFixtureFrames } from './support/fixtures.js';

const frames = allFixtureFrames().filter((f) => f.bytes.length < 4096);

/** Decodes; returns the error if any. Fails the test on any non-OfDecodeError. */
function tryDecode(bytes: Uint8Array): OfDecodeError | undefined {
  try {
    const m = decodeMessage(bytes);
    try {
      encodeMessage(m, { validate: false });
    } catch (err) {
      // Re-encoding what we decoded may refuse impossible values, but only with our typed errors.
      expect(err).toBeInstanceOf(DfError);
    }
    return undefined;
  } catch (err) {
    if (!(err instanceof OfDecodeError)) throw new Error(`decoder threw ${String(err)} for ${bytesToHex(bytes)}`, { cause: err });
    expect(err.offset).toBeGreaterThanOrEqual(0);
    expect(err.offset).toBeLessThanOrEqual(bytes.length);
    expect(err.code).toBe('OF_DECODE');
    return err;
  }
}

function withLength(bytes: Uint8Array, len: number): Uint8Array {
  const out = bytes.slice(0, len);
  if (len >= 4) {
    out[2] = len >> 8;
    out[3] = len & 0xff;
  }
  return out;
}

/** Deterministic xorshift32 so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

describe('truncated input', () => {
  test('a message cut short (length field unchanged) is refused with an offset', () => {
    for (const f of frames) {
      for (let len = 0; len < f.bytes.length; len++) {
        const err = tryDecode(f.bytes.subarray(0, len));
        expect(err, `${f.name} cut at ${len}`).toBeInstanceOf(OfDecodeError);
      }
    }
  });

  test('a message cut short with its length field patched only ever fails with OfDecodeError', () => {
    let refused = 0;
    for (const f of frames) for (let len = 0; len < f.bytes.length; len++) if (tryDecode(withLength(f.bytes, len))) refused++;
    expect(refused).toBeGreaterThan(frames.length);
  });

  test('the error names where: a flow-mod whose match claims more bytes than exist', () => {
    const fm = frames.find((f) => f.name.startsWith('flow_mod_add'))!.bytes;
    const bad = fm.slice();
    // ofp_match length at offset 48+2: claim 0xff bytes
    bad[50] = 0;
    bad[51] = 0xff;
    const err = tryDecode(bad);
    expect(err).toBeInstanceOf(OfDecodeError);
    expect(err!.message).toMatch(/truncated match fields/);
    expect(err!.offset).toBe(52);
  });
});

describe('garbage and mutations (bounded fuzz)', () => {
  test('random frames with a plausible header', () => {
    const r = rng(0xdf01);
    for (let i = 0; i < 20_000; i++) {
      const len = 8 + Math.floor(r() * 200);
      const b = new Uint8Array(len);
      for (let j = 0; j < len; j++) b[j] = Math.floor(r() * 256);
      b[0] = r() < 0.9 ? 4 : b[0]!;
      b[1] = Math.floor(r() * 32);
      b[2] = len >> 8;
      b[3] = len & 0xff;
      tryDecode(b);
    }
  });

  test('fixtures with random bytes flipped', () => {
    const r = rng(0xdf02);
    for (let round = 0; round < 60; round++) {
      for (const f of frames) {
        const b = f.bytes.slice();
        const flips = 1 + Math.floor(r() * 4);
        for (let k = 0; k < flips; k++) {
          const at = 4 + Math.floor(r() * (b.length - 4));
          b[at] = Math.floor(r() * 256);
        }
        tryDecode(b);
      }
    }
  });
});

describe('OfFramer', () => {
  const stream = (() => {
    const parts = frames.map((f) => f.bytes);
    const total = parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  })();
  const expected = frames.map((f) => bytesToHex(f.bytes));

  test('input split at every byte into two chunks gives the same messages', () => {
    // Compared as bytes (memcmp), not as hex strings: a cut per byte of the stream, each comparing every message, must stay cheap on a loaded machine.
    const want = frames.map((f) => Buffer.from(f.bytes));
    for (let cut = 0; cut <= stream.length; cut += 1) {
      const fr = new OfFramer();
      const got = [...fr.push(stream.slice(0, cut)), ...fr.push(stream.slice(cut))];
      if (got.length !== want.length || got.some((g, i) => !want[i]!.equals(g))) throw new Error(`split at ${cut} changed the messages`);
      expect(fr.buffered).toBe(0);
    }
  });

  test('one byte at a time, and random chunk sizes', () => {
    const fr = new OfFramer();
    const got: string[] = [];
    for (let i = 0; i < stream.length; i++) for (const m of fr.push(stream.subarray(i, i + 1))) got.push(bytesToHex(m));
    expect(got).toEqual(expected);
    const r = rng(7);
    const fr2 = new OfFramer();
    const got2: string[] = [];
    for (let i = 0; i < stream.length; ) {
      const n = 1 + Math.floor(r() * 300);
      for (const m of fr2.push(stream.subarray(i, i + n))) got2.push(bytesToHex(m));
      i += n;
    }
    expect(got2).toEqual(expected);
  });

  test('buffering is bounded by one partial message', () => {
    const fr = new OfFramer();
    let max = 0;
    for (let i = 0; i < stream.length; i += 3) {
      fr.push(stream.subarray(i, i + 3));
      max = Math.max(max, fr.buffered);
    }
    expect(max).toBeLessThan(Math.max(...frames.map((f) => f.bytes.length)));
  });

  test('a length below the header size is an error at the length field, and the framer stays broken', () => {
    const fr = new OfFramer();
    const good = frames[0]!.bytes;
    fr.push(good);
    const bad = new Uint8Array([4, 0, 0, 4, 0, 0, 0, 1]);
    let err: unknown;
    try {
      fr.push(bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OfDecodeError);
    expect((err as OfDecodeError).offset).toBe(good.length + 2);
    expect(() => fr.push(good)).toThrow(OfDecodeError);
  });

  test('a length over the configured limit is refused before buffering it', () => {
    const fr = new OfFramer(1024);
    expect(() => fr.push(new Uint8Array([4, 14, 0x10, 0x00]))).not.toThrow();
    expect(() => fr.push(new Uint8Array([0, 0, 0, 1]))).toThrow(/outside 8\.\.1024/);
  });
});
