import { describe, expect, it } from 'vitest';
import { FrameDecoder, encodeFrame, parseEndpoint } from './protocol.js';

describe('memory DB framing', () => {
  const messages = [{ id: 1, op: 'hello', args: [] }, { id: 2, ok: true, result: { value: 'é✓'.repeat(50) } }, { id: 3, op: 'commit', args: [[]] }];
  const stream = Buffer.concat(messages.map(encodeFrame));

  it('decodes a stream cut at every byte', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new FrameDecoder();
      const out = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      expect(out).toEqual(messages);
    }
  });

  it('decodes a stream fed one byte at a time', () => {
    const d = new FrameDecoder();
    const out: unknown[] = [];
    for (const b of stream) out.push(...d.push(Buffer.from([b])));
    expect(out).toEqual(messages);
  });

  it('refuses oversized and non-JSON frames', () => {
    const big = Buffer.alloc(4);
    big.writeUInt32BE(0xffffffff);
    expect(() => new FrameDecoder().push(big)).toThrow(/exceeds/);
    const bad = Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from('{x}')]);
    expect(() => new FrameDecoder().push(bad)).toThrow(/not JSON/);
  });

  it('parses endpoints', () => {
    expect(parseEndpoint('unix:/run/df/nb.sock')).toEqual({ path: '/run/df/nb.sock' });
    expect(parseEndpoint('/tmp/x.sock')).toEqual({ path: '/tmp/x.sock' });
    expect(parseEndpoint('tcp:127.0.0.1:7000')).toEqual({ host: '127.0.0.1', port: 7000 });
    expect(parseEndpoint('[::1]:7000')).toEqual({ host: '::1', port: 7000 });
    expect(() => parseEndpoint('nonsense')).toThrow(/not a memory DB endpoint/);
  });
});
